# cython: language_level=3
"""Bybit v5 frame decoder: JSON text frames -> events and book updates, in C.

Frames (protocols.md section 6, the 2026 recording)::

    {"topic":"orderbook.200.BTCUSDT","type":"snapshot"|"delta","ts":ms,"data":{"s":..,"b":[[p,q]..],"a":..,"u":N,"seq":N},"cts":ms}
    {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":ms,"data":[{"T":ms,"s":..,"S":"Buy","v":..,"p":..,"i":..}]}
    {"topic":"tickers.BTCUSDT","type":"snapshot"|"delta","data":{"symbol":..,"bid1Price":..,"lastPrice":..},"cs":N,"ts":ms}
    {"topic":"kline.1.BTCUSDT","data":[{"start":ms,"end":ms,"interval":"1","open":..,"confirm":false,..}],"ts":ms}
    {"id":..,"topic":"order"|"execution"|"wallet","creationTime":ms,"data":[..]}             (private)
    {"success":true,"ret_msg":"","conn_id":..,"req_id":"7","op":"subscribe"|"auth"|"ping"}   (control)

The envelope is walked once with the lazy JSON kernel; an ``orderbook`` ``data`` object is decoded in
place (levels straight into the scratch arrays). Other payloads are small objects read through key
tables (:c:func:`_fields`): every item of an array is decoded once without emitting, then again
emitting, so a malformed frame raises ``ParseError`` (naming the field and the byte offset) and
nothing of it reaches a book or the handler.
"""
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.math cimport NAN, isfinite
from libc.stdint cimport int64_t
from libc.string cimport memcmp, memset

import json as _json

import numpy as np

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_ERR_TYPE, JSON_ERR_VALUE, JSON_FALSE, JSON_NUMBER, JSON_OBJECT, JSON_STRING, JSON_TRUE,
    JsonIter, JsonSpan, json_array_begin, json_array_next, json_expect_end, json_iter_child,
    json_iter_child_end, json_iter_levels, json_iter_take, json_object_begin, json_object_next,
    json_object_next_lazy, json_span_to_double, json_span_to_int64,
)
from feedhandler.codec.numbers cimport NUM_OK, parse_int64
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, BalanceUpdate, BookTicker, EventPool, Fill, Kline, OrderUpdate, Ticker, Trade,
)
from feedhandler.sync.book_sync cimport WAITING, BookSync, BookSyncGroup

from feedhandler.codec.json_scan import json_error_message
from feedhandler.core.errors import AuthenticationError, ParseError
from feedhandler.events.events import (
    BalanceUpdate as _BalanceUpdate, BookTicker as _BookTicker, Fill as _Fill, Kline as _Kline,
    OrderUpdate as _OrderUpdate, Ticker as _Ticker, Trade as _Trade,
)

cdef enum:
    # MessageType values (feedhandler.core.types)
    MT_UNKNOWN = 0
    MT_DATA = 1
    MT_SUBSCRIPTION_ACK = 2
    MT_PONG = 3
    MT_ERROR = 4
    MT_AUTH_ACK = 6
    MT_RECONNECT = 7
    # topic kinds
    T_NONE = 0
    T_OTHER = 1
    T_BOOK = 2
    T_TRADE = 3
    T_TICKER = 4
    T_KLINE = 5
    T_ORDER = 6
    T_EXEC = 7
    T_WALLET = 8
    # _fail: the field is absent (not a JSON_ERR_* code)
    _MISSING = -100
    _BAD_LEVEL = -101
    _MISMATCH = -102
    _CACHE_SIZE = 256

# The keys each payload is read by; an index in a table is the slot its value lands in.
cdef extern from *:
    """
    typedef struct { const char* name; Py_ssize_t len; } bb_key;
    #define BB_K(s) {s, (Py_ssize_t)(sizeof(s) - 1)}
    static bb_key BB_TRADE[] = {BB_K("T"), BB_K("S"), BB_K("v"), BB_K("p"), BB_K("i")};
    static bb_key BB_KLINE[] = {BB_K("start"), BB_K("end"), BB_K("interval"), BB_K("open"), BB_K("high"),
        BB_K("low"), BB_K("close"), BB_K("volume"), BB_K("turnover"), BB_K("confirm"), BB_K("timestamp")};
    static bb_key BB_TICKER[] = {BB_K("bid1Price"), BB_K("bid1Size"), BB_K("ask1Price"), BB_K("ask1Size"),
        BB_K("lastPrice"), BB_K("highPrice24h"), BB_K("lowPrice24h"), BB_K("volume24h"), BB_K("turnover24h"),
        BB_K("price24hPcnt")};
    static bb_key BB_ORDER[] = {BB_K("symbol"), BB_K("orderId"), BB_K("orderLinkId"), BB_K("side"),
        BB_K("orderType"), BB_K("orderStatus"), BB_K("price"), BB_K("qty"), BB_K("cumExecQty"),
        BB_K("avgPrice"), BB_K("updatedTime")};
    static bb_key BB_EXEC[] = {BB_K("symbol"), BB_K("orderId"), BB_K("execId"), BB_K("side"), BB_K("execPrice"),
        BB_K("execQty"), BB_K("execFee"), BB_K("feeCurrency"), BB_K("isMaker"), BB_K("execTime")};
    static bb_key BB_WALLET[] = {BB_K("coin")};
    static bb_key BB_COIN[] = {BB_K("coin"), BB_K("walletBalance"), BB_K("locked")};
    """
    ctypedef struct bb_key:
        const char* name
        Py_ssize_t len
    bb_key BB_TRADE[5]
    bb_key BB_KLINE[11]
    bb_key BB_TICKER[10]
    bb_key BB_ORDER[11]
    bb_key BB_EXEC[10]
    bb_key BB_WALLET[1]
    bb_key BB_COIN[3]

DEF _MAX_KEYS = 12


cdef inline bint _is(const JsonSpan* s, const char* lit, Py_ssize_t n) noexcept nogil:
    # raw bytes: Bybit keys and enum values carry no escapes (an escaped one is simply unknown)
    return s.len == n and not s.has_escapes and memcmp(s.ptr, lit, n) == 0


cdef inline bint _pending(const JsonSpan* v) noexcept nogil:
    return v.len == 0 and (v.kind == JSON_OBJECT or v.kind == JSON_ARRAY)


cdef int _topic_kind(const JsonSpan* t, Py_ssize_t* sym_off) noexcept nogil:
    """The topic's kind and where its symbol starts (``orderbook.200.BTCUSDT`` -> T_BOOK, 14)."""
    cdef const char* p = t.ptr
    cdef Py_ssize_t n = t.len, i, head = 0
    cdef int kind = T_OTHER
    if t.kind != JSON_STRING or t.has_escapes:
        return T_OTHER
    if n > 10 and memcmp(p, b"orderbook.", 10) == 0:
        kind, head = T_BOOK, 10
    elif n > 6 and memcmp(p, b"kline.", 6) == 0:
        kind, head = T_KLINE, 6
    elif n > 12 and memcmp(p, b"publicTrade.", 12) == 0:
        sym_off[0] = 12
        return T_TRADE
    elif n > 8 and memcmp(p, b"tickers.", 8) == 0:
        sym_off[0] = 8
        return T_TICKER
    else:
        sym_off[0] = n   # private topics carry no symbol ("order", "order.spot", "execution.fast")
        if n >= 5 and memcmp(p, b"order", 5) == 0 and (n == 5 or p[5] == b'.'):
            return T_ORDER
        if n >= 9 and memcmp(p, b"execution", 9) == 0 and (n == 9 or p[9] == b'.'):
            return T_EXEC
        if n == 6 and memcmp(p, b"wallet", 6) == 0:
            return T_WALLET
        return T_OTHER
    # orderbook.<depth>. / kline.<interval>.: skip the middle part up to the symbol
    i = head
    while i < n and p[i] != b'.':
        i += 1
    if i == head or i + 1 >= n:
        return T_OTHER
    sym_off[0] = i + 1
    return kind


cdef int _book_data(JsonIter* it, _Book* bk, double* bpx, double* bqty, double* apx, double* aqty,
                    Py_ssize_t cap) noexcept:
    """Members of an orderbook ``data`` object walked by ``it``; levels parsed in place. 0 or an error code."""
    cdef JsonSpan k, v
    cdef int rc
    while True:
        rc = json_object_next_lazy(it, &k, &v)
        if rc != 1:
            return rc
        if k.len != 1 or k.has_escapes:
            continue
        if k.ptr[0] == b'b' or k.ptr[0] == b'a':
            bk.err = b"b" if k.ptr[0] == b'b' else b"a"
            bk.err_at = v.ptr
            if not (_pending(&v) and v.kind == JSON_ARRAY):
                return JSON_ERR_TYPE if (not _pending(&v) or json_iter_take(it, &v) == 0) else it.state
            if k.ptr[0] == b'b':
                bk.b_at = v.ptr
            else:
                bk.a_at = v.ptr
            rc = json_iter_levels(it, bpx if k.ptr[0] == b'b' else apx, bqty if k.ptr[0] == b'b' else aqty,
                                  cap, &bk.nb if k.ptr[0] == b'b' else &bk.na)
            if rc != 0:
                return rc
        elif k.ptr[0] == b'u':
            bk.err, bk.err_at = b"u", v.ptr
            if _pending(&v):
                return JSON_ERR_TYPE if json_iter_take(it, &v) == 0 else it.state
            rc = json_span_to_int64(&v, &bk.u)
            if rc != 0:
                return rc
            bk.has_u = True
        elif k.ptr[0] == b's':
            bk.err, bk.err_at = b"s", v.ptr
            if v.kind != JSON_STRING:
                return JSON_ERR_TYPE if (not _pending(&v) or json_iter_take(it, &v) == 0) else it.state
            bk.s = v
            bk.has_s = True
        bk.err = NULL


cdef int _fields(const JsonSpan* obj, const bb_key* keys, Py_ssize_t nkeys, JsonSpan* out,
                 const char** err_at) noexcept:
    """The values of ``keys`` in the JSON object ``obj`` (validated): ``out[i]`` (kind 0 when absent)."""
    cdef JsonIter it
    cdef JsonSpan k, v
    cdef Py_ssize_t i
    cdef int rc
    memset(out, 0, nkeys * sizeof(JsonSpan))
    for i in range(nkeys):
        out[i].ptr = obj.ptr     # an absent field is reported at its object
    err_at[0] = obj.ptr
    if obj.kind != JSON_OBJECT:
        return JSON_ERR_TYPE
    rc = json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
    while rc == 0:
        rc = json_object_next(&it, &k, &v)
        if rc != 1:
            break
        rc = 0
        if k.has_escapes:
            continue
        for i in range(nkeys):
            if k.len == keys[i].len and memcmp(k.ptr, keys[i].name, k.len) == 0:
                out[i] = v     # a repeated key: the last one wins, as with json.loads
                break
    if rc < 0:
        err_at[0] = it.p
    return rc


cdef int _side(const JsonSpan* v) noexcept nogil:
    if _is(v, b"Buy", 3):
        return SIDE_BUY
    if _is(v, b"Sell", 4):
        return SIDE_SELL
    return -1


cdef inline bint _levels_ok(const double* px, const double* qty, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        if not (isfinite(px[i]) and px[i] > 0.0 and isfinite(qty[i]) and qty[i] >= 0.0):
            return False
    return True


cdef class _TickerState:
    """Merged ``tickers`` fields of one symbol, in BB_TICKER order (NaN: not seen)."""
    cdef double v[10]


cdef class BybitDecoder(FrameDecoder):
    """Compiled Bybit v5 decoder (public or private side).

    Parameters
    ----------
    dispatcher:
        Where events go (the parser binds the user's handler to it).
    books:
        ``BookSyncGroup`` for the ``orderbook`` topics (rule ``bybit``), keyed by the topic's symbol;
        None on the private side.
    private:
        Decode the private topics (``order``, ``execution``, ``wallet``).
    capacity:
        Most levels per side one frame may carry (bigger frames are refused with ``ParseError``).
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, bint private=False,
                 Py_ssize_t capacity=5000, str exchange="bybit"):
        FrameDecoder.__init__(self, exchange)
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.private = private
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self.ticker_mask = 3
        self.capacity = capacity
        self._apply = True
        self._ticker_state = {}
        self._trades = EventPool(_Trade, 256)
        self._book_tickers = EventPool(_BookTicker, 64)
        self._klines = EventPool(_Kline, 64)
        self._tickers = EventPool(_Ticker, 64)
        self._orders = EventPool(_OrderUpdate, 64)
        self._fills = EventPool(_Fill, 64)
        self._balances = EventPool(_BalanceUpdate, 64)
        self._scratch = np.zeros(4 * capacity, dtype=np.float64)
        cdef double[::1] s = self._scratch
        self._bid_px, self._bid_qty = &s[0], &s[capacity]
        self._ask_px, self._ask_qty = &s[2 * capacity], &s[3 * capacity]
        self._cache_keys = []
        self._cache_vals = []

    cpdef int classify(self, object raw) except -1:
        """The frame's ``MessageType`` (fully validated) without applying or emitting anything."""
        self._apply = False
        try:
            return self.feed(raw, 0)
        finally:
            self._apply = True

    def stats(self):
        return {"frames": self.frames, "data_frames": self.data_frames, "acks": self.acks, "pongs": self.pongs,
                "error_frames": self.error_frames, "unknown_frames": self.unknown_frames,
                "parse_errors": self.parse_errors}

    # ---- helpers --------------------------------------------------------------------------
    cdef str _str(self, const char* p, Py_ssize_t n):
        """The str of ``p[0:n]``, cached (symbols, intervals): no allocation once seen."""
        cdef Py_ssize_t i
        cdef bytes key
        for i in range(len(self._cache_keys)):
            key = <bytes>self._cache_keys[i]
            if len(key) == n and memcmp(<const char*>key, p, n) == 0:
                return <str>self._cache_vals[i]
        s = PyUnicode_DecodeUTF8(p, n, "replace")
        if len(self._cache_keys) < _CACHE_SIZE:
            self._cache_keys.append(p[:n])
            self._cache_vals.append(s)
        return s

    cdef str _text(self, const JsonSpan* v):
        """A string or number value as str ("" when absent)."""
        if v.kind == 0:
            return ""
        if v.kind == JSON_STRING and v.has_escapes:
            return _json.loads(b'"' + v.ptr[:v.len] + b'"')
        return PyUnicode_DecodeUTF8(v.ptr, v.len, "replace")

    cdef int _fail(self, const _Env* env, const char* field, const char* at, int rc) except -1:
        self.parse_errors += 1
        topic = self._text(&env.topic) if env != NULL and env.has_topic else "frame"
        where = f"{topic}: field '{field.decode()}'" if field != NULL else topic
        reason = {_MISSING: "missing", _BAD_LEVEL: "a level has a non-finite or non-positive price or a negative size",
                  _MISMATCH: "does not match the topic"}.get(rc) or json_error_message(rc)
        offset = f" at byte {at - self._base}" if at != NULL else ""
        raise ParseError(f"{self.exchange}: {where}: {reason}{offset}")

    cdef int _num(self, const _Env* env, const JsonSpan* v, const char* name, double* out, bint required) except -1:
        """A price/size (number or number-in-string); "" or absent is NaN unless required."""
        cdef int rc
        if v.kind == 0 or (v.kind == JSON_STRING and v.len == 0):
            if required:
                return self._fail(env, name, v.ptr, _MISSING)
            out[0] = NAN
            return 0
        rc = json_span_to_double(v, out)
        if rc != 0:
            return self._fail(env, name, v.ptr, rc)
        return 0

    cdef int _ms(self, const _Env* env, const JsonSpan* v, const char* name, int64_t* out_ns) except -1:
        """Milliseconds since the epoch (number or text) -> ns; absent is 0."""
        cdef int64_t ms = 0
        if v.kind == 0:
            out_ns[0] = 0
            return 0
        if json_span_to_int64(v, &ms) != 0 or ms < 0 or ms > 9223372036854:
            return self._fail(env, name, v.ptr, JSON_ERR_VALUE)
        out_ns[0] = ms * 1000000
        return 0

    # ---- the frame --------------------------------------------------------------------------
    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef JsonIter it, child
        cdef JsonSpan k, v
        cdef _Env env
        cdef _Book bk
        cdef int rc
        self.frames += 1
        self._base = p
        memset(&env, 0, sizeof(env))
        memset(&bk, 0, sizeof(bk))
        env.success = -1
        rc = json_object_begin(&it, p, p + n)
        if rc != 0:
            return self._fail(NULL, NULL, it.p, rc)
        while True:
            rc = json_object_next_lazy(&it, &k, &v)
            if rc != 1:
                break
            if k.has_escapes:
                continue
            if _is(&k, b"data", 4):
                if env.kind == T_BOOK and v.kind == JSON_OBJECT and _pending(&v):
                    # single pass: the book's levels go straight into the scratch arrays
                    rc = json_iter_child(&it, &child)
                    if rc == 0:
                        rc = _book_data(&child, &bk, self._bid_px, self._bid_qty, self._ask_px, self._ask_qty,
                                        self.capacity)
                    if rc != 0:
                        return self._fail(&env, bk.err, bk.err_at if bk.err else child.p, rc)
                    rc = json_iter_child_end(&it, &child)
                    env.book_parsed = True
                elif _pending(&v):
                    rc = json_iter_take(&it, &v)
                env.data, env.has_data = v, True
            elif _pending(&v):
                continue           # a container where none is expected: validated and skipped
            elif _is(&k, b"topic", 5):
                env.topic, env.has_topic = v, True
                env.kind = _topic_kind(&v, &env.sym_off)
            elif _is(&k, b"type", 4):
                env.type_, env.has_type = v, True
            elif _is(&k, b"ts", 2) or _is(&k, b"creationTime", 12):
                if json_span_to_int64(&v, &env.ts_ms) != 0 or env.ts_ms < 0 or env.ts_ms > 9223372036854:
                    return self._fail(&env, b"ts", v.ptr, JSON_ERR_VALUE)
            elif _is(&k, b"success", 7):
                env.success = 1 if v.kind == JSON_TRUE else 0 if v.kind == JSON_FALSE else -1
            elif _is(&k, b"op", 2):
                env.op, env.has_op = v, True
            elif _is(&k, b"ret_msg", 7):
                env.ret_msg, env.has_ret = v, True
            elif _is(&k, b"req_id", 6):
                env.req_id, env.has_req = v, True
            if rc < 0:
                break
        if rc < 0:
            return self._fail(NULL, NULL, it.p, rc)
        rc = json_expect_end(it.p, p + n)
        if rc < 0:
            return self._fail(NULL, NULL, it.p, rc)
        if not env.has_topic:
            return self._control(&env)
        if env.kind == T_BOOK:
            if not env.book_parsed:    # data before topic, or not an object: decode it from its span now
                if not env.has_data or env.data.kind != JSON_OBJECT:
                    return self._fail(&env, b"data", env.data.ptr,
                                      _MISSING if not env.has_data else JSON_ERR_TYPE)
                json_object_begin(&child, env.data.ptr, env.data.ptr + env.data.len)
                child.depth = 1
                rc = _book_data(&child, &bk, self._bid_px, self._bid_qty, self._ask_px, self._ask_qty, self.capacity)
                if rc != 0:
                    return self._fail(&env, bk.err, bk.err_at if bk.err else child.p, rc)
            return self._book(&env, &bk, recv_ns)
        if env.kind == T_TICKER:
            return self._ticker(&env, recv_ns)
        if env.kind == T_OTHER or (self.private != (env.kind >= T_ORDER)):
            self.unknown_frames += 1
            return MT_UNKNOWN
        return self._array(&env, recv_ns)

    cdef int _control(self, _Env* env) except -1:
        """Acks, pongs and errors: ``{"success":..,"ret_msg":..,"req_id":..,"op":..}``."""
        cdef int64_t rid = -1
        cdef JsonSpan* op = &env.op
        if env.has_req and (env.req_id.kind == JSON_STRING or env.req_id.kind == JSON_NUMBER):
            if parse_int64(env.req_id.ptr, env.req_id.len, &rid) != NUM_OK:
                rid = -1
        self.control_id = rid
        self.control_code = 1 if env.success == 0 else 0
        self.control_text = self._text(&env.ret_msg) if env.has_ret else None
        if not env.has_op or op.kind != JSON_STRING:
            self.unknown_frames += 1
            return MT_UNKNOWN
        if _is(op, b"pong", 4) or (_is(op, b"ping", 4) and env.success != 0):
            self.pongs += 1
            return MT_PONG
        if _is(op, b"auth", 4):
            if env.success == 1:
                self.acks += 1
                return MT_AUTH_ACK
            self.error_frames += 1
            if self._apply:
                self.dispatcher.report(AuthenticationError(
                    f"{self.exchange} rejected authentication ({str(self.control_text)[:200]}); "
                    "check the API key, secret and permissions"))
            return MT_RECONNECT   # the manager reconnects with backoff and authenticates again
        if env.success == 1:
            self.acks += 1
            return MT_SUBSCRIPTION_ACK
        self.error_frames += 1
        return MT_ERROR

    cdef int _book(self, _Env* env, _Book* bk, int64_t recv_ns) except -1:
        cdef const char* sym = env.topic.ptr + env.sym_off
        cdef Py_ssize_t sn = env.topic.len - env.sym_off
        cdef bint snapshot = _is(&env.type_, b"snapshot", 8)
        cdef BookSync sync
        if not bk.has_u:
            return self._fail(env, b"u", env.data.ptr, _MISSING)
        if not snapshot and not _is(&env.type_, b"delta", 5):
            return self._fail(env, b"type", env.type_.ptr if env.has_type else env.topic.ptr,
                              JSON_ERR_VALUE if env.has_type else _MISSING)
        if bk.has_s and (bk.s.len != sn or memcmp(bk.s.ptr, sym, sn) != 0):
            return self._fail(env, b"s", bk.s.ptr, _MISMATCH)
        if not _levels_ok(self._bid_px, self._bid_qty, bk.nb):
            return self._fail(env, b"b", bk.b_at, _BAD_LEVEL)
        if not _levels_ok(self._ask_px, self._ask_qty, bk.na):
            return self._fail(env, b"a", bk.a_at, _BAD_LEVEL)
        if self.books is None:
            return self._fail(env, NULL, env.topic.ptr, JSON_ERR_TYPE)
        if not self._apply:
            return MT_DATA
        self.data_frames += 1
        sync = self.books.c_get(sym, sn)
        if snapshot:   # any snapshot (``u == 1`` after a restart included) replaces the book
            if sync.state == WAITING:
                # deltas buffered before it belong to the previous subscription (or numbering): drop them
                sync.c_invalidate(sync.invalid_reason, False)
            sync.on_full_snapshot(bk.u, self._bid_px, self._bid_qty, bk.nb, self._ask_px, self._ask_qty, bk.na,
                                  env.ts_ms * 1000000, recv_ns)
        else:
            sync.on_delta_validated(bk.u, bk.u, 0, self._bid_px, self._bid_qty, bk.nb, self._ask_px,
                                    self._ask_qty, bk.na, env.ts_ms * 1000000, recv_ns)
        return MT_DATA

    cdef int _ticker(self, _Env* env, int64_t recv_ns) except -1:
        """``tickers``: a snapshot replaces the symbol's fields, a delta updates the ones it carries."""
        cdef JsonSpan f[10]
        cdef double val[10]
        cdef const char* at
        cdef int i, present = 0
        cdef _TickerState st
        cdef BookTicker bt
        cdef Ticker tk
        if not env.has_data or env.data.kind != JSON_OBJECT:
            return self._fail(env, b"data", env.data.ptr, _MISSING if not env.has_data else JSON_ERR_TYPE)
        if _fields(&env.data, BB_TICKER, 10, f, &at) != 0:
            return self._fail(env, b"data", at, JSON_ERR_TYPE)
        for i in range(10):
            if f[i].kind != 0:
                self._num(env, &f[i], BB_TICKER[i].name, &val[i], False)
                present |= 1 << i
        if not self._apply:
            return MT_DATA
        self.data_frames += 1
        symbol = self._str(env.topic.ptr + env.sym_off, env.topic.len - env.sym_off)
        st = self._ticker_state.get(symbol)
        if st is None:
            st = _TickerState()
            self._ticker_state[symbol] = st
            for i in range(10):
                st.v[i] = NAN
        elif _is(&env.type_, b"snapshot", 8) or not env.has_type:
            for i in range(10):
                st.v[i] = NAN
        for i in range(10):
            if present & (1 << i):
                st.v[i] = val[i]
        if (self.ticker_mask & 1) and (present & 0xF) and isfinite(st.v[0]) and isfinite(st.v[2]):
            bt = <BookTicker>self._book_tickers.acquire()
            bt.exchange, bt.symbol, bt.exchange_ts_ns, bt.recv_ns = self.exchange, symbol, env.ts_ms * 1000000, recv_ns
            bt.bid_price, bt.bid_qty, bt.ask_price, bt.ask_qty = st.v[0], st.v[1], st.v[2], st.v[3]
            bt.update_id = 0
            self.dispatcher.emit(bt)
        if (self.ticker_mask & 2) and (present & 0x3F0) and isfinite(st.v[4]):
            tk = <Ticker>self._tickers.acquire()
            tk.exchange, tk.symbol, tk.exchange_ts_ns, tk.recv_ns = self.exchange, symbol, env.ts_ms * 1000000, recv_ns
            tk.last, tk.high, tk.low, tk.volume, tk.quote_volume = st.v[4], st.v[5], st.v[6], st.v[7], st.v[8]
            tk.change_pct = st.v[9] * 100.0   # Bybit sends a fraction ("0.001624"); events carry percent
            self.dispatcher.emit(tk)
        return MT_DATA

    cdef int _array(self, _Env* env, int64_t recv_ns) except -1:
        """Trades, klines and the private topics: ``data`` is an array; checked whole, then emitted."""
        cdef JsonIter it
        cdef JsonSpan item
        cdef int rc, emit
        if not env.has_data or env.data.kind != JSON_ARRAY:
            return self._fail(env, b"data", env.data.ptr, _MISSING if not env.has_data else JSON_ERR_TYPE)
        symbol = self._str(env.topic.ptr + env.sym_off, env.topic.len - env.sym_off) if env.kind < T_ORDER else ""
        for emit in range(2 if self._apply else 1):
            rc = json_array_begin(&it, env.data.ptr, env.data.ptr + env.data.len)
            while rc == 0:
                rc = json_array_next(&it, &item)
                if rc != 1:
                    break
                rc = 0
                self._item(env, &item, symbol, recv_ns, emit)
        if self._apply:
            self.data_frames += 1
        return MT_DATA

    cdef int _item(self, _Env* env, const JsonSpan* obj, str symbol, int64_t recv_ns, bint emit) except -1:
        cdef JsonSpan f[_MAX_KEYS]
        cdef JsonSpan c[3]
        cdef JsonIter it
        cdef JsonSpan coin
        cdef const char* at
        cdef double d[8]
        cdef int64_t t0 = 0, t1 = 0, t2 = 0, tid = -1
        cdef int side = 0, rc
        cdef int kind = env.kind
        cdef Trade tr
        cdef Kline kl
        cdef OrderUpdate ou
        cdef Fill fl
        cdef BalanceUpdate bu
        cdef int i
        if kind == T_TRADE:
            rc = _fields(obj, BB_TRADE, 5, f, &at)
        elif kind == T_KLINE:
            rc = _fields(obj, BB_KLINE, 11, f, &at)
        elif kind == T_ORDER:
            rc = _fields(obj, BB_ORDER, 11, f, &at)
        elif kind == T_EXEC:
            rc = _fields(obj, BB_EXEC, 10, f, &at)
        else:
            rc = _fields(obj, BB_WALLET, 1, f, &at)
        if rc != 0:
            return self._fail(env, b"data", at, rc)
        if kind == T_TRADE:
            self._ms(env, &f[0], b"T", &t0)
            side = _side(&f[1])
            if side < 0:
                return self._fail(env, b"S", f[1].ptr, _MISSING if f[1].kind == 0 else JSON_ERR_VALUE)
            self._num(env, &f[2], b"v", &d[0], True)
            self._num(env, &f[3], b"p", &d[1], True)
            if f[4].kind == 0 or parse_int64(f[4].ptr, f[4].len, &tid) != NUM_OK:
                tid = -1
            if emit:
                tr = <Trade>self._trades.acquire()
                tr.exchange, tr.symbol, tr.exchange_ts_ns, tr.recv_ns = self.exchange, symbol, t0, recv_ns
                tr.price, tr.qty, tr.side, tr.trade_id = d[1], d[0], side, tid
                tr.trade_id_str = "" if tid >= 0 else self._text(&f[4])
                self.dispatcher.emit(tr)
        elif kind == T_KLINE:
            self._ms(env, &f[0], b"start", &t0)
            self._ms(env, &f[1], b"end", &t1)
            for i in range(6):
                self._num(env, &f[3 + i], BB_KLINE[3 + i].name, &d[i], True)
            if f[9].kind != JSON_TRUE and f[9].kind != JSON_FALSE:
                return self._fail(env, b"confirm", f[9].ptr, _MISSING if f[9].kind == 0 else JSON_ERR_TYPE)
            if f[2].kind != JSON_STRING:
                return self._fail(env, b"interval", f[2].ptr, _MISSING if f[2].kind == 0 else JSON_ERR_TYPE)
            if emit:
                kl = <Kline>self._klines.acquire()
                self._ms(env, &f[10], b"timestamp", &t2)
                kl.exchange, kl.symbol, kl.exchange_ts_ns, kl.recv_ns = self.exchange, symbol, t2, recv_ns
                kl.interval = self._str(f[2].ptr, f[2].len)
                kl.open_time_ns, kl.close_time_ns = t0, t1
                kl.open, kl.high, kl.low, kl.close, kl.volume, kl.quote_volume = d[0], d[1], d[2], d[3], d[4], d[5]
                kl.closed = f[9].kind == JSON_TRUE
                self.dispatcher.emit(kl)
        elif kind == T_ORDER:
            side = _side(&f[3])
            for i in range(4):
                self._num(env, &f[6 + i], BB_ORDER[6 + i].name, &d[i], i < 2)
            self._ms(env, &f[10], b"updatedTime", &t0)
            if f[0].kind != JSON_STRING or f[1].kind != JSON_STRING:
                return self._fail(env, b"symbol" if f[0].kind != JSON_STRING else b"orderId",
                                  obj.ptr, _MISSING)
            if emit:
                ou = <OrderUpdate>self._orders.acquire()
                ou.exchange, ou.symbol, ou.exchange_ts_ns, ou.recv_ns = self.exchange, self._str(f[0].ptr, f[0].len), t0, recv_ns
                ou.order_id, ou.client_order_id = self._text(&f[1]), self._text(&f[2])
                ou.side, ou.order_type, ou.status = max(side, 0), self._text(&f[4]), self._text(&f[5])
                ou.price, ou.qty, ou.filled_qty, ou.avg_price = d[0], d[1], d[2], d[3]
                self.dispatcher.emit(ou)
        elif kind == T_EXEC:
            side = _side(&f[3])
            for i in range(3):
                self._num(env, &f[4 + i], BB_EXEC[4 + i].name, &d[i], i < 2)
            self._ms(env, &f[9], b"execTime", &t0)
            if f[0].kind != JSON_STRING or f[2].kind != JSON_STRING:
                return self._fail(env, b"symbol" if f[0].kind != JSON_STRING else b"execId",
                                  obj.ptr, _MISSING)
            if emit:
                fl = <Fill>self._fills.acquire()
                fl.exchange, fl.symbol, fl.exchange_ts_ns, fl.recv_ns = self.exchange, self._str(f[0].ptr, f[0].len), t0, recv_ns
                fl.order_id, fl.trade_id, fl.side = self._text(&f[1]), self._text(&f[2]), max(side, 0)
                fl.price, fl.qty, fl.fee, fl.fee_asset = d[0], d[1], d[2], self._text(&f[7])
                fl.is_maker = f[8].kind == JSON_TRUE
                self.dispatcher.emit(fl)
        else:   # wallet: {"coin":[{"coin":"USDT","walletBalance":..,"locked":..}, ..]} -> one BalanceUpdate per coin
            if f[0].kind != JSON_ARRAY:
                return self._fail(env, b"coin", f[0].ptr, _MISSING if f[0].kind == 0 else JSON_ERR_TYPE)
            rc = json_array_begin(&it, f[0].ptr, f[0].ptr + f[0].len)
            while rc == 0:
                rc = json_array_next(&it, &coin)
                if rc != 1:
                    break
                rc = 0
                if _fields(&coin, BB_COIN, 3, c, &at) != 0 or c[0].kind != JSON_STRING:
                    return self._fail(env, b"coin", at, JSON_ERR_TYPE)
                self._num(env, &c[1], b"walletBalance", &d[0], True)
                self._num(env, &c[2], b"locked", &d[1], False)
                if emit:
                    bu = <BalanceUpdate>self._balances.acquire()
                    bu.asset = self._str(c[0].ptr, c[0].len)
                    bu.exchange, bu.symbol, bu.exchange_ts_ns, bu.recv_ns = self.exchange, bu.asset, env.ts_ms * 1000000, recv_ns
                    # walletBalance includes what orders hold: free is the rest
                    bu.locked = d[1] if isfinite(d[1]) else 0.0
                    bu.free = d[0] - bu.locked
                    self.dispatcher.emit(bu)
        return 0
