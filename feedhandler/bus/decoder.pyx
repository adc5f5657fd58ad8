# cython: language_level=3
"""Decode bus messages (``feedhandler/sinks/wire.pxd``) into books and events, never silently wrong.

Every record carries its stream's sequence number. A book stream is valid only from a snapshot record
on; a hole in the sequence, a new publisher session (restart), a publisher status saying the book is
invalid, a delta that cannot be applied, or a crossed book makes it invalid: the handler receives
``BookStatus(valid=False, reason=...)`` and no ``BookUpdate`` for that symbol until the next snapshot
record, then ``BookStatus(valid=True)``. A malformed message raises ``ParseError`` naming the field and
its byte offset, before any book is touched (the message is checked whole first).
"""
cimport cython
from libc.stdint cimport int64_t, uint64_t

import sys

import numpy as np

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Event, EventPool, Kline, Ticker, Trade
from feedhandler.sinks.wire cimport (FLAG_EXCHANGE_SNAPSHOT, FLAG_VALID, LEVEL_BYTES, MSG_HEADER, REC_BOOK_DELTA,
                                     REC_BOOK_SNAPSHOT, REC_BOOK_TICKER, REC_HEADER, REC_KLINE, REC_STATUS,
                                     REC_TICKER, REC_TRADE, WIRE_MAGIC, BookTickerBody, KlineBody, TickerBody,
                                     TradeBody, get_f64, get_i64, get_u16, get_u32, pad8)

from feedhandler.book.orderbook import OrderBook as _OrderBook
from feedhandler.core.dispatch import EventDispatcher as _EventDispatcher
from feedhandler.core.errors import ParseError
from feedhandler.events.events import (BookStatus as _BookStatus, BookTicker as _BookTicker,
                                       BookUpdate as _BookUpdate, Kline as _Kline, Ticker as _Ticker,
                                       Trade as _Trade)

if sys.byteorder != "little":
    raise ImportError("feedhandler.bus needs a little-endian host")

DEF SCRATCH_LEVELS = 65535


cdef inline int channel_of(int kind) noexcept:
    if kind == REC_TRADE:
        return 1
    if kind == REC_BOOK_TICKER:
        return 2
    if kind == REC_TICKER:
        return 3
    if kind == REC_KLINE:
        return 4
    return 0


cdef Py_ssize_t body_size(int kind, const unsigned char* r) noexcept:
    """Bytes after the record header (body + padded text), or -1 for an unknown kind."""
    cdef Py_ssize_t text = get_u16(r + 6)
    if kind == REC_BOOK_DELTA or kind == REC_BOOK_SNAPSHOT:
        return (<Py_ssize_t>get_u16(r + 2) + get_u16(r + 4)) * LEVEL_BYTES
    if kind == REC_STATUS:
        return pad8(text)
    if kind == REC_TRADE:
        return sizeof(TradeBody) + pad8(text)
    if kind == REC_BOOK_TICKER:
        return sizeof(BookTickerBody)
    if kind == REC_TICKER:
        return sizeof(TickerBody)
    if kind == REC_KLINE:
        return sizeof(KlineBody) + pad8(text)
    return -1


cdef inline str _text(const unsigned char* r, Py_ssize_t body):
    # The record's text (its length at header offset 6), after its fixed body: UTF-8, bad bytes replaced.
    return (<const char*>(r + REC_HEADER + body))[:get_u16(r + 6)].decode("utf-8", "replace")


cdef inline Event _stamped(EventPool pool, FollowedStream st, int64_t ts, int64_t recv):
    # The next pooled event of ``pool`` with the fields every event carries set from the stream (set here
    # rather than by calling acquire_event: one reference count round trip less per record).
    cdef Event ev = <Event>pool.acquire()
    ev.exchange = st.exchange
    ev.symbol = st.symbol
    ev.exchange_ts_ns = ts
    ev.recv_ns = recv
    return ev


@cython.final
cdef class FollowedStream:
    def __repr__(self):
        return (f"FollowedStream({self.exchange}:{self.symbol} channel={self.channel} seq={self.last_seq} "
                f"valid={bool(self.valid)} gaps={self.gaps})")


@cython.final
cdef class BusDecoder:
    """Turn bus messages into ``OrderBook``s and the manager's events.

    Parameters
    ----------
    handler : callable, optional
        Receives ``BookUpdate`` (the follower's live book), ``BookStatus``, ``Trade``, ``BookTicker``, ``Ticker``, ``Kline``,
        exactly as the manager's handler does (pooled events: valid until the handler returns).
    error_handler : callable, optional
        Receives a ``HandlerError`` when the handler raises (the decoder goes on).
    depth : int
        Levels per side the publisher sends; the books hold ``2 * depth`` (a delta never overflows them).
    """

    def __init__(self, handler=None, error_handler=None, Py_ssize_t depth=100):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.depth = depth
        self.dispatcher = _EventDispatcher(handler, error_handler)
        self._streams = {}
        self._updates = EventPool(_BookUpdate, 16)
        self._statuses = EventPool(_BookStatus, 16)
        self._trades = EventPool(_Trade, 16)
        self._tickers = EventPool(_BookTicker, 16)
        self._tickers24 = EventPool(_Ticker, 16)
        self._klines = EventPool(_Kline, 16)
        self._scratch_arr = np.zeros(4 * SCRATCH_LEVELS, dtype=np.float64)
        self._scratch = <double*>(<Py_ssize_t>self._scratch_arr.ctypes.data)

    def feed(self, data):
        """Decode one bus message (bytes-like). Raises ``ParseError`` for a malformed one."""
        cdef const unsigned char[::1] view = memoryview(data).cast("B")
        if view.shape[0] == 0:
            raise ParseError("bus message: empty payload at byte 0")
        self.c_feed(&view[0], view.shape[0])

    def streams(self):
        """Every stream seen so far."""
        return list(self._streams.values())

    def book(self, str symbol, str exchange=None):
        """The follower's book for ``symbol`` (None if not seen); check :meth:`is_valid` before trusting it."""
        for st in self._streams.values():
            if st.channel == 0 and st.symbol == symbol and (exchange is None or st.exchange == exchange):
                return st.book
        return None

    def is_valid(self, str symbol, str exchange=None):
        for st in self._streams.values():
            if st.channel == 0 and st.symbol == symbol and (exchange is None or st.exchange == exchange):
                return bool(st.valid)
        return False

    def invalidate_all(self, str reason):
        """Mark every valid book invalid (e.g. the bus connection was lost), reporting each."""
        cdef FollowedStream st
        for st in list(self._streams.values()):
            st.session = 0
            if st.channel == 0:
                self._invalidate(st, reason, st.book.last_update_id, 0, 0)

    cdef int _invalidate(self, FollowedStream st, str reason, int64_t uid, int64_t ts, int64_t recv) except -1:
        if not st.valid:
            return 0
        st.valid = False
        return self._status(st, False, reason, uid, ts, recv)

    cdef int _status(self, FollowedStream st, bint valid, str reason, int64_t uid, int64_t ts, int64_t recv) except -1:
        cdef BookStatus ev = <BookStatus>_stamped(self._statuses, st, ts, recv)
        ev.valid = valid
        ev.reason = reason
        ev.update_id = uid
        return self.dispatcher.emit(ev)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int c_feed(self, const unsigned char* p, Py_ssize_t n) except -1:
        # Pass 1 proves every read of pass 2 is inside [0, n): header fields, each record header and
        # body are checked against n before pass 2 runs.
        cdef Py_ssize_t nrec, el, sl, off, start, i, size, k, nb, na
        cdef int kind, flags, ch, first_kind
        cdef uint64_t session
        cdef int64_t seq, first_id, last_id, ts, recv
        cdef const unsigned char* r
        cdef FollowedStream st
        cdef OrderBook book
        cdef BookUpdate up
        cdef Trade tr
        cdef BookTicker tk
        cdef Ticker t24
        cdef Kline kl
        cdef const TradeBody* trb
        cdef const BookTickerBody* btb
        cdef const TickerBody* tkb
        cdef const KlineBody* klb
        cdef bytes key
        cdef double* s = self._scratch
        self.messages += 1
        if n < MSG_HEADER:
            self.parse_errors += 1
            raise ParseError(f"bus message: header truncated at byte {n} (need {MSG_HEADER})")
        if get_u32(p) != WIRE_MAGIC:
            self.parse_errors += 1
            raise ParseError("bus message: bad magic at byte 0 (not a feedhandler bus message)")
        nrec = get_u16(p + 4)
        el = p[6]
        sl = p[7]
        session = <uint64_t>get_i64(p + 8)
        start = MSG_HEADER + pad8(el + sl)
        if start > n:
            self.parse_errors += 1
            raise ParseError(f"bus message: names truncated at byte {n} (need {start})")
        off = start
        first_kind = -1
        for i in range(nrec):
            if off + REC_HEADER > n:
                self.parse_errors += 1
                raise ParseError(f"bus message: record {i} header truncated at byte {off}")
            kind = p[off]
            size = body_size(kind, p + off)
            if size < 0:
                self.parse_errors += 1
                raise ParseError(f"bus message: record {i} kind {kind} unknown at byte {off}")
            if first_kind < 0:
                first_kind = kind
            elif channel_of(kind) != channel_of(first_kind):
                self.parse_errors += 1
                raise ParseError(f"bus message: record {i} kind {kind} at byte {off} mixes streams")
            if (kind == REC_BOOK_DELTA or kind == REC_BOOK_SNAPSHOT) and \
                    (get_u16(p + off + 2) > 2 * self.depth or get_u16(p + off + 4) > 2 * self.depth):
                self.parse_errors += 1
                raise ParseError(f"bus message: record {i} level count at byte {off + 2} exceeds 2 x depth {self.depth}")
            if off + REC_HEADER + size > n:
                self.parse_errors += 1
                raise ParseError(f"bus message: record {i} body truncated at byte {n} (need {off + REC_HEADER + size})")
            off += REC_HEADER + size
        if nrec == 0:
            return 0
        ch = channel_of(first_kind)
        # the stream: a one-entry cache, then the dict (key = names + channel)
        st = self._last
        if st is None or len(st._key) != el + sl + 1 or (<const unsigned char*>(<char*>st._key))[0] != ch or \
                (<bytes>st._key)[1:] != (<const char*>(p + MSG_HEADER))[:el + sl]:
            key = bytes([ch]) + (<const char*>(p + MSG_HEADER))[:el + sl]
            st = self._streams.get(key)
            if st is None:
                st = FollowedStream()
                st._key = key
                st.exchange = (<const char*>(p + MSG_HEADER))[:el].decode("utf-8", "replace")
                st.symbol = (<const char*>(p + MSG_HEADER + el))[:sl].decode("utf-8", "replace")
                st.channel = ch
                if ch == 0:
                    st.book = _OrderBook(st.symbol, 2 * self.depth)
                self._streams[key] = st
            self._last = st
        if session != st.session:
            if st.session != 0 and ch == 0:
                self._invalidate(st, "publisher restarted (new session)", st.book.last_update_id, 0, 0)
            st.session = session
            st.last_seq = 0
        book = st.book
        off = start
        for i in range(nrec):
            r = p + off
            kind = r[0]
            flags = r[1]
            nb = get_u16(r + 2)
            na = get_u16(r + 4)
            seq = get_i64(r + 8)
            first_id = get_i64(r + 16)
            last_id = get_i64(r + 24)
            ts = get_i64(r + 32)
            recv = get_i64(r + 40)
            off += REC_HEADER + body_size(kind, r)
            if st.last_seq != 0 and seq <= st.last_seq:
                self.duplicates += 1
                continue
            self.records += 1
            st.records += 1
            if st.last_seq != 0 and seq != st.last_seq + 1:
                st.gaps += 1
                self.gaps += 1
                if ch == 0:
                    self._invalidate(st, f"gap in the bus sequence: {seq} after {st.last_seq}", book.last_update_id, ts, recv)
            elif st.last_seq == 0 and ch == 0 and st.valid:
                self._invalidate(st, "bus sequence restarted", book.last_update_id, ts, recv)
            st.last_seq = seq
            if kind == REC_BOOK_SNAPSHOT or (kind == REC_BOOK_DELTA and st.valid):
                for k in range(nb):   # k < nb and the record's body holds nb + na levels (pass 1)
                    s[k] = get_f64(r + REC_HEADER + 16 * k)
                    s[SCRATCH_LEVELS + k] = get_f64(r + REC_HEADER + 16 * k + 8)
                for k in range(na):
                    s[2 * SCRATCH_LEVELS + k] = get_f64(r + REC_HEADER + 16 * (nb + k))
                    s[3 * SCRATCH_LEVELS + k] = get_f64(r + REC_HEADER + 16 * (nb + k) + 8)
                try:
                    if kind == REC_BOOK_SNAPSHOT:
                        book.c_load_snapshot(s, s + SCRATCH_LEVELS, nb, s + 2 * SCRATCH_LEVELS,
                                             s + 3 * SCRATCH_LEVELS, na, last_id)
                    else:
                        book.c_apply_levels(0, s, s + SCRATCH_LEVELS, nb)
                        book.c_apply_levels(1, s + 2 * SCRATCH_LEVELS, s + 3 * SCRATCH_LEVELS, na)
                        book.last_update_id = last_id
                except ValueError as exc:
                    self.parse_errors += 1
                    self._invalidate(st, f"bad levels in the bus stream: {exc}", book.last_update_id, ts, recv)
                    raise ParseError(f"bus message: record {i} levels at byte {off - body_size(kind, r)}: {exc}") from None
                if book.c_is_crossed():
                    self._invalidate(st, "crossed book from the bus", last_id, ts, recv)
                    continue
                if kind == REC_BOOK_SNAPSHOT and not st.valid:
                    st.valid = True
                    self._status(st, True, "", last_id, ts, recv)
                up = <BookUpdate>_stamped(self._updates, st, ts, recv)
                up.book = book
                up.first_update_id = first_id
                up.last_update_id = last_id
                up.is_snapshot = (flags & FLAG_EXCHANGE_SNAPSHOT) != 0
                up.parsed_ns = 0
                up.applied_ns = 0
                self.dispatcher.emit(up)
            elif kind == REC_STATUS:
                if not (flags & FLAG_VALID):
                    self._invalidate(st, "publisher: " + _text(r, 0), last_id, ts, recv)
            elif kind == REC_TRADE:
                trb = <const TradeBody*>(r + REC_HEADER)
                tr = <Trade>_stamped(self._trades, st, ts, recv)
                tr.price, tr.qty, tr.side, tr.trade_id = trb.price, trb.qty, <int>trb.side, trb.trade_id
                tr.trade_id_str = _text(r, sizeof(TradeBody)) if get_u16(r + 6) else ""
                self.dispatcher.emit(tr)
            elif kind == REC_BOOK_TICKER:
                btb = <const BookTickerBody*>(r + REC_HEADER)
                tk = <BookTicker>_stamped(self._tickers, st, ts, recv)
                tk.bid_price, tk.bid_qty, tk.ask_price, tk.ask_qty = btb.bid_price, btb.bid_qty, btb.ask_price, btb.ask_qty
                tk.update_id = last_id
                self.dispatcher.emit(tk)
            elif kind == REC_TICKER:
                tkb = <const TickerBody*>(r + REC_HEADER)
                t24 = <Ticker>_stamped(self._tickers24, st, ts, recv)
                t24.last, t24.high, t24.low, t24.volume = tkb.last, tkb.high, tkb.low, tkb.volume
                t24.quote_volume, t24.change_pct = tkb.quote_volume, tkb.change_pct
                self.dispatcher.emit(t24)
            elif kind == REC_KLINE:
                klb = <const KlineBody*>(r + REC_HEADER)
                kl = <Kline>_stamped(self._klines, st, ts, recv)
                kl.interval = _text(r, sizeof(KlineBody))
                kl.open_time_ns, kl.close_time_ns, kl.closed = klb.open_time_ns, klb.close_time_ns, klb.closed != 0
                kl.open, kl.high, kl.low, kl.close = klb.open, klb.high, klb.low, klb.close
                kl.volume, kl.quote_volume = klb.volume, klb.quote_volume
                self.dispatcher.emit(kl)
        return 0
