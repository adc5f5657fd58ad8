# cython: language_level=3
"""Compiled OKX v5 decoder (public and private WebSocket frames), on the ``FrameDecoder`` kernel.

Frames (protocols.md section 6; okx.com/docs-v5 "WebSocket public channel")::

    {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot"|"update",
     "data":[{"asks":[["px","sz","0","n"],..],"bids":[..],"ts":"..","checksum":-123,"prevSeqId":-1,"seqId":7}]}
    {"arg":{"channel":"bbo-tbt"|"trades"|"tickers"|"candle1m",..},"data":[{..}]}
    {"event":"subscribe"|"unsubscribe"|"login"|"error","arg":{..},"code":"0","msg":""}
    pong                                                      # the answer to the text "ping"

Books: ``snapshot`` loads the book (``on_full_snapshot(seqId)``); an ``update`` is handed to
``BookSync`` as ``first = prevSeqId, last = seqId`` under the rule ``okx`` (``prev == previous seqId``):
a heartbeat (``seqId == prevSeqId``, no levels) keeps the chain, a maintenance reset (``seqId <
prevSeqId``) is applied and the chain continues from the new ``seqId``. A non-zero ``checksum`` arms
the book's :class:`OkxChecksum` (CRC32 of the top 25 levels); frames without ``seqId`` (before 2022-06)
are chained by count and must carry a checksum.

Checksum texts: the book keeps floats only. OKX writes prices and sizes in their shortest form (no
trailing zeros, no exponent, at most 15 significant digits); for such a text, the shortest fixed-point
form that parses back to the same double *is* the text, so :func:`okx_format` reproduces it from the
float (290/290 checksums of the 2022 recording). Each book frame's level texts are checked for that
form as they are read; a book that received a text not in it is not checksum-verified (counted in
``checksum_unverifiable``) until its next snapshot whose texts all are.
"""
cimport cython
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.math cimport NAN
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

import json as _json

import numpy as np

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_ERR_TYPE, JSON_ERR_VALUE, JSON_NUMBER, JSON_OBJECT, JSON_STRING, JsonIter, JsonSpan,
    json_array_begin, json_array_next, json_expect_end, json_iter_child, json_iter_child_end, json_iter_levels,
    json_iter_take,
    json_object_begin, json_object_next, json_object_next_lazy, json_parse_levels, json_span_eq,
    json_span_to_double, json_span_to_int64,
)
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, BalanceUpdate, BookTicker, EventPool, Fill, Kline, OrderUpdate, Ticker, Trade,
)
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.sync.book_sync cimport LIVE, BookIntegrity, BookSync, BookSyncGroup

from feedhandler.codec.json_scan import json_error_message
from feedhandler.core.errors import ParseError
from feedhandler.events.events import (
    BalanceUpdate as _BalanceUpdate, BookTicker as _BookTicker, Fill as _Fill, Kline as _Kline,
    OrderUpdate as _OrderUpdate, Ticker as _Ticker, Trade as _Trade,
)

DEF CHECKSUM_DEPTH = 25      # levels per side in the checksum (okx.com/docs-v5, "Checksum")
DEF TEXT_MAX = 32            # bytes of one formatted number (<= 15 digits, '.', leading "0.")
DEF SYMBOLS = 64             # interned symbol strings kept
DEF CACHE_BITS = 10          # formatted-number cache of the checksum: 1024 slots
DEF CACHE_SLOTS = 1024

# MessageType values (feedhandler.core.types.MessageType)
cdef enum:
    _DECLINED = -100   # the one-pass path leaves the frame to the general path
    MT_UNKNOWN = 0
    MT_DATA = 1
    MT_ACK = 2
    MT_PONG = 3
    MT_ERROR = 4
    MT_AUTH = 6

# channels
cdef enum:
    CH_OTHER = 0
    CH_BOOKS = 1
    CH_BBO = 2
    CH_TRADES = 3
    CH_TICKERS = 4
    CH_CANDLE = 5
    CH_ORDERS = 6
    CH_ACCOUNT = 7

# data-record fields read by the table-driven walk (slot indices)
cdef enum:
    F_ASKS = 0
    F_BIDS = 1
    F_TS = 2
    F_CHECKSUM = 3
    F_PREV = 4
    F_SEQ = 5
    F_TRADE_ID = 6
    F_PX = 7
    F_SZ = 8
    F_SIDE = 9
    F_LAST = 10
    F_OPEN = 11
    F_HIGH = 12
    F_LOW = 13
    F_VOL = 14
    F_VOL_CCY = 15
    N_FIELDS = 16

# the key of each slot, as it appears in OKX frames
cdef tuple _FIELD_KEYS = (b"asks", b"bids", b"ts", b"checksum", b"prevSeqId", b"seqId", b"tradeId", b"px", b"sz",
                          b"side", b"last", b"open24h", b"high24h", b"low24h", b"vol24h", b"volCcy24h")
cdef tuple _FIELD_NAMES = tuple(k.decode() for k in _FIELD_KEYS)
cdef const char* _KEY_PTR[N_FIELDS]
cdef Py_ssize_t _KEY_LEN[N_FIELDS]
for _i in range(N_FIELDS):
    _KEY_PTR[_i] = <bytes>_FIELD_KEYS[_i]      # the tuple keeps the bytes alive
    _KEY_LEN[_i] = len(<bytes>_FIELD_KEYS[_i])
cdef tuple _CH_NAMES = ("other", "books", "bbo-tbt", "trades", "tickers", "candle", "orders", "account")

# candle channel suffix -> seconds (okx.com/docs-v5 "Candlesticks channel")
cdef dict _CANDLE_SECONDS = {
    "1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1H": 3600, "2H": 7200, "4H": 14400,
    "6H": 21600, "12H": 43200, "1D": 86400, "1W": 604800, "1M": 2592000,
}

# ---------------------------------------------------------------------------------------------------
# CRC32 (IEEE, zlib's) of the checksum string: slicing-by-8 tables built once at import.
cdef uint32_t _CRC[8][256]


cdef void _crc_init() noexcept:
    cdef uint32_t c
    cdef int i, k
    for i in range(256):
        c = <uint32_t>i
        for k in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if (c & 1) else (c >> 1)
        _CRC[0][i] = c
    for i in range(256):
        for k in range(1, 8):
            _CRC[k][i] = (_CRC[k - 1][i] >> 8) ^ _CRC[0][_CRC[k - 1][i] & 0xFF]


_crc_init()


@cython.boundscheck(False)
@cython.wraparound(False)
cdef uint32_t _crc32(uint32_t crc, const char* p, Py_ssize_t n) noexcept nogil:
    # Bounds: 8 bytes are read at p[i..i+7] only while i + 8 <= n, then single bytes while i < n; every
    # table index is a byte (& 0xFF) into 256 entries.
    cdef Py_ssize_t i = 0
    cdef const unsigned char* q = <const unsigned char*>p
    cdef uint32_t lo, hi
    crc = ~crc
    while i + 8 <= n:
        lo = crc ^ (q[i] | (<uint32_t>q[i + 1] << 8) | (<uint32_t>q[i + 2] << 16) | (<uint32_t>q[i + 3] << 24))
        hi = q[i + 4] | (<uint32_t>q[i + 5] << 8) | (<uint32_t>q[i + 6] << 16) | (<uint32_t>q[i + 7] << 24)
        crc = (_CRC[7][lo & 0xFF] ^ _CRC[6][(lo >> 8) & 0xFF] ^ _CRC[5][(lo >> 16) & 0xFF] ^ _CRC[4][lo >> 24]
               ^ _CRC[3][hi & 0xFF] ^ _CRC[2][(hi >> 8) & 0xFF] ^ _CRC[1][(hi >> 16) & 0xFF] ^ _CRC[0][hi >> 24])
        i += 8
    while i < n:
        crc = _CRC[0][(crc ^ q[i]) & 0xFF] ^ (crc >> 8)
        i += 1
    return ~crc


def okx_crc32(bytes data):
    """The CRC32 used by the checksum (for tests against ``zlib.crc32``)."""
    return _crc32(0, data, len(data))


cdef double _POW10[16]
_POW10[0] = 1.0
for _i in range(1, 16):
    _POW10[_i] = _POW10[_i - 1] * 10.0


cdef int _format(double v, char* out) noexcept nogil:
    """The shortest fixed-point text of ``v`` that parses back to ``v`` (OKX's own form); -1 if none.

    For k = 0, 1, ... decimals: m = round(v * 10^k); if m / 10^k (both exact doubles, one correctly
    rounded division, i.e. exactly how the text "m e-k" parses) is ``v``, then m with k decimals is the
    text. A text with at most 15 significant digits and no trailing zero is found this way (two such
    texts never parse to the same double), so nothing shorter can match first. -1 beyond 15 digits.
    """
    cdef int k, n = 0, i, digits
    cdef long long m = 0
    cdef double x
    cdef char tmp[24]
    if not (v >= 0.0 and v < 1e15):
        return -1
    k = 0
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
    digits = 0
    while True:
        tmp[digits] = <char>(48 + m % 10)
        digits += 1
        m //= 10
        if m == 0:
            break
    while digits <= k:              # leading zeros of "0.000123"
        tmp[digits] = b'0'
        digits += 1
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


cdef inline bint _text_canonical(const char* p, Py_ssize_t n) noexcept nogil:
    """OKX's shortest form: digits with at most one '.', no trailing zero after it, <= 15 significant digits."""
    cdef Py_ssize_t i
    cdef int sig = 0
    cdef bint dot = False, lead = True
    if n == 0 or n > 17:
        return False
    for i in range(n):
        if p[i] == b'.':
            if dot or i == 0 or i == n - 1:
                return False
            dot = True
        elif b'0' <= p[i] <= b'9':
            if p[i] != b'0':
                lead = False
            if not lead:
                sig += 1
        else:
            return False
    return sig <= 15 and not (dot and p[n - 1] == b'0')


cdef bint _levels_canonical(const JsonSpan* arr) noexcept nogil:
    """Every string in a (validated) levels array is in OKX's shortest form (a byte walk of its text)."""
    cdef const char* p = arr.ptr
    cdef const char* end = arr.ptr + arr.len
    cdef const char* start
    while p < end:
        if p[0] == b'"':
            start = p + 1
            p = start
            while p < end and p[0] != b'"':
                p += 1
            if not _text_canonical(start, p - start):
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
        super().__init__("checksum")
        cdef int i
        for i in range(CACHE_SLOTS):
            self._cache_len[i] = 0   # empty (no formatted text is empty)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef inline int _text(self, double v, char* out) noexcept:
        # Bound: the slot is the top CACHE_BITS bits of a 64-bit hash, < CACHE_SLOTS; texts are < TEXT_MAX.
        cdef uint64_t bits = (<uint64_t*>&v)[0]
        cdef int slot = <int>((bits * <uint64_t>0x9E3779B97F4A7C15) >> (64 - CACHE_BITS))
        cdef int n = self._cache_len[slot]
        if n > 0 and self._cache_key[slot] == bits:
            memcpy(out, self._cache_text[slot], n)
            return n
        n = _format(v, out)
        if n > 0:
            self._cache_key[slot] = bits
            self._cache_len[slot] = n
            memcpy(self._cache_text[slot], out, n)
        return n

    cdef inline int _level(self, const double* pair, char* out) noexcept:
        """Write "price:size:" of one (price, size) pair at ``out``; bytes written, -1 if a number has no OKX text."""
        cdef int k = self._text(pair[0], out)
        if k < 0:
            return -1
        out[k] = b':'
        cdef int m = self._text(pair[1], out + k + 1)
        if m < 0:
            return -1
        out[k + 1 + m] = b':'
        return k + m + 2

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
        cdef const double* bpairs = NULL
        cdef const double* apairs = NULL
        cdef Py_ssize_t nb = book.c_top_pairs(0, CHECKSUM_DEPTH, &bpairs)
        cdef Py_ssize_t na = book.c_top_pairs(1, CHECKSUM_DEPTH, &apairs)
        cdef Py_ssize_t i, top, w
        cdef char* out = self._buf
        cdef int k
        w = 0
        top = max(nb, na)
        for i in range(top):
            if i < nb:
                k = self._level(bpairs + 2 * i, out + w)
                if k < 0:
                    return 0x100000000
                w += k
            if i < na:
                k = self._level(apairs + 2 * i, out + w)
                if k < 0:
                    return 0x100000000
                w += k
        if w:
            w -= 1   # no ':' after the last text
        return <int32_t>_crc32(0, out, w)

    def checksum(self, OrderBook book):
        """The checksum of ``book`` as OKX computes it (signed int32), None if a level has no OKX text."""
        cdef int64_t v = self.compute(book)
        return None if v == 0x100000000 else v


# ---------------------------------------------------------------------------------------------------
cdef inline bint _eq(const JsonSpan* v, const char* lit, Py_ssize_t n) noexcept nogil:
    # OKX keys and channel names carry no escapes: raw bytes (an escaped one simply does not match)
    return v.len == n and not v.has_escapes and memcmp(v.ptr, lit, n) == 0


cdef int _channel(const JsonSpan* c) noexcept nogil:
    if c.kind != JSON_STRING:
        return CH_OTHER
    if _eq(c, b"books", 5):
        return CH_BOOKS
    if _eq(c, b"bbo-tbt", 7):
        return CH_BBO
    if _eq(c, b"trades", 6):
        return CH_TRADES
    if _eq(c, b"tickers", 7):
        return CH_TICKERS
    if c.len > 6 and memcmp(c.ptr, b"candle", 6) == 0:
        return CH_CANDLE
    if _eq(c, b"orders", 6):
        return CH_ORDERS
    if _eq(c, b"account", 7):
        return CH_ACCOUNT
    return CH_OTHER


cdef inline bint _levels_ok(const double* px, const double* qty, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if not (px[i] > 0.0 and px[i] < 1e300 and qty[i] >= 0.0 and qty[i] < 1e300):
            return False
    return True


cdef inline const char* _ws(const char* p, const char* end) noexcept nogil:
    while p < end and (p[0] == b' ' or p[0] == b'\t' or p[0] == b'\n' or p[0] == b'\r'):
        p += 1
    return p


cdef inline int _ms_ns(const JsonSpan* v, int64_t* out) noexcept:
    cdef int64_t ms
    cdef int rc = json_span_to_int64(v, &ms)
    if rc != 0:
        return rc
    if ms < 0 or ms > 9223372036854:
        return JSON_ERR_VALUE
    out[0] = ms * 1000000
    return 0


ctypedef struct _Env:
    JsonSpan channel, inst, action, data, event, code
    bint has_arg, has_channel, has_inst, has_action, has_data, has_event, has_code


cdef int _arg(JsonIter* it, _Env* env) noexcept:
    """The pending ``arg`` object of ``it``: its ``channel`` and ``instId`` (0, or the JSON error)."""
    cdef JsonIter child
    cdef JsonSpan k, v
    cdef int rc = json_iter_child(it, &child)
    while rc == 0:
        rc = json_object_next(&child, &k, &v)
        if rc != 1:
            break
        rc = 0
        if _eq(&k, b"channel", 7):
            env.channel = v
            env.has_channel = True
        elif _eq(&k, b"instId", 6):
            env.inst = v
            env.has_inst = v.kind == JSON_STRING and v.len > 0
    return json_iter_child_end(it, &child)


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
    cdef readonly dict errors_by_kind
    cdef EventPool _trades, _tickers, _bbos, _klines, _orders, _fills, _balances
    cdef object _px_arr, _qty_arr
    cdef double* _bid_px
    cdef double* _bid_qty
    cdef double* _ask_px
    cdef double* _ask_qty
    cdef Py_ssize_t _cap
    cdef JsonSpan _f[N_FIELDS]
    cdef bint _has[N_FIELDS]
    cdef list _sym_keys, _sym_vals
    cdef set _unverifiable          # instIds whose book holds a text not in OKX's shortest form

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, Py_ssize_t level_capacity=1000):
        super().__init__("okx")
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self.errors_by_kind = {}
        self._trades = EventPool(_Trade, 64)
        self._tickers = EventPool(_Ticker, 16)
        self._bbos = EventPool(_BookTicker, 16)
        self._klines = EventPool(_Kline, 16)
        self._orders = EventPool(_OrderUpdate, 16)
        self._fills = EventPool(_Fill, 16)
        self._balances = EventPool(_BalanceUpdate, 16)
        self._cap = max(1, level_capacity)
        self._px_arr = np.zeros(4 * self._cap, dtype=np.float64)
        cdef double[::1] view = self._px_arr
        self._bid_px = &view[0]
        self._bid_qty = &view[self._cap]
        self._ask_px = &view[2 * self._cap]
        self._ask_qty = &view[3 * self._cap]
        self._sym_keys = []
        self._sym_vals = []
        self._unverifiable = set()

    # ---- errors ------------------------------------------------------------------------------
    cdef int _fail(self, str kind, str message) except -1:
        self.parse_errors += 1
        self.errors_by_kind[kind] = self.errors_by_kind.get(kind, 0) + 1
        raise ParseError(f"okx: {message}")

    cdef int _json_fail(self, int rc, const char* base, const char* at, str where) except -1:
        return self._fail("json", f"{where}: {json_error_message(rc)} at byte {at - base}")

    cdef int _field_fail(self, str channel, int slot, int rc, const char* base) except -1:
        return self._fail("field", f"{channel}: field {_FIELD_NAMES[slot]!r}: {json_error_message(rc)} "
                                   f"at byte {self._f[slot].ptr - base}")

    cdef str _symbol(self, const char* p, Py_ssize_t n):
        """The str of an instId from a small cache (no allocation once seen)."""
        cdef Py_ssize_t i
        cdef bytes k
        for i in range(len(self._sym_keys)):
            k = <bytes>self._sym_keys[i]
            if len(k) == n and memcmp(<const char*>k, p, n) == 0:
                return <str>self._sym_vals[i]
        s = PyUnicode_DecodeUTF8(p, n, "replace")
        if len(self._sym_keys) < SYMBOLS:
            self._sym_keys.append(p[:n])
            self._sym_vals.append(s)
        return s

    # ---- the frame ---------------------------------------------------------------------------
    cpdef int classify(self, object raw) except -1:
        cdef bytes b = raw.encode() if isinstance(raw, str) else bytes(raw)
        cdef _Env env
        if b == b"pong":
            return MT_PONG
        if self._envelope(b, len(b), &env, False) < 0:
            return MT_UNKNOWN
        return self._control_type(&env) if env.has_event else (MT_DATA if env.has_data else MT_UNKNOWN)

    cdef int _control_type(self, const _Env* env) noexcept:
        if _eq(&env.event, b"subscribe", 9) or _eq(&env.event, b"unsubscribe", 11):
            return MT_ACK
        if _eq(&env.event, b"login", 5):
            return MT_AUTH
        return MT_ERROR

    cdef int _envelope(self, const char* p, Py_ssize_t n, _Env* env, bint strict) except -2:
        """Walk the top-level object; ``data`` is validated and kept as a span. -1: not JSON (strict: raise)."""
        cdef JsonIter it
        cdef JsonSpan k, v
        cdef int rc = json_object_begin(&it, p, p + n)
        env.has_arg = env.has_channel = env.has_inst = env.has_action = env.has_data = False
        env.has_event = env.has_code = False
        while rc == 0:
            rc = json_object_next_lazy(&it, &k, &v)
            if rc != 1:
                break
            rc = 0
            if _eq(&k, b"arg", 3) and v.kind == JSON_OBJECT:
                env.has_arg = True
                rc = _arg(&it, env)
            elif _eq(&k, b"data", 4):
                rc = json_iter_take(&it, &v) if (v.kind == JSON_OBJECT or v.kind == JSON_ARRAY) else 0
                env.data = v
                env.has_data = True
            elif _eq(&k, b"action", 6):
                env.action = v
                env.has_action = True
            elif _eq(&k, b"event", 5):
                env.event = v
                env.has_event = v.kind == JSON_STRING
            elif _eq(&k, b"code", 4):
                env.code = v
                env.has_code = True
        if rc == 0:
            rc = json_expect_end(it.p, it.end)
        if rc != 0:
            if strict:
                self._json_fail(rc, p, it.p, "frame")
            return -1
        return 0

    cdef int _feed_one_record(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -2:
        """``books``/``bbo-tbt`` frames with one record and ``data`` last (how OKX sends them), in one pass.

        The record is walked in place (levels parsed while they are validated) instead of validating
        ``data`` first and parsing it again. Anything else (another shape, or any error) returns
        ``_DECLINED`` with nothing applied, and the general path decodes the frame (and words the error).
        """
        cdef JsonIter it, rec
        cdef JsonSpan k, v
        cdef _Env env
        cdef const char* end = p + n
        cdef const char* q
        cdef const char* start
        cdef Py_ssize_t nb = 0, na = 0
        cdef int rc = json_object_begin(&it, p, end), i, ch = CH_OTHER
        env.has_channel = env.has_inst = env.has_action = False
        env.has_arg = env.has_data = env.has_event = env.has_code = False
        while rc == 0:
            rc = json_object_next_lazy(&it, &k, &v)
            if rc != 1:
                return _DECLINED
            rc = 0
            if _eq(&k, b"arg", 3) and v.kind == JSON_OBJECT:
                rc = _arg(&it, &env)
            elif _eq(&k, b"action", 6):
                env.action = v
                env.has_action = True
            elif _eq(&k, b"data", 4):
                break
            else:
                return _DECLINED
        if rc != 0 or v.kind != JSON_ARRAY or not (env.has_channel and env.has_inst):
            return _DECLINED
        ch = _channel(&env.channel)
        if not ((ch == CH_BOOKS and env.has_action and self.books is not None) or ch == CH_BBO):
            return _DECLINED
        q = _ws(v.ptr + 1, end)
        if q >= end or q[0] != b'{' or json_object_begin(&rec, q, end) != 0:
            return _DECLINED
        for i in range(N_FIELDS):
            self._has[i] = False
        while True:
            rc = json_object_next_lazy(&rec, &k, &v)
            if rc != 1:
                break
            if _eq(&k, b"bids", 4) or _eq(&k, b"asks", 4):
                if v.kind != JSON_ARRAY or v.len != 0:
                    return _DECLINED
                start = v.ptr
                if k.ptr[0] == b'b':
                    rc = json_iter_levels(&rec, self._bid_px, self._bid_qty, self._cap, &nb)
                    i = F_BIDS
                else:
                    rc = json_iter_levels(&rec, self._ask_px, self._ask_qty, self._cap, &na)
                    i = F_ASKS
                if rc != 0:
                    return _DECLINED
                self._f[i].ptr = start
                self._f[i].len = rec.p - start
                self._f[i].kind = JSON_ARRAY
                self._has[i] = True
                continue
            for i in range(2, N_FIELDS):
                if _eq(&k, _KEY_PTR[i], _KEY_LEN[i]):
                    if v.kind == JSON_OBJECT or v.kind == JSON_ARRAY:
                        return _DECLINED   # a container where a scalar belongs: the general path words it
                    self._f[i] = v
                    self._has[i] = True
                    break
        if rc != 0:
            return _DECLINED
        # the rest of the frame: "]" "}" and nothing else (one record, data last)
        q = _ws(rec.p, end)
        if q >= end or q[0] != b']':
            return _DECLINED
        q = _ws(q + 1, end)
        if q >= end or q[0] != b'}' or json_expect_end(q + 1, end) != 0:
            return _DECLINED
        if not (self._has[F_BIDS] and self._has[F_ASKS]) or not _levels_ok(self._bid_px, self._bid_qty, nb) \
                or not _levels_ok(self._ask_px, self._ask_qty, na):
            return _DECLINED
        if ch == CH_BOOKS:
            self._book(&env, p, <str>_CH_NAMES[ch], recv_ns, nb, na)
        else:
            self._bbo(&env, p, <str>_CH_NAMES[ch], recv_ns, nb, na)
        return MT_DATA

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef _Env env
        cdef int ch, rc
        self.frames += 1
        if n == 4 and memcmp(p, b"pong", 4) == 0:
            return MT_PONG
        rc = self._feed_one_record(p, n, recv_ns)
        if rc != _DECLINED:
            return rc
        self._envelope(p, n, &env, True)
        if env.has_event:
            return self._control(&env)
        if not (env.has_channel and env.has_data):
            return self._fail("schema", "frame has neither 'event' nor 'arg.channel' + 'data'")
        if env.data.kind != JSON_ARRAY:
            return self._fail("schema", f"'data' must be an array, at byte {env.data.ptr - p}")
        ch = _channel(&env.channel)
        if ch == CH_ORDERS or ch == CH_ACCOUNT:
            self._private(ch, env.data.ptr[:env.data.len], recv_ns)
            return MT_DATA
        if ch == CH_OTHER:
            return MT_DATA   # a channel this decoder does not read (funding, open interest): ignored
        if not env.has_inst:
            return self._fail("schema", f"{env.channel.ptr[:env.channel.len].decode()}: 'arg.instId' missing")
        self._records(ch, &env, p, recv_ns)
        return MT_DATA

    cdef int _control(self, const _Env* env) except -1:
        cdef int64_t code = 0
        cdef int t = self._control_type(env)
        if env.has_code and json_span_to_int64(&env.code, &code) != 0:
            code = -1
        self.control_code = code
        self.control_id = -1
        self.control_text = env.channel.ptr[:env.channel.len].decode("utf-8", "replace") if env.has_channel else None
        return t

    cdef int _records(self, int ch, const _Env* env, const char* base, int64_t recv_ns) except -1:
        cdef JsonIter arr, rec
        cdef JsonSpan item, k, v
        cdef int rc = json_array_begin(&arr, env.data.ptr, env.data.ptr + env.data.len)
        cdef int i
        cdef str cname = <str>_CH_NAMES[ch]   # for messages; no str is built per frame
        while rc == 0:
            rc = json_array_next(&arr, &item)
            if rc != 1:
                break
            rc = 0
            if ch == CH_CANDLE:
                self._candle(env, &item, base, cname, recv_ns)
                continue
            if item.kind != JSON_OBJECT:
                return self._fail("schema", f"{cname}: a 'data' item must be an object, at byte {item.ptr - base}")
            for i in range(N_FIELDS):
                self._has[i] = False
            rc = json_object_begin(&rec, item.ptr, item.ptr + item.len)
            while rc == 0:
                rc = json_object_next(&rec, &k, &v)
                if rc != 1:
                    break
                rc = 0
                for i in range(N_FIELDS):
                    if _eq(&k, _KEY_PTR[i], _KEY_LEN[i]):
                        self._f[i] = v
                        self._has[i] = True
                        break
            if rc < 0:
                return self._json_fail(rc, base, rec.p, cname)
            if ch == CH_BOOKS:
                self._book(env, base, cname, recv_ns,
                           self._levels(F_BIDS, self._bid_px, self._bid_qty, cname, base),
                           self._levels(F_ASKS, self._ask_px, self._ask_qty, cname, base))
            elif ch == CH_BBO:
                self._bbo(env, base, cname, recv_ns,
                          self._levels(F_BIDS, self._bid_px, self._bid_qty, cname, base),
                          self._levels(F_ASKS, self._ask_px, self._ask_qty, cname, base))
            elif ch == CH_TRADES:
                self._trade(env, base, cname, recv_ns)
            else:
                self._ticker(env, base, cname, recv_ns)
        if rc < 0:
            return self._json_fail(rc, base, arr.p, cname)
        return 0

    cdef int _need(self, int slot, str cname) except -1:
        if not self._has[slot]:
            return self._fail("field", f"{cname}: field {_FIELD_NAMES[slot]!r} missing")
        return 0

    cdef double _dbl(self, int slot, str cname, const char* base) except? -1.0:
        cdef double out
        cdef int rc
        self._need(slot, cname)
        rc = json_span_to_double(&self._f[slot], &out)
        if rc != 0:
            self._field_fail(cname, slot, rc, base)
        return out

    cdef int64_t _int(self, int slot, str cname, const char* base) except? -1:
        cdef int64_t out
        cdef int rc
        self._need(slot, cname)
        rc = json_span_to_int64(&self._f[slot], &out)
        if rc != 0:
            self._field_fail(cname, slot, rc, base)
        return out

    cdef int64_t _ts(self, str cname, const char* base) except? -1:
        cdef int64_t out
        cdef int rc
        self._need(F_TS, cname)
        rc = _ms_ns(&self._f[F_TS], &out)
        if rc != 0:
            self._field_fail(cname, F_TS, rc, base)
        return out

    cdef Py_ssize_t _levels(self, int slot, double* px, double* qty, str cname, const char* base) except -1:
        cdef Py_ssize_t count = 0
        cdef int rc
        cdef Py_ssize_t i
        self._need(slot, cname)
        rc = json_parse_levels(&self._f[slot], px, qty, self._cap, &count)
        if rc != 0:
            self._field_fail(cname, slot, rc, base)
        if not _levels_ok(px, qty, count):
            for i in range(count):
                if not _levels_ok(px + i, qty + i, 1):
                    return self._fail("field", f"{cname}: field {_FIELD_NAMES[slot]!r}: level {i} is not a finite "
                                               f"price > 0 and size >= 0, at byte {self._f[slot].ptr - base}")
        return count

    cdef int _book(self, const _Env* env, const char* base, str cname, int64_t recv_ns,
                   Py_ssize_t nb, Py_ssize_t na) except -1:
        """One books record; its levels are in the scratch arrays already (nb bids, na asks)."""
        cdef int64_t ts, seq = 0, prev = 0, checksum = 0
        cdef bint snapshot, sequenced, canonical
        cdef BookSync sync
        if self.books is None:
            return self._fail("schema", "books: this decoder keeps no books (private side)")
        if not env.has_action or not (_eq(&env.action, b"snapshot", 8) or _eq(&env.action, b"update", 6)):
            return self._fail("field", "books: 'action' must be \"snapshot\" or \"update\"")
        snapshot = _eq(&env.action, b"snapshot", 8)
        ts = self._ts(cname, base)
        if self._has[F_CHECKSUM]:
            checksum = self._int(F_CHECKSUM, cname, base)
            if checksum < -2147483648 or checksum > 2147483647:
                return self._field_fail(cname, F_CHECKSUM, JSON_ERR_VALUE, base)
        sequenced = self._has[F_SEQ]
        if sequenced:
            seq = self._int(F_SEQ, cname, base)
            prev = self._int(F_PREV, cname, base)
        elif checksum == 0:
            return self._fail("field", "books: field 'seqId' missing and no checksum: the update cannot be checked")
        # everything decoded and validated: now the book
        sync = self.books.c_get(env.inst.ptr, env.inst.len)
        canonical = _levels_canonical(&self._f[F_ASKS]) and _levels_canonical(&self._f[F_BIDS])
        if snapshot:
            if canonical:
                self._unverifiable.discard(sync.symbol)
            if not sequenced:
                seq = 0
        else:
            if not canonical:
                self._unverifiable.add(sync.symbol)
            if not sequenced:
                # before seqId existed (2022): the checksum is the check, updates are chained by count;
                # such an update cannot be placed in a stream that is waiting for a snapshot
                if sync.state != LIVE:
                    return 0
                prev = sync.book.last_update_id
                seq = prev + 1
        if checksum != 0:
            if sync.symbol in self._unverifiable:
                self.checksum_unverifiable += 1
            else:
                sync.expect(checksum)
        if snapshot:
            return sync.on_full_snapshot(seq, self._bid_px, self._bid_qty, nb, self._ask_px, self._ask_qty, na,
                                         ts, recv_ns)
        if seq == prev:
            self.heartbeats += 1
        elif seq < prev:
            # maintenance reset: take the levels, continue from the new seqId
            self.resets += 1
            return sync.on_delta(seq, seq, prev, self._bid_px, self._bid_qty, nb, self._ask_px, self._ask_qty, na,
                                 ts, recv_ns)
        return sync.on_delta(prev, seq, prev, self._bid_px, self._bid_qty, nb, self._ask_px, self._ask_qty, na,
                             ts, recv_ns)

    cdef int _bbo(self, const _Env* env, const char* base, str cname, int64_t recv_ns,
                  Py_ssize_t nb, Py_ssize_t na) except -1:
        cdef int64_t ts = self._ts(cname, base)
        cdef int64_t seq = self._int(F_SEQ, cname, base) if self._has[F_SEQ] else 0
        cdef BookTicker ev
        if na > 1 or nb > 1:
            return self._fail("field", "bbo-tbt: more than one level on a side")
        ev = <BookTicker>self._bbos.acquire()
        ev.exchange = self.exchange
        ev.symbol = self._symbol(env.inst.ptr, env.inst.len)
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        ev.bid_price = self._bid_px[0] if nb else NAN
        ev.bid_qty = self._bid_qty[0] if nb else NAN
        ev.ask_price = self._ask_px[0] if na else NAN
        ev.ask_qty = self._ask_qty[0] if na else NAN
        ev.update_id = seq
        return self.dispatcher.emit(ev)

    cdef int _trade(self, const _Env* env, const char* base, str cname, int64_t recv_ns) except -1:
        cdef double px = self._dbl(F_PX, cname, base), sz = self._dbl(F_SZ, cname, base)
        cdef int64_t ts = self._ts(cname, base), tid = -1
        cdef int side
        cdef Trade ev
        self._need(F_SIDE, cname)
        if _eq(&self._f[F_SIDE], b"buy", 3):
            side = SIDE_BUY
        elif _eq(&self._f[F_SIDE], b"sell", 4):
            side = SIDE_SELL
        else:
            return self._field_fail(cname, F_SIDE, JSON_ERR_VALUE, base)
        self._need(F_TRADE_ID, cname)
        if self._f[F_TRADE_ID].kind != JSON_STRING or json_span_to_int64(&self._f[F_TRADE_ID], &tid) != 0:
            tid = -1
        if not (px > 0.0 and px < 1e300 and sz >= 0.0 and sz < 1e300):
            return self._fail("field", "trades: px/sz not a finite price > 0 and size >= 0")
        ev = <Trade>self._trades.acquire()
        ev.exchange = self.exchange
        ev.symbol = self._symbol(env.inst.ptr, env.inst.len)
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        ev.price = px
        ev.qty = sz
        ev.side = side
        ev.trade_id = tid
        ev.trade_id_str = "" if tid >= 0 else self._f[F_TRADE_ID].ptr[:self._f[F_TRADE_ID].len].decode("utf-8", "replace")
        return self.dispatcher.emit(ev)

    cdef int _ticker(self, const _Env* env, const char* base, str cname, int64_t recv_ns) except -1:
        cdef double last = self._dbl(F_LAST, cname, base), open24 = self._dbl(F_OPEN, cname, base)
        cdef Ticker ev = <Ticker>self._tickers.acquire()
        ev.exchange = self.exchange
        ev.symbol = self._symbol(env.inst.ptr, env.inst.len)
        ev.exchange_ts_ns = self._ts(cname, base)
        ev.recv_ns = recv_ns
        ev.last = last
        ev.high = self._dbl(F_HIGH, cname, base)
        ev.low = self._dbl(F_LOW, cname, base)
        ev.volume = self._dbl(F_VOL, cname, base)
        ev.quote_volume = self._dbl(F_VOL_CCY, cname, base)
        # OKX sends no change field: the change since the open 24 h ago, in percent
        ev.change_pct = (last - open24) / open24 * 100.0 if open24 > 0.0 else 0.0
        return self.dispatcher.emit(ev)

    cdef int _candle(self, const _Env* env, const JsonSpan* item, const char* base, str cname,
                     int64_t recv_ns) except -1:
        # ["ts","o","h","l","c","vol","volCcy","volCcyQuote","confirm"] (okx.com/docs-v5 "Candlesticks channel")
        cdef JsonIter it
        cdef JsonSpan v[9]
        cdef JsonSpan x
        cdef double vals[8]
        cdef int n = 0, rc, i
        cdef int64_t open_ns
        cdef Kline ev
        if item.kind != JSON_ARRAY:
            return self._fail("schema", f"{cname}: a candle must be an array, at byte {item.ptr - base}")
        rc = json_array_begin(&it, item.ptr, item.ptr + item.len)
        while rc == 0:
            rc = json_array_next(&it, &x)
            if rc != 1:
                break
            rc = 0
            if n < 9:
                v[n] = x
            n += 1
        if rc < 0:
            return self._json_fail(rc, base, it.p, cname)
        if n < 9:
            return self._fail("field", f"{cname}: a candle has {n} items, 9 expected, at byte {item.ptr - base}")
        interval = env.channel.ptr[6:env.channel.len].decode("utf-8", "replace")
        seconds = _CANDLE_SECONDS.get(interval)
        if seconds is None:
            return self._fail("field", f"{cname}: unknown candle interval {interval!r}")
        rc = _ms_ns(&v[0], &open_ns)
        for i in range(1, 8):
            if rc == 0:
                rc = json_span_to_double(&v[i], &vals[i])
        if rc != 0:
            return self._fail("field", f"{cname}: candle values: {json_error_message(rc)} at byte {item.ptr - base}")
        ev = <Kline>self._klines.acquire()
        ev.exchange = self.exchange
        ev.symbol = self._symbol(env.inst.ptr, env.inst.len)
        ev.exchange_ts_ns = open_ns
        ev.recv_ns = recv_ns
        ev.interval = interval
        ev.open_time_ns = open_ns
        ev.close_time_ns = open_ns + <int64_t>seconds * 1000000000
        ev.open = vals[1]
        ev.high = vals[2]
        ev.low = vals[3]
        ev.close = vals[4]
        ev.volume = vals[5]
        ev.quote_volume = vals[7]
        ev.closed = _eq(&v[8], b"1", 1)
        return self.dispatcher.emit(ev)

    # ---- private channels (a few frames a second at most: decoded with json) ------------------
    cdef int _private(self, int ch, bytes data, int64_t recv_ns) except -1:
        try:
            items = _json.loads(data)
            if ch == CH_ORDERS:
                for d in items:
                    self._order(d, recv_ns)
            else:
                for d in items:
                    for b in d.get("details", ()):
                        self._balance(b, int(d.get("uTime") or 0) * 1000000, recv_ns)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return self._fail("field", f"{'orders' if ch == CH_ORDERS else 'account'}: {type(exc).__name__}: {exc}")
        return 0

    cdef int _order(self, dict d, int64_t recv_ns) except -1:
        cdef OrderUpdate ev = <OrderUpdate>self._orders.acquire()
        cdef Fill f
        cdef int side = SIDE_BUY if d["side"] == "buy" else SIDE_SELL
        ts = int(d.get("uTime") or d.get("cTime") or 0) * 1000000
        ev.exchange = self.exchange
        ev.symbol = d["instId"]
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        ev.order_id = d["ordId"]
        ev.client_order_id = d.get("clOrdId", "")
        ev.side = side
        ev.order_type = d.get("ordType", "")
        ev.status = d["state"]
        ev.price = float(d.get("px") or "nan")
        ev.qty = float(d["sz"])
        ev.filled_qty = float(d.get("accFillSz") or 0)
        ev.avg_price = float(d.get("avgPx") or 0)
        self.dispatcher.emit(ev)
        if d.get("tradeId") and float(d.get("fillSz") or 0) > 0:
            # OKX reports each fill inside the orders channel (the separate fills channel is VIP-only)
            f = <Fill>self._fills.acquire()
            f.exchange = self.exchange
            f.symbol = d["instId"]
            f.exchange_ts_ns = int(d.get("fillTime") or d.get("uTime") or 0) * 1000000
            f.recv_ns = recv_ns
            f.order_id = d["ordId"]
            f.trade_id = d["tradeId"]
            f.side = side
            f.price = float(d["fillPx"])
            f.qty = float(d["fillSz"])
            f.fee = float(d.get("fillFee") or d.get("fee") or 0)
            f.fee_asset = d.get("fillFeeCcy") or d.get("feeCcy", "")
            f.is_maker = d.get("execType") == "M"
            self.dispatcher.emit(f)
        return 0

    cdef int _balance(self, dict b, int64_t ts, int64_t recv_ns) except -1:
        cdef BalanceUpdate ev = <BalanceUpdate>self._balances.acquire()
        ev.exchange = self.exchange
        ev.symbol = b["ccy"]
        ev.exchange_ts_ns = int(b.get("uTime") or 0) * 1000000 or ts
        ev.recv_ns = recv_ns
        ev.asset = b["ccy"]
        ev.free = float(b["availBal"])
        ev.locked = float(b.get("frozenBal") or 0)
        return self.dispatcher.emit(ev)

    def stats(self):
        """Counters of the decoder."""
        return {"frames": self.frames, "parse_errors": self.parse_errors, "errors_by_kind": dict(self.errors_by_kind),
                "checksum_unverifiable": self.checksum_unverifiable, "heartbeats": self.heartbeats,
                "resets": self.resets}
