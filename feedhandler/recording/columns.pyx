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
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Event, Trade

TABLES = ("book_updates", "book_snapshots", "trades", "bbo", "book_status")

cdef enum:
    # the tables, in TABLES order
    T_UPDATES = 0
    T_SNAPSHOTS = 1
    T_TRADES = 2
    T_BBO = 3
    T_STATUS = 4
    N_TABLES = 5


cdef inline void* _data(object column) except NULL:
    """The first element of a C-contiguous column (``self._arrays`` keeps it alive; never reallocated)."""
    return <void*><Py_ssize_t>column.ctypes.data


cdef inline void _top_levels(OrderBook book, int side, Py_ssize_t depth, double* px, double* qty) noexcept:
    """The ``depth`` best levels of one side into ``px[0:depth]``/``qty[0:depth]``, NaN past the side's end."""
    cdef const double* pairs
    cdef Py_ssize_t k, n = book.c_top_pairs(side, depth, &pairs)   # n <= depth (price, qty) pairs
    for k in range(depth):
        px[k] = pairs[2 * k] if k < n else NAN
        qty[k] = pairs[2 * k + 1] if k < n else NAN


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
    cdef tuple _arrays               # every column array: what the pointers below point into
    # Rows are written through plain pointers: ``row`` is ``_n[table]``, and a table is handed over (its
    # count back to 0) as soon as it reaches ``capacity``, before the next write, so 0 <= row < capacity.
    cdef Py_ssize_t _n[N_TABLES]     # rows buffered per table (T_*)
    cdef int64_t* _recv[N_TABLES]    # each table's recv_ns, exchange_ts_ns and symbol columns
    cdef int64_t* _ts[N_TABLES]
    cdef int32_t* _sym[N_TABLES]
    # book_updates
    cdef int64_t *u_first, *u_last
    cdef int8_t* u_snap
    cdef double *u_bp, *u_bq, *u_ap, *u_aq
    # book_snapshots
    cdef int64_t* s_last
    cdef double *s_bp, *s_bq, *s_ap, *s_aq   # (capacity, depth), C order: row r at r * depth
    # trades
    cdef int64_t* t_id
    cdef double *t_px, *t_qty
    cdef int8_t* t_side
    # bbo
    cdef int64_t* b_uid
    cdef double *b_bp, *b_bq, *b_ap, *b_aq
    # book_status
    cdef int32_t* st_reason
    cdef int8_t* st_valid
    cdef int64_t* st_uid

    def __init__(self, sink, Py_ssize_t capacity=65536, Py_ssize_t depth=10, int64_t snapshot_interval_ns=1_000_000_000):
        cdef int t
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
        self._arrays = tuple(column for table in self.columns.values() for column in table.values())
        for t in range(N_TABLES):
            c = self.columns[TABLES[t]]
            self._recv[t], self._ts[t] = <int64_t*>_data(c["recv_ns"]), <int64_t*>_data(c["exchange_ts_ns"])
            self._sym[t] = <int32_t*>_data(c["symbol"])
            self._n[t] = 0
        c = self.columns["book_updates"]
        self.u_first, self.u_last = <int64_t*>_data(c["first_update_id"]), <int64_t*>_data(c["last_update_id"])
        self.u_snap = <int8_t*>_data(c["is_snapshot"])
        self.u_bp, self.u_bq = <double*>_data(c["bid_price"]), <double*>_data(c["bid_qty"])
        self.u_ap, self.u_aq = <double*>_data(c["ask_price"]), <double*>_data(c["ask_qty"])
        c = self.columns["book_snapshots"]
        self.s_last = <int64_t*>_data(c["last_update_id"])
        self.s_bp, self.s_bq = <double*>_data(c["bid_price"]), <double*>_data(c["bid_qty"])
        self.s_ap, self.s_aq = <double*>_data(c["ask_price"]), <double*>_data(c["ask_qty"])
        c = self.columns["trades"]
        self.t_px, self.t_qty = <double*>_data(c["price"]), <double*>_data(c["qty"])
        self.t_side, self.t_id = <int8_t*>_data(c["side"]), <int64_t*>_data(c["trade_id"])
        c = self.columns["bbo"]
        self.b_bp, self.b_bq = <double*>_data(c["bid_price"]), <double*>_data(c["bid_qty"])
        self.b_ap, self.b_aq = <double*>_data(c["ask_price"]), <double*>_data(c["ask_qty"])
        self.b_uid = <int64_t*>_data(c["update_id"])
        c = self.columns["book_status"]
        self.st_valid, self.st_uid = <int8_t*>_data(c["valid"]), <int64_t*>_data(c["update_id"])
        self.st_reason = <int32_t*>_data(c["reason"])

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

    cdef inline Py_ssize_t _row(self, int table, Event e, int32_t code) noexcept:
        """The row of ``table`` to write (see ``_n``), with the fields every event carries written."""
        cdef Py_ssize_t row = self._n[table]
        self._recv[table][row] = e.recv_ns
        self._ts[table][row] = e.exchange_ts_ns
        self._sym[table][row] = code
        return row

    cdef inline int _next_row(self, int table) except -1:
        """The row ``_n[table]`` is written: count it; a full table goes to the sink (and its count back to 0)."""
        self._n[table] += 1
        if self._n[table] == self.capacity:
            self._full(table)
        return 0

    cdef int _full(self, int table) except -1:
        name = TABLES[table]
        self.sink(name, self.columns[name], self._n[table])
        self._n[table] = 0
        return 0

    # _snap_due: see the comment at its use
    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int on_book_update(self, BookUpdate u) except -1:
        cdef Py_ssize_t row, k
        cdef int32_t code = self._code(u.symbol)
        cdef OrderBook book
        row = self._row(T_UPDATES, u, code)
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
        self._next_row(T_UPDATES)
        # code < _snap_due.shape[0]: _code grows the array before handing out a new code
        if self.snapshot_interval_ns > 0 and u.recv_ns >= self._snap_due[code]:
            self._snap_due[code] = u.recv_ns + self.snapshot_interval_ns
            row = self._row(T_SNAPSHOTS, u, code)
            self.s_last[row] = u.last_update_id
            # the top `depth` levels of each side, best first (the book's public C API: its layout is a
            # tick ladder), into the row's `depth` cells
            k = row * self.depth
            _top_levels(book, BID, self.depth, self.s_bp + k, self.s_bq + k)
            _top_levels(book, ASK, self.depth, self.s_ap + k, self.s_aq + k)
            self._next_row(T_SNAPSHOTS)
        return 0

    cdef int on_book_ticker(self, BookTicker b) except -1:
        cdef Py_ssize_t row = self._row(T_BBO, b, self._code(b.symbol))
        self.b_bp[row], self.b_bq[row], self.b_ap[row], self.b_aq[row] = b.bid_price, b.bid_qty, b.ask_price, b.ask_qty
        self.b_uid[row] = b.update_id
        return self._next_row(T_BBO)

    cdef int on_trade(self, Trade t) except -1:
        cdef Py_ssize_t row = self._row(T_TRADES, t, self._code(t.symbol))
        self.t_px[row], self.t_qty[row] = t.price, t.qty
        self.t_side[row], self.t_id[row] = <int8_t>t.side, t.trade_id
        return self._next_row(T_TRADES)

    cdef int on_book_status(self, BookStatus st) except -1:
        cdef Py_ssize_t row = self._row(T_STATUS, st, self._code(st.symbol))
        self.st_valid[row], self.st_uid[row] = st.valid, st.update_id
        self.st_reason[row] = self._reason(st.reason or "")
        return self._next_row(T_STATUS)

    cdef int on_other_event(self, object event) except -1:
        self.others += 1
        return 0

    def counts(self):
        """Rows buffered now, per table."""
        cdef int t
        out = {}
        for t in range(N_TABLES):
            out[TABLES[t]] = self._n[t]
        return out

    def flush(self):
        """Hand every non-empty table to the sink."""
        cdef int t
        for t in range(N_TABLES):
            if self._n[t]:
                self._full(t)
