"""Binance JSON stream decoder: frame bytes -> book deltas and pooled events, all in C, on the decoder kernel.

Frames handled (protocols.md section 3.5):

* combined envelope ``{"stream":"btcusdt@depth@100ms","data":{...}}`` and raw payloads;
* ``depthUpdate`` (``U``/``u``, and ``pu`` for USD-M/COIN-M futures) -> ``BookSync.on_delta_validated``;
* partial depth ``{"lastUpdateId":..,"bids":..,"asks":..}`` (``depth5/10/20``; the symbol comes from
  the stream name, or ``raw_stream`` on a raw connection) -> a full snapshot of a *separate* book
  keyed ``"BTCUSDT@depth20"`` in ``partial_books`` (a ``BookUpdate`` with ``is_snapshot=True``);
* ``trade`` / ``aggTrade`` -> ``Trade`` (taker side from ``m``: buyer is maker => taker SELL);
* ``bookTicker`` (spot: no ``e``; futures: ``e`` = ``bookTicker``) -> ``BookTicker`` (update id ``u``);
* ``kline`` -> ``Kline``; ``serverShutdown`` -> ``MessageType.RECONNECT``;
* ``{"result":..,"id":..}`` -> SUBSCRIPTION_ACK; ``{"error":{..},"id":..}`` / ``{"code":..,"msg":..}``
  -> ERROR.

Two ways in, one result. The spot depthUpdate, trade/aggTrade and bookTicker in Binance's exact wire
layout are matched token by token (``feedhandler.kernel.exact``: the replay and the trade flood are
almost only such frames); every other frame, and any exact-path candidate that is not exactly in that
layout, is scanned once by the kernel's table scanner (``_FRAME``: the payload keys, the envelope's
``stream`` and its ``data`` object holding the same keys), then checked per frame kind. Both paths
decode to the same scratch, differentially tested (``tests/exchanges/binance/test_*_fastpath.py``).
Every frame is fully validated and decoded before anything is applied: a malformed frame raises
``ParseError`` (field and byte offset) and touches no book, symbol table or handler.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp, memcpy, strcmp

from feedhandler.codec.json_scan cimport (
    JSON_ERR_TRAILING, JSON_OBJECT, JSON_OK, JsonSpan, json_span_eq, json_span_to_double, json_span_to_int64,
)
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport SIDE_BUY, SIDE_SELL, BookTicker, EventPool, Kline, Trade, acquire_event
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.exact cimport fx_bool, fx_dec, fx_levels, fx_lit, fx_str_cached, fx_uint
from feedhandler.kernel.extract cimport (
    KF_REQUIRED, KT_BOOL, KT_DOUBLE, KT_ERR_MISSING, KT_ERR_NUMBER, KT_INT64, KT_LEVELS, KT_OBJECT, KT_PRICE,
    KT_SIZE, KT_SPAN, KT_STR, FieldTable, KtLevels, KtOut, kt_levels_ok, kt_price_ok, kt_require, kt_scan,
    kt_scan_span, kt_seen, kt_size_ok, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport BookSync, BookSyncGroup

from feedhandler.core.errors import ParseError
from feedhandler.events.events import BookTicker as _BookTicker, Kline as _Kline, Trade as _Trade

# Largest timestamp accepted, in ns (year 2255): keeps ms/us -> ns multiplication inside int64.
cdef int64_t _MAX_TS_NS = 9000000000000000000LL

# Slots of the kernel's KtOut (one number space for the payload, the kline object and the error object).
cdef enum:
    S_E, S_EV, S_SYM, S_FIRST, S_LAST, S_PREV, S_BP, S_BQ, S_A, S_AQ, S_T, S_PX, S_QTY, S_TT, S_M, S_LUID,
    S_K, S_RESULT, S_ID, S_ERROR, S_CODE, S_MSG, S_STREAM, S_DATA,
    K_OPEN, K_CLOSE, K_SYM, K_INT, K_O, K_H, K_L, K_C, K_V, K_QV, K_X, S_ERR_CODE, S_ERR_MSG
cdef enum:  # level arrays: depthUpdate b/a, partial depth bids/asks
    L_B = 0
    L_A = 1
    L_BIDS = 2
    L_ASKS = 3

# The "e" of each event kind, indexed by BinanceFrameKind ("": no event name of its own).
cdef extern from *:
    """
    static const char* const BN_EVENT_NAMES[] = {"", "depthUpdate", "", "trade", "aggTrade", "bookTicker", "kline",
        "serverShutdown"};
    static const Py_ssize_t BN_EVENT_LENS[] = {0, 11, 0, 5, 8, 10, 5, 14};
    """
    const char* BN_EVENT_NAMES[8]
    const Py_ssize_t BN_EVENT_LENS[8]

cdef int R = KF_REQUIRED
cdef FieldTable _KLINE = FieldTable("binance.kline", [
    ("t", KT_INT64, K_OPEN, R), ("T", KT_INT64, K_CLOSE, R), ("s", KT_STR, K_SYM, R), ("i", KT_STR, K_INT, R),
    ("o", KT_DOUBLE, K_O, R), ("h", KT_DOUBLE, K_H, R), ("l", KT_DOUBLE, K_L, R), ("c", KT_DOUBLE, K_C, R),
    ("v", KT_DOUBLE, K_V, R), ("q", KT_DOUBLE, K_QV, R), ("x", KT_BOOL, K_X, R)])
# Keys whose meaning depends on the frame kind are kept as spans and converted once the kind is known
# ("a": aggTrade id or bookTicker ask price; "t"/"T": ids and times that other kinds do not check).
_PAYLOAD_KEYS = [
    ("e", KT_STR, S_E), ("E", KT_INT64, S_EV), ("s", KT_STR, S_SYM), ("U", KT_INT64, S_FIRST),
    ("u", KT_INT64, S_LAST), ("pu", KT_INT64, S_PREV), ("b", KT_LEVELS, L_B), ("b", KT_PRICE, S_BP),
    ("a", KT_LEVELS, L_A), ("a", KT_SPAN, S_A), ("B", KT_SIZE, S_BQ), ("A", KT_SIZE, S_AQ), ("t", KT_SPAN, S_T),
    ("p", KT_PRICE, S_PX), ("q", KT_SIZE, S_QTY), ("T", KT_SPAN, S_TT), ("m", KT_BOOL, S_M),
    ("lastUpdateId", KT_INT64, S_LUID), ("bids", KT_LEVELS, L_BIDS), ("asks", KT_LEVELS, L_ASKS),
    ("k", KT_OBJECT, S_K, 0, _KLINE), ("result", KT_SPAN, S_RESULT), ("id", KT_SPAN, S_ID),
    ("error", KT_SPAN, S_ERROR), ("code", KT_SPAN, S_CODE), ("msg", KT_SPAN, S_MSG)]
cdef FieldTable _PAYLOAD = FieldTable("binance.data", _PAYLOAD_KEYS)
cdef FieldTable _FRAME = FieldTable("binance", _PAYLOAD_KEYS + [
    ("stream", KT_STR, S_STREAM), ("data", KT_OBJECT, S_DATA, 0, _PAYLOAD)])
# The error object of a WS API / subscription error answer.
cdef FieldTable _ERROR_FIELDS = FieldTable("binance.error", [("code", KT_INT64, S_ERR_CODE),
                                                             ("msg", KT_STR, S_ERR_MSG)])

cdef uint64_t _1 = 1
cdef uint64_t NEED_DEPTH = (_1 << S_SYM) | (_1 << S_FIRST) | (_1 << S_LAST)
cdef uint64_t NEED_TRADE = (_1 << S_SYM) | (_1 << S_PX) | (_1 << S_QTY) | (_1 << S_M)
cdef uint64_t NEED_TICKER = (_1 << S_SYM) | (_1 << S_LAST) | (_1 << S_BP) | (_1 << S_BQ) | (_1 << S_A) | (_1 << S_AQ)
cdef uint64_t IS_TICKER = (_1 << S_SYM) | (_1 << S_LAST) | (_1 << S_BQ) | (_1 << S_AQ)


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
    return not v.has_escapes and 0 < v.len <= 100 and _plain_ascii(v.ptr, v.len)


cdef inline bint _level_key(const char* k) noexcept:
    return k != NULL and (strcmp(k, b"b") == 0 or strcmp(k, b"a") == 0 or strcmp(k, b"bids") == 0
                          or strcmp(k, b"asks") == 0)


cdef inline const char* _begin(BinanceDecoder d, const char* q, const char* end, int slot, const char* lit,
                               Py_ssize_t n) noexcept:
    """An exact frame's start: ``{"stream":"<name>","data":{`` or ``{``, then the payload's first bytes
    ``lit`` (slot: the stream-name cache of this path)."""
    if end - q > 11 and memcmp(q, b'{"stream":', 10) == 0:
        q = fx_str_cached(q + 10, end, d._names_seen[slot], &d._names_len[slot], 64, &d._stream)
        q = fx_lit(q, end, b',"data":{', 9)
        d._has_stream = True
    else:
        q = fx_lit(q, end, b'{', 1)
        d._has_stream = False
    return fx_lit(q, end, lit, n)


cdef inline bint _finish(BinanceDecoder d, const char* q, const char* end) noexcept:
    """The exact frame's end: ``}}`` (envelope) or ``}``, then nothing; and a usable symbol."""
    q = fx_lit(q, end, b'}}', 2) if d._has_stream else fx_lit(q, end, b'}', 1)
    return q == end and 0 < d._sym.len <= 100


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
        # event symbols and kline intervals (a table of its own: hostile names cannot fill the books')
        self._symbols = SymbolTable()
        self.use_levels(max_levels, False, 4)      # the kernel's scratch: L_B, L_A, L_BIDS, L_ASKS

    # ---- entry points (feed: FrameDecoder's, over c_feed) --------------------------------
    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1:
        """The frame's ``MessageType`` by decoding it without applying anything (UNKNOWN if malformed)."""
        try:
            self._decode(p, n)
        except ParseError:
            return MessageType.UNKNOWN
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
        self._decode(p, n)
        self._apply(recv_ns)
        return self._message_type()

    cdef int _control(self) except -1:
        """An ack or error: counted, and its control_id/code/text (decoded once, here)."""
        cdef KtOut* o = &self.out
        cdef int64_t v
        self.control_id = -1
        self.control_code = 0
        self.control_text = None
        if kt_seen(o, S_ID) and json_span_to_int64(&o.span[S_ID], &v) == JSON_OK:
            self.control_id = v
        if self._kind != BK_ERROR:
            self.acks += 1
            return 0
        self.exchange_errors += 1
        if kt_seen(o, S_ERROR):
            # {"error":{"code":-1121,"msg":"Invalid symbol."},"id":1}
            if o.span[S_ERROR].kind == JSON_OBJECT and kt_scan_span(&_ERROR_FIELDS.table, &o.span[S_ERROR], o) == 0:
                if kt_seen(o, S_ERR_CODE):
                    self.control_code = o.i64[S_ERR_CODE]
                if kt_seen(o, S_ERR_MSG):
                    self.control_text = kt_text(&o.span[S_ERR_MSG])
        else:
            if kt_seen(o, S_CODE) and json_span_to_int64(&o.span[S_CODE], &v) == JSON_OK:
                self.control_code = v
            if kt_seen(o, S_MSG):
                self.control_text = kt_text(&o.span[S_MSG])
        if self.control_code == 0:
            self.control_code = -1          # an error without a numeric code is still an error
        return 0

    # ---- errors -----------------------------------------------------------------------
    cdef int _fail(self, int64_t* counter, str field, str what) except -1:
        counter[0] += 1
        return self.fail(field, -1, what)

    cdef int _scan_error(self, const char* p, Py_ssize_t n) except -1:
        """The kernel scan's error, counted by kind: level arrays (their price/size rule: "book"),
        other fields, or the JSON itself."""
        cdef KtOut* o = &self.out
        cdef int code = o.err_code
        if _level_key(o.err_key) and o.err_at != NULL and o.err_at < p + n and o.err_at[0] == b'[' \
                and code != KT_ERR_MISSING:
            if code == KT_ERR_NUMBER:
                self.err_book += 1
            else:
                self.err_levels += 1
        elif o.err_key == NULL or JSON_ERR_TRAILING <= code < 0:
            self.err_json += 1
        else:
            self.err_field += 1
        return self.scan_fail(p, "")

    cdef int _need(self, uint64_t slots, const char* p) except -1:
        if kt_require(&_FRAME.table, &self.out, slots, NULL) < 0:
            self.err_field += 1
            return self.scan_fail(p, "")
        return 0

    cdef int _need_levels(self, int bids, int asks) except -1:
        if not self.out.levels[bids].seen:
            return self._fail(&self.err_field, "b" if bids == L_B else "bids", "required key missing")
        if not self.out.levels[asks].seen:
            return self._fail(&self.err_field, "a" if asks == L_A else "asks", "required key missing")
        return 0

    cdef int _ts(self, int slot, bint span, int64_t* out) except -1:
        """Optional timestamp (ms or us; KT_INT64 or, with ``span``, a span) as ns; 0 when absent."""
        cdef int64_t v = self.out.i64[slot]
        if not kt_seen(&self.out, slot):
            out[0] = 0
            return 0
        if span and json_span_to_int64(&self.out.span[slot], &v) != JSON_OK:
            return self._fail(&self.err_field, "T", "not an int64")
        if v < 0 or v > _MAX_TS_NS / self.ts_scale:
            return self._fail(&self.err_field, "T" if span else "E", "timestamp out of range")
        out[0] = v * self.ts_scale
        return 0

    cdef int _symbol(self, int slot, str name) except -1:
        if not _plain_string(&self.out.span[slot]):
            return self._fail(&self.err_field, name, "must be a plain string")
        return 0

    # ---- decoding ---------------------------------------------------------------------
    cdef int _decode(self, const char* p, Py_ssize_t n) except -1:
        """Validate and decode the whole frame into scratch (``_kind`` and the decoded fields): the exact
        paths first, then the general one. Nothing is applied here."""
        cdef const char* end = p + n
        if self._depth_exact(p, end) or self._ticker_exact(p, end) or self._trade_exact(p, end):
            return 0
        return self._decode_general(p, n)

    cdef bint _depth_exact(self, const char* p, const char* end) noexcept:
        """The spot ``depthUpdate`` in its exact wire layout, in one straight pass.

        ``{"stream":"<name>","data":{"e":"depthUpdate","E":<int>,"s":"<SYM>","U":<int>,"u":<int>,
        "b":[["<num>","<num>"],...],"a":[...]}}`` (or the data object alone) with no whitespace,
        ``U <= u``, ``E`` in range, every level two number strings obeying the price/size rule and at
        most ``max_levels`` per side; the levels go straight into the kernel's scratch. Anything else
        (futures frames with ``T``/``pu`` included) returns False having changed only scratch.
        """
        cdef const char* q
        cdef JsonSpan sp
        cdef int64_t ets = 0
        cdef Py_ssize_t nb, na
        cdef KtLevels* b = &self.out.levels[L_B]
        cdef KtLevels* a = &self.out.levels[L_A]
        # ends with a levels array (]}} / ]}): bookTicker ("}}) and trade (e}}) frames turned away first
        if end - p < 59 or end[-1] != b'}' or not (end[-2] == b']' or (end[-2] == b'}' and end[-3] == b']')):
            return False
        q = _begin(self, p, end, 2, b'"e":"depthUpdate","E":', 22)
        q = fx_uint(q, end, &ets, &sp)
        q = fx_str_cached(fx_lit(q, end, b',"s":', 5), end, self._names_seen[3], &self._names_len[3], 64, &self._sym)
        q = fx_uint(fx_lit(q, end, b',"U":', 5), end, &self._first, &sp)
        q = fx_uint(fx_lit(q, end, b',"u":', 5), end, &self._last, &sp)
        q = fx_levels(fx_lit(q, end, b',"b":', 5), end, b.px, b.qty, self.max_levels, &nb)
        q = fx_levels(fx_lit(q, end, b',"a":', 5), end, a.px, a.qty, self.max_levels, &na)
        # the general path's checks whose failures are its errors to report
        if not _finish(self, q, end) or self._last < self._first or ets > _MAX_TS_NS / self.ts_scale \
                or not (kt_levels_ok(b.px, b.qty, nb) and kt_levels_ok(a.px, a.qty, na)):
            return False
        b.count = nb
        a.count = na
        self._kind = BK_DEPTH_UPDATE
        self._prev = self._first - 1 if self._first > 0 else 0
        self._event_ts = ets * self.ts_scale
        return True

    cdef bint _ticker_exact(self, const char* p, const char* end) noexcept:
        """The spot bookTicker in its exact layout ``{"u":<int>,"s":"<SYM>","b":"<dec>","B":"<dec>",
        "a":"<dec>","A":"<dec>"}`` (or in the envelope), decoded as ``_depth_exact`` does."""
        cdef const char* q
        cdef JsonSpan sp
        if end - p < 40 or end[-1] != b'}' or not (end[-2] == b'"' or (end[-2] == b'}' and end[-3] == b'"')):
            return False
        q = fx_uint(_begin(self, p, end, 0, b'"u":', 4), end, &self._last, &sp)
        q = fx_str_cached(fx_lit(q, end, b',"s":', 5), end, self._names_seen[3], &self._names_len[3], 64, &self._sym)
        q = fx_dec(fx_lit(q, end, b',"b":', 5), end, &self._bid_p, &sp)
        q = fx_dec(fx_lit(q, end, b',"B":', 5), end, &self._bid_q, &sp)
        q = fx_dec(fx_lit(q, end, b',"a":', 5), end, &self._ask_p, &sp)
        q = fx_dec(fx_lit(q, end, b',"A":', 5), end, &self._ask_q, &sp)
        if not _finish(self, q, end) or not (kt_price_ok(self._bid_p) and kt_size_ok(self._bid_q)
                                             and kt_price_ok(self._ask_p) and kt_size_ok(self._ask_q)):
            return False
        self._kind = BK_BOOK_TICKER
        self._event_ts = 0
        return True

    cdef bint _trade_exact(self, const char* p, const char* end) noexcept:
        """The spot ``trade`` / ``aggTrade`` in their exact layouts, decoded as ``_depth_exact`` does.

        ``{"e":"trade","E":<int>,"s":"<SYM>","t":<int>,"p":"<dec>","q":"<dec>","T":<int>,"m":<bool>
        [,"M":<bool>]}`` and ``{"e":"aggTrade","E":..,"s":..,"a":<int>,"p":..,"q":..,"f":<int>,"l":<int>,
        "T":..,"m":..[,"M":..]}`` (or in the envelope), both times in range, price/size by the rule.
        """
        cdef const char* q
        cdef JsonSpan sp
        cdef int64_t ets = 0, tts = 0, ignored
        cdef int64_t lim = _MAX_TS_NS / self.ts_scale
        cdef bint flag, agg
        # ends with a literal (true}} / false}): bookTicker ("}}) and depth (]}}) frames turned away first
        if end - p < 60 or end[-1] != b'}' or not (end[-2] == b'e' or (end[-2] == b'}' and end[-3] == b'e')):
            return False
        q = _begin(self, p, end, 1, b'"e":"', 5)
        if q == NULL:
            return False
        agg = end - q >= 14 and memcmp(q, b'aggTrade","E":', 14) == 0
        q = q + 14 if agg else fx_lit(q, end, b'trade","E":', 11)
        q = fx_uint(q, end, &ets, &sp)
        q = fx_str_cached(fx_lit(q, end, b',"s":', 5), end, self._names_seen[3], &self._names_len[3], 64, &self._sym)
        q = fx_uint(fx_lit(q, end, b',"a":' if agg else b',"t":', 5), end, &self._trade_id, &sp)
        q = fx_dec(fx_lit(q, end, b',"p":', 5), end, &self._price, &sp)
        q = fx_dec(fx_lit(q, end, b',"q":', 5), end, &self._qty, &sp)
        if agg:     # first / last trade ids: not decoded, but checked as the general path does
            q = fx_uint(fx_lit(q, end, b',"f":', 5), end, &ignored, &sp)
            q = fx_uint(fx_lit(q, end, b',"l":', 5), end, &ignored, &sp)
        q = fx_uint(fx_lit(q, end, b',"T":', 5), end, &tts, &sp)
        q = fx_bool(fx_lit(q, end, b',"m":', 5), end, &self._maker, &sp)
        if q != NULL and end - q > 5 and memcmp(q, b',"M":', 5) == 0:
            q = fx_bool(q + 5, end, &flag, &sp)     # "ignore" field: any boolean
        if not _finish(self, q, end) or ets > lim or tts > lim or not (kt_price_ok(self._price)
                                                                       and kt_size_ok(self._qty)):
            return False
        self._kind = BK_AGG_TRADE if agg else BK_TRADE
        self._event_ts = ets * self.ts_scale
        self._trade_ts = tts * self.ts_scale if tts != 0 else self._event_ts
        return True

    cdef int _decode_general(self, const char* p, Py_ssize_t n) except -1:
        """Any frame: one kernel scan (every byte validated, every declared value converted), then
        the frame kind and the checks of that kind."""
        cdef KtOut* o = &self.out
        cdef JsonSpan* e
        cdef int i, kind = BK_UNKNOWN
        self._kind = BK_UNKNOWN
        if kt_scan(&_FRAME.table, p, n, o) < 0:
            return self._scan_error(p, n)
        self._has_stream = kt_seen(o, S_STREAM) and kt_seen(o, S_DATA)
        if self._has_stream:
            self._stream = o.span[S_STREAM]
            if self._stream.has_escapes or not _plain_ascii(self._stream.ptr, self._stream.len):
                return self._fail(&self.err_stream, "stream", "stream name must be plain ASCII without escapes")
        elif kt_seen(o, S_DATA):
            return 0          # half an envelope ("data" without "stream"): not a known event
        if kt_seen(o, S_E):
            e = &o.span[S_E]
            for i in range(BK_DEPTH_UPDATE, BK_ACK):      # the event kinds, by their "e"
                if BN_EVENT_LENS[i] and json_span_eq(e, BN_EVENT_NAMES[i], BN_EVENT_LENS[i]):
                    kind = i
                    break
        elif kt_seen(o, S_LUID):
            kind = BK_PARTIAL_DEPTH
        elif (o.seen & IS_TICKER) == IS_TICKER:
            kind = BK_BOOK_TICKER
        elif kt_seen(o, S_RESULT):
            kind = BK_ACK
        elif kt_seen(o, S_ERROR) or (kt_seen(o, S_CODE) and kt_seen(o, S_MSG)):
            kind = BK_ERROR
        elif self._has_stream and json_span_eq(&self._stream, b"!serverShutdown", 15):
            kind = BK_SHUTDOWN

        if kind == BK_DEPTH_UPDATE:
            self._need(NEED_DEPTH, p)
            self._need_levels(L_B, L_A)
            self._symbol(S_SYM, "s")
            self._sym = o.span[S_SYM]
            self._first = o.i64[S_FIRST]
            self._last = o.i64[S_LAST]
            self._prev = o.i64[S_PREV] if kt_seen(o, S_PREV) else (self._first - 1 if self._first > 0 else 0)
            if self._last < self._first:
                return self._fail(&self.err_field, "u", f"depthUpdate with u < U ({self._last} < {self._first})")
            self._ts(S_EV, False, &self._event_ts)
        elif kind == BK_PARTIAL_DEPTH:
            self._need_levels(L_BIDS, L_ASKS)
            self._last = o.i64[S_LUID]
            self._partial_name()
        elif kind == BK_TRADE or kind == BK_AGG_TRADE:
            self._need(NEED_TRADE | (_1 << (S_T if kind == BK_TRADE else S_A)), p)
            self._symbol(S_SYM, "s")
            self._sym = o.span[S_SYM]
            if json_span_to_int64(&o.span[S_T if kind == BK_TRADE else S_A], &self._trade_id) != JSON_OK:
                return self._fail(&self.err_field, "t" if kind == BK_TRADE else "a", "not an int64")
            self._price = o.f64[S_PX]
            self._qty = o.f64[S_QTY]
            self._maker = o.i64[S_M] != 0
            self._ts(S_EV, False, &self._event_ts)
            self._ts(S_TT, True, &self._trade_ts)
            if self._trade_ts == 0:
                self._trade_ts = self._event_ts
        elif kind == BK_BOOK_TICKER:
            self._need(NEED_TICKER, p)
            self._symbol(S_SYM, "s")
            self._sym = o.span[S_SYM]
            self._last = o.i64[S_LAST]
            self._bid_p = o.f64[S_BP]
            self._bid_q = o.f64[S_BQ]
            self._ask_q = o.f64[S_AQ]
            if json_span_to_double(&o.span[S_A], &self._ask_p) != JSON_OK or not kt_price_ok(self._ask_p):
                return self._fail(&self.err_field, "a", "book ticker prices must be finite and > 0")
            self._ts(S_EV, False, &self._event_ts)
        elif kind == BK_KLINE:
            self._ts(S_EV, False, &self._event_ts)
            self._need(_1 << S_K, p)
            self._symbol(K_SYM, "s")
            self._symbol(K_INT, "i")
            if not (0 <= o.i64[K_OPEN] <= _MAX_TS_NS / self.ts_scale
                    and 0 <= o.i64[K_CLOSE] <= _MAX_TS_NS / self.ts_scale):
                return self._fail(&self.err_field, "k", "kline times out of range")
        self._kind = kind
        return 0

    cdef int _partial_name(self) except -1:
        """Book key "<SYMBOL>@depth<N>" from the stream name (combined) or ``raw_stream``."""
        cdef bytes raw_b
        if self._has_stream:
            return self._partial_name_from(self._stream.ptr, self._stream.len)
        if self.raw_stream:
            raw_b = self.raw_stream.encode("ascii", "replace")
            return self._partial_name_from(PyBytes_AS_STRING(raw_b), PyBytes_GET_SIZE(raw_b))
        return self._fail(&self.err_stream, "stream", "partial depth without a stream name (raw stream: set raw_stream)")

    cdef int _partial_name_from(self, const char* s, Py_ssize_t n) except -1:
        cdef Py_ssize_t i, at = -1, k = 0
        cdef char c
        for i in range(n):
            if s[i] == b'@':
                at = i
                break
        # "<sym>@depth<digits>" then optionally "@<speed>"
        if at <= 0 or n - at < 7 or memcmp(s + at, b"@depth", 6) != 0 or n > 120:
            return self._fail(&self.err_stream, "stream",
                              f"partial depth on stream {s[:n]!r}: expected '<symbol>@depth<N>'")
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
            return self._fail(&self.err_stream, "stream", f"partial depth on stream {s[:n]!r}: no level count")
        self._partial_key_len = k
        return 0

    # ---- applying ---------------------------------------------------------------------
    cdef int _apply(self, int64_t recv_ns) except -1:
        cdef BookSync sync
        cdef Trade tr
        cdef BookTicker bt
        cdef KtLevels* b
        cdef KtLevels* a
        cdef int kind = self._kind
        if kind == BK_DEPTH_UPDATE or kind == BK_PARTIAL_DEPTH:
            # levels and ids passed every check: nothing below can refuse the frame
            b = &self.out.levels[L_B if kind == BK_DEPTH_UPDATE else L_BIDS]
            a = b + 1
            if kind == BK_DEPTH_UPDATE:
                self.depth_updates += 1
                if self.books is not None:
                    sync = self.books.c_get(self._sym.ptr, self._sym.len)
                    sync.on_delta_validated(self._first, self._last, self._prev, b.px, b.qty, b.count,
                                            a.px, a.qty, a.count, self._event_ts, recv_ns)
            else:
                self.partial_depths += 1
                if self.partial_books is not None:
                    sync = self.partial_books.c_get(self._partial_key, self._partial_key_len)
                    sync.c_load_snapshot(self._last, b.px, b.qty, b.count, a.px, a.qty, a.count, recv_ns)
        elif kind == BK_TRADE or kind == BK_AGG_TRADE:
            self.trades += 1
            # (fields set here rather than by acquire_event: its returned reference costs ~20 instructions
            # per event on the replay's hottest path, callgrind)
            tr = <Trade>self._trades.acquire()
            tr.exchange = self.exchange
            tr.symbol = self._symbols.c_intern(self._sym.ptr, self._sym.len)
            tr.price, tr.qty, tr.trade_id = self._price, self._qty, self._trade_id
            tr.side = SIDE_SELL if self._maker else SIDE_BUY   # buyer is maker => the taker sold
            tr.trade_id_str = ""
            tr.exchange_ts_ns = self._trade_ts
            tr.recv_ns = recv_ns
            self.dispatcher.emit(tr)
        elif kind == BK_BOOK_TICKER:
            self.book_tickers += 1
            bt = <BookTicker>self._tickers.acquire()
            bt.exchange = self.exchange
            bt.symbol = self._symbols.c_intern(self._sym.ptr, self._sym.len)
            bt.bid_price, bt.bid_qty, bt.ask_price, bt.ask_qty = self._bid_p, self._bid_q, self._ask_p, self._ask_q
            bt.update_id = self._last
            bt.exchange_ts_ns = self._event_ts
            bt.recv_ns = recv_ns
            self.dispatcher.emit(bt)
        elif kind == BK_KLINE:
            self.klines += 1
            self._emit_kline(recv_ns)
        elif kind == BK_ACK or kind == BK_ERROR:
            self._control()
        elif kind == BK_SHUTDOWN:
            self.shutdowns += 1
        else:
            self.ignored += 1
        return 0

    cdef int _emit_kline(self, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef Kline k = <Kline>acquire_event(self._klines, self.exchange,
                                            self._symbols.c_intern(o.span[K_SYM].ptr, o.span[K_SYM].len),
                                            self._event_ts, recv_ns)
        k.interval = self._symbols.c_intern(o.span[K_INT].ptr, o.span[K_INT].len)
        k.open_time_ns, k.close_time_ns = o.i64[K_OPEN] * self.ts_scale, o.i64[K_CLOSE] * self.ts_scale
        k.open, k.high, k.low, k.close = o.f64[K_O], o.f64[K_H], o.f64[K_L], o.f64[K_C]
        k.volume, k.quote_volume, k.closed = o.f64[K_V], o.f64[K_QV], o.i64[K_X] != 0
        return self.dispatcher.emit(k)

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
