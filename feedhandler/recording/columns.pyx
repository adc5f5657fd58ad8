# cython: language_level=3
"""``EventColumns``: a handler that appends each event to preallocated numpy columns (the export's hot path).

A compiled ``Consumer``: the parser's dispatcher calls it in C, no Python call per event. One table per
event type; each table owns ``capacity`` rows of numpy columns allocated once. The handler
reads the events' C fields (no Python attribute lookup, no dict, no object per event); a symbol becomes an
int32 code (the dictionary of the exported column). When a table is full it is handed to ``sink(table,
columns, n)`` (the Parquet writer: it turns the column slices into an Arrow record batch without copying)
and refilled from row 0. ``flush()`` hands over whatever is left.

Tables (columns beyond ``recv_ns``, ``exchange_ts_ns``, ``symbol``):

``book_updates``
    ``first_update_id``, ``last_update_id``, ``is_snapshot``, and the top of book after the update
    (``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``; NaN for an empty side).
``book_snapshots``
    every ``snapshot_interval_ns`` (receive time) per symbol: ``last_update_id`` and the top ``depth`` levels
    (``bid_price``/``bid_qty``/``ask_price``/``ask_qty`` as ``(rows, depth)`` arrays, NaN-padded).
``trades``
    ``price``, ``qty``, ``side`` (0 unknown, 1 buy, 2 sell: the taker), ``trade_id``.
``bbo``
    ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``, ``update_id``.
``book_status``
    ``valid``, ``update_id``, ``reason`` (an int32 code into ``reasons``).
"""
cimport cython
from libc.math cimport NAN
from libc.stdint cimport int8_t, int32_t, int64_t

import numpy as np

from feedhandler.book.orderbook cimport ASK, BID, OrderBook
from feedhandler.core.consumer cimport Consumer
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Trade

TABLES = ("book_updates", "book_snapshots", "trades", "bbo", "book_status")


cdef class EventColumns(Consumer):
    """Handler buffering events into preallocated numpy columns; ``sink(table, columns, n)`` takes full tables.

    A compiled :class:`~feedhandler.core.consumer.Consumer`: a compiled parser's dispatcher calls its methods
    through the C vtable (no Python call per event); it is also a plain callable (``columns(event)``).

    Parameters
    ----------
    sink:
        ``callable(table: str, columns: dict[str, numpy.ndarray], n: int)``; the arrays are valid until it
        returns (rows ``[0, n)``), so it must copy or write them before returning.
    capacity:
        Rows per table between two hand-overs (default 65,536: one Parquet row group).
    depth:
        Levels per side in ``book_snapshots``.
    snapshot_interval_ns:
        Receive-time interval between two ``book_snapshots`` rows of a symbol (default 1 s; 0: none).
    """

    cdef public object sink
    cdef readonly Py_ssize_t capacity, depth
    cdef readonly int64_t snapshot_interval_ns
    cdef readonly list symbols, reasons
    cdef readonly dict columns
    cdef readonly int64_t others     # events of other types (klines, tickers, private), not exported
    cdef dict _codes, _reason_codes
    cdef object _last_symbol
    cdef int32_t _last_code
    cdef int64_t[::1] _snap_due      # per symbol code: next snapshot time
    cdef Py_ssize_t n_upd, n_snap, n_trade, n_bbo, n_status
    # book_updates
    cdef int64_t[::1] u_recv, u_ts, u_first, u_last
    cdef int32_t[::1] u_sym
    cdef int8_t[::1] u_snap
    cdef double[::1] u_bp, u_bq, u_ap, u_aq
    # book_snapshots
    cdef int64_t[::1] s_recv, s_ts, s_last
    cdef int32_t[::1] s_sym
    cdef double[:, ::1] s_bp, s_bq, s_ap, s_aq
    # trades
    cdef int64_t[::1] t_recv, t_ts, t_id
    cdef int32_t[::1] t_sym
    cdef double[::1] t_px, t_qty
    cdef int8_t[::1] t_side
    # bbo
    cdef int64_t[::1] b_recv, b_ts, b_uid
    cdef int32_t[::1] b_sym
    cdef double[::1] b_bp, b_bq, b_ap, b_aq
    # book_status
    cdef int64_t[::1] st_recv, st_ts, st_uid
    cdef int32_t[::1] st_sym, st_reason
    cdef int8_t[::1] st_valid

    def __init__(self, sink, Py_ssize_t capacity=65536, Py_ssize_t depth=10, int64_t snapshot_interval_ns=1_000_000_000):
        if capacity < 1 or depth < 1:
            raise ValueError("capacity and depth must be >= 1")
        self.sink = sink
        self.capacity, self.depth, self.snapshot_interval_ns = capacity, depth, snapshot_interval_ns
        self.symbols, self.reasons = [], []
        self._codes, self._reason_codes = {}, {}
        self._last_symbol = None
        self._snap_due = np.zeros(64, dtype=np.int64)
        i64, i32, i8, f8 = np.int64, np.int32, np.int8, np.float64
        n = capacity

        def cols(**spec):
            return {k: (np.empty((n, depth), dtype=v[0]) if isinstance(v, tuple) else np.empty(n, dtype=v))
                    for k, v in spec.items()}

        base = dict(recv_ns=i64, exchange_ts_ns=i64, symbol=i32)
        self.columns = {
            "book_updates": cols(**base, first_update_id=i64, last_update_id=i64, is_snapshot=i8,
                                 bid_price=f8, bid_qty=f8, ask_price=f8, ask_qty=f8),
            "book_snapshots": cols(**base, last_update_id=i64, bid_price=(f8,), bid_qty=(f8,), ask_price=(f8,),
                                   ask_qty=(f8,)),
            "trades": cols(**base, price=f8, qty=f8, side=i8, trade_id=i64),
            "bbo": cols(**base, bid_price=f8, bid_qty=f8, ask_price=f8, ask_qty=f8, update_id=i64),
            "book_status": cols(**base, valid=i8, update_id=i64, reason=i32),
        }
        c = self.columns["book_updates"]
        self.u_recv, self.u_ts, self.u_sym = c["recv_ns"], c["exchange_ts_ns"], c["symbol"]
        self.u_first, self.u_last, self.u_snap = c["first_update_id"], c["last_update_id"], c["is_snapshot"]
        self.u_bp, self.u_bq, self.u_ap, self.u_aq = c["bid_price"], c["bid_qty"], c["ask_price"], c["ask_qty"]
        c = self.columns["book_snapshots"]
        self.s_recv, self.s_ts, self.s_sym, self.s_last = c["recv_ns"], c["exchange_ts_ns"], c["symbol"], c["last_update_id"]
        self.s_bp, self.s_bq, self.s_ap, self.s_aq = c["bid_price"], c["bid_qty"], c["ask_price"], c["ask_qty"]
        c = self.columns["trades"]
        self.t_recv, self.t_ts, self.t_sym = c["recv_ns"], c["exchange_ts_ns"], c["symbol"]
        self.t_px, self.t_qty, self.t_side, self.t_id = c["price"], c["qty"], c["side"], c["trade_id"]
        c = self.columns["bbo"]
        self.b_recv, self.b_ts, self.b_sym = c["recv_ns"], c["exchange_ts_ns"], c["symbol"]
        self.b_bp, self.b_bq, self.b_ap, self.b_aq, self.b_uid = (c["bid_price"], c["bid_qty"], c["ask_price"],
                                                                   c["ask_qty"], c["update_id"])
        c = self.columns["book_status"]
        self.st_recv, self.st_ts, self.st_sym = c["recv_ns"], c["exchange_ts_ns"], c["symbol"]
        self.st_valid, self.st_uid, self.st_reason = c["valid"], c["update_id"], c["reason"]

    cdef int32_t _code(self, str symbol) except -1:
        if symbol is self._last_symbol:
            return self._last_code
        code = self._codes.get(symbol)
        if code is None:
            code = len(self.symbols)
            self._codes[symbol] = code
            self.symbols.append(symbol)
            if code >= self._snap_due.shape[0]:
                grown = np.zeros(2 * self._snap_due.shape[0], dtype=np.int64)
                grown[:self._snap_due.shape[0]] = self._snap_due
                self._snap_due = grown
        self._last_symbol = symbol
        self._last_code = <int32_t>code
        return self._last_code

    cdef int32_t _reason(self, str reason) except -1:
        code = self._reason_codes.get(reason)
        if code is None:
            code = len(self.reasons)
            self._reason_codes[reason] = code
            self.reasons.append(reason)
        return <int32_t>code

    cdef inline int _next_row(self, str table, Py_ssize_t* n) except -1:
        """The row ``n[0]`` is written: count it; a full table goes to the sink (and ``n[0]`` back to 0)."""
        n[0] += 1
        if n[0] == self.capacity:
            self._full(table, n)
        return 0

    cdef int _full(self, str table, Py_ssize_t* n) except -1:
        self.sink(table, self.columns[table], n[0])
        n[0] = 0
        return 0

    # Each ``row`` below indexes columns of length ``capacity``: a table is handed over (and its count reset)
    # as soon as it reaches ``capacity``, before the next write, so 0 <= row < capacity.
    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int on_book_update(self, BookUpdate u) except -1:
        cdef Py_ssize_t row, k, nb, na
        cdef int32_t code
        cdef OrderBook book
        cdef const double* bpairs
        cdef const double* apairs
        code = self._code(u.symbol)
        row = self.n_upd
        self.u_recv[row] = u.recv_ns
        self.u_ts[row] = u.exchange_ts_ns
        self.u_sym[row] = code
        self.u_first[row] = u.first_update_id
        self.u_last[row] = u.last_update_id
        self.u_snap[row] = u.is_snapshot
        if u.book is None:
            self.others += 1
            return 0
        book = <OrderBook?>u.book
        self.u_bp[row] = book.c_best_bid_price()
        self.u_bq[row] = book.c_best_bid_qty()
        self.u_ap[row] = book.c_best_ask_price()
        self.u_aq[row] = book.c_best_ask_qty()
        self._next_row("book_updates", &self.n_upd)
        # code < _snap_due.shape[0]: _code grows the array before handing out a new code
        if self.snapshot_interval_ns > 0 and u.recv_ns >= self._snap_due[code]:
            self._snap_due[code] = u.recv_ns + self.snapshot_interval_ns
            row = self.n_snap
            self.s_recv[row] = u.recv_ns
            self.s_ts[row] = u.exchange_ts_ns
            self.s_sym[row] = code
            self.s_last[row] = u.last_update_id
            # the top `depth` levels, best first, as (price, qty) pairs (the book's public C API:
            # its layout is a tick ladder); k < depth and k < nb (na) are both checked
            nb = book.c_top_pairs(BID, self.depth, &bpairs)
            na = book.c_top_pairs(ASK, self.depth, &apairs)
            for k in range(self.depth):
                if k < nb:
                    self.s_bp[row, k] = bpairs[2 * k]
                    self.s_bq[row, k] = bpairs[2 * k + 1]
                else:
                    self.s_bp[row, k] = NAN
                    self.s_bq[row, k] = NAN
                if k < na:
                    self.s_ap[row, k] = apairs[2 * k]
                    self.s_aq[row, k] = apairs[2 * k + 1]
                else:
                    self.s_ap[row, k] = NAN
                    self.s_aq[row, k] = NAN
            self._next_row("book_snapshots", &self.n_snap)
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int on_book_ticker(self, BookTicker b) except -1:
        cdef Py_ssize_t row = self.n_bbo
        self.b_recv[row] = b.recv_ns
        self.b_ts[row] = b.exchange_ts_ns
        self.b_sym[row] = self._code(b.symbol)
        self.b_bp[row] = b.bid_price
        self.b_bq[row] = b.bid_qty
        self.b_ap[row] = b.ask_price
        self.b_aq[row] = b.ask_qty
        self.b_uid[row] = b.update_id
        self._next_row("bbo", &self.n_bbo)
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int on_trade(self, Trade t) except -1:
        cdef Py_ssize_t row = self.n_trade
        self.t_recv[row] = t.recv_ns
        self.t_ts[row] = t.exchange_ts_ns
        self.t_sym[row] = self._code(t.symbol)
        self.t_px[row] = t.price
        self.t_qty[row] = t.qty
        self.t_side[row] = <int8_t>t.side
        self.t_id[row] = t.trade_id
        self._next_row("trades", &self.n_trade)
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int on_book_status(self, BookStatus st) except -1:
        cdef Py_ssize_t row = self.n_status
        self.st_recv[row] = st.recv_ns
        self.st_ts[row] = st.exchange_ts_ns
        self.st_sym[row] = self._code(st.symbol)
        self.st_valid[row] = st.valid
        self.st_uid[row] = st.update_id
        self.st_reason[row] = self._reason(st.reason or "")
        self._next_row("book_status", &self.n_status)
        return 0

    cdef int on_other_event(self, object event) except -1:
        self.others += 1
        return 0

    def counts(self):
        """Rows buffered now, per table."""
        return {"book_updates": self.n_upd, "book_snapshots": self.n_snap, "trades": self.n_trade,
                "bbo": self.n_bbo, "book_status": self.n_status}

    def flush(self):
        """Hand every non-empty table to the sink."""
        if self.n_upd:
            self._full("book_updates", &self.n_upd)
        if self.n_snap:
            self._full("book_snapshots", &self.n_snap)
        if self.n_trade:
            self._full("trades", &self.n_trade)
        if self.n_bbo:
            self._full("bbo", &self.n_bbo)
        if self.n_status:
            self._full("book_status", &self.n_status)
