# cython: language_level=3
"""Event sinks: the tap that feeds them from the hot path, and the bus encoder.

:class:`SinkTap` is the ``message_handler`` given to the manager: a compiled ``Consumer``, so the
feed's dispatcher reaches it by a C call; it hands the event to each :class:`EventSink` (a ``Consumer``
too) by a C call, then to the user's handler (if any: the only Python call per event, when it is a
Python callable). :class:`BusEncoder` turns events into the fixed binary layout
of ``wire.pxd``, in preallocated per-stream batches; a transport (``NatsSink``) takes the sealed
batches with :meth:`BusEncoder.take` once per event-loop round.

Books go out as deltas against what the followers hold (a per-stream mirror of the top ``depth``
levels, diffed in C), plus a whole-top snapshot when a stream is not primed (start, after the book
went invalid, after a batch was dropped) or every ``snapshot_interval`` seconds, so a follower that
joins late or loses a message is back in sync within one interval.

Slow transport policy: at most ``max_pending_batches`` sealed batches wait for the transport (memory
is bounded by ``(max_pending_batches + streams) * batch_bytes``); a batch that finds that queue full is
DROPPED and counted (``dropped_batches``, ``dropped_records``). The feed never waits. The lost records
leave a hole in the stream's sequence numbers, so followers see the loss and mark the book invalid,
and the stream sends a snapshot next, so they recover.
"""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.bytearray cimport PyByteArray_AS_STRING
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset

import os
import sys

import numpy as np

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.core.consumer cimport Consumer
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Event, Kline, Ticker, Trade
from feedhandler.sinks.wire cimport (FLAG_EXCHANGE_SNAPSHOT, FLAG_VALID, LEVEL_BYTES, MAX_TEXT, MSG_HEADER,
                                     REC_BOOK_DELTA, REC_BOOK_SNAPSHOT, REC_BOOK_TICKER, REC_HEADER, REC_KLINE,
                                     REC_STATUS, REC_TICKER, REC_TRADE, WIRE_MAGIC, BookTickerBody, KlineBody,
                                     TickerBody, TradeBody, pad8, put_i64, put_u16, put_u32)

if sys.byteorder != "little":  # the layout is written with native stores
    raise ImportError("feedhandler.sinks needs a little-endian host")

cdef enum:
    CH_BOOK = 0
    CH_TRADES = 1
    CH_BOOK_TICKER = 2
    CH_TICKER = 3
    CH_KLINE = 4
    MAX_STATUS_TEXT = 1024

#: channel token of each stream in the subject ``<prefix>.<exchange>.<symbol>.<channel>``
CHANNEL_NAMES = ("book", "trades", "book_ticker", "ticker", "kline")
_SUBJECT_UNSAFE = str.maketrans({".": "_", "*": "_", ">": "_", " ": "_", "\t": "_"})


def subject_token(str name):
    """``name`` as one NATS subject token (``.``, ``*``, ``>`` and blanks become ``_``)."""
    return name.translate(_SUBJECT_UNSAFE)


cdef class EventSink(Consumer):
    """Base of the sinks: a compiled ``Consumer`` (override ``on_book_update``, ``on_trade``, ...)."""

    def deliver(self, ev):
        """Python entry (tests, pure-Python producers): route ``ev`` to its method."""
        self.c_event(<Event?>ev)


@cython.final
cdef class SinkTap(Consumer):
    """The feed's handler: hands each event to every sink (C calls), then to ``handler``.

    A compiled ``Consumer``: the feed's dispatcher calls it from C, so with no handler (or a compiled
    ``Consumer`` as the handler) no Python call is made per event.

    Parameters
    ----------
    sinks : iterable of EventSink
        Called in order for every event.
    handler : callable, optional
        The user's handler, called after the sinks with the same event.
    """

    def __cinit__(self, sinks=(), handler=None):
        self.sinks = tuple(sinks)
        for s in self.sinks:
            if not isinstance(s, EventSink):
                raise TypeError(f"a sink must be an EventSink, got {type(s).__name__}")
        self.handler = handler
        self._consumer = <Consumer>handler if isinstance(handler, Consumer) else None
        self._n = len(self.sinks)
        self._sinks = <void**>malloc(max(self._n, 1) * sizeof(void*))
        if self._sinks == NULL:
            raise MemoryError()
        for i in range(self._n):
            self._sinks[i] = <void*>self.sinks[i]

    def __dealloc__(self):
        free(self._sinks)

    cdef int c_event(self, object event) except -1:
        # Overrides Consumer's dispatch: every sink routes the event itself (one C call each).
        cdef Py_ssize_t i
        for i in range(self._n):
            (<Consumer>self._sinks[i]).c_event(event)
        if self._consumer is not None:
            return self._consumer.c_event(event)
        if self.handler is not None:
            self.handler(event)
        return 0


@cython.final
cdef class _Stream:
    pass


cdef class BusEncoder(EventSink):
    """Encode events into per-stream batches of the bus wire layout (``feedhandler/sinks/wire.pxd``).

    Parameters
    ----------
    exchange : str
        Exchange name, the second subject token.
    prefix : str
        First subject token (default ``"md"``).
    depth : int
        Book levels per side carried by the bus (followers hold the top ``depth``), 1..16384. The diff
        costs about 2 ns per level and side when the top changed (one memcmp when it did not): see the
        README for the measured cost of 20 (the default) and 100.
    snapshot_interval : float
        Seconds between periodic book snapshots of one stream.
    batch_bytes : int
        Size of one batch (one NATS message); grown to fit one whole-top snapshot if needed.
    max_pending_batches : int
        Sealed batches that may wait for the transport; beyond it batches are dropped and counted.
    session : int, optional
        64-bit id of this publisher run (random by default); followers treat a new one as a restart.
    """

    def __init__(self, str exchange, *, str prefix="md", Py_ssize_t depth=20, double snapshot_interval=1.0,
                 Py_ssize_t batch_bytes=65536, Py_ssize_t max_pending_batches=1024, session=None):
        if not 1 <= depth <= 16384:
            raise ValueError(f"depth must be in 1..16384, got {depth}")
        if not snapshot_interval > 0:
            raise ValueError(f"snapshot_interval must be > 0 s, got {snapshot_interval}")
        if max_pending_batches < 1:
            raise ValueError(f"max_pending_batches must be >= 1, got {max_pending_batches}")
        self.exchange = exchange
        self.prefix = prefix
        self.depth = depth
        self.snapshot_interval_ns = <int64_t>(snapshot_interval * 1e9)
        # one batch always fits the biggest record: a worst-case delta (mirror + top, both sides)
        self.batch_bytes = max(batch_bytes, 512 + MSG_HEADER + REC_HEADER + 4 * depth * LEVEL_BYTES + MAX_STATUS_TEXT)
        self.max_pending_batches = max_pending_batches
        self.session = int.from_bytes(os.urandom(8), "little") if session is None else session
        self._streams = {}
        self._ready = []
        self._dirty = []
        self.wake = None

    # ------------------------------------------------------------------ Python API

    def take(self):
        """Seal the open batches and return every sealed one as a list of ``(subject, payload)``.

        Called by the transport once per round; the next record written calls ``wake`` again.
        """
        cdef _Stream st
        for st in self._dirty:
            self._seal(st)
        self._dirty = []
        ready = self._ready
        self._ready = []
        self._woken = False
        return ready

    def lose(self, Py_ssize_t batches, Py_ssize_t records_lost=0):
        """Count batches the transport could not send (records are gone: followers see the hole)."""
        self.dropped_batches += batches
        self.dropped_records += records_lost
        self.reprime()

    def reprime(self):
        """Make every book stream send a snapshot next (after a loss the followers cannot recover from)."""
        for group in self._streams.values():
            for st in group:
                if st is not None:
                    (<_Stream>st).primed = False

    def subjects(self):
        """Subjects written so far."""
        return [(<_Stream>st).subject for group in self._streams.values() for st in group if st is not None]

    @property
    def pending_batches(self):
        return len(self._ready)

    def stats(self):
        """Counters as a dict (records, batches, snapshots, dropped_*, unsupported, streams)."""
        return {"records": self.records, "batches": self.batches, "snapshots": self.snapshots,
                "dropped_records": self.dropped_records, "dropped_batches": self.dropped_batches,
                "unsupported": self.unsupported,
                "streams": sum(st is not None for group in self._streams.values() for st in group)}

    # ------------------------------------------------------------------ events (Consumer's dispatch)

    cdef _Stream _stream(self, str symbol, int channel):
        cdef list group
        cdef _Stream st
        if symbol is self._last_sym:          # the common case: same symbol object as the last event
            group = self._last_group
        else:
            group = self._streams.get(symbol)
            if group is None:
                group = [None, None, None, None, None]
                self._streams[symbol] = group
            self._last_sym = symbol
            self._last_group = group
        st = <_Stream>group[channel]
        if st is not None:
            return st
        st = _Stream()
        st.subject = f"{self.prefix}.{subject_token(self.exchange)}.{subject_token(symbol)}.{CHANNEL_NAMES[channel]}"
        st.exchange_b = self.exchange.encode()[:255]
        st.symbol_b = symbol.encode()[:255]
        st.buf = bytearray(self.batch_bytes)
        st.p = PyByteArray_AS_STRING(st.buf)
        put_u32(st.p, WIRE_MAGIC)
        put_u16(st.p + 4, 0)
        st.p[6] = <char>len(st.exchange_b)
        st.p[7] = <char>len(st.symbol_b)
        put_i64(st.p + 8, <int64_t>self.session)
        memcpy(st.p + MSG_HEADER, <char*>st.exchange_b, len(st.exchange_b))
        memcpy(st.p + MSG_HEADER + len(st.exchange_b), <char*>st.symbol_b, len(st.symbol_b))
        st.body_start = MSG_HEADER + pad8(len(st.exchange_b) + len(st.symbol_b))
        st.pos = st.body_start
        if channel == CH_BOOK:
            st.mirror_arr = np.zeros((4, self.depth), dtype=np.float64)
            st.m_px[0] = <double*>(<Py_ssize_t>st.mirror_arr.ctypes.data)
            st.m_qty[0] = st.m_px[0] + self.depth
            st.m_px[1] = st.m_px[0] + 2 * self.depth
            st.m_qty[1] = st.m_px[0] + 3 * self.depth
        group[channel] = st
        return st

    cdef int _room(self, _Stream st, Py_ssize_t need) except -1:
        if st.pos + need > self.batch_bytes:
            self._seal(st)
        if st.nrec == 0:
            if not self._woken:
                self._woken = True
                if self.wake is not None:
                    self.wake()
            self._dirty.append(st)
        return 0

    cdef char* _record(self, _Stream st, int kind, int flags, int64_t seq, Event ev,
                       int64_t first_id, int64_t last_id) noexcept:
        cdef char* r = st.p + st.pos
        memset(r, 0, REC_HEADER)
        r[0] = <char>kind
        r[1] = <char>flags
        put_i64(r + 8, seq)
        put_i64(r + 16, first_id)
        put_i64(r + 24, last_id)
        put_i64(r + 32, ev.exchange_ts_ns)
        put_i64(r + 40, ev.recv_ns)
        return r

    cdef void _end_record(self, _Stream st, Py_ssize_t size) noexcept:
        st.pos += pad8(size)
        st.nrec += 1
        self.records += 1

    cdef int _seal(self, _Stream st) except -1:
        if st.nrec == 0:
            return 0
        put_u16(st.p + 4, <uint16_t>st.nrec)
        if len(self._ready) < self.max_pending_batches:
            self._ready.append((st.subject, PyBytes_FromStringAndSize(st.p, st.pos)))
            self.batches += 1
        else:
            self.dropped_batches += 1
            self.dropped_records += st.nrec
            st.primed = False   # followers will see the hole: give them a snapshot to recover from
        st.nrec = 0
        st.pos = st.body_start
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int on_book_update(self, BookUpdate u) except -1:
        # Bounds: the book's top region (c_top_region) holds n levels at [0, n); the mirror holds
        # m_n[s] <= depth levels at [0, m_n[s]); the output holds at most m_n + n levels per side,
        # reserved by _room before anything is written. Both the book and the mirror keep their
        # best level at the END (the book's own orientation), so an unchanged top is one memcmp and
        # the mirror update one memcpy.
        cdef OrderBook b = <OrderBook?>u.book
        cdef _Stream st = self._stream(u.symbol, CH_BOOK)
        cdef Py_ssize_t nside[2]
        cdef Py_ssize_t out_n[2]
        cdef Py_ssize_t s, i, j, k, k0, n, mn
        cdef double bp = 0.0, bq = 0.0, mp = 0.0
        cdef double* px
        cdef double* qv
        cdef double* mpx
        cdef double* mqv
        cdef double* out
        cdef char* r
        cdef bint snap, better
        cdef const double* tpx[2]
        cdef const double* tqv[2]
        # The book's top `depth` levels in its orientation (best LAST), through its public C API: the
        # book's layout is a tick ladder, not one sorted array.
        nside[0] = b.c_top_region(0, self.depth, &tpx[0], &tqv[0])
        nside[1] = b.c_top_region(1, self.depth, &tpx[1], &tqv[1])
        snap = (not st.primed) or u.is_snapshot or (u.recv_ns - st.last_snapshot_ns >= self.snapshot_interval_ns)
        if snap:
            self._room(st, REC_HEADER + (nside[0] + nside[1]) * LEVEL_BYTES)
        else:
            self._room(st, REC_HEADER + (nside[0] + nside[1] + st.m_n[0] + st.m_n[1]) * LEVEL_BYTES)
        st.seq += 1
        r = self._record(st, REC_BOOK_SNAPSHOT if snap else REC_BOOK_DELTA,
                         FLAG_VALID | (FLAG_EXCHANGE_SNAPSHOT if u.is_snapshot else 0),
                         st.seq, u, u.first_update_id, u.last_update_id)
        out = <double*>(r + REC_HEADER)   # 8-aligned: pos is a multiple of 8 in a pymalloc'd buffer
        k = 0
        for s in range(2):
            n = nside[s]
            px = <double*>tpx[s]            # the book's top region: n levels, best last
            qv = <double*>tqv[s]
            mpx = st.m_px[s]
            mqv = st.m_qty[s]
            mn = st.m_n[s]
            k0 = k
            if snap:
                for i in range(n - 1, -1, -1):      # best first on the wire
                    out[2 * k] = px[i]
                    out[2 * k + 1] = qv[i]
                    k += 1
            elif mn == n and memcmp(px, mpx, n * sizeof(double)) == 0 and \
                    memcmp(qv, mqv, n * sizeof(double)) == 0:
                pass                                # the followers' top is still right: nothing to send
            else:
                # merge the mirror and the book's top, both walked from their best (last) level
                i = mn - 1
                j = n - 1
                while i >= 0 or j >= 0:
                    if j >= 0:
                        bp = px[j]
                        bq = qv[j]
                    if i >= 0:
                        mp = mpx[i]
                    if i >= 0 and j >= 0 and mp == bp:
                        if mqv[i] != bq:
                            out[2 * k] = bp
                            out[2 * k + 1] = bq
                            k += 1
                        i -= 1
                        j -= 1
                        continue
                    if i < 0:
                        better = True
                    elif j < 0:
                        better = False
                    else:
                        better = (bp > mp) if s == 0 else (bp < mp)
                    if better:             # a level the followers do not have
                        out[2 * k] = bp
                        out[2 * k + 1] = bq
                        j -= 1
                    else:                  # a level the followers have that left the top
                        out[2 * k] = mp
                        out[2 * k + 1] = 0.0
                        i -= 1
                    k += 1
            out_n[s] = k - k0
            if not (mn == n and k == k0 and not snap):
                memcpy(mpx, px, n * sizeof(double))   # the mirror becomes the book's top
                memcpy(mqv, qv, n * sizeof(double))
                st.m_n[s] = n
        put_u16(r + 2, <uint16_t>out_n[0])
        put_u16(r + 4, <uint16_t>out_n[1])
        self._end_record(st, REC_HEADER + k * LEVEL_BYTES)
        if snap:
            st.primed = True
            st.last_snapshot_ns = u.recv_ns
            self.snapshots += 1
        return 0

    cdef char* _put(self, _Stream st, int kind, int flags, Event ev, int64_t first_id, int64_t last_id,
                    Py_ssize_t body, str text) except NULL:
        # One record of a fixed ``body`` (bytes) then ``text`` (UTF-8, at most MAX_STATUS_TEXT bytes): room
        # reserved, header and text written, the record closed; the caller writes the body into it.
        cdef bytes tb = text.encode("utf-8", "replace")[:MAX_STATUS_TEXT] if text else b""
        cdef Py_ssize_t tl = len(tb)
        cdef char* r
        self._room(st, REC_HEADER + body + pad8(tl))
        st.seq += 1
        r = self._record(st, kind, flags, st.seq, ev, first_id, last_id)
        put_u16(r + 6, <uint16_t>tl)
        if tl:
            memcpy(r + REC_HEADER + body, <char*>tb, tl)
        self._end_record(st, REC_HEADER + body + tl)
        return r

    cdef int on_book_status(self, BookStatus e) except -1:
        cdef _Stream st = self._stream(e.symbol, CH_BOOK)
        self._put(st, REC_STATUS, FLAG_VALID if e.valid else 0, e, e.update_id, e.update_id, 0, e.reason)
        if not e.valid:
            st.primed = False
            st.m_n[0] = 0
            st.m_n[1] = 0
        return 0

    cdef int on_trade(self, Trade t) except -1:
        cdef TradeBody* b = <TradeBody*>(self._put(self._stream(t.symbol, CH_TRADES), REC_TRADE, 0, t, t.trade_id,
                                                   t.trade_id, sizeof(TradeBody), t.trade_id_str) + REC_HEADER)
        b.price, b.qty, b.side, b.trade_id = t.price, t.qty, t.side, t.trade_id
        return 0

    cdef int on_book_ticker(self, BookTicker t) except -1:
        cdef BookTickerBody* b = <BookTickerBody*>(self._put(self._stream(t.symbol, CH_BOOK_TICKER), REC_BOOK_TICKER,
                                                             FLAG_VALID, t, t.update_id, t.update_id,
                                                             sizeof(BookTickerBody), None) + REC_HEADER)
        b.bid_price, b.bid_qty, b.ask_price, b.ask_qty = t.bid_price, t.bid_qty, t.ask_price, t.ask_qty
        return 0

    cdef int on_other_event(self, object event) except -1:
        # Ticker and Kline; private events (orders, fills, balances) are not published.
        cdef TickerBody* tb
        cdef KlineBody* kb
        cdef Ticker t
        cdef Kline k
        if type(event) is Ticker:
            t = <Ticker>event
            tb = <TickerBody*>(self._put(self._stream(t.symbol, CH_TICKER), REC_TICKER, 0, t, 0, 0, sizeof(TickerBody),
                                         None) + REC_HEADER)
            tb.last, tb.high, tb.low, tb.volume = t.last, t.high, t.low, t.volume
            tb.quote_volume, tb.change_pct = t.quote_volume, t.change_pct
        elif type(event) is Kline:
            k = <Kline>event
            kb = <KlineBody*>(self._put(self._stream(k.symbol, CH_KLINE), REC_KLINE, 0, k, k.open_time_ns, k.close_time_ns,
                                        sizeof(KlineBody), k.interval) + REC_HEADER)
            kb.open_time_ns, kb.close_time_ns, kb.closed = k.open_time_ns, k.close_time_ns, 1 if k.closed else 0
            kb.open, kb.high, kb.low, kb.close = k.open, k.high, k.low, k.close
            kb.volume, kb.quote_volume = k.volume, k.quote_volume
        else:
            self.unsupported += 1
        return 0
