# cython: language_level=3
"""Coinbase Advanced Trade frame decoder: JSON text frames -> events and book updates, in C.

Frames (protocols.md section 6, the 2026 recording)::

    {"channel":"l2_data","timestamp":"2026-..Z","sequence_num":14,"events":[{"type":"snapshot"|"update",
        "product_id":"BTC-USD","updates":[{"side":"bid"|"offer","event_time":..,"price_level":..,"new_quantity":..}]}]}
    {"channel":"market_trades"|"ticker"|"candles"|"user", .., "events":[{"type":..,"trades"|"tickers"|"candles"|"orders":[..]}]}
    {"channel":"heartbeats"|"subscriptions", ..}            {"type":"error","message":..}

``sequence_num`` counts every frame of the connection: a hole (a lost, truncated or garbled frame) invalidates
every book (each is recovered in-band by resubscribing), an older number (a duplicate or a late frame) is
dropped. A book's update id is the ``sequence_num`` of the frame that changed it. The whole frame is decoded
(levels into scratch arrays, items once without emitting) before anything is applied or emitted, so a
malformed frame raises ``ParseError`` naming the field and byte offset and changes nothing, except that an
``l2_data`` frame that cannot be read is a lost book update: the books are invalidated.
"""
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.math cimport NAN, isfinite
from libc.stdint cimport int64_t
from libc.string cimport memcmp, memset

import numpy as np

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_ERR_EOF, JSON_ERR_TYPE, JSON_ERR_VALUE, JSON_FALSE, JSON_NULL, JSON_NUMBER, JSON_TOO_MANY, JSON_TRUE,
    JSON_OBJECT, JSON_STRING, JsonIter, JsonSpan,
    json_array_begin, json_array_next, json_expect_end, json_iter_take, json_object_begin, json_object_next,
    json_object_next_lazy, json_span_to_double, json_span_to_int64,
)
from feedhandler.codec.numbers cimport NUM_OK, parse_int64
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport SIDE_BUY, SIDE_SELL, BookTicker, EventPool, Kline, OrderUpdate, Ticker, Trade
from feedhandler.sync.book_sync cimport WAITING, BookSync, BookSyncGroup

from feedhandler.codec.json_scan import json_error_message
from feedhandler.core.errors import ParseError
from feedhandler.events.events import (
    BookTicker as _BookTicker, Kline as _Kline, OrderUpdate as _OrderUpdate, Ticker as _Ticker, Trade as _Trade,
)

cdef enum:
    # MessageType values (feedhandler.core.types)
    MT_UNKNOWN = 0
    MT_DATA = 1
    MT_SUBSCRIPTION_ACK = 2
    MT_ERROR = 4
    # channel kinds; the item kinds index _ITEMS below
    C_OTHER = 0
    C_TRADES = 1
    C_TICKER = 2
    C_CANDLES = 3
    C_USER = 4
    C_L2 = 5
    C_HEARTBEATS = 6
    C_SUBSCRIPTIONS = 7
    _MISSING = -100
    _BAD = -101
    _CACHE_SIZE = 256

cdef extern from *:
    """
    typedef struct { const char* name; Py_ssize_t len; } cb_key;
    #define CB_K(s) {s, (Py_ssize_t)(sizeof(s) - 1)}
    static cb_key CB_TRADE[] = {CB_K("product_id"), CB_K("trade_id"), CB_K("price"), CB_K("size"), CB_K("time"),
        CB_K("side")};
    static cb_key CB_TICKER[] = {CB_K("product_id"), CB_K("best_bid"), CB_K("best_bid_quantity"), CB_K("best_ask"),
        CB_K("best_ask_quantity"), CB_K("price"), CB_K("high_24_h"), CB_K("low_24_h"), CB_K("volume_24_h"),
        CB_K("price_percent_chg_24_h")};
    static cb_key CB_CANDLE[] = {CB_K("product_id"), CB_K("start"), CB_K("open"), CB_K("high"), CB_K("low"),
        CB_K("close"), CB_K("volume")};
    static cb_key CB_ORDER[] = {CB_K("product_id"), CB_K("order_id"), CB_K("client_order_id"), CB_K("order_side"),
        CB_K("order_type"), CB_K("status"), CB_K("limit_price"), CB_K("cumulative_quantity"),
        CB_K("leaves_quantity"), CB_K("avg_price"), CB_K("creation_time")};
    static cb_key CB_EVENT[] = {CB_K("type"), CB_K("product_id"), CB_K("updates"), CB_K("trades"), CB_K("tickers"),
        CB_K("candles"), CB_K("orders")};
    """
    ctypedef struct cb_key:
        const char* name
        Py_ssize_t len
    cb_key CB_TRADE[6]
    cb_key CB_TICKER[10]
    cb_key CB_CANDLE[7]
    cb_key CB_ORDER[11]
    cb_key CB_EVENT[7]

DEF _MAX_KEYS = 12


cdef inline bint _is(const JsonSpan* s, const char* lit, Py_ssize_t n) noexcept nogil:
    return s.len == n and not s.has_escapes and memcmp(s.ptr, lit, n) == 0


cdef int _fields(const JsonSpan* obj, const cb_key* keys, Py_ssize_t nkeys, JsonSpan* out) noexcept:
    """The values of ``keys`` in the (validated) JSON object ``obj``: ``out[i]``, kind 0 at the object when absent."""
    cdef JsonIter it
    cdef JsonSpan k, v
    cdef Py_ssize_t i
    cdef int rc
    memset(out, 0, nkeys * sizeof(JsonSpan))
    for i in range(nkeys):
        out[i].ptr = obj.ptr
    if obj.kind != JSON_OBJECT:
        return JSON_ERR_TYPE
    rc = json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
    while rc == 0:
        rc = json_object_next(&it, &k, &v)
        if rc != 1:
            break
        rc = 0
        if not k.has_escapes:
            for i in range(nkeys):
                if k.len == keys[i].len and memcmp(k.ptr, keys[i].name, k.len) == 0:
                    out[i] = v   # a repeated key: the last one wins, as with json.loads
                    break
    return rc


# ---- a walk over JSON the kernel has already validated (json_iter_take): no second validation --------
# Every read stays inside [p, end): each loop checks p < end before reading p[0]; NULL means the bytes
# ended early (impossible for validated input, handled all the same).
cdef inline const char* _t_ws(const char* p, const char* end) noexcept nogil:
    while p < end and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p += 1
    return p


cdef const char* _t_value(const char* p, const char* end, JsonSpan* v) noexcept nogil:
    """The value at ``p`` (a string's span is its content); the byte after it, or NULL."""
    cdef const char* s = p
    cdef int depth = 0
    cdef char c
    v.has_escapes = False
    if p >= end:
        return NULL
    c = p[0]
    if c == b'"' or c == b'{' or c == b'[':
        while p < end:
            c = p[0]
            if c == b'"':
                p += 1
                while p < end and p[0] != b'"':
                    if p[0] == b'\\':
                        v.has_escapes = True
                        p += 1
                    p += 1
                if p >= end:
                    return NULL
                if depth == 0:   # the value itself was this string
                    v.ptr, v.len, v.kind = s + 1, p - s - 1, JSON_STRING
                    return p + 1
            elif c == b'{' or c == b'[':
                depth += 1
            elif c == b'}' or c == b']':
                depth -= 1
                if depth == 0:
                    v.ptr, v.len, v.kind = s, p + 1 - s, JSON_OBJECT if s[0] == b'{' else JSON_ARRAY
                    return p + 1
            p += 1
        return NULL
    while p < end and p[0] != b',' and p[0] != b'}' and p[0] != b']' and p[0] != b' ' and p[0] != b'\n' \
            and p[0] != b'\r' and p[0] != b'\t':
        p += 1
    v.ptr, v.len = s, p - s
    v.kind = JSON_NUMBER if (c == b'-' or b'0' <= c <= b'9') else JSON_TRUE if c == b't' else \
        JSON_FALSE if c == b'f' else JSON_NULL
    return p

cdef inline int _digits(const char* p, int n, int64_t* out) noexcept nogil:
    cdef int i
    cdef int64_t v = 0
    for i in range(n):
        if p[i] < b'0' or p[i] > b'9':
            return -1
        v = v * 10 + (p[i] - 48)
    out[0] = v
    return 0


cdef int _iso_ns(const JsonSpan* v, int64_t* out) noexcept nogil:
    """``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (UTC) -> ns since the epoch, exactly (fraction cut at 9 digits)."""
    cdef const char* p = v.ptr
    cdef Py_ssize_t n = v.len, i
    cdef int64_t y, mo, d, h, mi, s, frac = 0, scale = 100000000, era, yoe, doy, doe, days
    if v.kind != JSON_STRING or n < 20 or p[n - 1] != b'Z' or p[4] != b'-' or p[7] != b'-' or p[10] != b'T' \
            or p[13] != b':' or p[16] != b':':
        return JSON_ERR_VALUE
    if _digits(p, 4, &y) or _digits(p + 5, 2, &mo) or _digits(p + 8, 2, &d) or _digits(p + 11, 2, &h) \
            or _digits(p + 14, 2, &mi) or _digits(p + 17, 2, &s):
        return JSON_ERR_VALUE
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61 and 1970 <= y <= 2261):
        return JSON_ERR_VALUE
    if n > 20:
        if p[19] != b'.' or n == 21:
            return JSON_ERR_VALUE
        for i in range(20, n - 1):
            if p[i] < b'0' or p[i] > b'9':
                return JSON_ERR_VALUE
            frac += (p[i] - 48) * scale
            scale //= 10
    # days from the civil date (H. Hinnant's algorithm); 1970..2261 keeps ns inside int64
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    out[0] = ((days * 24 + h) * 60 + mi) * 60 * 1000000000 + s * 1000000000 + frac
    return 0


cdef inline bint _levels_ok(const double* px, const double* qty, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        if not (isfinite(px[i]) and px[i] > 0.0 and isfinite(qty[i]) and qty[i] >= 0.0):
            return False
    return True


cdef class CoinbaseDecoder(FrameDecoder):
    """Compiled Coinbase Advanced Trade decoder (public or private side).

    Parameters
    ----------
    dispatcher:
        Where events go (the parser binds the user's handler to it).
    books:
        ``BookSyncGroup`` of the ``level2`` books (rule ``coinbase``), keyed by ``product_id``; None on the
        private side.
    private:
        Decode the ``user`` channel (orders).
    capacity:
        Most levels per side one frame may carry (bigger frames are refused with ``ParseError``).
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, bint private=False,
                 Py_ssize_t capacity=100_000, str exchange="coinbase"):
        FrameDecoder.__init__(self, exchange)
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.private = private
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self.ticker_mask = 3
        self.capacity = capacity
        self.expected_sequence = -1
        self._apply = True
        self._trades = EventPool(_Trade, 256)
        self._book_tickers = EventPool(_BookTicker, 64)
        self._klines = EventPool(_Kline, 64)
        self._tickers = EventPool(_Ticker, 64)
        self._orders = EventPool(_OrderUpdate, 64)
        self._scratch = np.zeros(4 * capacity, dtype=np.float64)
        cdef double[::1] s = self._scratch
        self._bid_px, self._bid_qty = &s[0], &s[capacity]
        self._ask_px, self._ask_qty = &s[2 * capacity], &s[3 * capacity]
        self._cache_keys = []
        self._cache_vals = []

    cpdef int classify(self, object raw) except -1:
        """The frame's ``MessageType`` (fully validated) without applying, emitting or moving the sequence."""
        self._apply = False
        try:
            return self.feed(raw, 0)
        finally:
            self._apply = True

    def reset_sequence(self):
        """A new connection: its ``sequence_num`` starts again (the manager's ``on_connection_lost``)."""
        self.expected_sequence = -1

    def stats(self):
        return {"frames": self.frames, "data_frames": self.data_frames, "acks": self.acks,
                "error_frames": self.error_frames, "unknown_frames": self.unknown_frames,
                "sequence_gaps": self.sequence_gaps, "stale_frames": self.stale_frames,
                "parse_errors": self.parse_errors}

    cdef str _str(self, const char* p, Py_ssize_t n):
        """The str of ``p[0:n]``, cached (product ids): no allocation once seen."""
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

    cdef int _fail(self, str channel, const char* field, const char* at, int rc) except -1:
        self.parse_errors += 1
        where = f"{channel}: field '{field.decode()}'" if field != NULL else channel
        reason = {_MISSING: "missing", _BAD: "not a valid value"}.get(rc) or json_error_message(rc)
        raise ParseError(f"{self.exchange}: {where}: {reason} at byte {at - self._base}")

    cdef int _gap(self, str reason) except -1:
        """Book updates were lost on this connection: every book is invalid and asks for a fresh snapshot."""
        cdef BookSync sync
        if self.books is None:
            return 0
        for symbol in self.books.symbols():
            sync = self.books.get(symbol)
            sync.c_invalidate(reason, True)
        return 0

    # ---- the frame --------------------------------------------------------------------------
    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef JsonIter it
        cdef JsonSpan k, v, channel, events, message
        cdef int64_t seq = -1
        cdef int rc, kind = C_OTHER
        cdef bint has_events = False, is_error = False
        self.frames += 1
        self._base = p
        memset(&channel, 0, sizeof(JsonSpan))
        memset(&events, 0, sizeof(JsonSpan))
        memset(&message, 0, sizeof(JsonSpan))
        channel.ptr = events.ptr = message.ptr = p
        rc = json_object_begin(&it, p, p + n)
        while rc == 0:
            rc = json_object_next_lazy(&it, &k, &v)
            if rc != 1:
                break
            rc = 0
            if k.has_escapes:
                continue
            if _is(&k, b"events", 6):
                if v.kind == JSON_ARRAY:
                    rc = json_iter_take(&it, &v)
                events, has_events = v, True
            elif _is(&k, b"channel", 7):
                channel = v
                if _is(&v, b"l2_data", 7):
                    kind = C_L2
                elif _is(&v, b"market_trades", 13):
                    kind = C_TRADES
                elif _is(&v, b"ticker", 6) or _is(&v, b"ticker_batch", 12):
                    kind = C_TICKER
                elif _is(&v, b"candles", 7):
                    kind = C_CANDLES
                elif _is(&v, b"user", 4):
                    kind = C_USER
                elif _is(&v, b"heartbeats", 10):
                    kind = C_HEARTBEATS
                elif _is(&v, b"subscriptions", 13):
                    kind = C_SUBSCRIPTIONS
            elif _is(&k, b"sequence_num", 12):
                if json_span_to_int64(&v, &seq) != 0 or seq < 0:
                    return self._fail("envelope", b"sequence_num", v.ptr, JSON_ERR_VALUE)
            elif _is(&k, b"type", 4):
                is_error = _is(&v, b"error", 5)
            elif _is(&k, b"message", 7):
                message = v
        if rc < 0:
            return self._fail("invalid JSON", NULL, it.p, rc)
        rc = json_expect_end(it.p, p + n)
        if rc < 0:
            return self._fail("invalid JSON", NULL, it.p, rc)
        if is_error:
            self.error_frames += 1
            self.control_code = 1
            self.control_text = PyUnicode_DecodeUTF8(message.ptr, message.len, "replace") if message.ptr != p else ""
            return MT_ERROR
        if self._apply and seq >= 0:
            if self.expected_sequence >= 0 and seq != self.expected_sequence:
                if seq < self.expected_sequence:   # a duplicate or a late frame: already accounted for
                    self.stale_frames += 1
                    return MT_DATA
                self.sequence_gaps += 1
                self._gap(f"gap: sequence_num {self.expected_sequence} expected, got {seq}")
            self.expected_sequence = seq + 1
        if kind == C_SUBSCRIPTIONS:
            self.acks += 1
            return MT_SUBSCRIPTION_ACK
        if kind == C_HEARTBEATS:
            return MT_DATA
        if kind == C_OTHER or (kind == C_USER) != self.private:
            self.unknown_frames += 1
            return MT_UNKNOWN
        if not has_events or events.kind != JSON_ARRAY:
            if kind == C_L2 and self._apply:
                self._gap("malformed l2_data frame")
            return self._fail(self._text(&channel), b"events", events.ptr if has_events else p,
                              _MISSING if not has_events else JSON_ERR_TYPE)
        if kind == C_L2:
            try:
                return self._books(&events, seq, recv_ns)
            except ParseError:
                if self._apply:
                    self._gap("malformed l2_data frame")
                raise
        return self._items(kind, &events, recv_ns)

    cdef str _text(self, const JsonSpan* v):
        return PyUnicode_DecodeUTF8(v.ptr, v.len, "replace") if v.kind == JSON_STRING else "frame"

    cdef int _books(self, const JsonSpan* events, int64_t seq, int64_t recv_ns) except -1:
        """``l2_data``: every event's updates into the scratch arrays, checked, then each applied to its book."""
        cdef JsonSpan k, v, item
        cdef JsonSpan f[3]
        cdef JsonSpan lf[3]
        cdef const char* p
        cdef const char* end
        cdef const char* obj
        cdef Py_ssize_t n_events = 0, nb = 0, na = 0, i
        cdef double px, qty
        cdef int rc
        cdef _BookEvent* e
        cdef BookSync sync
        # ``events`` was validated whole by json_iter_take: walked here once, in place, without validating it
        # again (every read is bounded by ``end``; NULL from the walk means the bytes ended early)
        end = events.ptr + events.len
        p = events.ptr + 1
        while True:
            p = _t_ws(p, end)
            if p < end and p[0] == b',':
                p = _t_ws(p + 1, end)
            if p >= end or p[0] == b']':
                break
            if n_events == _MAX_BOOK_EVENTS or p[0] != b'{':
                return self._fail("l2_data", b"events", p, _BAD)
            e = &self._events[n_events]
            memset(f, 0, 3 * sizeof(JsonSpan))
            e.b0, e.a0 = nb, na
            obj = p
            p += 1
            while True:       # the event's members
                p = _t_ws(p, end)
                if p < end and p[0] == b',':
                    p = _t_ws(p + 1, end)
                if p >= end or p[0] == b'}':
                    p += 1
                    break
                p = _t_value(p, end, &k)
                if p == NULL:
                    return self._fail("l2_data", b"events", obj, JSON_ERR_EOF)
                p = _t_ws(_t_ws(p, end) + 1, end)    # past the ':'
                if _is(&k, b"updates", 7) and p < end and p[0] == b'[':
                    f[2].kind, f[2].ptr = JSON_ARRAY, p
                    p += 1
                    while True:   # the levels, each {"side":..,"event_time":..,"price_level":..,"new_quantity":..}
                        p = _t_ws(p, end)
                        if p < end and p[0] == b',':
                            p = _t_ws(p + 1, end)
                        if p >= end or p[0] == b']':
                            p += 1
                            break
                        if p[0] != b'{':
                            return self._fail("l2_data", b"updates", p, JSON_ERR_TYPE)
                        item.ptr = p
                        memset(lf, 0, 3 * sizeof(JsonSpan))
                        lf[0].ptr = lf[1].ptr = lf[2].ptr = p
                        p += 1
                        while True:
                            p = _t_ws(p, end)
                            if p < end and p[0] == b',':
                                p = _t_ws(p + 1, end)
                            if p >= end or p[0] == b'}':
                                p += 1
                                break
                            p = _t_value(p, end, &k)
                            if p != NULL:
                                p = _t_value(_t_ws(_t_ws(p, end) + 1, end), end, &v)
                            if p == NULL:
                                return self._fail("l2_data", b"updates", item.ptr, JSON_ERR_EOF)
                            if _is(&k, b"side", 4):
                                lf[0] = v
                            elif _is(&k, b"price_level", 11):
                                lf[1] = v
                            elif _is(&k, b"new_quantity", 12):
                                lf[2] = v
                        if json_span_to_double(&lf[1], &px) != 0 or not (isfinite(px) and px > 0.0):
                            return self._fail("l2_data", b"price_level", lf[1].ptr, _MISSING if lf[1].kind == 0 else _BAD)
                        if json_span_to_double(&lf[2], &qty) != 0 or not (isfinite(qty) and qty >= 0.0):
                            return self._fail("l2_data", b"new_quantity", lf[2].ptr, _MISSING if lf[2].kind == 0 else _BAD)
                        if _is(&lf[0], b"bid", 3):
                            if nb == self.capacity:
                                return self._fail("l2_data", b"updates", item.ptr, JSON_TOO_MANY)
                            self._bid_px[nb], self._bid_qty[nb] = px, qty
                            nb += 1
                        elif _is(&lf[0], b"offer", 5):
                            if na == self.capacity:
                                return self._fail("l2_data", b"updates", item.ptr, JSON_TOO_MANY)
                            self._ask_px[na], self._ask_qty[na] = px, qty
                            na += 1
                        else:
                            return self._fail("l2_data", b"side", lf[0].ptr, _BAD if lf[0].kind else _MISSING)
                    continue
                p = _t_value(p, end, &v)
                if p == NULL:
                    return self._fail("l2_data", b"events", obj, JSON_ERR_EOF)
                if _is(&k, b"type", 4):
                    f[0] = v
                elif _is(&k, b"product_id", 10):
                    f[1] = v
                elif _is(&k, b"updates", 7):
                    f[2] = v      # not an array: refused below
            if f[1].kind != JSON_STRING or f[2].kind != JSON_ARRAY:
                return self._fail("l2_data", b"product_id" if f[1].kind != JSON_STRING else b"updates",
                                  f[1].ptr if f[1].kind == JSON_STRING else (f[2].ptr if f[2].ptr else obj), _MISSING
                                  if (f[1].kind == 0 or f[2].kind == 0) else JSON_ERR_TYPE)
            e.product = f[1]
            e.snapshot = _is(&f[0], b"snapshot", 8)
            if not e.snapshot and not _is(&f[0], b"update", 6):
                return self._fail("l2_data", b"type", f[0].ptr if f[0].ptr else obj, _BAD)
            e.nb, e.na = nb - e.b0, na - e.a0
            n_events += 1
        if not self._apply:
            return MT_DATA
        self.data_frames += 1
        for i in range(n_events):
            e = &self._events[i]
            sync = self.books.c_get(e.product.ptr, e.product.len)
            if e.snapshot:
                if sync.state == WAITING:   # deltas buffered before it are older than the snapshot
                    sync.c_invalidate(sync.invalid_reason, False)
                sync.on_full_snapshot(seq, self._bid_px + e.b0, self._bid_qty + e.b0, e.nb,
                                      self._ask_px + e.a0, self._ask_qty + e.a0, e.na, 0, recv_ns)
            else:
                # the connection's sequence is the continuity check: each update continues its book
                sync.on_delta_validated(sync.book.last_update_id + 1, seq, 0, self._bid_px + e.b0,
                                        self._bid_qty + e.b0, e.nb, self._ask_px + e.a0, self._ask_qty + e.a0,
                                        e.na, 0, recv_ns)
        return MT_DATA

    cdef int _items(self, int kind, const JsonSpan* events, int64_t recv_ns) except -1:
        """Trades, tickers, candles, orders: ``events[].<array>[]``; checked whole, then emitted.

        The ``snapshot`` events of trades and candles (history from before the subscription) are checked
        but not delivered.
        """
        cdef JsonIter it, ai
        cdef JsonSpan ev, item
        cdef JsonSpan f[7]
        cdef int rc, emit
        for emit in range(2 if self._apply else 1):
            rc = json_array_begin(&it, events.ptr, events.ptr + events.len)
            while rc == 0:
                rc = json_array_next(&it, &ev)
                if rc != 1:
                    break
                rc = 0
                if _fields(&ev, CB_EVENT, 7, f) != 0 or f[2 + kind].kind != JSON_ARRAY:
                    return self._fail("events", CB_EVENT[2 + kind].name, f[2 + kind].ptr,
                                      _MISSING if f[2 + kind].kind == 0 else JSON_ERR_TYPE)
                rc = json_array_begin(&ai, f[2 + kind].ptr, f[2 + kind].ptr + f[2 + kind].len)
                while rc == 0:
                    rc = json_array_next(&ai, &item)
                    if rc != 1:
                        break
                    rc = 0
                    self._item(kind, &item, emit and not ((kind == C_TRADES or kind == C_CANDLES)
                                                          and _is(&f[0], b"snapshot", 8)), recv_ns)
        if self._apply:
            self.data_frames += 1
        return MT_DATA

    cdef int _item(self, int kind, const JsonSpan* obj, bint emit, int64_t recv_ns) except -1:
        cdef JsonSpan f[_MAX_KEYS]
        cdef double d[9]
        cdef int64_t t = 0, tid = -1
        cdef int i, n, side = 0
        cdef const cb_key* keys
        cdef Trade tr
        cdef BookTicker bt
        cdef Ticker tk
        cdef Kline kl
        cdef OrderUpdate ou
        if kind == C_TRADES:
            keys, n = CB_TRADE, 6
        elif kind == C_TICKER:
            keys, n = CB_TICKER, 10
        elif kind == C_CANDLES:
            keys, n = CB_CANDLE, 7
        else:
            keys, n = CB_ORDER, 11
        if _fields(obj, keys, n, f) != 0 or f[0].kind != JSON_STRING:
            return self._fail("item", b"product_id", f[0].ptr, _MISSING if f[0].kind == 0 else JSON_ERR_TYPE)
        # numbers: every slot listed per kind; required ones must be there, optional ones are NaN when absent/""
        for i in range(9):
            d[i] = NAN
        if kind == C_TRADES:
            for i in range(2):
                if json_span_to_double(&f[2 + i], &d[i]) != 0:
                    return self._fail("market_trades", keys[2 + i].name, f[2 + i].ptr, _MISSING if f[2 + i].kind == 0 else _BAD)
            side = SIDE_BUY if _is(&f[5], b"BUY", 3) else SIDE_SELL if _is(&f[5], b"SELL", 4) else -1
            if side < 0 or _iso_ns(&f[4], &t) != 0:
                return self._fail("market_trades", b"side" if side < 0 else b"time", f[5].ptr if side < 0 else f[4].ptr, _BAD)
            if f[1].kind == 0 or parse_int64(f[1].ptr, f[1].len, &tid) != NUM_OK:
                tid = -1
        else:
            for i in range(1, n):
                if f[i].kind == 0 or _is(&f[i], b"", 0):
                    continue
                if kind == C_USER and (i < 6 or i == 10):
                    continue   # ids and enums (text), the time (ISO)
                if kind == C_CANDLES and i == 1:
                    if json_span_to_int64(&f[1], &t) != 0 or not 0 <= t <= 9223372036:
                        return self._fail("candles", b"start", f[1].ptr, _BAD)
                    continue
                if json_span_to_double(&f[i], &d[i - 1]) != 0:
                    return self._fail("item", keys[i].name, f[i].ptr, _BAD)
        if not emit:
            return 0
        symbol = self._str(f[0].ptr, f[0].len)
        if kind == C_TRADES:
            tr = <Trade>self._trades.acquire()
            tr.exchange, tr.symbol, tr.exchange_ts_ns, tr.recv_ns = self.exchange, symbol, t, recv_ns
            tr.price, tr.qty, tr.side, tr.trade_id = d[0], d[1], side, tid
            tr.trade_id_str = "" if tid >= 0 else PyUnicode_DecodeUTF8(f[1].ptr, f[1].len, "replace")
            self.dispatcher.emit(tr)
        elif kind == C_TICKER:
            if (self.ticker_mask & 1) and isfinite(d[0]) and isfinite(d[2]):
                bt = <BookTicker>self._book_tickers.acquire()
                bt.exchange, bt.symbol, bt.exchange_ts_ns, bt.recv_ns = self.exchange, symbol, 0, recv_ns
                bt.bid_price, bt.bid_qty, bt.ask_price, bt.ask_qty, bt.update_id = d[0], d[1], d[2], d[3], 0
                self.dispatcher.emit(bt)
            if (self.ticker_mask & 2) and isfinite(d[4]):
                tk = <Ticker>self._tickers.acquire()
                tk.exchange, tk.symbol, tk.exchange_ts_ns, tk.recv_ns = self.exchange, symbol, 0, recv_ns
                tk.last, tk.high, tk.low, tk.volume, tk.quote_volume, tk.change_pct = d[4], d[5], d[6], d[7], NAN, d[8]
                self.dispatcher.emit(tk)
        elif kind == C_CANDLES:
            kl = <Kline>self._klines.acquire()
            kl.exchange, kl.symbol, kl.exchange_ts_ns, kl.recv_ns, kl.interval = self.exchange, symbol, 0, recv_ns, "5m"
            kl.open_time_ns, kl.close_time_ns = t * 1000000000, (t + 300) * 1000000000
            kl.open, kl.high, kl.low, kl.close, kl.volume, kl.quote_volume = d[1], d[2], d[3], d[4], d[5], NAN
            kl.closed = False
            self.dispatcher.emit(kl)
        else:
            ou = <OrderUpdate>self._orders.acquire()
            ou.exchange, ou.symbol, ou.recv_ns = self.exchange, symbol, recv_ns
            ou.exchange_ts_ns = t if _iso_ns(&f[10], &t) == 0 else 0
            ou.order_id = PyUnicode_DecodeUTF8(f[1].ptr, f[1].len, "replace")
            ou.client_order_id = PyUnicode_DecodeUTF8(f[2].ptr, f[2].len, "replace")
            ou.side = SIDE_BUY if _is(&f[3], b"BUY", 3) else SIDE_SELL if _is(&f[3], b"SELL", 4) else 0
            ou.order_type = PyUnicode_DecodeUTF8(f[4].ptr, f[4].len, "replace")
            ou.status = PyUnicode_DecodeUTF8(f[5].ptr, f[5].len, "replace")
            ou.price, ou.filled_qty, ou.avg_price = d[5], d[6], d[8]
            ou.qty = d[6] + d[7] if isfinite(d[7]) else NAN   # filled + left
            self.dispatcher.emit(ou)
        return 0
