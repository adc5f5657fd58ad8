# cython: language_level=3
# distutils: libraries = z
"""Compiled OKX v5 decoder (public and private WebSocket frames), on the kernel's ``FieldTable``.

Frames (protocols.md section 6; okx.com/docs-v5 "WebSocket public channel")::

    {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot"|"update",
     "data":[{"asks":[["px","sz","0","n"],..],"bids":[..],"ts":"..","checksum":-123,"prevSeqId":-1,"seqId":7}]}
    {"arg":{"channel":"bbo-tbt"|"trades"|"tickers"|"candle1m",..},"data":[{..}]}
    {"event":"subscribe"|"unsubscribe"|"login"|"error","arg":{..},"code":"0","msg":""}    pong

One ``kt_scan`` reads the envelope and a ``books``/``bbo-tbt`` record (levels straight into the kernel's
arrays); other ``data`` arrays are checked whole, then emitted: a malformed frame raises ``ParseError``
(field, byte offset) and nothing of it is applied. Books: a ``snapshot`` loads the book at its ``seqId``;
an ``update`` goes to ``BookSync`` as ``first = prevSeqId, last = seqId`` (rule ``okx``): a heartbeat
(``seqId == prevSeqId``) keeps the chain, a maintenance reset (``seqId < prevSeqId``) is applied and the
chain goes on from the new ``seqId``; before 2022-06 (no ``seqId``) updates are chained by count and must
carry a checksum. A non-zero ``checksum`` arms :class:`OkxChecksum` (CRC32 of the top 25 levels).

Checksum texts: the book keeps floats. OKX writes numbers in their shortest form (no trailing zero, no
exponent, at most 15 significant digits), and for such a text the shortest fixed-point form that parses
back to the same double *is* the text, so :func:`okx_format` reproduces it (290/290 checksums of the 2022
recording). A book that received a text not in that form is not checksum-verified (counted in
``checksum_unverifiable``) until a snapshot whose texts all are.
"""
cimport cython
from libc.math cimport NAN
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

import json as _json

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_OBJECT, JSON_STRING, JsonIter, JsonSpan, json_array_begin, json_array_next, json_span_eq,
    json_span_to_double, json_span_to_int64,
)
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, BalanceUpdate, BookTicker, Event, EventPool, Fill, Kline, OrderUpdate, Ticker, Trade,
    acquire_event,
)
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.extract cimport (
    KF_REQUIRED, KT_DOUBLE, KT_ERR_ITEM, KT_INT64, KT_INT64_MS, KT_LEVELS, KT_OBJECT, KT_PRICE, KT_SELECT, KT_SIZE,
    KT_SPAN, KT_STR, FieldTable, KtLevels, KtOut, KtTable, kt_scan, kt_scan_each, kt_scan_span, kt_seen, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport LIVE, BookIntegrity, BookSync, BookSyncGroup

from feedhandler.events.events import (
    BalanceUpdate as _BalanceUpdate, BookTicker as _BookTicker, Fill as _Fill, Kline as _Kline,
    OrderUpdate as _OrderUpdate, Ticker as _Ticker, Trade as _Trade,
)
from feedhandler.exchanges.okx.constants import CANDLE_SECONDS

DEF CHECKSUM_DEPTH = 25      # levels per side in the checksum (okx.com/docs-v5, "Checksum")
DEF TEXT_MAX = 32            # bytes of one formatted number (<= 15 digits, '.', leading "0.")
DEF CACHE_BITS = 10          # formatted-number cache of the checksum: 1024 slots
DEF CACHE_SLOTS = 1024

# channel kinds; kernel slots: the envelope's, then the records' (S_TK..S_TK+5: last, open24h, high24h,
# low24h, vol24h, volCcy24h); level arrays
cdef enum: CH_OTHER, CH_BOOKS, CH_BBO, CH_TRADES, CH_TICKERS, CH_CANDLE, CH_ORDERS, CH_ACCOUNT
cdef enum: S_CHANNEL, S_INST, S_ACTION, S_EVENT, S_CODE, S_DATA, S_ARG, S_ITYPE
cdef enum: S_TS = S_ITYPE + 1, S_CHECKSUM, S_PREV, S_SEQ, S_TID, S_PX, S_SZ, S_SIDE, S_TK
cdef enum: L_BIDS, L_ASKS

_R = KF_REQUIRED
BOOK = FieldTable("okx.books", [("asks", KT_LEVELS, L_ASKS, _R), ("bids", KT_LEVELS, L_BIDS, _R),
                                ("ts", KT_INT64_MS, S_TS, _R), ("checksum", KT_INT64, S_CHECKSUM),
                                ("prevSeqId", KT_INT64, S_PREV), ("seqId", KT_INT64, S_SEQ)])
TRADE = FieldTable("okx.trades", [("tradeId", KT_SPAN, S_TID, _R), ("px", KT_PRICE, S_PX, _R),
                                  ("sz", KT_SIZE, S_SZ, _R), ("side", KT_STR, S_SIDE, _R), ("ts", KT_INT64_MS, S_TS, _R)])
TICKER = FieldTable("okx.tickers", [("ts", KT_INT64_MS, S_TS, _R)] + [(k, KT_DOUBLE, S_TK + i, _R) for i, k in enumerate(
    ("last", "open24h", "high24h", "low24h", "vol24h", "volCcy24h"))])
ARG = FieldTable("okx.arg", [("channel", KT_STR, S_CHANNEL), ("instId", KT_STR, S_INST), ("instType", KT_STR, S_ITYPE)])
FRAME = FieldTable("okx", [("arg", KT_OBJECT, S_ARG, 0, ARG), ("action", KT_STR, S_ACTION),
                           ("event", KT_STR, S_EVENT), ("code", KT_SPAN, S_CODE), ("data", KT_SELECT, S_DATA)])
cdef FieldTable _FRAME = FRAME, _BOOK = BOOK
cdef tuple _RECORDS = (None, BOOK, BOOK, TRADE, TICKER)     # the record table of each channel kind
cdef tuple _CH_NAMES = ("other", "books", "bbo-tbt", "trades", "tickers", "candle", "orders", "account")

cdef dict _CANDLE_SECONDS = CANDLE_SECONDS    # channel suffix -> seconds


# ---------------------------------------------------------------------------------------------------
# CRC32 (IEEE) of the checksum string: zlib's own (linked by the "distutils: libraries" line above).
cdef extern from "zlib.h" nogil:
    unsigned long crc32(unsigned long crc, const unsigned char* buf, unsigned int len)


def okx_crc32(bytes data):
    """The CRC32 used by the checksum (for tests against ``zlib.crc32``)."""
    return crc32(0, data, len(data))


cdef double _POW10[16]
_POW10[:] = [10.0 ** i for i in range(16)]      # each exact


cdef int _format(double v, char* out) noexcept nogil:
    """The shortest fixed-point text of ``v`` that parses back to ``v`` (OKX's own form); -1 if none.

    For k = 0, 1, ... decimals: m = round(v * 10^k); if m / 10^k (both exact doubles, one correctly
    rounded division, i.e. exactly how the text "m e-k" parses) is ``v``, then m with k decimals is the
    text. A text with at most 15 significant digits and no trailing zero is found this way (two such
    texts never parse to the same double), so nothing shorter can match first. -1 beyond 15 digits.
    """
    cdef int k = 0, n = 0, i, digits = 0
    cdef long long m = 0
    cdef double x
    cdef char tmp[24]
    if not (v >= 0.0 and v < 1e15):
        return -1
    while True:
        x = v * _POW10[k]
        if x >= 1e15:
            return -1   # more than 15 significant digits: not an OKX text
        m = <long long>(x + 0.5)   # x >= 0: round half up (any m with m / 10^k == v is the text)
        if <double>m / _POW10[k] == v:
            break
        k += 1
        if k == 16:
            return -1
    while m or digits <= k:         # the digits backwards, with the leading zeros of "0.000123"
        tmp[digits] = <char>(48 + m % 10)
        digits += 1
        m //= 10
    for i in range(digits - 1, -1, -1):
        if i == k - 1:
            out[n] = b'.'
            n += 1
        out[n] = tmp[i]
        n += 1
    return n


def okx_format(double v):
    """Python view of the checksum formatting: OKX's text of ``v`` (None if it has no such text)."""
    cdef char buf[TEXT_MAX]
    cdef int n = _format(v, buf)
    return None if n < 0 else buf[:n].decode()


@cython.boundscheck(False)
@cython.wraparound(False)
cdef bint _levels_canonical(const JsonSpan* arr) noexcept nogil:
    """Every string in a (validated) levels array is in OKX's shortest form: digits with at most one '.'
    (neither first nor last), no trailing zero after it, at most 15 significant digits, at most 17 bytes."""
    # Bounds: the array was validated, so every opening quote inside it has its closing quote before end.
    cdef const char* p = arr.ptr
    cdef const char* end = arr.ptr + arr.len
    cdef const char* s
    cdef int sig
    cdef bint dot
    while p < end:
        if p[0] != b'"':
            p += 1
            continue
        p += 1
        s, sig, dot = p, 0, False
        while p[0] != b'"':
            if p[0] == b'.':
                if dot or p == s:
                    return False
                dot = True
            elif b'0' <= p[0] <= b'9':
                sig += sig > 0 or p[0] != b'0'
            else:
                return False
            p += 1
        if p == s or p - s > 17 or sig > 15 or (p - 1)[0] == b'.' or (dot and (p - 1)[0] == b'0'):
            return False
        p += 1
    return True


cdef class OkxChecksum(BookIntegrity):
    """OKX's book checksum: signed CRC32 of ``bidPx:bidSz:askPx:askSz:...`` over the top 25 levels.

    Bids best first, asks best first, interleaved; when one side is shorter its entries just end.
    The texts are reproduced from the book's floats by :func:`okx_format` (see the module notes).
    """

    cdef char _buf[CHECKSUM_DEPTH * 4 * TEXT_MAX]
    cdef readonly int64_t unformattable
    # direct-mapped cache value -> text: the top 25 levels mostly repeat from one frame to the next
    cdef uint64_t _cache_key[CACHE_SLOTS]
    cdef char _cache_text[CACHE_SLOTS][TEXT_MAX]
    cdef int _cache_len[CACHE_SLOTS]

    def __init__(self):
        super().__init__("checksum")   # the cache starts empty: the object's memory is zeroed (no text is empty)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef inline int _text(self, double v, char* out) noexcept:
        # Bound: the slot is the top CACHE_BITS bits of a 64-bit hash, < CACHE_SLOTS; texts are < TEXT_MAX.
        # A hit copies a whole TEXT_MAX slot (a fixed-size copy, inlined): ``out`` is in compute's buffer at
        # w <= 100 texts of <= 18 bytes, so w + TEXT_MAX <= 1832 < its 3200 bytes.
        cdef uint64_t bits = (<uint64_t*>&v)[0]
        cdef int slot = <int>((bits * <uint64_t>0x9E3779B97F4A7C15) >> (64 - CACHE_BITS))
        cdef int n = self._cache_len[slot]
        if n > 0 and self._cache_key[slot] == bits:
            memcpy(out, self._cache_text[slot], TEXT_MAX)
            return n
        n = _format(v, out)
        if n > 0:
            self._cache_key[slot] = bits
            self._cache_len[slot] = n
            memcpy(self._cache_text[slot], out, n)
        return n

    cdef int verify(self, BookSync sync, int64_t expected) except -1:
        cdef int64_t got = self.compute(sync.book)
        if got == 0x100000000:
            self.unformattable += 1
            return 0   # a level without an OKX text: cannot be checked, the seqId chain still is
        return 0 if got == expected else 1

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int64_t compute(self, OrderBook book) noexcept:
        # Bounds: at most 25 levels per side, 2 texts each of <= TEXT_MAX - 1 bytes plus ':'; the buffer
        # holds 25 * 4 * TEXT_MAX. c_top_pairs gives nb/na <= CHECKSUM_DEPTH levels best first: level i of a
        # side is the pair (p[2 i], p[2 i + 1]), i < n (valid until the book changes; one buffer per side).
        cdef const double* pairs[2]
        cdef Py_ssize_t n[2]
        cdef Py_ssize_t i, w = 0
        cdef int side, j, k
        n[0] = book.c_top_pairs(0, CHECKSUM_DEPTH, &pairs[0])
        n[1] = book.c_top_pairs(1, CHECKSUM_DEPTH, &pairs[1])
        for i in range(max(n[0], n[1])):
            for side in range(2):           # bid i, then ask i: "price:size:" each
                if i < n[side]:
                    for j in range(2):
                        k = self._text(pairs[side][2 * i + j], self._buf + w)
                        if k < 0:
                            return 0x100000000
                        self._buf[w + k] = b':'
                        w += k + 1
        if w:
            w -= 1   # no ':' after the last text
        return <int32_t><uint32_t>crc32(0, <const unsigned char*>self._buf, <unsigned int>w)

    def checksum(self, OrderBook book):
        """The checksum of ``book`` as OKX computes it (signed int32), None if a level has no OKX text."""
        cdef int64_t v = self.compute(book)
        return None if v == 0x100000000 else v


# ---------------------------------------------------------------------------------------------------
cdef int _channel(const JsonSpan* c) noexcept nogil:
    """The channel kind (CH_*) of ``arg.channel``; ``candle<interval>`` is a candle."""
    return (CH_BOOKS if json_span_eq(c, b"books", 5) else CH_BBO if json_span_eq(c, b"bbo-tbt", 7)
            else CH_TRADES if json_span_eq(c, b"trades", 6) else CH_TICKERS if json_span_eq(c, b"tickers", 7)
            else CH_CANDLE if c.len > 6 and not c.has_escapes and memcmp(c.ptr, b"candle", 6) == 0
            else CH_ORDERS if json_span_eq(c, b"orders", 6) else CH_ACCOUNT if json_span_eq(c, b"account", 7)
            else CH_OTHER)


cdef const KtTable* _select(void* ctx, int slot, KtOut* o) noexcept:
    """A ``books``/``bbo-tbt`` ``data`` array after its ``arg``: its record read in the same pass."""
    cdef OkxDecoder d = <OkxDecoder>ctx
    if kt_seen(o, S_CHANNEL) and o.span[S_DATA].kind == JSON_ARRAY:
        d._ch = _channel(&o.span[S_CHANNEL])
        if d._ch == CH_BOOKS or d._ch == CH_BBO:
            d._records = 0
            return &_BOOK.table
    return NULL


cdef int _one_record(void* ctx, int slot, KtOut* o, Py_ssize_t index) noexcept:
    # a book or best bid/offer frame carries one record: its levels are the scratch arrays'
    (<OkxDecoder>ctx)._records = index + 1
    return 0 if index == 0 else -1


cdef class OkxDecoder(FrameDecoder):
    """Compiled OKX v5 decoder.

    Parameters
    ----------
    dispatcher:
        Where events go.
    books:
        ``BookSyncGroup`` of the ``books`` channel (rule ``okx``, integrity :class:`OkxChecksum`), keyed
        by ``instId``; None for the private side.
    level_capacity:
        Most levels one side of one frame may carry (OKX ``books`` snapshots have 400).
    """

    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books
    cdef readonly int64_t checksum_unverifiable, heartbeats, resets
    cdef EventPool _trades, _tickers, _bbos, _klines, _orders, _fills, _balances
    cdef SymbolTable _symbols
    cdef set _unverifiable          # instIds whose book holds a text not in OKX's shortest form
    cdef int _ch                    # the frame's channel kind (CH_OTHER until known)
    cdef Py_ssize_t _records        # records read by the one-pass book path
    cdef const char* _base

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, Py_ssize_t level_capacity=1000):
        FrameDecoder.__init__(self, "okx")
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self._symbols = books.symbol_table if books is not None else SymbolTable()
        self._trades, self._tickers, self._bbos, self._klines, self._orders, self._fills, self._balances = [
            EventPool(cls, 64) for cls in (_Trade, _Ticker, _BookTicker, _Kline, _OrderUpdate, _Fill, _BalanceUpdate)]
        self._unverifiable = set()
        self.use_levels(max(1, level_capacity), False, 2)
        self.out.select = _select
        self.out.on_item = _one_record
        self.out.ctx = <void*>self

    cdef int _bad(self, str field, const char* at, str reason) except -1:
        return self.fail(field, at - self._base if at != NULL else -1, f"{_CH_NAMES[self._ch]}: {reason}")

    cdef int _refused(self) except -1:
        """The kernel refused the frame (or a book frame's second record)."""
        if self.out.err_code == KT_ERR_ITEM:
            return self._bad("data", self.out.err_at, "more than one record in a frame")
        return self.scan_fail(self._base, "")

    cdef Event _event(self, EventPool pool, int64_t ts, int64_t recv_ns):
        """The next event of ``pool``, its symbol the record's ``instId``."""
        return acquire_event(pool, self.exchange, self._symbols.c_intern(self.out.span[S_INST].ptr,
                                                                         self.out.span[S_INST].len), ts, recv_ns)

    # ---- the frame ---------------------------------------------------------------------------
    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1:
        if n == 4 and memcmp(p, b"pong", 4) == 0:
            return MessageType.PONG
        if kt_scan(&_FRAME.table, p, n, &self.out) < 0:
            return MessageType.UNKNOWN
        if kt_seen(&self.out, S_EVENT):
            return self._control_type()
        return MessageType.DATA if kt_seen(&self.out, S_DATA) else MessageType.UNKNOWN

    cdef object _arg_key(self):
        """An event's ``arg`` as the subscription strategy keys it (``channel:instId``, ``channel:instType`` or
        ``channel``); None without ``arg.channel`` and for an ``unsubscribe`` answer (it confirms nothing)."""
        cdef KtOut* o = &self.out
        cdef int slot
        if not kt_seen(o, S_CHANNEL) or json_span_eq(&o.span[S_EVENT], b"unsubscribe", 11):
            return None
        for slot in (S_INST, S_ITYPE):
            if kt_seen(o, slot) and o.span[slot].len:
                return f"{kt_text(&o.span[S_CHANNEL])}:{kt_text(&o.span[slot])}"
        return kt_text(&o.span[S_CHANNEL])

    cdef int _control_type(self) noexcept:
        cdef const JsonSpan* e = &self.out.span[S_EVENT]
        if json_span_eq(e, b"subscribe", 9) or json_span_eq(e, b"unsubscribe", 11):
            return MessageType.SUBSCRIPTION_ACK
        return MessageType.AUTH_ACK if json_span_eq(e, b"login", 5) else MessageType.ERROR

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef int64_t code = 0
        self.frames += 1
        if n == 4 and memcmp(p, b"pong", 4) == 0:
            return MessageType.PONG
        self._base = p
        self._ch = CH_OTHER
        self._records = -1
        if kt_scan(&_FRAME.table, p, n, o) < 0:
            return self._refused()
        if kt_seen(o, S_EVENT):
            if kt_seen(o, S_CODE) and json_span_to_int64(&o.span[S_CODE], &code) != 0:
                code = -1
            self.control_code, self.control_id = code, -1
            self.control_text = self._arg_key()
            return self._control_type()
        if not (kt_seen(o, S_CHANNEL) and kt_seen(o, S_DATA)):
            return self.fail("arg", -1, "frame has neither 'event' nor 'arg.channel' + 'data'")
        self._ch = _channel(&o.span[S_CHANNEL])
        if o.span[S_DATA].kind != JSON_ARRAY:
            return self._bad("data", o.span[S_DATA].ptr, "'data' must be an array")
        if self._ch == CH_ORDERS or self._ch == CH_ACCOUNT:
            return self._private(o.span[S_DATA].ptr[:o.span[S_DATA].len], recv_ns)
        if self._ch == CH_OTHER:
            return MessageType.DATA   # a channel this decoder does not read (funding, open interest): ignored
        if not (kt_seen(o, S_INST) and o.span[S_INST].len > 0):
            return self._bad("instId", o.span[S_CHANNEL].ptr, "'arg.instId' missing")
        if self._ch == CH_CANDLE:
            return self._candles(recv_ns)
        if self._ch <= CH_BBO and self._records < 0:
            # "data" came before "arg": read its records now
            self._records = 0
            if kt_scan_each(&_BOOK.table, &o.span[S_DATA], S_DATA, o) < 0:
                return self._refused()
        if self._ch == CH_BOOKS:
            return self._book(recv_ns) if self._records == 1 else MessageType.DATA
        if self._ch == CH_BBO:
            return self._bbo(recv_ns) if self._records == 1 else MessageType.DATA
        return self._each(recv_ns)

    cdef int _book(self, int64_t recv_ns) except -1:
        """One ``books`` record, read and checked; its levels are in ``out.levels``."""
        cdef KtOut* o = &self.out
        cdef KtLevels* b = &o.levels[L_BIDS]
        cdef KtLevels* a = &o.levels[L_ASKS]
        cdef int64_t ts = o.i64[S_TS], seq = 0, prev = 0, checksum = 0
        cdef bint snapshot, sequenced = kt_seen(o, S_SEQ), canonical
        cdef BookSync sync
        if self.books is None:
            return self._bad("arg", o.span[S_CHANNEL].ptr, "this decoder keeps no books (private side)")
        snapshot = kt_seen(o, S_ACTION) and json_span_eq(&o.span[S_ACTION], b"snapshot", 8)
        if not snapshot and not (kt_seen(o, S_ACTION) and json_span_eq(&o.span[S_ACTION], b"update", 6)):
            return self._bad("action", o.span[S_ACTION].ptr if kt_seen(o, S_ACTION) else NULL,
                             "'action' must be \"snapshot\" or \"update\"")
        if kt_seen(o, S_CHECKSUM):
            checksum = o.i64[S_CHECKSUM]
            if checksum < -2147483648 or checksum > 2147483647:
                return self._bad("checksum", o.span[S_CHECKSUM].ptr, "not a signed 32-bit integer")
        if sequenced:
            if not kt_seen(o, S_PREV):
                return self._bad("prevSeqId", o.span[S_SEQ].ptr, "missing beside 'seqId'")
            seq, prev = o.i64[S_SEQ], o.i64[S_PREV]
        elif checksum == 0:
            return self._bad("seqId", NULL, "missing and no checksum: the update cannot be checked")
        # everything decoded and validated: now the book
        sync = self.books.c_get(o.span[S_INST].ptr, o.span[S_INST].len)
        canonical = _levels_canonical(&a.text) and _levels_canonical(&b.text)
        if snapshot:
            if canonical:
                self._unverifiable.discard(sync.symbol)
        else:
            if not canonical:
                self._unverifiable.add(sync.symbol)
            if not sequenced:
                # before seqId existed (2022): the checksum is the check, updates are chained by count;
                # such an update cannot be placed in a stream that is waiting for a snapshot
                if sync.state != LIVE:
                    return MessageType.DATA
                prev = sync.book.last_update_id
                seq = prev + 1
        if checksum != 0:
            if sync.symbol in self._unverifiable:
                self.checksum_unverifiable += 1
            else:
                sync.expect(checksum)
        if snapshot:
            sync.on_full_snapshot(seq, b.px, b.qty, b.count, a.px, a.qty, a.count, ts, recv_ns)
            return MessageType.DATA
        if seq == prev:
            self.heartbeats += 1
        elif seq < prev:
            self.resets += 1     # maintenance reset: take the levels, continue from the new seqId
            sync.on_delta_validated(seq, seq, prev, b.px, b.qty, b.count, a.px, a.qty, a.count, ts, recv_ns)
            return MessageType.DATA
        sync.on_delta_validated(prev, seq, prev, b.px, b.qty, b.count, a.px, a.qty, a.count, ts, recv_ns)
        return MessageType.DATA

    cdef int _bbo(self, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef KtLevels* b = &o.levels[L_BIDS]
        cdef KtLevels* a = &o.levels[L_ASKS]
        cdef BookTicker ev
        if a.count > 1 or b.count > 1:
            return self._bad("asks" if a.count > 1 else "bids", NULL, "more than one level on a side")
        ev = <BookTicker>self._event(self._bbos, o.i64[S_TS], recv_ns)
        ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty = NAN, NAN, NAN, NAN
        if b.count:
            ev.bid_price, ev.bid_qty = b.px[0], b.qty[0]
        if a.count:
            ev.ask_price, ev.ask_qty = a.px[0], a.qty[0]
        ev.update_id = o.i64[S_SEQ] if kt_seen(o, S_SEQ) else 0
        self.dispatcher.emit(ev)
        return MessageType.DATA

    cdef int _each(self, int64_t recv_ns) except -1:
        """``trades``/``tickers``: every record checked, then every record emitted."""
        cdef KtOut* o = &self.out
        cdef JsonSpan data = o.span[S_DATA], item
        cdef JsonIter it
        cdef const KtTable* t = &(<FieldTable>_RECORDS[self._ch]).table
        cdef int emit
        for emit in range(2):
            json_array_begin(&it, data.ptr, data.ptr + data.len)
            while json_array_next(&it, &item) == 1:
                if item.kind != JSON_OBJECT:
                    return self._bad("data", item.ptr, "a 'data' item must be an object")
                if kt_scan_span(t, &item, o) < 0:
                    return self._refused()
                if self._ch == CH_TRADES:
                    self._trade(emit, recv_ns)
                elif emit:
                    self._ticker(recv_ns)
        return MessageType.DATA

    cdef int _trade(self, bint emit, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef int64_t tid = -1
        cdef int side = SIDE_BUY if json_span_eq(&o.span[S_SIDE], b"buy", 3) else (
            SIDE_SELL if json_span_eq(&o.span[S_SIDE], b"sell", 4) else -1)
        cdef Trade ev
        if side < 0:
            return self._bad("side", o.span[S_SIDE].ptr, "must be buy or sell")
        if not emit:
            return 0
        if o.span[S_TID].kind != JSON_STRING or json_span_to_int64(&o.span[S_TID], &tid) != 0:
            tid = -1
        ev = <Trade>self._event(self._trades, o.i64[S_TS], recv_ns)
        ev.price, ev.qty, ev.side, ev.trade_id = o.f64[S_PX], o.f64[S_SZ], side, tid
        ev.trade_id_str = "" if tid >= 0 else kt_text(&o.span[S_TID])
        return self.dispatcher.emit(ev)

    cdef int _ticker(self, int64_t recv_ns) except -1:
        cdef const double* v = &self.out.f64[S_TK]
        cdef Ticker ev = <Ticker>self._event(self._tickers, self.out.i64[S_TS], recv_ns)
        ev.last, ev.high, ev.low, ev.volume, ev.quote_volume = v[0], v[2], v[3], v[4], v[5]
        # OKX sends no change field: the change since the open 24 h ago, in percent
        ev.change_pct = (v[0] - v[1]) / v[1] * 100.0 if v[1] > 0.0 else 0.0
        return self.dispatcher.emit(ev)

    cdef int _candles(self, int64_t recv_ns) except -1:
        """``["ts","o","h","l","c","vol","volCcy","volCcyQuote","confirm"]`` rows (okx.com/docs-v5
        "Candlesticks channel"): every row checked, then every row emitted."""
        cdef const JsonSpan* ch = &self.out.span[S_CHANNEL]
        cdef JsonSpan data = self.out.span[S_DATA], row, x
        cdef JsonSpan v[9]
        cdef JsonIter it, ri
        cdef double vals[8]
        cdef int n, i, emit
        cdef int64_t open_ms
        cdef Kline ev
        interval = ch.ptr[6:ch.len].decode("utf-8", "replace")
        seconds = _CANDLE_SECONDS.get(interval)
        if seconds is None:
            return self._bad("channel", ch.ptr, f"unknown candle interval {interval!r}")
        for emit in range(2):
            json_array_begin(&it, data.ptr, data.ptr + data.len)
            while json_array_next(&it, &row) == 1:
                if row.kind != JSON_ARRAY:
                    return self._bad("data", row.ptr, "a candle must be an array")
                n = 0
                json_array_begin(&ri, row.ptr, row.ptr + row.len)
                while json_array_next(&ri, &x) == 1:
                    if n < 9:
                        v[n] = x
                    n += 1
                if n < 9:
                    return self._bad("data", row.ptr, f"a candle has {n} items, 9 expected")
                if json_span_to_int64(&v[0], &open_ms) != 0 or not 0 <= open_ms <= 9223372036854:
                    return self._bad("data", v[0].ptr, "candle open time not a millisecond timestamp")
                for i in range(1, 8):
                    if json_span_to_double(&v[i], &vals[i]) != 0:
                        return self._bad("data", v[i].ptr, "candle value not a number")
                if not emit:
                    continue
                ev = <Kline>self._event(self._klines, open_ms * 1000000, recv_ns)
                ev.interval, ev.open_time_ns = interval, open_ms * 1000000
                ev.close_time_ns = ev.open_time_ns + <int64_t>seconds * 1000000000
                ev.open, ev.high, ev.low, ev.close, ev.volume, ev.quote_volume = (
                    vals[1], vals[2], vals[3], vals[4], vals[5], vals[7])
                ev.closed = json_span_eq(&v[8], b"1", 1)
                self.dispatcher.emit(ev)
        return MessageType.DATA

    # ---- private channels (a few frames a second at most: decoded with json) ------------------
    cdef int _private(self, bytes data, int64_t recv_ns) except -1:
        try:
            for d in _json.loads(data):
                if self._ch == CH_ORDERS:
                    self._order(d, recv_ns)
                else:
                    for b in d.get("details", ()):
                        self._balance(b, int(d.get("uTime") or 0) * 1000000, recv_ns)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return self.fail("data", -1, f"{_CH_NAMES[self._ch]}: {type(exc).__name__}: {exc}")
        return MessageType.DATA

    cdef int _order(self, dict d, int64_t recv_ns) except -1:
        cdef OrderUpdate ev = <OrderUpdate>self._orders.acquire()
        cdef Fill f
        cdef int side = SIDE_BUY if d["side"] == "buy" else SIDE_SELL
        ev.exchange, ev.symbol, ev.recv_ns = self.exchange, d["instId"], recv_ns
        ev.exchange_ts_ns = int(d.get("uTime") or d.get("cTime") or 0) * 1000000
        ev.order_id, ev.client_order_id, ev.side = d["ordId"], d.get("clOrdId", ""), side
        ev.order_type, ev.status = d.get("ordType", ""), d["state"]
        ev.price, ev.qty = float(d.get("px") or "nan"), float(d["sz"])
        ev.filled_qty, ev.avg_price = float(d.get("accFillSz") or 0), float(d.get("avgPx") or 0)
        self.dispatcher.emit(ev)
        if d.get("tradeId") and float(d.get("fillSz") or 0) > 0:
            # OKX reports each fill inside the orders channel (the separate fills channel is VIP-only)
            f = <Fill>self._fills.acquire()
            f.exchange, f.symbol, f.recv_ns = self.exchange, d["instId"], recv_ns
            f.exchange_ts_ns = int(d.get("fillTime") or d.get("uTime") or 0) * 1000000
            f.order_id, f.trade_id, f.side = d["ordId"], d["tradeId"], side
            f.price, f.qty = float(d["fillPx"]), float(d["fillSz"])
            f.fee, f.fee_asset = float(d.get("fillFee") or d.get("fee") or 0), d.get("fillFeeCcy") or d.get("feeCcy", "")
            f.is_maker = d.get("execType") == "M"
            self.dispatcher.emit(f)
        return 0

    cdef int _balance(self, dict b, int64_t ts, int64_t recv_ns) except -1:
        cdef BalanceUpdate ev = <BalanceUpdate>self._balances.acquire()
        ev.exchange, ev.symbol, ev.asset, ev.recv_ns = self.exchange, b["ccy"], b["ccy"], recv_ns
        ev.exchange_ts_ns = int(b.get("uTime") or 0) * 1000000 or ts
        ev.free, ev.locked = float(b["availBal"]), float(b.get("frozenBal") or 0)
        return self.dispatcher.emit(ev)

    def stats(self):
        """Counters of the decoder."""
        return {"frames": self.frames, "parse_errors": self.parse_errors, "heartbeats": self.heartbeats,
                "checksum_unverifiable": self.checksum_unverifiable, "resets": self.resets}
