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
    JSON_ARRAY, JSON_ERR_TYPE, JSON_OBJECT, JSON_STRING, JSON_TOO_MANY, JsonIter, JsonSpan,
    json_array_begin, json_array_next, json_iter_error, json_object_begin, json_object_next, json_span_eq,
    json_span_to_double, json_span_to_int64, json_validate,
)
from feedhandler.codec.numbers cimport NUM_OK, parse_int64, parse_iso8601_ns
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport SIDE_BUY, SIDE_SELL, BookTicker, Kline, OrderUpdate, Ticker, Trade, acquire_event
from feedhandler.kernel.event_decoder cimport EventDecoder
from feedhandler.kernel.exact cimport fx_dec, fx_lit, fx_str, fx_uint
from feedhandler.kernel.extract cimport (
    KF_REQUIRED, KT_EACH, KT_ERR_ITEM, KT_INT64, KT_PRICE, KT_SELECT, KT_SIZE, KT_SPAN, KT_STR, FieldTable, KtOut,
    KtTable, kt_error_text, kt_price_ok, kt_scan, kt_seen, kt_size_ok, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.sync.book_sync cimport WAITING, BookSync, BookSyncGroup

from feedhandler.codec.json_scan import json_error_message
from feedhandler.core.errors import ParseError

cdef enum:
    # channel kinds; the item kinds index CB_EVENT below
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
    _MAX_KEYS = 12
    # kernel slots (feedhandler/kernel/README.md): the envelope, an l2_data event, one of its updates
    S_CHANNEL = 0
    S_SEQ = 1
    S_TYPE = 2
    S_MSG = 3
    S_EVENTS = 4
    S_ETYPE = 5
    S_PRODUCT = 6
    S_UPDATES = 7
    S_SIDE = 8
    S_PX = 9
    S_QTY = 10

# l2_data is read by the kernel in one pass: the levels land in the scratch arrays as they are met.
UPDATE = FieldTable("coinbase.update", [("side", KT_STR, S_SIDE, KF_REQUIRED),
                                        ("price_level", KT_PRICE, S_PX, KF_REQUIRED),
                                        ("new_quantity", KT_SIZE, S_QTY, KF_REQUIRED)])
L2_EVENT = FieldTable("coinbase.l2_event", [("type", KT_SPAN, S_ETYPE), ("product_id", KT_STR, S_PRODUCT, KF_REQUIRED),
                                            ("updates", KT_EACH, S_UPDATES, KF_REQUIRED, UPDATE)])
# the other channels' events are kept as a validated span (KT_SELECT without a table) and read below
FRAME = FieldTable("coinbase", [("channel", KT_SPAN, S_CHANNEL), ("sequence_num", KT_INT64, S_SEQ),
                                ("type", KT_SPAN, S_TYPE), ("message", KT_SPAN, S_MSG),
                                ("events", KT_SELECT, S_EVENTS)])
cdef FieldTable _L2 = L2_EVENT
cdef FieldTable _FRAME = FRAME

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
    static cb_key CB_CHANNELS[] = {CB_K(""), CB_K("market_trades"), CB_K("ticker"), CB_K("candles"), CB_K("user"),
        CB_K("l2_data"), CB_K("heartbeats"), CB_K("subscriptions"), CB_K("ticker_batch")};
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
    cb_key CB_CHANNELS[9]
    cb_key CB_EVENT[7]

cdef int _fields(const JsonSpan* obj, const cb_key* keys, Py_ssize_t nkeys, JsonSpan* out) noexcept:
    """The values of ``keys`` in the (validated) JSON object ``obj``: ``out[i]``, kind 0 at the object when absent."""
    cdef JsonIter it
    cdef JsonSpan k, v
    cdef Py_ssize_t i
    memset(out, 0, nkeys * sizeof(JsonSpan))
    for i in range(nkeys):
        out[i].ptr = obj.ptr
    if obj.kind != JSON_OBJECT:
        return JSON_ERR_TYPE
    json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
    while json_object_next(&it, &k, &v) == 1:
        if not k.has_escapes:
            for i in range(nkeys):
                if k.len == keys[i].len and memcmp(k.ptr, keys[i].name, k.len) == 0:
                    out[i] = v   # a repeated key: the last one wins, as with json.loads
                    break
    return json_iter_error(&it)

cdef inline bint _is(const JsonSpan* s, const char* lit, Py_ssize_t n) noexcept nogil:
    return json_span_eq(s, lit, n)


cdef int _channel(const JsonSpan* v) noexcept nogil:
    """The channel kind (C_*: the index in CB_CHANNELS; ``ticker_batch`` is a ticker)."""
    cdef int i
    for i in range(1, 9):
        if _is(v, CB_CHANNELS[i].name, CB_CHANNELS[i].len):
            return C_TICKER if i == 8 else i
    return C_OTHER


cdef const KtTable* _select(void* ctx, int slot, KtOut* o) noexcept:
    """``events`` of an ``l2_data`` frame (an array) is read with the l2 table; any other is kept as a span."""
    if o.span[S_EVENTS].kind == JSON_ARRAY and kt_seen(o, S_CHANNEL) and _channel(&o.span[S_CHANNEL]) == C_L2:
        (<CoinbaseDecoder>ctx)._l2_read = True
        return &_L2.table
    return NULL


cdef int _on_item(void* ctx, int slot, KtOut* o, Py_ssize_t index) noexcept:
    return (<CoinbaseDecoder>ctx)._book_item(slot, o)


cdef inline const char* _num(const char* q, const char* end, double* out) noexcept:
    """A number string as the general path reads it: kernel/exact's plain decimal, else any text fx_str takes."""
    cdef JsonSpan t
    cdef const char* r = fx_dec(q, end, out, &t)
    if r == NULL:
        r = fx_str(q, end, &t)
        if r != NULL and json_span_to_double(&t, out) != 0:
            return NULL
    return r


cdef inline int _iso_ns(const JsonSpan* v, int64_t* out) noexcept nogil:
    return 0 if v.kind == JSON_STRING and parse_iso8601_ns(v.ptr, v.len, out) == NUM_OK else -1


cdef class CoinbaseDecoder(EventDecoder):
    """Compiled Coinbase Advanced Trade decoder (public or private side).

    The parameters are :class:`~feedhandler.kernel.event_decoder.EventDecoder`'s: ``books`` holds the
    ``level2`` books (rule ``coinbase``), keyed by ``product_id``; ``private`` decodes the ``user`` channel
    (orders). ``classify`` also leaves the connection's sequence where it is.
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, bint private=False,
                 Py_ssize_t capacity=100_000, str exchange="coinbase"):
        EventDecoder.__init__(self, dispatcher, books, private, capacity, exchange)
        self.expected_sequence = -1
        cdef Py_ssize_t n = self.capacity
        self._scratch = np.zeros(4 * n, dtype=np.float64)
        cdef double[::1] s = self._scratch
        self._bid_px, self._bid_qty = &s[0], &s[n]
        self._ask_px, self._ask_qty = &s[2 * n], &s[3 * n]
        self.out.select = _select
        self.out.on_item = _on_item
        self.out.ctx = <void*>self

    def reset_sequence(self):
        """A new connection: its ``sequence_num`` starts again (the manager's ``on_connection_lost``)."""
        self.expected_sequence = -1

    def stats(self):
        """EventDecoder's counters and the connection's sequence: holes and older frames dropped."""
        return {**EventDecoder.stats(self), "sequence_gaps": self.sequence_gaps, "stale_frames": self.stale_frames}

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

    cdef int _sequence(self, int64_t seq) except -1:
        """The connection's ``sequence_num``: 1 if the frame is older than expected (dropped), else 0; a hole
        invalidates every book."""
        if self.expected_sequence >= 0 and seq != self.expected_sequence:
            if seq < self.expected_sequence:   # a duplicate or a late frame: already accounted for
                self.stale_frames += 1
                return 1
            self.sequence_gaps += 1
            self._gap(f"gap: sequence_num {self.expected_sequence} expected, got {seq}")
        self.expected_sequence = seq + 1
        return 0

    # ---- the frame --------------------------------------------------------------------------
    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef int64_t seq = -1
        cdef int kind = C_OTHER
        self.frames += 1
        self._base = p
        self._nev = self._nb = self._na = self._b0 = self._a0 = 0
        self._l2_read = False
        if not self.private and self._exact_l2(p, p + n, &seq):
            # Coinbase's own l2_data layout, read token by token (kernel/exact.pxd): what the scan below gives
            if self._apply and self._sequence(seq):
                return MessageType.DATA
            return self._apply_books(seq, recv_ns)
        if kt_scan(&_FRAME.table, p, n, o) < 0:     # one pass: an l2_data frame's levels are read as met
            return self._scan_failed(p, n)
        if kt_seen(o, S_CHANNEL):
            kind = _channel(&o.span[S_CHANNEL])
        if kt_seen(o, S_SEQ):
            seq = o.i64[S_SEQ]
            if seq < 0:
                return self._fail("envelope", b"sequence_num", o.span[S_SEQ].ptr, _BAD)
        if kt_seen(o, S_TYPE) and _is(&o.span[S_TYPE], b"error", 5):
            self.error_frames += 1
            self.control_code = 1
            self.control_text = kt_text(&o.span[S_MSG]) if kt_seen(o, S_MSG) else ""
            return MessageType.ERROR
        if self._apply and seq >= 0 and self._sequence(seq):
            return MessageType.DATA
        if kind == C_SUBSCRIPTIONS:
            self.acks += 1
            return MessageType.SUBSCRIPTION_ACK
        if kind == C_HEARTBEATS:
            return MessageType.DATA
        if kind == C_OTHER or (kind == C_USER) != self.private:
            self.unknown_frames += 1
            return MessageType.UNKNOWN
        if not kt_seen(o, S_EVENTS) or o.span[S_EVENTS].kind != JSON_ARRAY or (kind == C_L2 and not self._l2_read):
            if kind == C_L2 and self._apply:
                self._gap("malformed l2_data frame")
            if kt_seen(o, S_EVENTS) and o.span[S_EVENTS].kind == JSON_ARRAY:
                return self._fail("l2_data", b"events", o.span[S_EVENTS].ptr, _BAD)   # before "channel"
            return self._fail(kt_text(&o.span[S_CHANNEL]), b"events", o.span[S_EVENTS].ptr if kt_seen(o, S_EVENTS)
                              else p, _MISSING if not kt_seen(o, S_EVENTS) else JSON_ERR_TYPE)
        if kind == C_L2:
            return self._apply_books(seq, recv_ns)
        return self._items(kind, &o.span[S_EVENTS], recv_ns)

    cdef bint _exact_l2(self, const char* q, const char* end, int64_t* seq) noexcept:
        """``{"channel":"l2_data",["client_id":"..",]"timestamp":"..","sequence_num":N,"events":[{"type":
        "snapshot"|"update","product_id":"..","updates":[{"side":"bid"|"offer","event_time":"..","price_level":
        "..","new_quantity":".."},..]},..]}`` exactly (no whitespace): True with the events and levels in place
        as ``_book_item`` leaves them; False (nothing kept) for any other bytes, left to the general scan."""
        cdef JsonSpan t
        q = fx_lit(q, end, b'{"channel":"l2_data",', 21)
        if fx_lit(q, end, b'"client_id":', 12) != NULL:
            q = fx_lit(fx_str(q + 12, end, &t), end, b',', 1)
        q = fx_lit(fx_str(fx_lit(q, end, b'"timestamp":', 12), end, &t), end, b',"sequence_num":', 16)
        q = fx_lit(fx_uint(q, end, seq, &t), end, b',"events":[', 11)
        while q != NULL and self._nev < _MAX_BOOK_EVENTS:
            q = self._exact_event(q, end)
            if fx_lit(q, end, b']}', 2) == end:
                return True
            q = fx_lit(q, end, b',', 1)
        self._nev = self._nb = self._na = self._b0 = self._a0 = 0
        return False

    cdef const char* _exact_event(self, const char* q, const char* end) noexcept:
        """One ``{"type":..,"product_id":..,"updates":[..]}`` of _exact_l2 (NULL: not that layout)."""
        cdef JsonSpan t
        cdef double px, qty
        cdef bint bid
        cdef _BookEvent* e = &self._events[self._nev]
        q = fx_lit(q, end, b'{"type":"', 9)
        e.snapshot = fx_lit(q, end, b'snapshot"', 9) != NULL
        q = fx_lit(q, end, b'snapshot"', 9) if e.snapshot else fx_lit(q, end, b'update"', 7)
        q = fx_lit(fx_str(fx_lit(q, end, b',"product_id":', 14), end, &e.product), end, b',"updates":[', 12)
        if q == NULL:
            return NULL
        while fx_lit(q, end, b']', 1) == NULL:
            q = fx_lit(q, end, b'{"side":"', 9)
            bid = fx_lit(q, end, b'bid"', 4) != NULL
            q = fx_lit(q, end, b'bid"', 4) if bid else fx_lit(q, end, b'offer"', 6)
            q = fx_lit(fx_str(fx_lit(q, end, b',"event_time":', 14), end, &t), end, b',"price_level":', 15)
            q = fx_lit(_num(fx_lit(_num(q, end, &px), end, b',"new_quantity":', 16), end, &qty), end, b'}', 1)
            if q == NULL or not (kt_price_ok(px) and kt_size_ok(qty)) or max(self._nb, self._na) == self.capacity:
                return NULL
            if bid:
                self._bid_px[self._nb], self._bid_qty[self._nb] = px, qty
                self._nb += 1
            else:
                self._ask_px[self._na], self._ask_qty[self._na] = px, qty
                self._na += 1
            if fx_lit(q, end, b',{', 2) != NULL:
                q += 1                          # another update follows (a comma before ']' is refused)
            elif fx_lit(q, end, b']', 1) == NULL:
                return NULL
        e.b0, e.a0, e.nb, e.na = self._b0, self._a0, self._nb - self._b0, self._na - self._a0
        self._b0, self._a0 = self._nb, self._na
        self._nev += 1
        return fx_lit(q, end, b']}', 2)

    cdef int _scan_failed(self, const char* p, Py_ssize_t n) except -1:
        """A frame the kernel refused. An ``l2_data`` frame that is JSON but cannot be read is a lost book
        update: its ``sequence_num`` counts and the books are invalid (a frame that is not JSON is left to the
        next frame's ``sequence_num``)."""
        cdef KtOut* o = &self.out
        if self._apply and kt_seen(o, S_CHANNEL) and _channel(&o.span[S_CHANNEL]) == C_L2 \
                and json_validate(p, p + n) == 0:
            if not (kt_seen(o, S_SEQ) and o.i64[S_SEQ] >= 0 and self._sequence(o.i64[S_SEQ])):
                self._gap("malformed l2_data frame")
        if o.err_code == KT_ERR_ITEM:
            return self._fail("l2_data", self._err_field, self._err_at, self._err_rc)
        self.parse_errors += 1
        raise ParseError(f"{self.exchange}: {kt_error_text(o, p)}")

    cdef int _item_error(self, const char* field, const char* at, int rc) noexcept:
        self._err_field, self._err_at, self._err_rc = field, at, rc
        return -1

    cdef int _book_item(self, int slot, KtOut* o) noexcept:
        """Kernel callback (no allocation): an update into the scratch arrays by its side, or a whole l2 event."""
        cdef const JsonSpan* side = &o.span[S_SIDE]
        cdef _BookEvent* e
        if slot == S_UPDATES:
            if _is(side, b"bid", 3):
                if self._nb == self.capacity:
                    return self._item_error(b"updates", side.ptr, JSON_TOO_MANY)
                self._bid_px[self._nb], self._bid_qty[self._nb] = o.f64[S_PX], o.f64[S_QTY]
                self._nb += 1
            elif _is(side, b"offer", 5):
                if self._na == self.capacity:
                    return self._item_error(b"updates", side.ptr, JSON_TOO_MANY)
                self._ask_px[self._na], self._ask_qty[self._na] = o.f64[S_PX], o.f64[S_QTY]
                self._na += 1
            else:
                return self._item_error(b"side", side.ptr, _BAD)
            return 0
        if self._nev == _MAX_BOOK_EVENTS:
            return self._item_error(b"events", o.span[S_PRODUCT].ptr, _BAD)
        e = &self._events[self._nev]
        e.snapshot = kt_seen(o, S_ETYPE) and _is(&o.span[S_ETYPE], b"snapshot", 8)
        if not e.snapshot and not (kt_seen(o, S_ETYPE) and _is(&o.span[S_ETYPE], b"update", 6)):
            return self._item_error(b"type", o.span[S_ETYPE].ptr if kt_seen(o, S_ETYPE) else o.span[S_PRODUCT].ptr,
                                    _BAD)
        e.product = o.span[S_PRODUCT]
        e.b0, e.a0, e.nb, e.na = self._b0, self._a0, self._nb - self._b0, self._na - self._a0
        self._b0, self._a0 = self._nb, self._na
        self._nev += 1
        return 0

    cdef int _apply_books(self, int64_t seq, int64_t recv_ns) except -1:
        """``l2_data``, read and checked whole: each event applied to its book."""
        cdef Py_ssize_t i
        cdef _BookEvent* e
        cdef BookSync sync
        if not self._apply:
            return MessageType.DATA
        self.data_frames += 1
        for i in range(self._nev):
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
        return MessageType.DATA

    cdef int _items(self, int kind, const JsonSpan* events, int64_t recv_ns) except -1:
        """Trades, tickers, candles, orders: ``events[].<array>[]``; checked whole, then emitted.

        The ``snapshot`` events of trades and candles (history from before the subscription) are checked
        but not delivered.
        """
        cdef JsonIter it, ai
        cdef JsonSpan ev, item
        cdef JsonSpan f[7]
        cdef int emit
        for emit in range(2 if self._apply else 1):
            json_array_begin(&it, events.ptr, events.ptr + events.len)   # validated by the frame's scan
            while json_array_next(&it, &ev) == 1:
                if _fields(&ev, CB_EVENT, 7, f) != 0 or f[2 + kind].kind != JSON_ARRAY:
                    return self._fail("events", CB_EVENT[2 + kind].name, f[2 + kind].ptr,
                                      _MISSING if f[2 + kind].kind == 0 else JSON_ERR_TYPE)
                json_array_begin(&ai, f[2 + kind].ptr, f[2 + kind].ptr + f[2 + kind].len)
                while json_array_next(&ai, &item) == 1:
                    self._item(kind, &item, emit and not ((kind == C_TRADES or kind == C_CANDLES)
                                                          and _is(&f[0], b"snapshot", 8)), recv_ns)
        if self._apply:
            self.data_frames += 1
        return MessageType.DATA

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
        symbol = self.symbols.c_intern(f[0].ptr, f[0].len)
        if kind == C_TRADES:
            tr = <Trade>acquire_event(self._trades, self.exchange, symbol, t, recv_ns)
            tr.price, tr.qty, tr.side, tr.trade_id = d[0], d[1], side, tid
            tr.trade_id_str = "" if tid >= 0 else PyUnicode_DecodeUTF8(f[1].ptr, f[1].len, "replace")
            self.dispatcher.emit(tr)
        elif kind == C_TICKER:
            if (self.ticker_mask & 1) and isfinite(d[0]) and isfinite(d[2]):
                bt = <BookTicker>acquire_event(self._book_tickers, self.exchange, symbol, 0, recv_ns)
                bt.bid_price, bt.bid_qty, bt.ask_price, bt.ask_qty, bt.update_id = d[0], d[1], d[2], d[3], 0
                self.dispatcher.emit(bt)
            if (self.ticker_mask & 2) and isfinite(d[4]):
                tk = <Ticker>acquire_event(self._tickers, self.exchange, symbol, 0, recv_ns)
                tk.last, tk.high, tk.low, tk.volume, tk.quote_volume, tk.change_pct = d[4], d[5], d[6], d[7], NAN, d[8]
                self.dispatcher.emit(tk)
        elif kind == C_CANDLES:
            kl = <Kline>acquire_event(self._klines, self.exchange, symbol, 0, recv_ns)
            kl.interval = "5m"
            kl.open_time_ns, kl.close_time_ns = t * 1000000000, (t + 300) * 1000000000
            kl.open, kl.high, kl.low, kl.close, kl.volume, kl.quote_volume = d[1], d[2], d[3], d[4], d[5], NAN
            kl.closed = False
            self.dispatcher.emit(kl)
        else:
            ou = <OrderUpdate>acquire_event(self._orders, self.exchange, symbol, t if _iso_ns(&f[10], &t) == 0 else 0,
                                            recv_ns)
            ou.order_id = PyUnicode_DecodeUTF8(f[1].ptr, f[1].len, "replace")
            ou.client_order_id = PyUnicode_DecodeUTF8(f[2].ptr, f[2].len, "replace")
            ou.side = SIDE_BUY if _is(&f[3], b"BUY", 3) else SIDE_SELL if _is(&f[3], b"SELL", 4) else 0
            ou.order_type = PyUnicode_DecodeUTF8(f[4].ptr, f[4].len, "replace")
            ou.status = PyUnicode_DecodeUTF8(f[5].ptr, f[5].len, "replace")
            ou.price, ou.filled_qty, ou.avg_price = d[5], d[6], d[8]
            ou.qty = d[6] + d[7] if isfinite(d[7]) else NAN   # filled + left
            self.dispatcher.emit(ou)
        return 0
