# cython: language_level=3
"""Gate.io spot v4 frame decoder: JSON text frames -> events and book updates, in C.

Frames (``protocols.md`` section 2)::

    {"time":..,"time_ms":..,"channel":"spot.order_book_update","event":"update","result":{..}}
    {"time":..,"channel":"spot.trades","event":"subscribe","error":null,"result":{"status":"success"}}
    {"time":..,"channel":"spot.pong","event":"","error":null,"result":null}
    {"channel":"spot.obu","result":{..},"time_ms":..}          # obu pushes carry no ``event``

Channels decoded: ``spot.order_book_update`` (diffs ``U/u``, ``full: true``
resets), ``spot.obu`` (order book v2), ``spot.order_book`` (top-N snapshots
-> a ``BookUpdate`` of a separate partial book), ``spot.trades``,
``spot.book_ticker``, ``spot.candlesticks``, ``spot.tickers``; private
``spot.orders``, ``spot.usertrades``, ``spot.balances`` (arrays).

Every frame is decoded completely (numbers into preallocated scratch arrays)
before anything is applied or emitted, so a malformed frame raises
``ParseError`` and leaves books and handlers untouched.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.math cimport NAN, isfinite, isnan
from libc.stdint cimport int64_t
from libc.string cimport memcmp

import json as _json

import numpy as np

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_ERR_TYPE, JSON_ERR_VALUE, JSON_FALSE, JSON_NULL, JSON_NUMBER, JSON_OBJECT,
    JSON_STRING, JSON_TRUE, JsonIter, JsonSpan, json_array_begin, json_array_next, json_expect_end,
    json_iter_child, json_iter_child_end, json_iter_levels, json_iter_take, json_object_begin,
    json_object_next, json_object_next_lazy, json_parse_levels, json_span_eq, json_span_to_double,
    json_span_to_int64,
)
from feedhandler.codec.numbers cimport NUM_OK, parse_double, parse_int64
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, SIDE_UNKNOWN, BalanceUpdate, BookTicker, EventPool, Fill, Kline, OrderUpdate,
    Ticker, Trade,
)
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.extract cimport (
    KT_INT64, KT_STR, FieldTable, kt_levels_ok, kt_price_ok, kt_scan_span, kt_seen, kt_size_ok, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.sync.book_sync cimport BookSync, BookSyncGroup

from feedhandler.codec.json_scan import json_error_message
from feedhandler.core.errors import ParseError
from feedhandler.events.events import (
    BalanceUpdate as _BalanceUpdate,
    BookTicker as _BookTicker,
    Fill as _Fill,
    Kline as _Kline,
    OrderUpdate as _OrderUpdate,
    Ticker as _Ticker,
    Trade as _Trade,
)

# _feed_fast: the frame needs the general path (a value no MessageType or -1 can take).
cdef enum:
    _DECLINED = -100

# Channel kinds (internal).
cdef enum:
    CH_NONE = 0
    CH_OTHER = 1
    CH_BOOK_UPDATE = 2
    CH_OBU = 3
    CH_ORDER_BOOK = 4
    CH_TRADES = 5
    CH_BOOK_TICKER = 6
    CH_CANDLES = 7
    CH_TICKERS = 8
    CH_PONG = 9
    CH_ORDERS = 10
    CH_USERTRADES = 11
    CH_BALANCES = 12

# The error object of an ack or error frame: {"code": 2, "message": "..."}.
cdef FieldTable _ERROR_FIELDS = FieldTable("gateio.error", [("code", KT_INT64, 0), ("message", KT_STR, 1)])

# Channel names by kind (CH_BOOK_UPDATE..CH_BALANCES), for values that carry JSON escapes.
cdef const char* _CHANNEL_NAMES[13]
cdef Py_ssize_t _CHANNEL_LENS[13]
_CHANNEL_BYTES = {CH_BOOK_UPDATE: b"spot.order_book_update", CH_OBU: b"spot.obu", CH_ORDER_BOOK: b"spot.order_book",
                  CH_TRADES: b"spot.trades", CH_BOOK_TICKER: b"spot.book_ticker", CH_CANDLES: b"spot.candlesticks",
                  CH_TICKERS: b"spot.tickers", CH_PONG: b"spot.pong", CH_ORDERS: b"spot.orders",
                  CH_USERTRADES: b"spot.usertrades", CH_BALANCES: b"spot.balances"}
for _k, _name in _CHANNEL_BYTES.items():
    _CHANNEL_NAMES[_k] = <const char*>_name      # the bytes objects live in _CHANNEL_BYTES for good
    _CHANNEL_LENS[_k] = len(_name)

# Kline interval lengths in seconds (Gate.io spot.candlesticks intervals, protocols.md 2.6).
cdef dict _INTERVAL_SECONDS = {
    "10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400,
    "8h": 28800, "1d": 86400, "7d": 604800, "30d": 2592000,
}


# ---------------------------------------------------------------------------
# small C helpers

cdef inline bint _key(const JsonSpan* k, const char* lit, Py_ssize_t n) noexcept nogil:
    # Keys in Gate.io frames never carry escapes: compare the raw bytes (an escaped key simply
    # does not match, which makes it an unknown key, never a wrong one).
    return k.len == n and not k.has_escapes and memcmp(k.ptr, lit, n) == 0


cdef int _channel_kind(const JsonSpan* c) noexcept nogil:
    if c.kind != JSON_STRING:
        return CH_OTHER
    if c.has_escapes:
        return _channel_kind_escaped(c)
    if _key(c, b"spot.order_book_update", 22):
        return CH_BOOK_UPDATE
    if _key(c, b"spot.obu", 8):
        return CH_OBU
    if _key(c, b"spot.order_book", 15):
        return CH_ORDER_BOOK
    if _key(c, b"spot.trades", 11):
        return CH_TRADES
    if _key(c, b"spot.book_ticker", 16):
        return CH_BOOK_TICKER
    if _key(c, b"spot.candlesticks", 17):
        return CH_CANDLES
    if _key(c, b"spot.tickers", 12):
        return CH_TICKERS
    if _key(c, b"spot.pong", 9):
        return CH_PONG
    if _key(c, b"spot.orders", 11):
        return CH_ORDERS
    if _key(c, b"spot.usertrades", 15):
        return CH_USERTRADES
    if _key(c, b"spot.balances", 13):
        return CH_BALANCES
    return CH_OTHER


cdef int _channel_kind_escaped(const JsonSpan* c) noexcept nogil:
    """The channel of a value written with JSON escapes ("spot.\\u0074rades"), as json.loads reads it."""
    cdef int k
    for k in range(CH_BOOK_UPDATE, CH_BALANCES + 1):
        if json_span_eq(c, _CHANNEL_NAMES[k], _CHANNEL_LENS[k]):
            return k
    return CH_OTHER


cdef inline void _env_clear(_Envelope* env) noexcept nogil:
    env.has_channel = False
    env.has_event = False
    env.has_result = False
    env.has_error = False
    env.has_id = False
    env.has_time_ms = False
    env.has_time = False
    env.book_parsed = False


cdef inline bint _pending(const JsonSpan* v) noexcept nogil:
    """A container value json_object_next_lazy has not scanned yet (a scanned one has len >= 2)."""
    return v.len == 0 and (v.kind == JSON_OBJECT or v.kind == JSON_ARRAY)


cdef inline bint _take(JsonIter* it, JsonSpan* v) noexcept nogil:
    """Complete a pending container value (validated now); scalars are complete already."""
    return not _pending(v) or json_iter_take(it, v) == 0


cdef bint _envelope_member(JsonIter* it, const JsonSpan* key, JsonSpan* val, _Envelope* env) noexcept nogil:
    """Record one envelope member (not ``result``); False if a pending value turned out invalid."""
    if key.len == 7 and memcmp(key.ptr, b"channel", 7) == 0:
        if not _take(it, val):
            return False
        env.channel = val[0]
        env.has_channel = True
    elif key.len == 5 and memcmp(key.ptr, b"event", 5) == 0:
        if not _take(it, val):
            return False
        env.event = val[0]
        env.has_event = True
    elif key.len == 5 and memcmp(key.ptr, b"error", 5) == 0:
        if not _take(it, val):
            return False
        env.has_error = val.kind != JSON_NULL
        env.error = val[0]
    elif key.len == 2 and memcmp(key.ptr, b"id", 2) == 0:
        if not _take(it, val):
            return False
        env.id = val[0]
        env.has_id = True
    elif key.len == 7 and memcmp(key.ptr, b"time_ms", 7) == 0:
        if not _take(it, val):
            return False
        env.time_ms = val[0]
        env.has_time_ms = True
    elif key.len == 4 and memcmp(key.ptr, b"time", 4) == 0:
        if not _take(it, val):
            return False
        env.tsec = val[0]
        env.has_time = True
    return True


cdef inline bint _is_ack(const _Envelope* env) noexcept nogil:
    return env.has_event and env.event.kind == JSON_STRING and (
        json_span_eq(&env.event, b"subscribe", 9) or json_span_eq(&env.event, b"unsubscribe", 11))


cdef int _book_fields(JsonIter* it, _BookFields* bf, double* bid_px, double* bid_qty, double* ask_px,
                      double* ask_qty, Py_ssize_t capacity) noexcept:
    """Members of a book-update ``result`` object walked by ``it`` (lazily: levels parsed in place).

    0, or an error code with ``bf.err_field`` naming the field (NULL for a JSON error of the
    iteration itself). Unknown members are validated and skipped by the iterator.
    """
    cdef JsonSpan k, v
    cdef int rc
    bf.full = False
    bf.has_first = False
    bf.has_last = False
    bf.has_sym = False
    bf.has_b = False
    bf.has_a = False
    bf.first = 0
    bf.last = 0
    bf.t_ms = 0
    bf.nb = 0
    bf.na = 0
    bf.err_field = NULL
    while True:
        rc = json_object_next_lazy(it, &k, &v)
        if rc != 1:
            return rc
        if k.len == 1 and not k.has_escapes:
            if k.ptr[0] == b'b':
                rc = _levels_member(it, &v, bid_px, bid_qty, capacity, &bf.nb)
                if rc != 0:
                    bf.err_field = b"b"
                    return rc
                bf.has_b = True
            elif k.ptr[0] == b'a':
                rc = _levels_member(it, &v, ask_px, ask_qty, capacity, &bf.na)
                if rc != 0:
                    bf.err_field = b"a"
                    return rc
                bf.has_a = True
            elif k.ptr[0] == b'U':
                rc = json_span_to_int64(&v, &bf.first) if _take(it, &v) else it.state
                if rc != 0:
                    bf.err_field = b"U"
                    return rc
                bf.has_first = True
            elif k.ptr[0] == b'u':
                rc = json_span_to_int64(&v, &bf.last) if _take(it, &v) else it.state
                if rc != 0:
                    bf.err_field = b"u"
                    return rc
                bf.has_last = True
            elif k.ptr[0] == b's':
                if not _take(it, &v):
                    return it.state
                bf.sym = v
                bf.has_sym = True
            elif k.ptr[0] == b't':
                rc = json_span_to_int64(&v, &bf.t_ms) if _take(it, &v) else it.state
                if rc != 0 or bf.t_ms < 0 or bf.t_ms > 9223372036854:
                    bf.err_field = b"t"
                    return rc or JSON_ERR_VALUE
        elif _key(&k, b"full", 4):
            if v.kind == JSON_TRUE:
                bf.full = True
            elif v.kind != JSON_FALSE:     # false leaves an earlier true, as json.loads' last-wins would not
                if not _take(it, &v):
                    return it.state
                bf.err_field = b"full"
                return JSON_ERR_TYPE


cdef inline int _levels_member(JsonIter* it, JsonSpan* v, double* px, double* qty, Py_ssize_t capacity,
                               Py_ssize_t* count) noexcept:
    """A ``b``/``a`` member: a pending array parsed in place; anything else is JSON_ERR_TYPE."""
    if _pending(v) and v.kind == JSON_ARRAY:
        return json_iter_levels(it, px, qty, capacity, count)
    if not _take(it, v):
        return it.state
    return JSON_ERR_TYPE


cdef int _num(const JsonSpan* v, double* out) noexcept:
    """A price/amount: number or number-in-string; an empty string is NaN (Gate sends "" for none)."""
    if v.kind == JSON_STRING and v.len == 0:
        out[0] = NAN
        return 0
    return json_span_to_double(v, out)


cdef int _ms_to_ns(const JsonSpan* v, int64_t* out) noexcept:
    """Milliseconds as an integer or as text with a fraction ("1606292218213.4578") -> ns, exactly.

    The integer part goes through parse_int64 and up to 6 fraction digits are added as ns, so no
    float rounding touches the timestamp.
    """
    cdef const char* p = v.ptr
    cdef Py_ssize_t n = v.len, i = 0, k
    cdef int64_t ms, frac = 0, scale = 100000
    if (v.kind != JSON_STRING and v.kind != JSON_NUMBER) or (v.kind == JSON_STRING and v.has_escapes):
        return JSON_ERR_TYPE
    while i < n and p[i] != b'.':
        i += 1
    if i == 0 or parse_int64(p, i, &ms) != NUM_OK or ms < 0 or ms > 9223372036854:
        return JSON_ERR_VALUE
    if i < n:
        if i + 1 == n:
            return JSON_ERR_VALUE
        for k in range(i + 1, n):
            if p[k] < b'0' or p[k] > b'9':
                return JSON_ERR_VALUE
            if scale > 0:
                frac += (p[k] - 48) * scale
                scale //= 10
    out[0] = ms * 1000000 + frac
    return 0


cdef int _sec_to_ns(const JsonSpan* v, int64_t* out) noexcept:
    """Seconds (integer or integer-in-string) -> ns."""
    cdef int64_t s
    cdef int rc = json_span_to_int64(v, &s)
    if rc != 0:
        return rc
    if s < 0 or s > 9223372036:
        return JSON_ERR_VALUE
    out[0] = s * 1000000000
    return 0


cdef inline int _side(const JsonSpan* v) noexcept nogil:
    if v.kind != JSON_STRING:
        return -1
    if _key(v, b"buy", 3):
        return SIDE_BUY
    if _key(v, b"sell", 4):
        return SIDE_SELL
    return -1


# ---------------------------------------------------------------------------

cdef class GateioDecoder(FrameDecoder):
    """Compiled Gate.io spot v4 decoder (public or private side).

    Parameters
    ----------
    dispatcher:
        Where events go (the parser binds the user's handler to it).
    books:
        ``BookSyncGroup`` for ``spot.order_book_update`` (rule ``gateio-spot``),
        or None on the private side.
    obu_books:
        ``BookSyncGroup`` for ``spot.obu`` (rule ``gateio-obu``); its
        ``request_snapshot`` is taken over: a gap records the pair in
        :attr:`obu_resubscribe` and calls :attr:`on_obu_gap`.
    partial_books:
        ``BookSyncGroup`` for ``spot.order_book`` snapshots (each push
        replaces that book), or None.
    private:
        Decode the private channels (orders, user trades, balances).
    capacity:
        Most levels per side one frame may carry (bigger frames are refused
        with ``ParseError``); the scratch arrays are allocated once.
    exchange:
        Name carried by events.
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, BookSyncGroup obu_books=None,
                 BookSyncGroup partial_books=None, bint private=False, Py_ssize_t capacity=5000,
                 str exchange="gateio"):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        FrameDecoder.__init__(self, exchange)
        self.private = private
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self.obu_books = obu_books
        self.partial_books = partial_books
        self.on_obu_gap = None
        self.obu_resubscribe = set()
        self._obu_level = {}
        if obu_books is not None:
            obu_books.request_snapshot = self._obu_needs_snapshot
        self.capacity = capacity
        self._errors_by_kind = {}
        self._trades = EventPool(_Trade, 256)
        self._book_tickers = EventPool(_BookTicker, 256)
        self._klines = EventPool(_Kline, 64)
        self._tickers = EventPool(_Ticker, 64)
        self._orders = EventPool(_OrderUpdate, 64)
        self._fills = EventPool(_Fill, 64)
        self._balances = EventPool(_BalanceUpdate, 64)
        # the kernel's preallocated scratch: levels[0] bids, levels[1] asks
        self.use_levels(capacity, False, 2)
        self._bid_px = self.out.levels[0].px
        self._bid_qty = self.out.levels[0].qty
        self._ask_px = self.out.levels[1].px
        self._ask_qty = self.out.levels[1].qty
        self._cache_keys = []
        self._cache_vals = []
        self._cache_more = {}

    # ---- entry points (feed and classify: FrameDecoder's, over c_feed / c_classify) --------
    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        """Decode ``p[0:n]``, apply it and deliver its events; return its ``MessageType`` int."""
        self.frames += 1
        return self._decode(p, n, recv_ns, True)

    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1:
        """The ``MessageType`` of a frame without applying or emitting anything (fully validated)."""
        return self._decode(p, n, 0, False)

    cdef int _fail(self, str kind, str message) except -1:
        self.parse_errors += 1
        self._errors_by_kind[kind] = self._errors_by_kind.get(kind, 0) + 1
        raise ParseError(f"gateio: {message}")

    cdef int _json_fail(self, int rc, const char* base, const char* at, str where) except -1:
        return self._fail("json", f"{where}: {json_error_message(rc)} at byte {at - base}")

    cdef int _field_fail(self, str channel, str field, int rc) except -1:
        return self._fail("field", f"{channel}: field {field!r}: {json_error_message(rc)}")

    # ---- the frame envelope ----------------------------------------------------------------
    cdef int _decode(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -1:
        """Decode ``p[0:n]``; apply/emit only when ``apply``. Returns a MessageType int.

        The single-pass path (``_feed_fast``) takes the usual frames; when it declines (invalid JSON,
        an unusual shape) the two-pass path (``_feed_slow``) decodes the frame again and reports the
        precise error. Neither applies or emits anything before the whole frame is decoded.
        """
        cdef int rc
        rc = self._feed_fast(p, n, recv_ns, apply)
        if rc != _DECLINED:
            return rc
        return self._feed_slow(p, n, recv_ns, apply)

    cdef int _feed_fast(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -2:
        """One validating pass over the envelope and, for book updates, the ``result`` object with its
        levels parsed where they are met. ``_DECLINED`` (nothing changed but scratch) when the frame
        needs the general path."""
        cdef JsonIter it, child
        cdef JsonSpan key, val
        cdef _Envelope env
        cdef _BookFields bf
        cdef int rc, kind
        cdef const char* end = p + n
        _env_clear(&env)
        if json_object_begin(&it, p, end) < 0:
            return _DECLINED
        while True:
            rc = json_object_next_lazy(&it, &key, &val)
            if rc != 1:
                break
            if key.has_escapes:
                continue          # unknown key: a pending container is validated by the next call
            if key.len == 6 and memcmp(key.ptr, b"result", 6) == 0:
                if val.len == 0 and val.kind == JSON_OBJECT and env.has_channel:
                    kind = _channel_kind(&env.channel)
                    if kind == CH_BOOK_UPDATE or kind == CH_OBU:
                        if json_iter_child(&it, &child) < 0:
                            return _DECLINED
                        if _book_fields(&child, &bf, self._bid_px, self._bid_qty, self._ask_px,
                                        self._ask_qty, self.capacity) != 0:
                            return _DECLINED
                        if json_iter_child_end(&it, &child) < 0:
                            return _DECLINED
                        env.result = val
                        env.has_result = True
                        env.book_parsed = True
                        continue
                if not _take(&it, &val):
                    return _DECLINED
                env.result = val
                env.has_result = True
                env.book_parsed = False
            elif not _envelope_member(&it, &key, &val, &env):
                return _DECLINED
        if rc < 0 or json_expect_end(it.p, end) < 0:
            return _DECLINED
        if env.book_parsed:
            # the parsed result is used only as the book update it was parsed for
            if not env.has_channel or env.has_error or _is_ack(&env):
                return _DECLINED
            kind = _channel_kind(&env.channel)
            if kind != CH_BOOK_UPDATE and kind != CH_OBU:
                return _DECLINED
        return self._dispatch(&env, &bf, recv_ns, apply)

    cdef int _feed_slow(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -1:
        """The general path: the whole frame validated by the envelope scan, then each part decoded."""
        cdef JsonIter it
        cdef JsonSpan key, val
        cdef _Envelope env
        cdef int rc
        cdef const char* end = p + n
        _env_clear(&env)
        rc = json_object_begin(&it, p, end)
        if rc < 0:
            return self._json_fail(rc, p, it.p if it.p != NULL else p, "frame is not a JSON object")
        while True:
            rc = json_object_next(&it, &key, &val)
            if rc != 1:
                break
            if key.has_escapes:
                continue
            if key.len == 6 and memcmp(key.ptr, b"result", 6) == 0:
                env.result = val
                env.has_result = True
            else:
                _envelope_member(&it, &key, &val, &env)   # values are complete here: never declines
        if rc < 0:
            return self._json_fail(rc, p, it.p, "invalid JSON")
        rc = json_expect_end(it.p, end)
        if rc < 0:
            return self._json_fail(rc, p, it.p, "invalid JSON")
        return self._dispatch(&env, NULL, recv_ns, apply)

    cdef int _dispatch(self, _Envelope* env, _BookFields* bf, int64_t recv_ns, bint apply) except -1:
        """Everything after the envelope scan: timestamps, acks, channel dispatch, counters."""
        cdef int kind
        cdef int64_t ts_ns = 0
        cdef JsonSpan* result = &env.result
        if env.has_time_ms:
            if _ms_to_ns(&env.time_ms, &ts_ns) != 0:
                return self._fail("field", "field 'time_ms' is not an integer in ms")
        elif env.has_time:
            if _sec_to_ns(&env.tsec, &ts_ns) != 0:
                return self._fail("field", "field 'time' is not an integer in seconds")
        if _is_ack(env):
            # a subscription ack: success only when error is null and result.status == "success"
            self._control(env)
            if env.has_error or not env.has_result or not self._status_success(result):
                self.error_frames += 1
                if self.control_code == 0:
                    self.control_code = -1
                return MessageType.ERROR
            self.acks += 1
            return MessageType.SUBSCRIPTION_ACK
        if not env.has_channel:
            if env.has_error:
                self._control(env)
                self.error_frames += 1
                return MessageType.ERROR
            return self._fail("schema", "frame has no 'channel'")
        kind = _channel_kind(&env.channel)
        if kind == CH_PONG:
            self.pongs += 1
            return MessageType.PONG
        if env.has_error:
            self.error_frames += 1
            return MessageType.ERROR
        if kind == CH_OTHER:
            self.unknown_frames += 1
            return MessageType.UNKNOWN
        if not env.has_result or (result.kind != JSON_OBJECT and result.kind != JSON_ARRAY):
            return self._fail("schema", f"{self._channel_str(kind)}: 'result' missing or not an object/array")
        if kind == CH_BOOK_UPDATE or kind == CH_OBU:
            if env.book_parsed:
                self._book_apply(bf, kind == CH_OBU, recv_ns, apply)
            else:
                self._book_update(result, kind == CH_OBU, recv_ns, apply)
        elif kind == CH_ORDER_BOOK:
            self._order_book(result, recv_ns, apply)
        elif kind == CH_TRADES:
            self._trade(result, recv_ns, apply)
        elif kind == CH_BOOK_TICKER:
            self._book_ticker(result, recv_ns, apply)
        elif kind == CH_CANDLES:
            self._candle(result, ts_ns, recv_ns, apply)
        elif kind == CH_TICKERS:
            self._ticker(result, ts_ns, recv_ns, apply)
        elif kind == CH_ORDERS or kind == CH_USERTRADES or kind == CH_BALANCES:
            if not self.private:
                self.unknown_frames += 1
                return MessageType.UNKNOWN
            self._private_array(kind, result, recv_ns, apply)
        if apply:
            self.data_frames += 1
        return MessageType.DATA

    cdef int _control(self, _Envelope* env) except -1:
        """control_id (the request id), control_code/text (the error object's code and message, or
        the channel), decoded once for the subscription strategy."""
        cdef int64_t v
        self.control_id = -1
        self.control_code = 0
        self.control_text = kt_text(&env.channel) if env.has_channel and env.channel.kind == JSON_STRING else None
        if env.has_id and json_span_to_int64(&env.id, &v) == 0:
            self.control_id = v
        if env.has_error and env.error.kind == JSON_OBJECT \
                and kt_scan_span(&_ERROR_FIELDS.table, &env.error, &self.out) == 0:
            if kt_seen(&self.out, 0):
                self.control_code = self.out.i64[0]
            if kt_seen(&self.out, 1):
                self.control_text = kt_text(&self.out.span[1])
        return 0

    cdef str _channel_str(self, int kind):
        return {CH_BOOK_UPDATE: "spot.order_book_update", CH_OBU: "spot.obu", CH_ORDER_BOOK: "spot.order_book",
                CH_TRADES: "spot.trades", CH_BOOK_TICKER: "spot.book_ticker", CH_CANDLES: "spot.candlesticks",
                CH_TICKERS: "spot.tickers", CH_ORDERS: "spot.orders", CH_USERTRADES: "spot.usertrades",
                CH_BALANCES: "spot.balances"}.get(kind, "?")

    cdef bint _status_success(self, const JsonSpan* result) noexcept:
        cdef JsonIter it
        cdef JsonSpan k, v
        if result.kind != JSON_OBJECT:
            return False
        if json_object_begin(&it, result.ptr, result.ptr + result.len) < 0:
            return False
        while json_object_next(&it, &k, &v) == 1:
            if _key(&k, b"status", 6):
                return v.kind == JSON_STRING and json_span_eq(&v, b"success", 7)
        return False

    # ---- symbols ------------------------------------------------------------------------
    cdef str c_intern(self, const char* p, Py_ssize_t n):
        """The str for ``p[0:n]`` from a small cache (no allocation on a hit)."""
        cdef Py_ssize_t i, m = len(self._cache_keys)
        cdef bytes k
        for i in range(m):
            k = <bytes>self._cache_keys[i]
            if PyBytes_GET_SIZE(k) == n and memcmp(PyBytes_AS_STRING(k), p, n) == 0:
                return <str>self._cache_vals[i]
        k = p[:n]
        s = self._cache_more.get(k)
        if s is None:
            s = PyUnicode_DecodeUTF8(p, n, "replace")
            if m < SYMBOL_CACHE:
                self._cache_keys.append(k)
                self._cache_vals.append(s)
            else:
                if len(self._cache_more) > 100000:
                    self._cache_more.clear()  # bounded: hostile streams of new names cannot grow it forever
                self._cache_more[k] = s
        return <str>s

    cdef int _plain_string(self, const JsonSpan* v, str channel, str field) except -1:
        if v.kind != JSON_STRING or v.has_escapes or v.len == 0:
            return self._fail("field", f"{channel}: field {field!r} must be a non-empty plain string")
        return 0

    cdef str _text(self, const JsonSpan* v):
        """A string value as str (rare escapes resolved by the json module); numbers as their text."""
        if v.kind == JSON_STRING:
            if v.has_escapes:
                return _json.loads(b'"' + v.ptr[:v.len] + b'"')
            return PyUnicode_DecodeUTF8(v.ptr, v.len, "strict")
        if v.kind == JSON_NUMBER:
            return PyUnicode_DecodeUTF8(v.ptr, v.len, "strict")
        return ""

    # ---- books --------------------------------------------------------------------------
    cdef int _book_update(self, const JsonSpan* result, bint obu, int64_t recv_ns, bint apply) except -1:
        cdef JsonIter it
        cdef _BookFields bf
        cdef int rc
        cdef str ch = "spot.obu" if obu else "spot.order_book_update"
        if result.kind != JSON_OBJECT:
            return self._fail("schema", f"{ch}: 'result' must be an object")
        json_object_begin(&it, result.ptr, result.ptr + result.len)
        rc = _book_fields(&it, &bf, self._bid_px, self._bid_qty, self._ask_px, self._ask_qty, self.capacity)
        if rc < 0:
            if bf.err_field == NULL:
                return self._json_fail(rc, result.ptr, it.p, f"{ch}: 'result'")
            return self._field_fail(ch, (<bytes>bf.err_field).decode(), rc)
        return self._book_apply(&bf, obu, recv_ns, apply)

    cdef int _book_apply(self, _BookFields* bf, bint obu, int64_t recv_ns, bint apply) except -1:
        """Checks of a decoded book update, then (when ``apply``) the book sync call."""
        cdef str ch = "spot.obu" if obu else "spot.order_book_update"
        cdef bint full = bf.full
        cdef int64_t first = bf.first, last = bf.last, t_ms = bf.t_ms
        cdef Py_ssize_t nb = bf.nb, na = bf.na, i, dot
        cdef JsonSpan sym = bf.sym
        cdef BookSyncGroup group
        cdef BookSync sync
        if not bf.has_sym:
            return self._fail("schema", f"{ch}: missing 's'")
        self._plain_string(&sym, ch, "s")
        if not bf.has_last or not (bf.has_b or bf.has_a):
            return self._fail("schema", f"{ch}: missing 'u', 'b' or 'a'")
        if not bf.has_first:
            if not full:
                return self._fail("schema", f"{ch}: an increment needs 'U'")
            first = last
        if last < first or first < 0:
            return self._fail("sequence", f"{ch}: update ids out of order (U={first} > u={last})")
        if not kt_levels_ok(self._bid_px, self._bid_qty, nb) or not kt_levels_ok(self._ask_px, self._ask_qty, na):
            return self._fail("levels", f"{ch}: a level has a non-finite or non-positive price or a negative amount")
        # the pair: obu streams are named "ob.<PAIR>.<LEVEL>"
        cdef const char* sp = sym.ptr
        cdef Py_ssize_t sn = sym.len
        if obu:
            dot = -1
            for i in range(sn - 1, -1, -1):
                if sp[i] == b'.':
                    dot = i
                    break
            if sn < 6 or memcmp(sp, b"ob.", 3) != 0 or dot <= 3:
                return self._fail("field", f"{ch}: 's' must be a stream name 'ob.PAIR.LEVEL'")
            group = self.obu_books
            if not apply:
                return 0
            if group is None:
                return self._fail("schema", f"{ch}: this decoder keeps no obu books")
            sync = group.c_get(sp + 3, dot - 3)
            if full:
                if sync.symbol not in self._obu_level:
                    self._obu_level[sync.symbol] = PyUnicode_DecodeUTF8(sp + dot + 1, sn - dot - 1, "replace")
                self.obu_resubscribe.discard(sync.symbol)
        else:
            group = self.books
            if not apply:
                return 0
            if group is None:
                return self._fail("schema", f"{ch}: this decoder keeps no books")
            sync = group.c_get(sp, sn)
        if full:
            sync.on_full_snapshot(last, self._bid_px, self._bid_qty, nb, self._ask_px, self._ask_qty, na,
                                  t_ms * 1000000, recv_ns)
        else:
            # levels and ids were checked above (kernel rule): BookSync does not check them again
            sync.on_delta_validated(first, last, 0, self._bid_px, self._bid_qty, nb, self._ask_px, self._ask_qty,
                                    na, t_ms * 1000000, recv_ns)
        return 0

    def _obu_needs_snapshot(self, BookSync sync):
        """obu has no REST snapshot: a gap (or a delta before the first snapshot) means resubscribe."""
        pair = sync.symbol
        self.obu_resubscribe.add(pair)
        callback = self.on_obu_gap
        if callback is not None:
            level = self._obu_level.get(pair, "50")
            try:
                callback(pair, f"ob.{pair}.{level}")
            except Exception as exc:  # the feed goes on whatever the callback does
                self.dispatcher.report(exc)

    cdef int _order_book(self, const JsonSpan* result, int64_t recv_ns, bint apply) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v, sym
        cdef int rc
        cdef str ch = "spot.order_book"
        cdef bint has_sym = False, has_id = False, has_b = False, has_a = False
        cdef int64_t uid = 0, t_ms = 0
        cdef Py_ssize_t nb = 0, na = 0
        cdef BookSync sync
        if result.kind != JSON_OBJECT:
            return self._fail("schema", f"{ch}: 'result' must be an object")
        json_object_begin(&it, result.ptr, result.ptr + result.len)
        while json_object_next(&it, &k, &v) == 1:
            if _key(&k, b"bids", 4):
                rc = json_parse_levels(&v, self._bid_px, self._bid_qty, self.capacity, &nb)
                if rc != 0:
                    return self._field_fail(ch, "bids", rc)
                has_b = True
            elif _key(&k, b"asks", 4):
                rc = json_parse_levels(&v, self._ask_px, self._ask_qty, self.capacity, &na)
                if rc != 0:
                    return self._field_fail(ch, "asks", rc)
                has_a = True
            elif _key(&k, b"lastUpdateId", 12):
                rc = json_span_to_int64(&v, &uid)
                if rc != 0:
                    return self._field_fail(ch, "lastUpdateId", rc)
                has_id = True
            elif _key(&k, b"s", 1):
                sym = v
                has_sym = True
            elif _key(&k, b"t", 1):
                rc = json_span_to_int64(&v, &t_ms)
                if rc != 0 or t_ms < 0 or t_ms > 9223372036854:
                    return self._field_fail(ch, "t", rc or JSON_ERR_VALUE)
        if not (has_sym and has_id and has_b and has_a):
            return self._fail("schema", f"{ch}: needs 's', 'lastUpdateId', 'bids' and 'asks'")
        self._plain_string(&sym, ch, "s")
        if not kt_levels_ok(self._bid_px, self._bid_qty, nb) or not kt_levels_ok(self._ask_px, self._ask_qty, na):
            return self._fail("levels", f"{ch}: a level has a non-finite or non-positive price or a negative amount")
        if not apply:
            return 0
        if self.partial_books is None:
            return self._fail("schema", f"{ch}: this decoder keeps no partial books")
        sync = self.partial_books.c_get(sym.ptr, sym.len)
        sync.on_full_snapshot(uid, self._bid_px, self._bid_qty, nb, self._ask_px, self._ask_qty, na,
                              t_ms * 1000000, recv_ns)
        return 0

    # ---- public events --------------------------------------------------------------------
    cdef int _trade(self, const JsonSpan* result, int64_t recv_ns, bint apply) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v, sym
        cdef str ch = "spot.trades"
        cdef int rc, side = -1
        cdef int64_t tid = 0, ts = 0, id_market = 0
        cdef double price = NAN, qty = NAN
        cdef bint has_sym = False, has_id = False, has_ts = False
        cdef Trade ev
        if result.kind != JSON_OBJECT:
            return self._fail("schema", f"{ch}: 'result' must be an object")
        json_object_begin(&it, result.ptr, result.ptr + result.len)
        while json_object_next(&it, &k, &v) == 1:
            if _key(&k, b"price", 5):
                rc = json_span_to_double(&v, &price)
                if rc != 0:
                    return self._field_fail(ch, "price", rc)
            elif _key(&k, b"amount", 6):
                rc = json_span_to_double(&v, &qty)
                if rc != 0:
                    return self._field_fail(ch, "amount", rc)
            elif _key(&k, b"id", 2):
                rc = json_span_to_int64(&v, &tid)
                if rc != 0:
                    return self._field_fail(ch, "id", rc)
                has_id = True
            elif _key(&k, b"side", 4):
                side = _side(&v)
                if side < 0:
                    return self._field_fail(ch, "side", JSON_ERR_VALUE)
            elif _key(&k, b"currency_pair", 13):
                sym = v
                has_sym = True
            elif _key(&k, b"create_time_ms", 14):
                rc = _ms_to_ns(&v, &ts)
                if rc != 0:
                    return self._field_fail(ch, "create_time_ms", rc)
                has_ts = True
            elif _key(&k, b"create_time", 11) and not has_ts:
                rc = _sec_to_ns(&v, &ts)
                if rc != 0:
                    return self._field_fail(ch, "create_time", rc)
            elif _key(&k, b"id_market", 9):
                rc = json_span_to_int64(&v, &id_market)  # validated; Trade carries the all-market ``id``
                if rc != 0:
                    return self._field_fail(ch, "id_market", rc)
        if not (has_sym and has_id) or side < 0 or isnan(price) or isnan(qty):
            return self._fail("schema", f"{ch}: needs 'currency_pair', 'id', 'side', 'price' and 'amount'")
        if not (kt_price_ok(price) and kt_size_ok(qty)):
            return self._fail("field", f"{ch}: price must be finite and > 0, amount finite and >= 0")
        self._plain_string(&sym, ch, "currency_pair")
        if not apply:
            return 0
        ev = <Trade>self._trades.acquire()
        ev.exchange = self.exchange
        ev.symbol = self.c_intern(sym.ptr, sym.len)
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        ev.price = price
        ev.qty = qty
        ev.side = side
        ev.trade_id = tid
        ev.trade_id_str = ""
        return self.dispatcher.emit(ev)

    cdef int _book_ticker(self, const JsonSpan* result, int64_t recv_ns, bint apply) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v, sym
        cdef str ch = "spot.book_ticker"
        cdef int rc
        cdef int64_t uid = 0, t_ms = 0
        cdef double bp = NAN, bq = NAN, ap = NAN, aq = NAN
        cdef bint has_sym = False
        cdef BookTicker ev
        if result.kind != JSON_OBJECT:
            return self._fail("schema", f"{ch}: 'result' must be an object")
        json_object_begin(&it, result.ptr, result.ptr + result.len)
        while json_object_next(&it, &k, &v) == 1:
            if k.len != 1 or k.has_escapes:
                continue
            if k.ptr[0] == b'b':
                rc = _num(&v, &bp)
            elif k.ptr[0] == b'B':
                rc = _num(&v, &bq)
            elif k.ptr[0] == b'a':
                rc = _num(&v, &ap)
            elif k.ptr[0] == b'A':
                rc = _num(&v, &aq)
            elif k.ptr[0] == b'u':
                rc = json_span_to_int64(&v, &uid)
            elif k.ptr[0] == b't':
                rc = json_span_to_int64(&v, &t_ms)
                if rc == 0 and (t_ms < 0 or t_ms > 9223372036854):
                    rc = JSON_ERR_VALUE
            elif k.ptr[0] == b's':
                sym = v
                has_sym = True
                rc = 0
            else:
                rc = 0
            if rc != 0:
                return self._field_fail(ch, PyUnicode_DecodeUTF8(k.ptr, 1, "strict"), rc)
        if not has_sym:
            return self._fail("schema", f"{ch}: missing 's'")
        # the one rule for prices and sizes; an absent (or "") side stays NaN
        if not ((isnan(bp) or kt_price_ok(bp)) and (isnan(bq) or kt_size_ok(bq))
                and (isnan(ap) or kt_price_ok(ap)) and (isnan(aq) or kt_size_ok(aq))):
            return self._fail("field", f"{ch}: prices must be finite and > 0, amounts finite and >= 0")
        self._plain_string(&sym, ch, "s")
        if not apply:
            return 0
        ev = <BookTicker>self._book_tickers.acquire()
        ev.exchange = self.exchange
        ev.symbol = self.c_intern(sym.ptr, sym.len)
        ev.exchange_ts_ns = t_ms * 1000000
        ev.recv_ns = recv_ns
        ev.bid_price = bp
        ev.bid_qty = bq
        ev.ask_price = ap
        ev.ask_qty = aq
        ev.update_id = uid
        return self.dispatcher.emit(ev)

    cdef int _candle(self, const JsonSpan* result, int64_t ts_ns, int64_t recv_ns, bint apply) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v, name
        cdef str ch = "spot.candlesticks"
        cdef int rc = 0
        cdef int64_t open_ns = 0
        cdef double o = NAN, h = NAN, l = NAN, c = NAN, vol = NAN, qvol = NAN
        cdef bint has_name = False, has_t = False, closed = False
        cdef Py_ssize_t i, us = -1
        cdef Kline ev
        if result.kind != JSON_OBJECT:
            return self._fail("schema", f"{ch}: 'result' must be an object")
        json_object_begin(&it, result.ptr, result.ptr + result.len)
        while json_object_next(&it, &k, &v) == 1:
            if k.len != 1 or k.has_escapes:
                continue
            if k.ptr[0] == b'o':
                rc = _num(&v, &o)
            elif k.ptr[0] == b'h':
                rc = _num(&v, &h)
            elif k.ptr[0] == b'l':
                rc = _num(&v, &l)
            elif k.ptr[0] == b'c':
                rc = _num(&v, &c)
            elif k.ptr[0] == b'v':
                rc = _num(&v, &qvol)   # Gate.io: "v" is the volume in the quote currency
            elif k.ptr[0] == b'a':
                rc = _num(&v, &vol)    # "a": the amount in the base currency (newer frames only)
            elif k.ptr[0] == b't':
                rc = _sec_to_ns(&v, &open_ns)
                has_t = rc == 0
            elif k.ptr[0] == b'w':
                if v.kind == JSON_TRUE:
                    closed = True
                elif v.kind != JSON_FALSE:
                    rc = JSON_ERR_TYPE
            elif k.ptr[0] == b'n':
                name = v
                has_name = True
            else:
                rc = 0
            if rc != 0:
                return self._field_fail(ch, PyUnicode_DecodeUTF8(k.ptr, 1, "strict"), rc)
        if not (has_name and has_t):
            return self._fail("schema", f"{ch}: needs 'n' and 't'")
        self._plain_string(&name, ch, "n")
        for i in range(name.len):
            if name.ptr[i] == b'_':
                us = i
                break
        if us <= 0 or us == name.len - 1:
            return self._fail("field", f"{ch}: 'n' must be '<interval>_<pair>'")
        if not apply:
            return 0
        interval = self.c_intern(name.ptr, us)
        seconds = _INTERVAL_SECONDS.get(interval, 0)
        ev = <Kline>self._klines.acquire()
        ev.exchange = self.exchange
        ev.symbol = self.c_intern(name.ptr + us + 1, name.len - us - 1)
        ev.exchange_ts_ns = ts_ns
        ev.recv_ns = recv_ns
        ev.interval = interval
        ev.open_time_ns = open_ns
        ev.close_time_ns = open_ns + <int64_t>seconds * 1000000000 if seconds else open_ns
        ev.open = o
        ev.high = h
        ev.low = l
        ev.close = c
        ev.volume = vol
        ev.quote_volume = qvol
        ev.closed = closed
        return self.dispatcher.emit(ev)

    cdef int _ticker(self, const JsonSpan* result, int64_t ts_ns, int64_t recv_ns, bint apply) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v, sym
        cdef str ch = "spot.tickers"
        cdef int rc
        cdef double last = NAN, high = NAN, low = NAN, vol = NAN, qvol = NAN, chg = NAN
        cdef bint has_sym = False
        cdef Ticker ev
        if result.kind != JSON_OBJECT:
            return self._fail("schema", f"{ch}: 'result' must be an object")
        json_object_begin(&it, result.ptr, result.ptr + result.len)
        while json_object_next(&it, &k, &v) == 1:
            rc = 0
            if _key(&k, b"last", 4):
                rc = _num(&v, &last)
            elif _key(&k, b"high_24h", 8):
                rc = _num(&v, &high)
            elif _key(&k, b"low_24h", 7):
                rc = _num(&v, &low)
            elif _key(&k, b"base_volume", 11):
                rc = _num(&v, &vol)
            elif _key(&k, b"quote_volume", 12):
                rc = _num(&v, &qvol)
            elif _key(&k, b"change_percentage", 17):
                rc = _num(&v, &chg)
            elif _key(&k, b"currency_pair", 13):
                sym = v
                has_sym = True
            if rc != 0:
                return self._field_fail(ch, self._text(&k), rc)
        if not has_sym:
            return self._fail("schema", f"{ch}: missing 'currency_pair'")
        self._plain_string(&sym, ch, "currency_pair")
        if not apply:
            return 0
        ev = <Ticker>self._tickers.acquire()
        ev.exchange = self.exchange
        ev.symbol = self.c_intern(sym.ptr, sym.len)
        ev.exchange_ts_ns = ts_ns
        ev.recv_ns = recv_ns
        ev.last = last
        ev.high = high
        ev.low = low
        ev.volume = vol
        ev.quote_volume = qvol
        ev.change_pct = chg
        return self.dispatcher.emit(ev)

    # ---- private channels (arrays) -----------------------------------------------------------
    cdef int _private_array(self, int kind, const JsonSpan* result, int64_t recv_ns, bint apply) except -1:
        """Validate every element first (nothing emitted), then emit them in order."""
        cdef JsonIter it
        cdef JsonSpan v
        cdef int rc, emit_pass
        cdef str ch = self._channel_str(kind)
        if result.kind != JSON_ARRAY:
            return self._fail("schema", f"{ch}: 'result' must be an array")
        for emit_pass in range(2 if apply else 1):
            json_array_begin(&it, result.ptr, result.ptr + result.len)
            while True:
                rc = json_array_next(&it, &v)
                if rc != 1:
                    break
                if v.kind != JSON_OBJECT:
                    return self._fail("schema", f"{ch}: every element must be an object")
                if kind == CH_ORDERS:
                    self._order(&v, recv_ns, emit_pass == 1)
                elif kind == CH_USERTRADES:
                    self._fill(&v, recv_ns, emit_pass == 1)
                else:
                    self._balance(&v, recv_ns, emit_pass == 1)
        return 0

    cdef int _order(self, const JsonSpan* obj, int64_t recv_ns, bint emit) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v
        cdef JsonSpan oid, text, sym, typ, event, finish_as
        cdef bint has_oid = False, has_text = False, has_sym = False, has_type = False
        cdef bint has_event = False, has_finish = False, has_filled = False
        cdef str ch = "spot.orders"
        cdef int rc, side = -1
        cdef int64_t ts = 0
        cdef double price = NAN, qty = NAN, left = NAN, filled = NAN, avg = NAN
        cdef OrderUpdate ev
        json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
        while json_object_next(&it, &k, &v) == 1:
            rc = 0
            if _key(&k, b"id", 2):
                oid = v
                has_oid = v.kind == JSON_STRING or v.kind == JSON_NUMBER
            elif _key(&k, b"text", 4):
                text = v
                has_text = v.kind == JSON_STRING
            elif _key(&k, b"currency_pair", 13):
                sym = v
                has_sym = True
            elif _key(&k, b"type", 4):
                typ = v
                has_type = v.kind == JSON_STRING
            elif _key(&k, b"event", 5):
                event = v
                has_event = v.kind == JSON_STRING
            elif _key(&k, b"finish_as", 9):
                finish_as = v
                has_finish = v.kind == JSON_STRING
            elif _key(&k, b"side", 4):
                side = _side(&v)
                if side < 0:
                    rc = JSON_ERR_VALUE
            elif _key(&k, b"price", 5):
                rc = _num(&v, &price)
            elif _key(&k, b"amount", 6):
                rc = _num(&v, &qty)
            elif _key(&k, b"left", 4):
                rc = _num(&v, &left)
            elif _key(&k, b"filled_amount", 13):
                rc = _num(&v, &filled)
                has_filled = True
            elif _key(&k, b"avg_deal_price", 14):
                rc = _num(&v, &avg)
            elif _key(&k, b"update_time_ms", 14):
                rc = _ms_to_ns(&v, &ts)
            if rc != 0:
                return self._field_fail(ch, self._text(&k), rc)
        if not (has_oid and has_sym) or side < 0:
            return self._fail("schema", f"{ch}: an order needs 'id', 'currency_pair' and 'side'")
        self._plain_string(&sym, ch, "currency_pair")
        if not emit:
            return 0
        if not has_filled and isfinite(qty) and isfinite(left):
            filled = qty - left  # older frames carry only 'left'
        ev = <OrderUpdate>self._orders.acquire()
        ev.exchange = self.exchange
        ev.symbol = self.c_intern(sym.ptr, sym.len)
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        ev.order_id = self._text(&oid)
        ev.client_order_id = self._text(&text) if has_text else ""
        ev.side = side
        ev.order_type = self._text(&typ) if has_type else ""
        # status: the push event ("put", "update"), or how the order ended ("filled", "cancelled", ...)
        if has_event and json_span_eq(&event, b"finish", 6) and has_finish:
            ev.status = self._text(&finish_as)
        else:
            ev.status = self._text(&event) if has_event else ""
        ev.price = price
        ev.qty = qty
        ev.filled_qty = filled
        ev.avg_price = avg
        return self.dispatcher.emit(ev)

    cdef int _fill(self, const JsonSpan* obj, int64_t recv_ns, bint emit) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v
        cdef JsonSpan oid, tid, sym, fee_ccy, role
        cdef bint has_oid = False, has_tid = False, has_sym = False, has_fee_ccy = False, has_role = False
        cdef str ch = "spot.usertrades"
        cdef int rc, side = -1
        cdef int64_t ts = 0
        cdef double price = NAN, qty = NAN, fee = NAN
        cdef Fill ev
        json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
        while json_object_next(&it, &k, &v) == 1:
            rc = 0
            if _key(&k, b"id", 2):
                tid = v
                has_tid = v.kind == JSON_STRING or v.kind == JSON_NUMBER
            elif _key(&k, b"order_id", 8):
                oid = v
                has_oid = v.kind == JSON_STRING or v.kind == JSON_NUMBER
            elif _key(&k, b"currency_pair", 13):
                sym = v
                has_sym = True
            elif _key(&k, b"fee_currency", 12):
                fee_ccy = v
                has_fee_ccy = v.kind == JSON_STRING
            elif _key(&k, b"role", 4):
                role = v
                has_role = v.kind == JSON_STRING
            elif _key(&k, b"side", 4):
                side = _side(&v)
                if side < 0:
                    rc = JSON_ERR_VALUE
            elif _key(&k, b"price", 5):
                rc = _num(&v, &price)
            elif _key(&k, b"amount", 6):
                rc = _num(&v, &qty)
            elif _key(&k, b"fee", 3):
                rc = _num(&v, &fee)
            elif _key(&k, b"create_time_ms", 14):
                rc = _ms_to_ns(&v, &ts)
            if rc != 0:
                return self._field_fail(ch, self._text(&k), rc)
        if not (has_oid and has_tid and has_sym) or side < 0:
            return self._fail("schema", f"{ch}: a trade needs 'id', 'order_id', 'currency_pair' and 'side'")
        self._plain_string(&sym, ch, "currency_pair")
        if not emit:
            return 0
        ev = <Fill>self._fills.acquire()
        ev.exchange = self.exchange
        ev.symbol = self.c_intern(sym.ptr, sym.len)
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        ev.order_id = self._text(&oid)
        ev.trade_id = self._text(&tid)
        ev.side = side
        ev.price = price
        ev.qty = qty
        ev.fee = fee
        ev.fee_asset = self._text(&fee_ccy) if has_fee_ccy else ""
        ev.is_maker = has_role and json_span_eq(&role, b"maker", 5)
        return self.dispatcher.emit(ev)

    cdef int _balance(self, const JsonSpan* obj, int64_t recv_ns, bint emit) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v, ccy
        cdef bint has_ccy = False
        cdef str ch = "spot.balances"
        cdef int rc
        cdef int64_t ts = 0
        cdef double free = NAN, locked = NAN
        cdef BalanceUpdate ev
        json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
        while json_object_next(&it, &k, &v) == 1:
            rc = 0
            if _key(&k, b"currency", 8):
                ccy = v
                has_ccy = True
            elif _key(&k, b"available", 9):
                rc = _num(&v, &free)
            elif _key(&k, b"freeze", 6):
                rc = _num(&v, &locked)
            elif _key(&k, b"timestamp_ms", 12):
                rc = _ms_to_ns(&v, &ts)
            if rc != 0:
                return self._field_fail(ch, self._text(&k), rc)
        if not has_ccy:
            return self._fail("schema", f"{ch}: a balance needs 'currency'")
        self._plain_string(&ccy, ch, "currency")
        if not emit:
            return 0
        ev = <BalanceUpdate>self._balances.acquire()
        ev.exchange = self.exchange
        ev.asset = self.c_intern(ccy.ptr, ccy.len)
        ev.symbol = ev.asset
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        ev.free = free
        ev.locked = locked
        return self.dispatcher.emit(ev)

    # ---- Python API -------------------------------------------------------------------------
    def take_obu_resubscribe(self):
        """The pairs whose obu stream must be resubscribed (and forget them)."""
        out = sorted(self.obu_resubscribe)
        self.obu_resubscribe.clear()
        return out

    def _errors_by_kind_all(self):
        by_kind = dict(self._errors_by_kind)
        # frames FrameDecoder.feed refused before decoding (not bytes/str/a buffer, not UTF-8)
        refused = self.parse_errors - sum(by_kind.values())
        if refused > 0:
            by_kind["type"] = refused
        return by_kind

    def stats(self):
        """Counters: frames, data/ack/pong/error/unknown frames, parse errors and errors by kind."""
        return {
            "frames": self.frames, "data_frames": self.data_frames, "acks": self.acks, "pongs": self.pongs,
            "error_frames": self.error_frames, "unknown_frames": self.unknown_frames,
            "parse_errors": self.parse_errors, "errors_by_kind": self._errors_by_kind_all(),
            "obu_resubscribe": sorted(self.obu_resubscribe),
        }
