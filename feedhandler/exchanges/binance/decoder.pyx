"""Binance JSON stream decoder: frame bytes -> book deltas and pooled events, all in C.

Frames handled (protocols.md section 3.5):

* combined envelope ``{"stream":"btcusdt@depth@100ms","data":{...}}`` and raw payloads;
* ``depthUpdate`` (``U``/``u``, and ``pu`` for USD-M/COIN-M futures) -> ``BookSync.on_delta``;
* partial depth ``{"lastUpdateId":..,"bids":..,"asks":..}`` (``depth5/10/20``; the symbol comes from
  the stream name, or ``raw_stream`` on a raw connection) -> a full snapshot of a *separate* book
  keyed ``"BTCUSDT@depth20"`` in ``partial_books`` (a ``BookUpdate`` with ``is_snapshot=True``);
* ``trade`` / ``aggTrade`` -> ``Trade`` (taker side from ``m``: buyer is maker => taker SELL);
* ``bookTicker`` (spot: no ``e``; futures: ``e`` = ``bookTicker``) -> ``BookTicker`` (update id ``u``);
* ``kline`` -> ``Kline``; ``serverShutdown`` -> ``MessageType.RECONNECT``;
* ``{"result":..,"id":..}`` -> SUBSCRIPTION_ACK; ``{"error":{..},"id":..}`` / ``{"code":..,"msg":..}``
  -> ERROR.

Every frame is fully validated (strict JSON) and decoded into scratch before anything is applied.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from feedhandler.codec.frame cimport FrameBytes, frame_acquire, frame_release
from libc.stdint cimport int64_t
from libc.string cimport memcmp, memcpy

import numpy as np

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_FALSE, JSON_NULL, JSON_NUMBER, JSON_OBJECT, JSON_OK, JSON_STRING, JSON_TOO_MANY,
    JSON_TRUE, JsonIter, JsonSpan, json_array_begin, json_array_next, json_expect_end, json_iter_child,
    json_iter_child_end, json_iter_levels, json_iter_take, json_object_begin, json_object_next,
    json_object_next_lazy, json_parse_levels, json_span_eq, json_span_to_double, json_span_to_int64,
)
from feedhandler.codec.numbers cimport NUM_OK, fh_decimal_dot8, fh_decimal_fast, parse_double_inline
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, BookTicker, EventPool, Kline, Trade,
)
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.extract cimport (
    KT_INT64, KT_STR, FieldTable, kt_levels_ok, kt_price_ok, kt_scan_span, kt_seen, kt_size_ok, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.sync.book_sync cimport BookSync, BookSyncGroup

from feedhandler.core.errors import ParseError
from feedhandler.events.events import BookTicker as _BookTicker, Kline as _Kline, Trade as _Trade

# The error object of a WS API / subscription error answer.
cdef FieldTable _ERROR_FIELDS = FieldTable("binance.error", [("code", KT_INT64, 0), ("msg", KT_STR, 1)])

# Largest timestamp accepted, in ns (year 2255): keeps ms/us -> ns multiplication inside int64.
cdef int64_t _MAX_TS_NS = 9000000000000000000LL


# Key ids: index into the span slots; bit in the presence mask.
cdef enum:
    KEY_e = 0
    KEY_E = 1
    KEY_s = 2
    KEY_U = 3
    KEY_u = 4
    KEY_pu = 5
    KEY_b = 6
    KEY_a = 7
    KEY_B = 8
    KEY_A = 9
    KEY_t = 10
    KEY_p = 11
    KEY_q = 12
    KEY_T = 13
    KEY_m = 14
    KEY_lastUpdateId = 15
    KEY_bids = 16
    KEY_asks = 17
    KEY_k = 18
    KEY_result = 19
    KEY_id = 20
    KEY_error = 21
    KEY_code = 22
    KEY_msg = 23
    KEY_stream = 24
    KEY_data = 25
    KEY_NONE = -1

# Names for the slow path (keys written with escapes) and for messages.
cdef tuple _KEY_NAMES = (b"e", b"E", b"s", b"U", b"u", b"pu", b"b", b"a", b"B", b"A", b"t", b"p", b"q", b"T",
                         b"m", b"lastUpdateId", b"bids", b"asks", b"k", b"result", b"id", b"error", b"code",
                         b"msg", b"stream", b"data")

cdef inline bint _lit(const JsonSpan* k, const char* lit, Py_ssize_t n) noexcept:
    return k.len == n and memcmp(k.ptr, lit, n) == 0


cdef int _key_id(const JsonSpan* k) noexcept:
    """Key id of an object key; KEY_NONE for keys the decoder does not use."""
    cdef char c
    cdef Py_ssize_t i
    cdef bytes name
    if k.has_escapes:
        # rare: "\\u0073" is "s" as far as JSON is concerned
        for i in range(N_SLOTS):
            name = <bytes>_KEY_NAMES[i]
            if json_span_eq(k, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name)):
                return <int>i
        return KEY_NONE
    if k.len == 1:
        c = k.ptr[0]
        if c == b'e': return KEY_e
        if c == b'E': return KEY_E
        if c == b's': return KEY_s
        if c == b'U': return KEY_U
        if c == b'u': return KEY_u
        if c == b'b': return KEY_b
        if c == b'a': return KEY_a
        if c == b'B': return KEY_B
        if c == b'A': return KEY_A
        if c == b't': return KEY_t
        if c == b'p': return KEY_p
        if c == b'q': return KEY_q
        if c == b'T': return KEY_T
        if c == b'm': return KEY_m
        if c == b'k': return KEY_k
        return KEY_NONE
    if _lit(k, b"pu", 2): return KEY_pu
    if _lit(k, b"id", 2): return KEY_id
    if _lit(k, b"bids", 4): return KEY_bids
    if _lit(k, b"asks", 4): return KEY_asks
    if _lit(k, b"lastUpdateId", 12): return KEY_lastUpdateId
    if _lit(k, b"result", 6): return KEY_result
    if _lit(k, b"error", 5): return KEY_error
    if _lit(k, b"code", 4): return KEY_code
    if _lit(k, b"msg", 3): return KEY_msg
    if _lit(k, b"stream", 6): return KEY_stream
    if _lit(k, b"data", 4): return KEY_data
    return KEY_NONE


cdef inline bint _plain_ascii(const char* p, Py_ssize_t n) noexcept:
    """True if p[0:n] is printable ASCII without quote or backslash (a name usable as raw bytes)."""
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(n):
        c = <unsigned char>p[i]
        if c < 0x20 or c > 0x7e or c == b'"' or c == b'\\':
            return False
    return True


cdef inline bint _plain_string(const JsonSpan* v) noexcept:
    """A non-empty string of at most 100 plain ASCII bytes (symbols, intervals): usable as raw bytes."""
    return v.kind == JSON_STRING and not v.has_escapes and 0 < v.len <= 100 and _plain_ascii(v.ptr, v.len)


cdef str _json_err(int rc):
    names = {-1: "input ended inside a value", -2: "syntax error", -3: "bad string", -4: "bad number",
             -5: "bad literal", -6: "nesting too deep", -7: "trailing bytes", -8: "value of the wrong type",
             -9: "string that is not a number", -10: "integer out of int64 range", -11: "too many levels",
             -12: "level with fewer than 2 items", -13: "iterator state"}
    return names.get(rc, f"error {rc}")



# ---- exact-shape fast path (spot bookTicker) -------------------------------------------------------
# These read only inside [q, end) and return NULL when the bytes are not exactly the expected token.

cdef inline const char* _fx_lit(const char* q, const char* end, const char* lit, Py_ssize_t n) noexcept:
    if end - q < n or memcmp(q, lit, n) != 0:
        return NULL
    return q + n


cdef inline const char* _fx_str(const char* q, const char* end, JsonSpan* out) noexcept:
    """q at an opening quote: a string of printable ASCII without quote/backslash (valid JSON, no escapes)."""
    cdef const char* s0
    cdef unsigned char c
    if q >= end or q[0] != b'"':
        return NULL
    q += 1
    s0 = q
    while q < end:
        c = <unsigned char>q[0]
        if c == b'"':
            out.ptr = s0
            out.len = q - s0
            out.kind = JSON_STRING
            out.has_escapes = False
            return q + 1
        if c < 0x20 or c > 0x7e or c == b'\\':
            return NULL
        q += 1
    return NULL


cdef inline const char* _fx_uint(const char* q, const char* end, int64_t* out, JsonSpan* span) noexcept:
    """A JSON integer token of 1..18 digits without a leading zero (< 10**18: no int64 overflow)."""
    cdef const char* s0 = q
    cdef int64_t v = 0
    # At most 18 digits are accumulated (v < 10**17 before each multiply, so v * 10 + 9 < 10**18
    # fits int64): the digit count is checked before multiplying, never after (a 19th digit is
    # refused below without being multiplied in).
    while q < end and q - s0 < 18 and <unsigned char>(q[0] - 48) < 10:
        v = v * 10 + (q[0] - 48)
        q += 1
    if q == s0 or (s0[0] == b'0' and q - s0 > 1):
        return NULL
    if q < end and <unsigned char>(q[0] - 48) < 10:
        return NULL
    out[0] = v
    span.ptr = s0
    span.len = q - s0
    span.kind = JSON_NUMBER
    span.has_escapes = False
    return q


cdef inline const char* _fx_num_str(const char* q, const char* end, double* out, JsonSpan* span) noexcept:
    """A string holding a plain decimal "I.F" (the shape of every Binance price/quantity).

    Only the closing quote is searched for (at most 17 bytes on): fh_decimal_fast then accepts
    nothing but 8..16 bytes of digits around one dot, so the string is plain JSON without escapes.
    """
    cdef const char* s0
    cdef const char* lim
    cdef Py_ssize_t n
    if q >= end or q[0] != b'"':
        return NULL
    s0 = q + 1
    if end - s0 > 16:
        # Binance's own "I.FFFFFFFF": its length from the dot (no byte scan); see _fx_level_num.
        n = fh_dot8_len(s0)
        if n > 0 and s0[n] == b'"' and fh_decimal_dot8(s0, n - 9, out):
            span.ptr = s0
            span.len = n
            span.kind = JSON_STRING
            span.has_escapes = False
            return s0 + n + 1
    lim = s0 + 17 if end - s0 > 17 else end
    q = s0
    while q < lim and q[0] != b'"':
        q += 1
    if q >= lim or not fh_decimal_fast(s0, q - s0, out):
        return NULL
    span.ptr = s0
    span.len = q - s0
    span.kind = JSON_STRING
    span.has_escapes = False
    return q + 1


cdef inline const char* _fx_str_same(const char* q, const char* end, const char* prev, Py_ssize_t prev_n,
                                     JsonSpan* out) noexcept:
    """Like _fx_str, but a string equal to ``prev`` (already checked plain: 1..100 printable ASCII
    bytes without quote or backslash) is taken with one memcmp instead of a byte scan."""
    if prev_n > 0 and end - q >= prev_n + 2 and q[0] == b'"' and q[prev_n + 1] == b'"' \
            and memcmp(q + 1, prev, prev_n) == 0:
        out.ptr = q + 1
        out.len = prev_n
        out.kind = JSON_STRING
        out.has_escapes = False
        return q + prev_n + 2
    return _fx_str(q, end, out)


cdef inline const char* _fx_bool(const char* q, const char* end, bint* out, JsonSpan* span) noexcept:
    """The literal ``true`` or ``false``."""
    if end - q >= 4 and memcmp(q, b"true", 4) == 0:
        out[0] = True
        span.ptr = q
        span.len = 4
        span.kind = JSON_TRUE
        span.has_escapes = False
        return q + 4
    if end - q >= 5 and memcmp(q, b"false", 5) == 0:
        out[0] = False
        span.ptr = q
        span.len = 5
        span.kind = JSON_FALSE
        span.has_escapes = False
        return q + 5
    return NULL


cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Length of "I.FFFFFFFF" (8 fraction digits) from the first dot in s[0:8], or -1 when
       s[0:8] has no dot (or the platform lacks the builtins). Reads exactly s[0:8]. */
    static inline Py_ssize_t fh_dot8_len(const char* s) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        uint64_t v, x, dots;
        memcpy(&v, s, 8);
        x = v ^ 0x2E2E2E2E2E2E2E2EULL;                       /* '.' bytes become 0 */
        dots = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
        if (dots == 0) return -1;
        return (Py_ssize_t)(__builtin_ctzll(dots) >> 3) + 9;  /* the first zero byte is exact */
    #else
        (void)s;
        return -1;
    #endif
    }
    """
    Py_ssize_t fh_dot8_len(const char* s) noexcept nogil


cdef inline const char* _fx_level_num(const char* q, const char* end, double* out) noexcept:
    """q at an opening quote: a number-in-string of a level, converted as the general level parser does.

    Binance's "I.FFFFFFFF" is sized from its dot (fh_dot8_len); otherwise only the closing quote is
    searched for: parse_double accepts nothing but ``[0-9+-.eE]`` (its grammar has no quote,
    backslash or control byte), so NUM_OK also proves the string is plain JSON without escapes, and
    its value is float()'s, the bits the general path gives the same text.
    """
    cdef const char* s0
    cdef Py_ssize_t n
    if q >= end or q[0] != b'"':
        return NULL
    q += 1
    s0 = q
    if end - s0 > 16:
        # Binance's own shape "I.FFFFFFFF": the dot found in the first 8 bytes gives the length
        # (n <= 16, so s0[n] is inside); a quote there and fh_decimal_dot8 accepting s0[0:n]
        # (digits around that dot, no quote) make s0[0:n] exactly the string's content.
        n = fh_dot8_len(s0)
        if n > 0 and s0[n] == b'"' and fh_decimal_dot8(s0, n - 9, out):
            return s0 + n + 1
    while q < end and q[0] != b'"':
        q += 1
    if q >= end or parse_double_inline(s0, q - s0, out) != NUM_OK:
        return NULL
    return q + 1


cdef inline const char* _fx_levels(const char* q, const char* end, double* px, double* qty,
                                   Py_ssize_t cap, Py_ssize_t* count) noexcept:
    """q at '[': levels in the exact shape ``[["p","q"],...]`` (or ``[]``) into px/qty, at most cap.

    Writes px[n]/qty[n] only for n < cap (checked before each level). NULL for any other shape
    (whitespace, number tokens, levels of other than two items, more than cap levels): the general
    path then parses the array again and reports its error. *count is written only on success.
    """
    cdef Py_ssize_t n = 0
    if q >= end or q[0] != b'[':
        return NULL
    q += 1
    if q < end and q[0] == b']':
        count[0] = 0
        return q + 1
    while True:
        if n >= cap or q >= end or q[0] != b'[':
            return NULL
        q = _fx_level_num(q + 1, end, &px[n])
        if q == NULL or q >= end or q[0] != b',':
            return NULL
        q = _fx_level_num(q + 1, end, &qty[n])
        # two bytes left: the level's ']' and the ',' or ']' after it are readable
        if q == NULL or end - q < 2 or q[0] != b']':
            return NULL
        n += 1
        q += 1
        if q[0] == b',':
            q += 1
            continue
        if q[0] == b']':
            count[0] = n
            return q + 1
        return NULL


@cython.final
cdef class BinanceDecoder:
    """Compiled decoder of Binance JSON streams (spot, USD-M and COIN-M futures share the format).

    Parameters
    ----------
    books:
        ``BookSyncGroup`` for diff-depth books (``None``: depth updates are counted and dropped).
    dispatcher:
        Where events go (created if None).
    partial_books:
        ``BookSyncGroup`` for partial-depth books (created with depth 20 if None).
    exchange:
        Name carried by the events.
    max_levels:
        Scratch capacity per side of one frame; a frame with more levels is a ``ParseError``.
    time_unit:
        ``"ms"`` (default) or ``"us"`` (streams opened with ``timeUnit=MICROSECOND``).
    raw_stream:
        Stream name of a raw ``/ws/<stream>`` connection, used to name partial-depth books.
    """

    def __cinit__(self):
        self._str_cache = {}

    def __init__(self, BookSyncGroup books=None, EventDispatcher dispatcher=None, BookSyncGroup partial_books=None,
                 str exchange="binance", Py_ssize_t max_levels=20000, str time_unit="ms", str raw_stream=""):
        if max_levels < 1:
            raise ValueError("max_levels must be positive")
        if time_unit not in ("ms", "us"):
            raise ValueError(f"time_unit must be 'ms' or 'us', not {time_unit!r}")
        FrameDecoder.__init__(self, exchange)
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        if partial_books is None:
            from feedhandler.exchanges.binance.rules import PARTIAL_RULE
            partial_books = BookSyncGroup(exchange, PARTIAL_RULE, self.dispatcher, 20, None, 64, 1)
        self.partial_books = partial_books
        self.raw_stream = raw_stream
        self.ts_scale = 1_000_000 if time_unit == "ms" else 1_000
        self.max_levels = max_levels
        self._trades = EventPool(_Trade, 256)
        self._tickers = EventPool(_BookTicker, 256)
        self._klines = EventPool(_Kline, 64)
        # the kernel's preallocated scratch: levels[0] bids, levels[1] asks
        self.use_levels(max_levels, False, 2)
        self._bid_px = self.out.levels[0].px
        self._bid_qty = self.out.levels[0].qty
        self._ask_px = self.out.levels[1].px
        self._ask_qty = self.out.levels[1].qty

    # ---- entry points (feed: FrameDecoder's, over c_feed) --------------------------------
    cpdef int classify(self, object raw) except -1:
        """The frame's ``MessageType`` by decoding it without applying anything (UNKNOWN if malformed)."""
        cdef FrameBytes f
        try:
            frame_acquire(raw, &f)
        except (TypeError, BufferError, UnicodeError):
            return MessageType.UNKNOWN
        try:
            self._decode(f.p, f.p + f.n)
        except ParseError:
            return MessageType.UNKNOWN
        finally:
            frame_release(&f)
        return self._message_type()

    cdef int _message_type(self) noexcept:
        if self._kind == BK_ACK:
            return MessageType.SUBSCRIPTION_ACK
        if self._kind == BK_ERROR:
            return MessageType.ERROR
        if self._kind == BK_SHUTDOWN:
            return MessageType.RECONNECT
        if self._kind == BK_UNKNOWN:
            return MessageType.UNKNOWN
        return MessageType.DATA

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        """C entry point over (pointer, length)."""
        self.frames += 1
        self._decode(p, p + n)
        self._apply(recv_ns)
        return self._control(p)

    cdef int _control(self, const char* base) except -1:
        """The MessageType; for acks and errors also control_id/code/text (decoded once, here)."""
        cdef int kind = self._kind
        cdef int64_t v
        if kind != BK_ACK and kind != BK_ERROR:
            return self._message_type()
        self.control_id = -1
        self.control_code = 0
        self.control_text = None
        if (self._present & (1u << KEY_id)) and json_span_to_int64(&self._slot[KEY_id], &v) == JSON_OK:
            self.control_id = v
        if kind == BK_ERROR:
            if self._present & (1u << KEY_error):
                # {"error":{"code":-1121,"msg":"Invalid symbol."},"id":1}: read with the kernel's table scan
                if self._slot[KEY_error].kind == JSON_OBJECT \
                        and kt_scan_span(&_ERROR_FIELDS.table, &self._slot[KEY_error], &self.out) == 0:
                    if kt_seen(&self.out, 0):
                        self.control_code = self.out.i64[0]
                    if kt_seen(&self.out, 1):
                        self.control_text = kt_text(&self.out.span[1])
            else:
                if (self._present & (1u << KEY_code)) and json_span_to_int64(&self._slot[KEY_code], &v) == JSON_OK:
                    self.control_code = v
                if self._present & (1u << KEY_msg):
                    self.control_text = kt_text(&self._slot[KEY_msg])
            if self.control_code == 0:
                self.control_code = -1          # an error without a numeric code is still an error
        return self._message_type()

    # ---- decoding ---------------------------------------------------------------------
    cdef int _fail(self, int64_t* counter, str what) except -1:
        counter[0] += 1
        self.parse_errors += 1
        raise ParseError(f"binance: {what}")

    cdef int _decode(self, const char* p, const char* end) except -1:
        """Validate and decode the whole frame into scratch (``_kind`` and the decoded fields).

        First the single-pass path (``_decode_fast``); when it declines (invalid JSON, an unusual
        shape, levels it cannot take) the frame is decoded again by the general two-pass path below,
        which gives every error its precise message and counter. Nothing is applied before either
        path has finished, so a malformed frame still changes nothing.
        """
        self._decode_any(p, end)
        return self._check_numbers()

    cdef int _check_numbers(self) except -1:
        """The one rule for every price and size (kernel ``kt_price_ok``/``kt_size_ok``), whichever
        path decoded the frame, and ids in order; checked here so that applying can never fail."""
        cdef int kind = self._kind
        if kind == BK_DEPTH_UPDATE or kind == BK_PARTIAL_DEPTH:
            if not (kt_levels_ok(self._bid_px, self._bid_qty, self._nb)
                    and kt_levels_ok(self._ask_px, self._ask_qty, self._na)):
                # counted as "book" errors, as when the book itself refused such levels
                return self._fail(&self.err_book, "a level has a non-finite or non-positive price or a "
                                                    "non-finite or negative quantity")
            if kind == BK_DEPTH_UPDATE and self._last < self._first:
                return self._fail(&self.err_field, f"final update id {self._last} below the first {self._first}")
        elif kind == BK_TRADE or kind == BK_AGG_TRADE:
            if not (kt_price_ok(self._price) and kt_size_ok(self._qty)):
                return self._fail(&self.err_field, "trade price must be finite and > 0, quantity finite and >= 0")
        elif kind == BK_BOOK_TICKER:
            if not (kt_price_ok(self._bid_p) and kt_size_ok(self._bid_q) and kt_price_ok(self._ask_p)
                    and kt_size_ok(self._ask_q)):
                return self._fail(&self.err_field, "book ticker prices must be finite and > 0, quantities "
                                                   "finite and >= 0")
        return 0

    cdef int _decode_any(self, const char* p, const char* end) except -1:
        cdef const char* q
        cdef const char* s0
        cdef Py_ssize_t sn
        if self._decode_depth_exact(p, end):
            return 0
        if self._decode_book_ticker_exact(p, end):
            return 0
        if self._decode_trade_exact(p, end):
            return 0
        if self._decode_fast(p, end):
            return self._decode_payload()
        self._lv_parsed = 0
        self._has_stream = False
        # Fast path for the combined envelope: {"stream":"<plain name>","data":{...}}
        if end - p > 20 and memcmp(p, b'{"stream":"', 11) == 0:
            q = p + 11
            s0 = q
            while q < end and q[0] != b'"' and q[0] != b'\\' and <unsigned char>q[0] >= 0x20 and <unsigned char>q[0] < 0x7f:
                q += 1
            if q < end and q[0] == b'"' and end - q > 9 and memcmp(q, b'","data":', 9) == 0:
                sn = q - s0
                self._stream.ptr = s0
                self._stream.len = sn
                self._stream.kind = JSON_STRING
                self._stream.has_escapes = False
                self._has_stream = True
                q += 9
                q = self._scan_envelope_data(q, end)
                if q != NULL:
                    return self._decode_payload()
                # not in the expected shape: fall through to the general path
                self._has_stream = False
        self._scan_payload(p, end)
        if (self._present & (1u << KEY_stream)) and (self._present & (1u << KEY_data)):
            if self._slot[KEY_stream].kind != JSON_STRING or self._slot[KEY_data].kind != JSON_OBJECT:
                return self._fail(&self.err_field, "combined-stream envelope needs a string 'stream' and an object 'data'")
            if self._slot[KEY_stream].has_escapes or not _plain_ascii(self._slot[KEY_stream].ptr, self._slot[KEY_stream].len):
                return self._fail(&self.err_stream, "stream name must be plain ASCII without escapes")
            self._stream = self._slot[KEY_stream]
            self._has_stream = True
            q = self._slot[KEY_data].ptr
            self._scan_payload(q, q + self._slot[KEY_data].len)
        return self._decode_payload()

    cdef const char* _exact_stream(self, const char* q, const char* end, JsonSpan* out, int slot) noexcept:
        """The envelope's stream name for the exact paths (slot 0: bookTicker, 1: trade, 2: depth). The last
        name of each slot is remembered, so the next frame of the same stream is matched by memcmp
        (a stream carries one name, frame after frame); only plain 1..64-byte names are kept."""
        cdef Py_ssize_t n = self._last_stream_len[slot]
        q = _fx_str_same(q, end, self._last_stream[slot], n, out)
        if q != NULL and out.ptr + out.len == q - 1 and 0 < out.len <= 64 \
                and (out.len != n or memcmp(out.ptr, self._last_stream[slot], n) != 0):
            memcpy(self._last_stream[slot], out.ptr, out.len)
            self._last_stream_len[slot] = out.len
        return q

    cdef const char* _exact_symbol(self, const char* q, const char* end, JsonSpan* out) noexcept:
        """The payload's ``s`` for the exact paths: 1..100 plain bytes; the previous symbol (see
        _cached_str: only plain strings get there) is matched by memcmp."""
        cdef bytes last = self._last_sym_key
        if last is not None:
            q = _fx_str_same(q, end, PyBytes_AS_STRING(last), PyBytes_GET_SIZE(last), out)
        else:
            q = _fx_str(q, end, out)
        if q == NULL or out.len == 0 or out.len > 100:
            return NULL
        return q

    cdef bint _decode_book_ticker_exact(self, const char* p, const char* end) noexcept:
        """The spot bookTicker in its exact wire shape, decoded in one straight pass.

        ``{"stream":"<name>","data":{"u":<int>,"s":"<SYM>","b":"<dec>","B":"<dec>","a":"<dec>","A":"<dec>"}}``
        (or the same data object alone, on a raw connection) with no whitespace, every string plain
        printable ASCII and every number string in the "I.F" shape. Such bytes are valid JSON and
        decode to exactly what the general path gives (same slots, same numbers, same kind). Any
        other byte sequence returns False having changed only scratch, and the general path runs.
        """
        cdef const char* q = p
        cdef JsonSpan stream, sym, span
        cdef int64_t u
        cdef double bp, bq, ap, aq
        cdef bint envelope = False
        # A bookTicker ends with a string value ("...}} or "...}); depth (]]}}) and trade (true}})
        # frames are turned away here before any scan, so the other paths pay almost nothing.
        if end - p < 40 or end[-1] != b'}' or not (end[-2] == b'"' or (end[-2] == b'}' and end[-3] == b'"')):
            return False
        if end - q > 11 and memcmp(q, b'{"stream":', 10) == 0:
            q = self._exact_stream(q + 10, end, &stream, 0)
            if q == NULL:
                return False
            q = _fx_lit(q, end, b',"data":{"u":', 13)
            envelope = True
        else:
            q = _fx_lit(q, end, b'{"u":', 5)
        if q == NULL:
            return False
        q = _fx_uint(q, end, &u, &self._slot[KEY_u])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"s":', 5)
        if q == NULL:
            return False
        q = self._exact_symbol(q, end, &sym)
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"b":', 5)
        if q == NULL:
            return False
        q = _fx_num_str(q, end, &bp, &self._slot[KEY_b])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"B":', 5)
        if q == NULL:
            return False
        q = _fx_num_str(q, end, &bq, &self._slot[KEY_B])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"a":', 5)
        if q == NULL:
            return False
        q = _fx_num_str(q, end, &ap, &self._slot[KEY_a])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"A":', 5)
        if q == NULL:
            return False
        q = _fx_num_str(q, end, &aq, &self._slot[KEY_A])
        if q == NULL:
            return False
        if envelope:
            q = _fx_lit(q, end, b'}}', 2)
        else:
            q = _fx_lit(q, end, b'}', 1)
        if q == NULL or q != end:
            return False
        self._present = (1u << KEY_u) | (1u << KEY_s) | (1u << KEY_b) | (1u << KEY_B) | (1u << KEY_a) | (1u << KEY_A)
        self._lv_parsed = 0
        self._has_stream = envelope
        if envelope:
            self._stream = stream
        self._slot[KEY_s] = sym
        self._kind = BK_BOOK_TICKER
        self._last = u
        self._bid_p = bp
        self._bid_q = bq
        self._ask_p = ap
        self._ask_q = aq
        self._event_ts = 0
        return True

    cdef bint _decode_trade_exact(self, const char* p, const char* end) noexcept:
        """The spot ``trade`` / ``aggTrade`` in their exact wire shapes, decoded in one straight pass.

        ``{"stream":"<name>","data":{"e":"trade","E":<int>,"s":"<SYM>","t":<int>,"p":"<dec>","q":"<dec>",
        "T":<int>,"m":<bool>[,"M":<bool>]}}`` and ``{.."e":"aggTrade","E":<int>,"s":"<SYM>","a":<int>,
        "p":"<dec>","q":"<dec>","f":<int>,"l":<int>,"T":<int>,"m":<bool>[,"M":<bool>]}}`` (or the data
        object alone, on a raw connection), with no whitespace, every string plain printable ASCII,
        every integer 1..18 digits without sign or leading zero, both timestamps inside the accepted
        range and every number string in the "I.F" shape. Such bytes are valid JSON and decode to
        exactly what the general path gives (same slots, numbers, kind and timestamps). Any other
        byte sequence returns False having changed only scratch, and the general path runs (with its
        error messages and counters).
        """
        cdef const char* q = p
        cdef JsonSpan stream, sym, span
        cdef int64_t tid, ets, tts, ignored
        cdef int64_t lim
        cdef double px, qty
        cdef bint maker, flag
        cdef bint envelope = False
        cdef bint agg
        # A trade ends with a literal (true}} / false}); bookTicker ("}}) and depth (]}}) frames
        # are turned away here before any scan.
        if end - p < 60 or end[-1] != b'}' or not (end[-2] == b'e' or (end[-2] == b'}' and end[-3] == b'e')):
            return False
        if memcmp(q, b'{"stream":', 10) == 0:
            q = self._exact_stream(q + 10, end, &stream, 1)
            if q == NULL:
                return False
            q = _fx_lit(q, end, b',"data":{"e":"', 14)
            envelope = True
        else:
            q = _fx_lit(q, end, b'{"e":"', 6)
        if q == NULL:
            return False
        self._slot[KEY_e].ptr = q      # the event name, without its quotes
        if end - q >= 11 and memcmp(q, b'trade","E":', 11) == 0:
            agg = False
            q += 11
        elif end - q >= 14 and memcmp(q, b'aggTrade","E":', 14) == 0:
            agg = True
            q += 14
        else:
            return False
        self._slot[KEY_e].len = 8 if agg else 5
        self._slot[KEY_e].kind = JSON_STRING
        self._slot[KEY_e].has_escapes = False
        q = _fx_uint(q, end, &ets, &self._slot[KEY_E])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"s":', 5)
        if q == NULL:
            return False
        q = self._exact_symbol(q, end, &sym)
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"a":' if agg else b',"t":', 5)
        if q == NULL:
            return False
        q = _fx_uint(q, end, &tid, &self._slot[KEY_a if agg else KEY_t])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"p":', 5)
        if q == NULL:
            return False
        q = _fx_num_str(q, end, &px, &self._slot[KEY_p])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"q":', 5)
        if q == NULL:
            return False
        q = _fx_num_str(q, end, &qty, &self._slot[KEY_q])
        if q == NULL:
            return False
        if agg:
            # first / last trade ids: not decoded, but the general path checks them as JSON numbers
            q = _fx_lit(q, end, b',"f":', 5)
            if q == NULL:
                return False
            q = _fx_uint(q, end, &ignored, &span)
            if q == NULL:
                return False
            q = _fx_lit(q, end, b',"l":', 5)
            if q == NULL:
                return False
            q = _fx_uint(q, end, &ignored, &span)
            if q == NULL:
                return False
        q = _fx_lit(q, end, b',"T":', 5)
        if q == NULL:
            return False
        q = _fx_uint(q, end, &tts, &self._slot[KEY_T])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"m":', 5)
        if q == NULL:
            return False
        q = _fx_bool(q, end, &maker, &self._slot[KEY_m])
        if q == NULL:
            return False
        if end - q > 5 and memcmp(q, b',"M":', 5) == 0:
            q = _fx_bool(q + 5, end, &flag, &span)     # "ignore" field: any boolean
            if q == NULL:
                return False
        if envelope:
            q = _fx_lit(q, end, b'}}', 2)
        else:
            q = _fx_lit(q, end, b'}', 1)
        if q == NULL or q != end:
            return False
        # the general path's _opt_ts range check; out of range is its error to report
        lim = _MAX_TS_NS / self.ts_scale
        if ets > lim or tts > lim:
            return False
        self._present = ((1u << KEY_e) | (1u << KEY_E) | (1u << KEY_s) | (1u << KEY_p) | (1u << KEY_q)
                         | (1u << KEY_T) | (1u << KEY_m) | (1u << (KEY_a if agg else KEY_t)))
        self._lv_parsed = 0
        self._has_stream = envelope
        if envelope:
            self._stream = stream
        self._slot[KEY_s] = sym
        self._kind = BK_AGG_TRADE if agg else BK_TRADE
        self._trade_id = tid
        self._price = px
        self._qty = qty
        self._event_ts = ets * self.ts_scale
        self._trade_ts = tts * self.ts_scale if tts != 0 else self._event_ts
        self._maker = maker
        return True

    cdef bint _decode_depth_exact(self, const char* p, const char* end) noexcept:
        """The spot ``depthUpdate`` in its exact wire shape, decoded in one straight pass.

        ``{"stream":"<name>","data":{"e":"depthUpdate","E":<int>,"s":"<SYM>","U":<int>,"u":<int>,
        "b":[["<num>","<num>"],...],"a":[...]}}`` (or the data object alone, on a raw connection) with
        no whitespace, every string plain printable ASCII, every integer 1..18 digits without sign or
        leading zero, ``U <= u``, ``E`` inside the accepted range, every level exactly two number
        strings (parse_double's grammar) and at most ``max_levels`` levels per side. Such bytes are
        valid JSON and decode to exactly what the general path gives (same slots, numbers, kind, ids
        and timestamp); the levels go straight into the scratch arrays. Any other byte sequence
        (futures frames with ``T``/``pu`` included) returns False having changed only scratch, and the
        general path runs (with its error messages and counters).
        """
        cdef const char* q = p
        cdef const char* lv
        cdef JsonSpan stream, sym
        cdef int64_t ets, first, last
        cdef Py_ssize_t nb, na
        cdef bint envelope = False
        # A depthUpdate ends with a levels array (]}} / ]}); bookTicker ("}}) and trade (e}}) frames
        # are turned away here before any scan. 59 bytes is the shortest frame of this shape.
        if end - p < 59 or end[-1] != b'}' or not (end[-2] == b']' or (end[-2] == b'}' and end[-3] == b']')):
            return False
        if memcmp(q, b'{"stream":', 10) == 0:
            q = self._exact_stream(q + 10, end, &stream, 2)
            if q == NULL:
                return False
            q = _fx_lit(q, end, b',"data":{"e":"depthUpdate","E":', 31)
            envelope = True
        else:
            q = _fx_lit(q, end, b'{"e":"depthUpdate","E":', 23)
        if q == NULL:
            return False
        self._slot[KEY_e].ptr = q - 17     # the event name, without its quotes (depthUpdate","E":)
        self._slot[KEY_e].len = 11
        self._slot[KEY_e].kind = JSON_STRING
        self._slot[KEY_e].has_escapes = False
        q = _fx_uint(q, end, &ets, &self._slot[KEY_E])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"s":', 5)
        if q == NULL:
            return False
        q = self._exact_symbol(q, end, &sym)
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"U":', 5)
        if q == NULL:
            return False
        q = _fx_uint(q, end, &first, &self._slot[KEY_U])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"u":', 5)
        if q == NULL:
            return False
        q = _fx_uint(q, end, &last, &self._slot[KEY_u])
        if q == NULL:
            return False
        q = _fx_lit(q, end, b',"b":', 5)
        if q == NULL:
            return False
        lv = q
        q = _fx_levels(q, end, self._bid_px, self._bid_qty, self.max_levels, &nb)
        if q == NULL:
            return False
        self._slot[KEY_b].ptr = lv
        self._slot[KEY_b].len = q - lv
        self._slot[KEY_b].kind = JSON_ARRAY
        self._slot[KEY_b].has_escapes = False
        q = _fx_lit(q, end, b',"a":', 5)
        if q == NULL:
            return False
        lv = q
        q = _fx_levels(q, end, self._ask_px, self._ask_qty, self.max_levels, &na)
        if q == NULL:
            return False
        self._slot[KEY_a].ptr = lv
        self._slot[KEY_a].len = q - lv
        self._slot[KEY_a].kind = JSON_ARRAY
        self._slot[KEY_a].has_escapes = False
        if envelope:
            q = _fx_lit(q, end, b'}}', 2)
        else:
            q = _fx_lit(q, end, b'}', 1)
        if q == NULL or q != end:
            return False
        # the general path's checks whose failures are its errors to report: u < U, E out of range
        if last < first or ets > _MAX_TS_NS / self.ts_scale:
            return False
        self._present = ((1u << KEY_e) | (1u << KEY_E) | (1u << KEY_s) | (1u << KEY_U) | (1u << KEY_u)
                         | (1u << KEY_b) | (1u << KEY_a))
        self._lv_parsed = (1u << KEY_b) | (1u << KEY_a)
        self._has_stream = envelope
        if envelope:
            self._stream = stream
        self._slot[KEY_s] = sym
        self._kind = BK_DEPTH_UPDATE
        self._first = first
        self._last = last
        self._prev = first - 1 if first > 0 else 0
        self._event_ts = ets * self.ts_scale
        self._nb = nb
        self._na = na
        return True

    cdef bint _decode_fast(self, const char* p, const char* end) noexcept:
        """One validating pass over the frame: envelope, payload and levels (parsed where they are met).

        Handles a raw payload object and the envelope ``{"stream": <plain string>, "data": {...}}``
        (members in any order, nothing else known at the top). Fills the same slots as the general
        path, the levels straight into scratch (``_lv_parsed``). Returns False, having changed only
        scratch, for anything else, so the general path decodes the frame and reports its error.
        """
        cdef JsonIter it, child
        cdef JsonSpan key, val
        cdef int rc, kid
        cdef bint have_stream = False, have_data = False, top_known = False
        self._present = 0
        self._lv_parsed = 0
        self._has_stream = False
        if json_object_begin(&it, p, end) != JSON_OK:
            return False
        while True:
            rc = json_object_next_lazy(&it, &key, &val)
            if rc != 1:
                break
            kid = _key_id(&key)
            if kid == KEY_stream:
                if have_stream or val.kind != JSON_STRING or val.has_escapes or not _plain_ascii(val.ptr, val.len):
                    return False
                self._stream = val
                have_stream = True
            elif kid == KEY_data:
                if have_data or top_known or val.kind != JSON_OBJECT:
                    return False
                have_data = True
                if json_iter_child(&it, &child) != JSON_OK:
                    return False
                while True:
                    rc = json_object_next_lazy(&child, &key, &val)
                    if rc != 1:
                        break
                    if not self._fast_member(&child, _key_id(&key), &val):
                        return False
                if rc < 0 or json_iter_child_end(&it, &child) != JSON_OK:
                    return False
            elif kid >= 0:
                if have_data:
                    return False
                top_known = True
                if not self._fast_member(&it, kid, &val):
                    return False
            # unknown keys: a pending container is validated and skipped by the next call
        if rc < 0 or json_expect_end(it.p, end) != JSON_OK:
            return False
        if have_data != have_stream:
            return False    # half an envelope: the general path decides what it is
        self._has_stream = have_stream
        return True

    cdef bint _fast_member(self, JsonIter* it, int kid, JsonSpan* val) noexcept:
        """Store one payload member for _decode_fast; levels arrays parsed in place. False: decline."""
        cdef uint32_mask bit
        cdef Py_ssize_t* count
        cdef double* px
        cdef double* qty
        if val.len == 0 and (val.kind == JSON_ARRAY or val.kind == JSON_OBJECT):
            # a pending container: the iterator has not scanned it yet
            if val.kind == JSON_ARRAY and (kid == KEY_b or kid == KEY_a or kid == KEY_bids or kid == KEY_asks):
                if kid == KEY_b or kid == KEY_bids:
                    # b and bids share the bid scratch: both in one frame is left to the general path
                    if self._lv_parsed & (1u << (KEY_bids if kid == KEY_b else KEY_b)):
                        return False
                    px = self._bid_px
                    qty = self._bid_qty
                    count = &self._nb
                else:
                    if self._lv_parsed & (1u << (KEY_asks if kid == KEY_a else KEY_a)):
                        return False
                    px = self._ask_px
                    qty = self._ask_qty
                    count = &self._na
                if json_iter_levels(it, px, qty, self.max_levels, count) != JSON_OK:
                    return False
                bit = 1u << kid
                self._slot[kid] = val[0]
                self._present |= bit
                self._lv_parsed |= bit
                return True
            if kid < 0:
                return True      # skipped (and validated) by the next _next_lazy call
            if json_iter_take(it, val) != JSON_OK:
                return False
        if kid >= 0:
            bit = 1u << kid
            self._slot[kid] = val[0]
            self._present |= bit
            self._lv_parsed &= ~bit   # a later duplicate replaces parsed levels
        return True

    cdef const char* _scan_envelope_data(self, const char* p, const char* end) except? NULL:
        """Scan the data object that starts at p; then exactly ws '}' ws must follow. NULL: other shape."""
        cdef JsonIter it
        cdef const char* q
        while p < end and (p[0] == b' ' or p[0] == b'\t' or p[0] == b'\n' or p[0] == b'\r'):
            p += 1
        if p >= end or p[0] != b'{':
            return NULL
        self._scan_payload_until(p, end, &it)
        q = it.p
        while q < end and (q[0] == b' ' or q[0] == b'\t' or q[0] == b'\n' or q[0] == b'\r'):
            q += 1
        if q >= end or q[0] != b'}':
            return NULL
        if json_expect_end(q + 1, end) != JSON_OK:
            return NULL
        return q + 1

    cdef int _scan_payload_until(self, const char* p, const char* end, JsonIter* it) except -1:
        """Iterate the object at p, filling the key slots; it.p ends one past its closing brace."""
        cdef JsonSpan key, val
        cdef int rc, kid
        self._present = 0
        rc = json_object_begin(it, p, end)
        if rc < 0:
            return self._fail(&self.err_json, f"invalid JSON at byte {it.p - p}: {_json_err(rc)}")
        while True:
            rc = json_object_next(it, &key, &val)
            if rc != 1:
                break
            kid = _key_id(&key)
            if kid >= 0:
                self._slot[kid] = val
                self._present |= (1u << kid)
        if rc < 0:
            return self._fail(&self.err_json, f"invalid JSON at byte {it.p - p}: {_json_err(rc)}")
        return 0

    cdef int _scan_payload(self, const char* p, const char* end) except -1:
        """Iterate one whole document (an object, then only whitespace)."""
        cdef JsonIter it
        cdef int rc
        self._scan_payload_until(p, end, &it)
        rc = json_expect_end(it.p, end)
        if rc != JSON_OK:
            return self._fail(&self.err_json, f"invalid JSON at byte {it.p - p}: {_json_err(rc)}")
        return 0

    cdef int _int_field(self, int kid, int64_t* out) except -1:
        if not (self._present & (1u << kid)):
            return self._fail(&self.err_field, f"missing field {(<bytes>_KEY_NAMES[kid]).decode()!r}")
        if json_span_to_int64(&self._slot[kid], out) != JSON_OK:
            return self._fail(&self.err_field, f"field {(<bytes>_KEY_NAMES[kid]).decode()!r} is not an int64")
        return 0

    cdef int _num_field(self, int kid, double* out) except -1:
        if not (self._present & (1u << kid)):
            return self._fail(&self.err_field, f"missing field {(<bytes>_KEY_NAMES[kid]).decode()!r}")
        if json_span_to_double(&self._slot[kid], out) != JSON_OK:
            return self._fail(&self.err_field, f"field {(<bytes>_KEY_NAMES[kid]).decode()!r} is not a number")
        return 0

    cdef int _str_field(self, int kid) except -1:
        """Check that slot kid is a plain string (usable as raw bytes)."""
        if not (self._present & (1u << kid)):
            return self._fail(&self.err_field, f"missing field {(<bytes>_KEY_NAMES[kid]).decode()!r}")
        if not _plain_string(&self._slot[kid]):
            return self._fail(&self.err_field, f"field {(<bytes>_KEY_NAMES[kid]).decode()!r} must be a plain string")
        return 0

    cdef int _levels(self, int kid, double* px, double* qty, Py_ssize_t* count) except -1:
        cdef int rc
        if self._lv_parsed & (1u << kid):
            return 0    # parsed into px/qty/*count by _decode_fast
        if not (self._present & (1u << kid)):
            return self._fail(&self.err_field, f"missing field {(<bytes>_KEY_NAMES[kid]).decode()!r}")
        rc = json_parse_levels(&self._slot[kid], px, qty, self.max_levels, count)
        if rc != JSON_OK:
            if rc == JSON_TOO_MANY:
                return self._fail(&self.err_levels, f"more than {self.max_levels} levels in {(<bytes>_KEY_NAMES[kid]).decode()!r}")
            return self._fail(&self.err_levels, f"invalid levels in {(<bytes>_KEY_NAMES[kid]).decode()!r}: {_json_err(rc)}")
        return 0

    cdef int _opt_ts(self, int kid, int64_t* out) except -1:
        """Optional timestamp field (ms or us) as ns; 0 when absent."""
        cdef int64_t v
        if not (self._present & (1u << kid)):
            out[0] = 0
            return 0
        self._int_field(kid, &v)
        if v < 0 or v > _MAX_TS_NS / self.ts_scale:
            return self._fail(&self.err_field, f"timestamp {(<bytes>_KEY_NAMES[kid]).decode()!r} out of range")
        out[0] = v * self.ts_scale
        return 0

    cdef int _decode_payload(self) except -1:
        cdef JsonSpan* e
        cdef JsonSpan* m
        cdef uint32_mask pr = self._present
        self._kind = BK_UNKNOWN
        if pr & (1u << KEY_e):
            e = &self._slot[KEY_e]
            if e.kind != JSON_STRING:
                return self._fail(&self.err_field, "field 'e' must be a string")
            if json_span_eq(e, b"depthUpdate", 11):
                self._kind = BK_DEPTH_UPDATE
            elif json_span_eq(e, b"trade", 5):
                self._kind = BK_TRADE
            elif json_span_eq(e, b"aggTrade", 8):
                self._kind = BK_AGG_TRADE
            elif json_span_eq(e, b"bookTicker", 10):
                self._kind = BK_BOOK_TICKER
            elif json_span_eq(e, b"kline", 5):
                self._kind = BK_KLINE
            elif json_span_eq(e, b"serverShutdown", 14):
                self._kind = BK_SHUTDOWN
                return 0
            else:
                return 0
        elif pr & (1u << KEY_lastUpdateId):
            self._kind = BK_PARTIAL_DEPTH
        elif (pr & (1u << KEY_u)) and (pr & (1u << KEY_s)) and (pr & (1u << KEY_B)) and (pr & (1u << KEY_A)):
            self._kind = BK_BOOK_TICKER
        elif pr & (1u << KEY_result):
            self._kind = BK_ACK
            return 0
        elif (pr & (1u << KEY_error)) or ((pr & (1u << KEY_code)) and (pr & (1u << KEY_msg))):
            self._kind = BK_ERROR
            return 0
        elif self._has_stream and json_span_eq(&self._stream, b"!serverShutdown", 15):
            self._kind = BK_SHUTDOWN
            return 0
        else:
            return 0

        if self._kind == BK_DEPTH_UPDATE:
            self._str_field(KEY_s)
            self._int_field(KEY_U, &self._first)
            self._int_field(KEY_u, &self._last)
            if pr & (1u << KEY_pu):
                self._int_field(KEY_pu, &self._prev)
            else:
                self._prev = self._first - 1 if self._first > 0 else 0
            if self._last < self._first:
                return self._fail(&self.err_field, f"depthUpdate with u < U ({self._last} < {self._first})")
            self._opt_ts(KEY_E, &self._event_ts)
            self._levels(KEY_b, self._bid_px, self._bid_qty, &self._nb)
            self._levels(KEY_a, self._ask_px, self._ask_qty, &self._na)
        elif self._kind == BK_PARTIAL_DEPTH:
            self._int_field(KEY_lastUpdateId, &self._last)
            self._levels(KEY_bids, self._bid_px, self._bid_qty, &self._nb)
            self._levels(KEY_asks, self._ask_px, self._ask_qty, &self._na)
            self._partial_name()
        elif self._kind == BK_TRADE or self._kind == BK_AGG_TRADE:
            self._str_field(KEY_s)
            self._int_field(KEY_t if self._kind == BK_TRADE else KEY_a, &self._trade_id)
            self._num_field(KEY_p, &self._price)
            self._num_field(KEY_q, &self._qty)
            self._opt_ts(KEY_E, &self._event_ts)
            self._opt_ts(KEY_T, &self._trade_ts)
            if self._trade_ts == 0:
                self._trade_ts = self._event_ts
            if not (pr & (1u << KEY_m)):
                return self._fail(&self.err_field, "missing field 'm'")
            m = &self._slot[KEY_m]
            if m.kind == JSON_TRUE:
                self._maker = True
            elif m.kind == JSON_FALSE:
                self._maker = False
            else:
                return self._fail(&self.err_field, "field 'm' must be true or false")
        elif self._kind == BK_BOOK_TICKER:
            self._str_field(KEY_s)
            self._int_field(KEY_u, &self._last)
            self._num_field(KEY_b, &self._bid_p)
            self._num_field(KEY_B, &self._bid_q)
            self._num_field(KEY_a, &self._ask_p)
            self._num_field(KEY_A, &self._ask_q)
            self._opt_ts(KEY_E, &self._event_ts)
        elif self._kind == BK_KLINE:
            self._opt_ts(KEY_E, &self._event_ts)
            self._decode_kline()
        return 0

    cdef int _partial_name(self) except -1:
        """Book key "<SYMBOL>@depth<N>" from the stream name (combined) or ``raw_stream``."""
        cdef const char* s
        cdef Py_ssize_t n
        cdef bytes raw_b
        if self._has_stream:
            s = self._stream.ptr
            n = self._stream.len
        elif self.raw_stream:
            raw_b = self.raw_stream.encode("ascii", "replace")
            s = PyBytes_AS_STRING(raw_b)
            n = PyBytes_GET_SIZE(raw_b)
            return self._partial_name_from(s, n)
        else:
            return self._fail(&self.err_stream, "partial depth without a stream name (raw stream: set raw_stream)")
        return self._partial_name_from(s, n)

    cdef int _partial_name_from(self, const char* s, Py_ssize_t n) except -1:
        cdef Py_ssize_t i, at = -1, k = 0
        cdef char c
        for i in range(n):
            if s[i] == b'@':
                at = i
                break
        # "<sym>@depth<digits>" then optionally "@<speed>"
        if at <= 0 or n - at < 7 or memcmp(s + at, b"@depth", 6) != 0 or n > 120:
            return self._fail(&self.err_stream, f"partial depth on stream {s[:n]!r}: expected '<symbol>@depth<N>'")
        for i in range(at):
            c = s[i]
            if c >= b'a' and c <= b'z':
                c = c - 32
            self._partial_key[k] = c
            k += 1
        i = at
        while i < n and (i < at + 6 or (s[i] >= b'0' and s[i] <= b'9')):
            self._partial_key[k] = s[i]
            k += 1
            i += 1
        if k == at + 6:
            return self._fail(&self.err_stream, f"partial depth on stream {s[:n]!r}: no level count")
        self._partial_key_len = k
        return 0

    cdef int _decode_kline(self) except -1:
        cdef JsonIter it
        cdef JsonSpan key, val
        cdef JsonSpan* kv = &self._slot[KEY_k]
        cdef int rc
        cdef int64_t v
        cdef uint32_mask seen = 0
        cdef char c
        if not (self._present & (1u << KEY_k)) or kv.kind != JSON_OBJECT:
            return self._fail(&self.err_field, "kline needs an object 'k'")
        rc = json_object_begin(&it, kv.ptr, kv.ptr + kv.len)
        while rc == 0:
            rc = json_object_next(&it, &key, &val)
            if rc != 1:
                break
            rc = 0
            if key.has_escapes or key.len != 1:
                continue
            c = key.ptr[0]
            if c == b't':
                rc = json_span_to_int64(&val, &self._k_open); seen |= 1
            elif c == b'T':
                rc = json_span_to_int64(&val, &self._k_close); seen |= 2
            elif c == b's':
                self._k_sym = val; seen |= 4
            elif c == b'i':
                self._k_interval = val; seen |= 8
            elif c == b'o':
                rc = json_span_to_double(&val, &self._k_o); seen |= 16
            elif c == b'c':
                rc = json_span_to_double(&val, &self._k_c); seen |= 32
            elif c == b'h':
                rc = json_span_to_double(&val, &self._k_h); seen |= 64
            elif c == b'l':
                rc = json_span_to_double(&val, &self._k_l); seen |= 128
            elif c == b'v':
                rc = json_span_to_double(&val, &self._k_v); seen |= 256
            elif c == b'q':
                rc = json_span_to_double(&val, &self._k_qv); seen |= 512
            elif c == b'x':
                if val.kind == JSON_TRUE:
                    self._k_closed = True
                elif val.kind == JSON_FALSE:
                    self._k_closed = False
                else:
                    rc = -8
                seen |= 1024
        if rc < 0:
            return self._fail(&self.err_field, f"invalid kline object: {_json_err(rc)}")
        if seen != 2047:
            return self._fail(&self.err_field, "kline object lacks one of t, T, s, i, o, c, h, l, v, q, x")
        if not _plain_string(&self._k_sym) or not _plain_string(&self._k_interval):
            return self._fail(&self.err_field, "kline 's' and 'i' must be plain strings")
        if self._k_open < 0 or self._k_close < 0 or self._k_open > _MAX_TS_NS / self.ts_scale \
                or self._k_close > _MAX_TS_NS / self.ts_scale:
            return self._fail(&self.err_field, "kline times out of range")
        return 0

    # ---- applying ---------------------------------------------------------------------
    cdef int _apply(self, int64_t recv_ns) except -1:
        cdef BookSync sync
        cdef Trade tr
        cdef BookTicker bt
        cdef int kind = self._kind
        if kind == BK_DEPTH_UPDATE:
            self.depth_updates += 1
            if self.books is None:
                return 0
            # levels and ids passed _check_numbers: nothing below can refuse the frame
            sync = self.books.c_get(self._slot[KEY_s].ptr, self._slot[KEY_s].len)
            sync.on_delta_validated(self._first, self._last, self._prev, self._bid_px, self._bid_qty, self._nb,
                                    self._ask_px, self._ask_qty, self._na, self._event_ts, recv_ns)
        elif kind == BK_TRADE or kind == BK_AGG_TRADE:
            self.trades += 1
            tr = <Trade>self._trades.acquire()
            tr.exchange = self.exchange
            tr.symbol = self._cached_str(self._slot[KEY_s].ptr, self._slot[KEY_s].len)
            tr.price = self._price
            tr.qty = self._qty
            tr.side = SIDE_SELL if self._maker else SIDE_BUY   # buyer is maker => the taker sold
            tr.trade_id = self._trade_id
            tr.trade_id_str = ""
            tr.exchange_ts_ns = self._trade_ts
            tr.recv_ns = recv_ns
            self.dispatcher.emit(tr)
        elif kind == BK_BOOK_TICKER:
            self.book_tickers += 1
            bt = <BookTicker>self._tickers.acquire()
            bt.exchange = self.exchange
            bt.symbol = self._cached_str(self._slot[KEY_s].ptr, self._slot[KEY_s].len)
            bt.bid_price = self._bid_p
            bt.bid_qty = self._bid_q
            bt.ask_price = self._ask_p
            bt.ask_qty = self._ask_q
            bt.update_id = self._last
            bt.exchange_ts_ns = self._event_ts
            bt.recv_ns = recv_ns
            self.dispatcher.emit(bt)
        elif kind == BK_PARTIAL_DEPTH:
            self.partial_depths += 1
            if self.partial_books is None:
                return 0
            sync = self.partial_books.c_get(self._partial_key, self._partial_key_len)
            sync.c_load_snapshot(self._last, self._bid_px, self._bid_qty, self._nb,
                                 self._ask_px, self._ask_qty, self._na, recv_ns)
        elif kind == BK_KLINE:
            self.klines += 1
            self._emit_kline(recv_ns)
        elif kind == BK_ACK:
            self.acks += 1
        elif kind == BK_ERROR:
            self.exchange_errors += 1
        elif kind == BK_SHUTDOWN:
            self.shutdowns += 1
        else:
            self.ignored += 1
        return 0

    cdef int _emit_kline(self, int64_t recv_ns) except -1:
        cdef Kline k = <Kline>self._klines.acquire()
        k.exchange = self.exchange
        k.symbol = self._cached_str(self._k_sym.ptr, self._k_sym.len)
        k.interval = self._cached_str(self._k_interval.ptr, self._k_interval.len)
        k.open_time_ns = self._k_open * self.ts_scale
        k.close_time_ns = self._k_close * self.ts_scale
        k.open = self._k_o
        k.high = self._k_h
        k.low = self._k_l
        k.close = self._k_c
        k.volume = self._k_v
        k.quote_volume = self._k_qv
        k.closed = self._k_closed
        k.exchange_ts_ns = self._event_ts
        k.recv_ns = recv_ns
        return self.dispatcher.emit(k)

    cdef str _cached_str(self, const char* p, Py_ssize_t n):
        """The str for plain-ASCII bytes p[0:n]; no allocation when it repeats the previous one."""
        cdef bytes key
        if self._last_sym_key is not None and PyBytes_GET_SIZE(self._last_sym_key) == n \
                and memcmp(PyBytes_AS_STRING(self._last_sym_key), p, n) == 0:
            return self._last_sym
        key = p[:n]
        s = self._str_cache.get(key)
        if s is None:
            if len(self._str_cache) > 100_000:
                self._str_cache.clear()   # bounded: hostile streams cannot grow it forever
            s = key.decode("ascii")
            self._str_cache[key] = s
        self._last_sym_key = key
        self._last_sym = <str>s
        return <str>s

    # ---- Python helpers ---------------------------------------------------------------
    def partial_book_key(self, str stream):
        """The ``partial_books`` key for a partial-depth stream name (``"btcusdt@depth20@100ms"`` ->
        ``"BTCUSDT@depth20"``)."""
        cdef bytes b = stream.encode("ascii")
        self._partial_name_from(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))
        return (<bytes>self._partial_key[:self._partial_key_len]).decode("ascii")

    def stats(self):
        """Counters: frames by kind and errors by kind."""
        return {
            "frames": self.frames, "depth_updates": self.depth_updates, "partial_depths": self.partial_depths,
            "trades": self.trades, "book_tickers": self.book_tickers, "klines": self.klines,
            "acks": self.acks, "exchange_errors": self.exchange_errors, "shutdowns": self.shutdowns,
            "ignored": self.ignored,
            # parse_errors counts every refusal; those not counted by kind here are frames FrameDecoder.feed
            # refused before decoding (not bytes/str/a buffer, or not UTF-8): input errors, as JSON errors
            "errors": {"json": self.parse_errors - self.err_field - self.err_levels - self.err_book - self.err_stream,
                       "field": self.err_field, "levels": self.err_levels,
                       "book": self.err_book, "stream": self.err_stream},
        }
