# cython: language_level=3
"""Gate.io spot v4 and USDT futures frame decoder: JSON text frames -> events and book updates, on the kernel.

Frames (``protocols.md`` section 2)::

    {"time":..,"time_ms":..,"channel":"spot.order_book_update","event":"update","result":{..}}
    {"time":..,"channel":"spot.trades","event":"subscribe","error":null,"result":{"status":"success"}}
    {"time":..,"channel":"spot.pong","event":"","error":null,"result":null}
    {"channel":"spot.obu","result":{..},"time_ms":..}          # obu pushes carry no ``event``

Spot channels: ``spot.order_book_update`` (diffs ``U/u``, ``full: true`` resets), ``spot.obu`` (order book
v2), ``spot.order_book`` (top-N snapshots -> a separate partial book), ``spot.trades``, ``spot.book_ticker``,
``spot.candlesticks``, ``spot.tickers``; private ``spot.orders``, ``spot.usertrades``, ``spot.balances`` (arrays).
USDT futures (``futures=True``, ``wss://fx-ws.gateio.ws/v4/ws/usdt``): the same envelope, ``futures.*`` names;
``futures.order_book_update`` has levels ``{"p": "0.2983", "s": 1553}`` (``s`` in contracts) and the spot
``U/u`` rule, ``futures.book_ticker`` the spot fields, ``futures.trades`` and ``futures.candlesticks`` an
*array* of items (a trade's ``size`` is signed: negative is a sell), ``futures.pong``.

One ``kt_scan`` per frame; ``result`` is a ``KT_SELECT`` whose table the ``channel`` met before it chooses (met
first: kept as a validated span, scanned afterwards). Nothing is applied or emitted before the whole frame is
decoded: a malformed frame raises ``ParseError`` and leaves books and handlers untouched.
"""
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.math cimport NAN, isfinite
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_ERR_TYPE, JSON_ERR_VALUE, JSON_NUMBER, JSON_OBJECT, JSON_STRING, JsonSpan, json_span_eq,
    json_span_to_int64,
)
from feedhandler.codec.numbers cimport NUM_OK, parse_int64
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, BalanceUpdate, BookTicker, Event, EventPool, Fill, Kline, OrderUpdate, Ticker, Trade,
    acquire_event,
)
from feedhandler.kernel.event_decoder cimport EventDecoder
from feedhandler.kernel.extract cimport (
    KF_EMPTY_NULL, KF_NULLABLE, KT_ERR_ITEM, KT_BOOL, KT_DOUBLE, KT_INT64, KT_INT64_MS, KT_INT64_S, KT_LEVELS, KT_PRICE,
    KT_SELECT, KT_SIZE, KT_SPAN, KT_STR, FieldTable, KtOut, KtTable, kt_error_text, kt_require, kt_scan,
    kt_scan_each, kt_scan_span, kt_seen, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.sync.book_sync cimport BookSync, BookSyncGroup

from feedhandler.core.errors import ParseError

# Channel kinds (internal): indexes of _CH_STR[market] (0 spot, 1 USDT futures; "": no such channel).
cdef enum:
    CH_NONE, CH_OTHER, CH_BOOK_UPDATE, CH_OBU, CH_ORDER_BOOK, CH_TRADES, CH_BOOK_TICKER, CH_CANDLES, CH_TICKERS,
    CH_PONG, CH_ORDERS, CH_USERTRADES, CH_BALANCES, CH_COUNT

# Slots (one number space: the envelope's, every result table's and the error object's); level arrays 0 and 1
# are bids and asks. S_N0..S_N5: the doubles of bbo b/B/a/A, candle o/h/l/c/v/a, tickers and private amounts.
cdef enum:
    S_CHANNEL, S_EVENT, S_ERROR, S_ID, S_TIME_MS, S_TIME, S_RESULT, S_RESULT_SCALAR,
    S_FIRST, S_LAST, S_SYM, S_T, S_FULL, S_UID, S_STATUS,
    S_PAIR, S_SIDE, S_PRICE, S_AMOUNT, S_TID, S_CTIME_MS, S_CTIME, S_ID_MARKET,
    S_N0, S_N1, S_N2, S_N3, S_N4, S_N5, S_OPEN, S_CLOSED, S_NAME,
    S_OID, S_TEXT, S_TYPE, S_PEVENT, S_FINISH, S_PTIME, S_ERR_CODE, S_ERR_MSG,
    S_LPX, S_LQTY, S_SUM
cdef enum:
    L_BIDS = 0
    L_ASKS = 1

_CH_STR = [["", "", "spot.order_book_update", "spot.obu", "spot.order_book", "spot.trades", "spot.book_ticker",
            "spot.candlesticks", "spot.tickers", "spot.pong", "spot.orders", "spot.usertrades", "spot.balances"],
           ["", "", "futures.order_book_update", "", "", "futures.trades", "futures.book_ticker",
            "futures.candlesticks", "", "futures.pong", "", "", ""]]
_CH_BYTES = [[c.encode() for c in _names] for _names in _CH_STR]     # the bytes _CH_NAME points to, for good
cdef const char* _CH_NAME[2][13]
cdef Py_ssize_t _CH_LEN[2][13]
for _m in range(2):
    for _k in range(CH_COUNT):
        _CH_NAME[_m][_k] = <const char*>(<bytes>_CH_BYTES[_m][_k])
        _CH_LEN[_m][_k] = len(_CH_BYTES[_m][_k])

cdef int NUM = KT_DOUBLE
cdef int EMPTY = KF_EMPTY_NULL       # Gate.io sends "" for "no value": the number stays NaN
_BOOK_IDS = [("U", KT_INT64, S_FIRST), ("u", KT_INT64, S_LAST), ("s", KT_STR, S_SYM), ("t", KT_INT64_MS, S_T),
             ("full", KT_BOOL, S_FULL)]
cdef FieldTable _BOOK = FieldTable("gateio.book", [("b", KT_LEVELS, L_BIDS), ("a", KT_LEVELS, L_ASKS)] + _BOOK_IDS)
cdef FieldTable _ORDER_BOOK = FieldTable("gateio.order_book", [
    ("bids", KT_LEVELS, L_BIDS), ("asks", KT_LEVELS, L_ASKS), ("lastUpdateId", KT_INT64, S_UID),
    ("s", KT_STR, S_SYM), ("t", KT_INT64_MS, S_T)])
cdef FieldTable _TRADE = FieldTable("gateio.trades", [
    ("price", KT_PRICE, S_PRICE), ("amount", KT_SIZE, S_AMOUNT), ("id", KT_INT64, S_TID), ("side", KT_STR, S_SIDE),
    ("currency_pair", KT_STR, S_PAIR), ("create_time_ms", KT_SPAN, S_CTIME_MS), ("create_time", KT_INT64_S, S_CTIME),
    ("id_market", KT_INT64, S_ID_MARKET)])
cdef FieldTable _BOOK_TICKER = FieldTable("gateio.book_ticker", [
    ("b", KT_PRICE, S_N0, EMPTY), ("B", KT_SIZE, S_N1, EMPTY), ("a", KT_PRICE, S_N2, EMPTY),
    ("A", KT_SIZE, S_N3, EMPTY), ("u", KT_INT64, S_UID), ("t", KT_INT64_MS, S_T), ("s", KT_STR, S_SYM)])
_CANDLE_FIELDS = [
    ("o", NUM, S_N0, EMPTY), ("h", NUM, S_N1, EMPTY), ("l", NUM, S_N2, EMPTY), ("c", NUM, S_N3, EMPTY),
    ("v", NUM, S_N4, EMPTY), ("a", NUM, S_N5, EMPTY), ("t", KT_INT64_S, S_OPEN), ("w", KT_BOOL, S_CLOSED),
    ("n", KT_STR, S_NAME)]
cdef FieldTable _CANDLE = FieldTable("gateio.candlesticks", _CANDLE_FIELDS)
cdef FieldTable _TICKER = FieldTable("gateio.tickers", [
    ("last", NUM, S_N0, EMPTY), ("high_24h", NUM, S_N1, EMPTY), ("low_24h", NUM, S_N2, EMPTY),
    ("base_volume", NUM, S_N3, EMPTY), ("quote_volume", NUM, S_N4, EMPTY), ("change_percentage", NUM, S_N5, EMPTY),
    ("currency_pair", KT_STR, S_PAIR)])
cdef FieldTable _ORDER = FieldTable("gateio.orders", [
    ("id", KT_SPAN, S_OID), ("text", KT_SPAN, S_TEXT), ("currency_pair", KT_STR, S_PAIR), ("type", KT_SPAN, S_TYPE),
    ("event", KT_SPAN, S_PEVENT), ("finish_as", KT_SPAN, S_FINISH), ("side", KT_STR, S_SIDE),
    ("price", NUM, S_N0, EMPTY), ("amount", NUM, S_N1, EMPTY), ("left", NUM, S_N2, EMPTY),
    ("filled_amount", NUM, S_N3, EMPTY), ("avg_deal_price", NUM, S_N4, EMPTY), ("update_time_ms", KT_SPAN, S_PTIME)])
cdef FieldTable _FILL = FieldTable("gateio.usertrades", [
    ("id", KT_SPAN, S_TID), ("order_id", KT_SPAN, S_OID), ("currency_pair", KT_STR, S_PAIR),
    ("fee_currency", KT_SPAN, S_TEXT), ("role", KT_SPAN, S_TYPE), ("side", KT_STR, S_SIDE),
    ("price", NUM, S_N0, EMPTY), ("amount", NUM, S_N1, EMPTY), ("fee", NUM, S_N2, EMPTY),
    ("create_time_ms", KT_SPAN, S_PTIME)])
cdef FieldTable _BALANCE = FieldTable("gateio.balances", [
    ("currency", KT_STR, S_PAIR), ("available", NUM, S_N0, EMPTY), ("freeze", NUM, S_N1, EMPTY),
    ("timestamp_ms", KT_SPAN, S_PTIME)])
# USDT futures: levels {"p": price, "s": contracts}; trades and candles are arrays of these items
cdef FieldTable _FUT_LEVEL = FieldTable("gateio.futures.level", [("p", KT_PRICE, S_LPX), ("s", KT_SIZE, S_LQTY)])
cdef FieldTable _FUT_BOOK = FieldTable("gateio.futures.book", [
    ("b", KT_LEVELS, L_BIDS, 0, (_FUT_LEVEL, S_LPX, S_LQTY)), ("a", KT_LEVELS, L_ASKS, 0, (_FUT_LEVEL, S_LPX, S_LQTY))
] + _BOOK_IDS)
cdef FieldTable _FUT_TRADE = FieldTable("gateio.futures.trades", [
    ("price", KT_PRICE, S_PRICE), ("size", KT_DOUBLE, S_AMOUNT), ("id", KT_INT64, S_TID),
    ("contract", KT_STR, S_PAIR), ("create_time_ms", KT_SPAN, S_CTIME_MS), ("create_time", KT_INT64_S, S_CTIME)])
cdef FieldTable _FUT_CANDLE = FieldTable("gateio.futures.candlesticks", _CANDLE_FIELDS + [("sum", NUM, S_SUM, EMPTY)])
cdef FieldTable _STATUS = FieldTable("gateio.ack", [("status", KT_SPAN, S_STATUS)])
cdef FieldTable _ERROR = FieldTable("gateio.error", [("code", KT_INT64, S_ERR_CODE), ("message", KT_STR, S_ERR_MSG)])
cdef FieldTable _FRAME = FieldTable("gateio", [
    ("channel", KT_SPAN, S_CHANNEL), ("event", KT_SPAN, S_EVENT), ("error", KT_SPAN, S_ERROR, KF_NULLABLE),
    ("id", KT_SPAN, S_ID), ("time_ms", KT_SPAN, S_TIME_MS), ("time", KT_INT64_S, S_TIME),
    ("result", KT_SELECT, S_RESULT, KF_NULLABLE), ("result", KT_SPAN, S_RESULT_SCALAR)])

# The result table of each channel kind, spot [0] and futures [1] (NULL: none; the tables live in the
# module for good).
cdef const KtTable* _RESULT_TABLE[2][13]
for _m, _tables in enumerate((
        {CH_BOOK_UPDATE: _BOOK, CH_OBU: _BOOK, CH_ORDER_BOOK: _ORDER_BOOK, CH_TRADES: _TRADE,
         CH_BOOK_TICKER: _BOOK_TICKER, CH_CANDLES: _CANDLE, CH_TICKERS: _TICKER, CH_ORDERS: _ORDER,
         CH_USERTRADES: _FILL, CH_BALANCES: _BALANCE},
        {CH_BOOK_UPDATE: _FUT_BOOK, CH_TRADES: _FUT_TRADE, CH_BOOK_TICKER: _BOOK_TICKER, CH_CANDLES: _FUT_CANDLE})):
    for _k in range(CH_COUNT):
        _RESULT_TABLE[_m][_k] = &(<FieldTable>_tables[_k]).table if _k in _tables else NULL

cdef uint64_t _B = 1
cdef uint64_t NEED_TRADE = (_B << S_PAIR) | (_B << S_TID) | (_B << S_SIDE) | (_B << S_PRICE) | (_B << S_AMOUNT)
cdef uint64_t NEED_FUT_TRADE = (_B << S_PAIR) | (_B << S_TID) | (_B << S_PRICE) | (_B << S_AMOUNT)

# Kline interval lengths in seconds (Gate.io spot.candlesticks intervals, protocols.md 2.6).
cdef dict _INTERVAL_SECONDS = {"10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400,
                               "8h": 28800, "1d": 86400, "7d": 604800, "30d": 2592000}
cdef dict _INTERVALS = {k.encode(): k for k in _INTERVAL_SECONDS}   # frame bytes -> the one str


# ---- small C helpers ----------------------------------------------------------------------

cdef int _channel_kind(const KtOut* o, int market) noexcept nogil:
    """The CH_* kind of the frame's channel among the names of ``market`` (0 spot, 1 futures)."""
    cdef const JsonSpan* c = &o.span[S_CHANNEL]
    cdef int k
    if not kt_seen(o, S_CHANNEL):
        return CH_NONE
    if c.kind != JSON_STRING:
        return CH_OTHER
    for k in range(CH_BOOK_UPDATE, CH_COUNT):
        if _CH_LEN[market][k] and json_span_eq(c, _CH_NAME[market][k], _CH_LEN[market][k]):
            return k                                     # escapes read as json.loads reads them
    return CH_OTHER


cdef inline bint _array_result(int kind, int market) noexcept nogil:
    """Channels whose ``result`` is an array of items (private ones; futures trades and candles)."""
    return kind >= CH_ORDERS or (market == 1 and (kind == CH_TRADES or kind == CH_CANDLES))


cdef inline bint _is_ack(const KtOut* o) noexcept nogil:
    cdef const JsonSpan* e = &o.span[S_EVENT]
    return kt_seen(o, S_EVENT) and e.kind == JSON_STRING and (
        json_span_eq(e, b"subscribe", 9) or json_span_eq(e, b"unsubscribe", 11))


cdef const KtTable* _select_result(void* ctx, int slot, KtOut* o) noexcept:
    """The result's table, once the channel (met before it) says which; NULL keeps the span."""
    cdef int market = (<GateioDecoder>ctx).market
    cdef int kind = _channel_kind(o, market)
    if kt_seen(o, S_ERROR) or _is_ack(o) or (kind >= CH_ORDERS and not (<GateioDecoder>ctx).private):
        return NULL                 # control frames: their result is looked at afterwards, if at all
    return _RESULT_TABLE[market][kind] if kind >= CH_BOOK_UPDATE else NULL


cdef int _time_ns(const KtOut* o, int ms_slot, int s_slot, int64_t* out) noexcept:
    """The time in ns of ``ms_slot`` (ms, integer or text with a fraction "1606292218213.4578": exact, no float),
    else of ``s_slot`` (s, already ns), else 0; not 0: ``ms_slot`` is no time."""
    cdef const JsonSpan* v = &o.span[ms_slot]
    cdef const char* p = v.ptr
    cdef Py_ssize_t n = v.len, i = 0, k
    cdef int64_t ms, frac = 0, scale = 100000
    if not kt_seen(o, ms_slot):
        out[0] = o.i64[s_slot] if s_slot >= 0 and kt_seen(o, s_slot) else 0
        return 0
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


cdef inline int _side(const KtOut* o) noexcept nogil:
    """SIDE_BUY or SIDE_SELL of 'side'; -1: absent or neither."""
    if kt_seen(o, S_SIDE) and json_span_eq(&o.span[S_SIDE], b"buy", 3):
        return SIDE_BUY
    return SIDE_SELL if kt_seen(o, S_SIDE) and json_span_eq(&o.span[S_SIDE], b"sell", 4) else -1


cdef inline Py_ssize_t _candle_split(const KtOut* o) noexcept nogil:
    """The index of the '_' in a candle's ``n`` (``<interval>_<pair>``), -1 when ``n`` is not that shape."""
    cdef const JsonSpan* name = &o.span[S_NAME]
    cdef Py_ssize_t i
    for i in range(name.len):
        if name.ptr[i] == b'_':
            return i if 0 < i < name.len - 1 else -1
    return -1


cdef inline bint _plain(const KtOut* o, int slot) noexcept nogil:
    """A symbol slot: seen, a non-empty string without escapes."""
    return kt_seen(o, slot) and o.span[slot].kind == JSON_STRING and not o.span[slot].has_escapes \
        and o.span[slot].len > 0


cdef inline double _num(const KtOut* o, int slot) noexcept nogil:
    return o.f64[slot] if kt_seen(o, slot) else NAN


cdef inline bint _id_like(const KtOut* o, int slot) noexcept nogil:
    return kt_seen(o, slot) and (o.span[slot].kind == JSON_STRING or o.span[slot].kind == JSON_NUMBER)


cdef inline str _opt_text(const KtOut* o, int slot):
    return kt_text(&o.span[slot]) if kt_seen(o, slot) and o.span[slot].kind == JSON_STRING else ""


cdef int _on_item(void* ctx, int slot, KtOut* o, Py_ssize_t index) noexcept:
    """One element of an array result: checked and kept as a row (emitted after the whole frame passed)."""
    cdef GateioDecoder self = <GateioDecoder>ctx
    try:
        self._row(_channel_kind(o, self.market), NULL)
    except BaseException as exc:       # the scan stops with KT_ERR_ITEM; _decode raises the message
        self._item_error = str(exc)
        return -1
    return 0


cdef class GateioDecoder(EventDecoder):
    """Compiled Gate.io decoder (spot public or private side, or USDT futures).

    The parameters are :class:`~feedhandler.kernel.event_decoder.EventDecoder`'s (``books``: the
    ``*.order_book_update`` books, rule ``gateio-spot``; ``private``: orders, user trades, balances), and:

    obu_books:
        ``BookSyncGroup`` for ``spot.obu`` (rule ``gateio-obu``); its ``request_snapshot`` is taken over: a
        gap records the pair in :attr:`obu_resubscribe` and calls :attr:`on_obu_gap`.
    partial_books:
        ``BookSyncGroup`` for ``spot.order_book`` snapshots (each push replaces that book), or None.
    futures:
        Decode the USDT futures channels (``futures.*``) instead of the spot ones.
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, BookSyncGroup obu_books=None,
                 BookSyncGroup partial_books=None, bint private=False, Py_ssize_t capacity=5000,
                 str exchange="gateio", bint futures=False):
        if futures and private:
            raise ValueError("the futures decoder has no private channels")
        EventDecoder.__init__(self, dispatcher, books, private, capacity, exchange)
        self.market = 1 if futures else 0
        self.obu_books = obu_books
        self.partial_books = partial_books
        self.on_obu_gap = None
        self.obu_resubscribe = set()
        self._obu_level = {}
        if obu_books is not None:
            obu_books.request_snapshot = self._obu_needs_snapshot
        self._errors_by_kind = {}
        self._rows = []
        self.use_levels(capacity, False, 2)          # levels[0] bids, levels[1] asks
        self.out.select = _select_result
        self.out.on_item = _on_item
        self.out.ctx = <void*>self

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

    cdef int _scan_failed(self, const char* base, str where) except -1:
        """The kernel refused the frame (self.out.err_*): a JSON error, a field, or a private item."""
        msg, self._item_error = self._item_error, None
        if self.out.err_code == KT_ERR_ITEM and msg is not None:
            return self._fail("schema", msg)
        return self._fail("json" if self.out.err_key == NULL else "field",
                          f"{where}{kt_error_text(&self.out, base)}")

    # ---- the frame: one scan, then what its kind needs ----------------------------------------
    cdef int _decode(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -1:
        """Decode ``p[0:n]``; apply/emit only when ``apply``. Returns a MessageType int."""
        cdef KtOut* o = &self.out
        cdef int kind, rc
        cdef int64_t ts_ns = 0
        cdef JsonSpan* result = &o.span[S_RESULT]
        self._serial += 1                 # the private rows on_item keeps belong to this frame
        if kt_scan(&_FRAME.table, p, n, o) < 0:
            return self._scan_failed(p, "")
        if _time_ns(o, S_TIME_MS, S_TIME, &ts_ns) != 0:
            return self._fail("field", "field 'time_ms' is not an integer in ms")
        if _is_ack(o):
            # a subscription ack: success only when error is null and result.status == "success"
            self._control()
            if kt_seen(o, S_ERROR) or not self._status_success():
                self.error_frames += 1
                if self.control_code == 0:
                    self.control_code = -1
                return MessageType.ERROR
            self.acks += 1
            return MessageType.SUBSCRIPTION_ACK
        kind = _channel_kind(o, self.market)
        if kind == CH_PONG:
            self.pongs += 1
            return MessageType.PONG
        if kt_seen(o, S_ERROR):
            if kind == CH_NONE:
                self._control()          # an error envelope without a channel (a refused request)
            self.error_frames += 1
            return MessageType.ERROR
        if kind == CH_NONE:
            return self._fail("schema", "frame has no 'channel'")
        if kind == CH_OTHER or (kind >= CH_ORDERS and not self.private):
            self.unknown_frames += 1
            return MessageType.UNKNOWN
        ch = <str>(<list>_CH_STR[self.market])[kind]
        if not kt_seen(o, S_RESULT):
            return self._fail("schema", f"{ch}: 'result' missing or not an object/array")
        if o.i64[S_RESULT] == 0:
            # met before its channel: scanned now, with the channel's table
            rc = kt_scan_each(_RESULT_TABLE[self.market][kind], result, -1, o) if result.kind == JSON_ARRAY \
                else kt_scan_span(_RESULT_TABLE[self.market][kind], result, o)
            if rc < 0:
                return self._scan_failed(p, f"{ch}: ")
        if _array_result(kind, self.market):
            if result.kind != JSON_ARRAY:
                return self._fail("schema", f"{ch}: 'result' must be an array")
        elif result.kind != JSON_OBJECT:
            return self._fail("schema", f"{ch}: 'result' must be an object")
        elif kind <= CH_ORDER_BOOK:      # CH_BOOK_UPDATE, CH_OBU, CH_ORDER_BOOK
            self._book(kind, ch, recv_ns, apply)
        elif kind == CH_BOOK_TICKER or kind == CH_TICKERS:
            self._ticker(kind, ch, ts_ns, recv_ns, apply)
        elif kind == CH_TRADES:
            self._trade_row(ch, p, recv_ns, apply)
        else:
            self._row(kind, p)            # a spot candle: the one row of its result
        if apply:
            if kind >= CH_TRADES:
                self._emit_rows(kind, ts_ns, recv_ns)
            self.data_frames += 1
        return MessageType.DATA

    cdef int _control(self) except -1:
        """control_id (request id), control_code/text (the error object's code and message, or the channel)."""
        cdef KtOut* o = &self.out
        cdef int64_t v
        self.control_id = -1
        self.control_code = 0
        self.control_text = kt_text(&o.span[S_CHANNEL]) \
            if kt_seen(o, S_CHANNEL) and o.span[S_CHANNEL].kind == JSON_STRING else None
        if kt_seen(o, S_ID) and json_span_to_int64(&o.span[S_ID], &v) == 0:
            self.control_id = v
        if kt_seen(o, S_ERROR) and o.span[S_ERROR].kind == JSON_OBJECT \
                and kt_scan_span(&_ERROR.table, &o.span[S_ERROR], o) == 0:
            if kt_seen(o, S_ERR_CODE):
                self.control_code = o.i64[S_ERR_CODE]
            if kt_seen(o, S_ERR_MSG):
                self.control_text = kt_text(&o.span[S_ERR_MSG])
        return 0

    cdef bint _status_success(self) noexcept:
        cdef KtOut* o = &self.out
        return kt_seen(o, S_RESULT) and o.span[S_RESULT].kind == JSON_OBJECT \
            and kt_scan_span(&_STATUS.table, &o.span[S_RESULT], o) == 0 and kt_seen(o, S_STATUS) \
            and o.span[S_STATUS].kind == JSON_STRING and json_span_eq(&o.span[S_STATUS], b"success", 7)

    cdef str _symbol(self, int slot):
        return self.symbols.c_intern(self.out.span[slot].ptr, self.out.span[slot].len)

    cdef Event _new(self, EventPool pool, int slot, int64_t ts_ns, int64_t recv_ns):
        """An event from ``pool`` with exchange, symbol (from ``slot``) and times set."""
        return acquire_event(pool, self.exchange, self._symbol(slot), ts_ns, recv_ns)

    # ---- books --------------------------------------------------------------------------
    cdef int _book(self, int kind, str ch, int64_t recv_ns, bint apply) except -1:
        """A book update (``U/u``, ``full`` resets; obu: ``s`` is the stream ``ob.PAIR.LEVEL``) or a
        spot.order_book push (a whole top-N book): checked (levels by the kernel's rule, once), then applied."""
        cdef KtOut* o = &self.out
        cdef bint obu = kind == CH_OBU
        cdef bint full = kind == CH_ORDER_BOOK or (kt_seen(o, S_FULL) and o.i64[S_FULL] != 0)
        cdef int64_t first = 0, last = o.i64[S_LAST]
        cdef int64_t t_ns = o.i64[S_T] if kt_seen(o, S_T) else 0
        cdef const char* sp = o.span[S_SYM].ptr
        cdef Py_ssize_t sn = o.span[S_SYM].len, i, dot = -1
        cdef BookSyncGroup group = self.books if kind == CH_BOOK_UPDATE else self.obu_books if obu \
            else self.partial_books
        cdef BookSync sync
        if kind == CH_ORDER_BOOK:
            if not (kt_seen(o, S_SYM) and kt_seen(o, S_UID) and o.levels[L_BIDS].seen and o.levels[L_ASKS].seen):
                return self._fail("schema", f"{ch}: needs 's', 'lastUpdateId', 'bids' and 'asks'")
            if not _plain(o, S_SYM):
                return self._fail("field", f"{ch}: field 's' must be a non-empty plain string")
            last = o.i64[S_UID]
        elif not _plain(o, S_SYM):
            return self._fail("schema", f"{ch}: 's' must be a non-empty plain string")
        elif not kt_seen(o, S_LAST) or not (o.levels[L_BIDS].seen or o.levels[L_ASKS].seen):
            return self._fail("schema", f"{ch}: missing 'u', 'b' or 'a'")
        elif kt_seen(o, S_FIRST) or full:
            first = o.i64[S_FIRST] if kt_seen(o, S_FIRST) else last
            if last < first or first < 0:
                return self._fail("sequence", f"{ch}: update ids out of order (U={first} > u={last})")
        else:
            return self._fail("schema", f"{ch}: an increment needs 'U'")
        if obu:          # obu streams are named "ob.<PAIR>.<LEVEL>"
            for i in range(sn - 1, -1, -1):
                if sp[i] == b'.':
                    dot = i
                    break
            if sn < 6 or memcmp(sp, b"ob.", 3) != 0 or dot <= 3:
                return self._fail("field", f"{ch}: 's' must be a stream name 'ob.PAIR.LEVEL'")
        if not apply:
            return 0
        if group is None:
            return self._fail("schema", f"{ch}: this decoder keeps no {'obu ' if obu else ''}"
                              f"{'partial ' if kind == CH_ORDER_BOOK else ''}books")
        sync = group.c_get(sp + 3, dot - 3) if obu else group.c_get(sp, sn)
        if obu and full:
            if sync.symbol not in self._obu_level:
                self._obu_level[sync.symbol] = PyUnicode_DecodeUTF8(sp + dot + 1, sn - dot - 1, "replace")
            self.obu_resubscribe.discard(sync.symbol)
        # an absent side is an empty one (count 0): the kernel resets counts of unseen level slots
        if full:
            sync.on_full_snapshot(last, o.levels[L_BIDS].px, o.levels[L_BIDS].qty, o.levels[L_BIDS].count,
                                  o.levels[L_ASKS].px, o.levels[L_ASKS].qty, o.levels[L_ASKS].count, t_ns, recv_ns)
        else:
            # levels and ids were checked by the kernel and above: BookSync does not check them again
            sync.on_delta_validated(first, last, 0, o.levels[L_BIDS].px, o.levels[L_BIDS].qty, o.levels[L_BIDS].count,
                                    o.levels[L_ASKS].px, o.levels[L_ASKS].qty, o.levels[L_ASKS].count, t_ns, recv_ns)
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

    # ---- public events --------------------------------------------------------------------
    cdef int _ticker(self, int kind, str ch, int64_t ts_ns, int64_t recv_ns, bint apply) except -1:
        """A book ticker (spot and futures: 's', the frame's 't') or a spot ticker ('currency_pair')."""
        cdef KtOut* o = &self.out
        cdef int slot = S_SYM if kind == CH_BOOK_TICKER else S_PAIR
        cdef BookTicker bbo
        cdef Ticker ev
        if not _plain(o, slot):
            return self._fail("schema", f"{ch}: {'s' if slot == S_SYM else 'currency_pair'!r} missing or not a "
                              "non-empty plain string")
        if not apply:
            return 0
        if kind == CH_BOOK_TICKER:
            bbo = <BookTicker>self._new(self._book_tickers, slot, o.i64[S_T] if kt_seen(o, S_T) else 0, recv_ns)
            bbo.bid_price, bbo.bid_qty = _num(o, S_N0), _num(o, S_N1)      # an absent (or "") side stays NaN
            bbo.ask_price, bbo.ask_qty = _num(o, S_N2), _num(o, S_N3)
            bbo.update_id = o.i64[S_UID] if kt_seen(o, S_UID) else 0
            return self.dispatcher.emit(bbo)
        ev = <Ticker>self._new(self._tickers, slot, ts_ns, recv_ns)
        ev.last, ev.high, ev.low = _num(o, S_N0), _num(o, S_N1), _num(o, S_N2)
        ev.volume, ev.quote_volume, ev.change_pct = _num(o, S_N3), _num(o, S_N4), _num(o, S_N5)
        return self.dispatcher.emit(ev)

    # ---- rows: trades, candles and private items, checked while scanned, emitted once the frame passed ----
    cdef int _refuse(self, const char* base, str kind, str message) except -1:
        """Refuse the frame ``base`` (``ParseError`` of ``kind``) or an array item (``base`` NULL: ValueError)."""
        if base == NULL:
            raise ValueError(message)
        return self._fail(kind, message)

    cdef int _row(self, int kind, const char* base) except -1:
        """Check the object just scanned (an array item: ``base`` NULL; else the frame's result), keep a row."""
        cdef str ch = <str>(<list>_CH_STR[self.market])[kind]
        if base == NULL and not _array_result(kind, self.market):
            return 0                   # an array where an object belongs: _decode refuses the frame
        if self._rows_serial != self._serial:
            self._rows.clear()     # rows of an earlier (refused or classified) frame
            self._rows_serial = self._serial
        if kind == CH_TRADES:
            return self._trade_row(ch, base, 0, False)
        if kind == CH_CANDLES:
            return self._candle_row(ch, base)
        return self._private_row(kind, ch)

    cdef int _trade_row(self, str ch, const char* base, int64_t recv_ns, bint apply) except -1:
        """A trade (spot's side is 'side', futures' the sign of 'size'): an array item is kept as a row, a
        frame's result (spot) is emitted at once (when ``apply``), with no row to allocate."""
        cdef KtOut* o = &self.out
        cdef int side = _side(o)
        cdef int64_t ts = 0
        cdef double qty = o.f64[S_AMOUNT]
        cdef Trade ev
        if kt_require(&_FUT_TRADE.table if self.market else &_TRADE.table, o,
                      NEED_FUT_TRADE if self.market else NEED_TRADE, NULL) < 0:
            if base == NULL:
                raise ValueError(f"{ch}: a trade needs 'contract', 'id', 'price' and 'size'")
            return self._scan_failed(base, f"{ch}: ")
        if self.market:
            if qty == 0.0:
                raise ValueError(f"{ch}: a trade's 'size' must not be 0 (its sign is the side)")
            side = SIDE_SELL if qty < 0.0 else SIDE_BUY
        elif side < 0:
            return self._refuse(base, "field", f"{ch}: field 'side' must be buy or sell")
        if not _plain(o, S_PAIR):
            return self._refuse(base, "field", f"{ch}: field {'contract' if self.market else 'currency_pair'!r} "
                                "must be a non-empty plain string")
        if _time_ns(o, S_CTIME_MS, S_CTIME, &ts) != 0:
            return self._refuse(base, "field", f"{ch}: field 'create_time_ms' is not a time in ms")
        qty = -qty if qty < 0.0 else qty
        if base == NULL:
            self._rows.append((self._symbol(S_PAIR), ts, o.f64[S_PRICE], qty, side, o.i64[S_TID]))
            return 0
        if not apply:
            return 0
        ev = <Trade>self._new(self._trades, S_PAIR, ts, recv_ns)
        ev.price, ev.qty, ev.side = o.f64[S_PRICE], qty, side
        ev.trade_id, ev.trade_id_str = o.i64[S_TID], ""
        return self.dispatcher.emit(ev)

    cdef int _candle_row(self, str ch, const char* base) except -1:
        """A candle ('n' a plain '<interval>_<pair>', 't'), kept as (symbol, interval, open/close ns, o, h, l, c,
        volume, quote volume, closed)."""
        cdef const KtOut* o = &self.out
        cdef const JsonSpan* name = &o.span[S_NAME]
        cdef Py_ssize_t us
        cdef int64_t open_ns = o.i64[S_OPEN]
        if not (kt_seen(o, S_NAME) and kt_seen(o, S_OPEN)):
            return self._refuse(base, "schema", f"{ch}: needs 'n' and 't'")
        if not _plain(o, S_NAME):
            return self._refuse(base, "field", f"{ch}: field 'n' must be a non-empty plain string")
        us = _candle_split(o)             # only now: the span is this frame's
        if us < 0:
            return self._refuse(base, "field", f"{ch}: 'n' must be '<interval>_<pair>'")
        interval = _INTERVALS.get(name.ptr[:us])
        if interval is None:
            interval = PyUnicode_DecodeUTF8(name.ptr, us, "replace")
        seconds = _INTERVAL_SECONDS.get(interval, 0)
        # spot: "v" is the volume in the quote currency, "a" the amount in the base currency (newer frames);
        # futures: "v" the size in contracts (the books' unit), "sum" the amount in the quote currency
        self._rows.append((self.symbols.c_intern(name.ptr + us + 1, name.len - us - 1), interval, open_ns,
                           open_ns + <int64_t>seconds * 1000000000 if seconds else open_ns,
                           _num(o, S_N0), _num(o, S_N1), _num(o, S_N2), _num(o, S_N3),
                           _num(o, S_N4) if self.market else _num(o, S_N5),
                           _num(o, S_SUM) if self.market else _num(o, S_N4),
                           kt_seen(o, S_CLOSED) and o.i64[S_CLOSED] != 0))
        return 0

    cdef int _private_row(self, int kind, str ch) except -1:
        cdef KtOut* o = &self.out
        cdef int side = _side(o)
        cdef int64_t ts = 0
        if _time_ns(o, S_PTIME, -1, &ts) != 0:
            raise ValueError(f"{ch}: a time in ms is not valid")
        if kind == CH_ORDERS and not (_id_like(o, S_OID) and kt_seen(o, S_PAIR) and side >= 0):
            raise ValueError(f"{ch}: an order needs 'id', 'currency_pair' and 'side'")
        if kind == CH_USERTRADES and not (_id_like(o, S_OID) and _id_like(o, S_TID) and kt_seen(o, S_PAIR)
                                          and side >= 0):
            raise ValueError(f"{ch}: a trade needs 'id', 'order_id', 'currency_pair' and 'side'")
        if not _plain(o, S_PAIR):
            raise ValueError(f"{ch}: field {'currency' if kind == CH_BALANCES else 'currency_pair'!r} "
                             "must be a non-empty plain string")
        sym = self._symbol(S_PAIR)
        if kind == CH_ORDERS:
            # status: the push event ("put", "update"), or how the order ended ("filled", "cancelled", ...)
            status = _opt_text(o, S_PEVENT)
            if status == "finish" and kt_seen(o, S_FINISH) and o.span[S_FINISH].kind == JSON_STRING:
                status = kt_text(&o.span[S_FINISH])
            filled = _num(o, S_N3)
            if not kt_seen(o, S_N3) and isfinite(_num(o, S_N1)) and isfinite(_num(o, S_N2)):
                filled = o.f64[S_N1] - o.f64[S_N2]  # older frames carry only 'left'
            self._rows.append((sym, ts, kt_text(&o.span[S_OID]), _opt_text(o, S_TEXT), side, _opt_text(o, S_TYPE),
                               status, _num(o, S_N0), _num(o, S_N1), filled, _num(o, S_N4)))
        elif kind == CH_USERTRADES:
            self._rows.append((sym, ts, kt_text(&o.span[S_OID]), kt_text(&o.span[S_TID]), side, _num(o, S_N0),
                               _num(o, S_N1), _num(o, S_N2), _opt_text(o, S_TEXT),
                               kt_seen(o, S_TYPE) and json_span_eq(&o.span[S_TYPE], b"maker", 5)))
        else:
            self._rows.append((sym, ts, _num(o, S_N0), _num(o, S_N1)))
        return 0

    cdef int _emit_rows(self, int kind, int64_t ts_ns, int64_t recv_ns) except -1:
        """The events of the rows kept for this frame."""
        cdef OrderUpdate order
        cdef Fill fill
        cdef BalanceUpdate bal
        cdef Trade trade
        cdef Kline kl
        cdef Event ev
        if self._rows_serial != self._serial:
            return 0                      # no row of this frame (an empty array, a book ticker)
        for row in self._rows:
            if kind == CH_CANDLES:
                ev = kl = <Kline>self._klines.acquire()
                (kl.symbol, kl.interval, kl.open_time_ns, kl.close_time_ns, kl.open, kl.high, kl.low, kl.close,
                 kl.volume, kl.quote_volume, kl.closed) = row
                ev.exchange_ts_ns = ts_ns
            elif kind == CH_TRADES:
                ev = trade = <Trade>self._trades.acquire()
                (trade.symbol, trade.exchange_ts_ns, trade.price, trade.qty, trade.side, trade.trade_id) = row
                trade.trade_id_str = ""
            elif kind == CH_ORDERS:
                ev = order = <OrderUpdate>self._orders.acquire()
                (order.symbol, order.exchange_ts_ns, order.order_id, order.client_order_id, order.side,
                 order.order_type, order.status, order.price, order.qty, order.filled_qty, order.avg_price) = row
            elif kind == CH_USERTRADES:
                ev = fill = <Fill>self._fills.acquire()
                (fill.symbol, fill.exchange_ts_ns, fill.order_id, fill.trade_id, fill.side, fill.price, fill.qty,
                 fill.fee, fill.fee_asset, fill.is_maker) = row
            else:
                ev = bal = <BalanceUpdate>self._balances.acquire()
                (bal.asset, bal.exchange_ts_ns, bal.free, bal.locked) = row
                bal.symbol = bal.asset
            ev.exchange = self.exchange
            ev.recv_ns = recv_ns
            self.dispatcher.emit(ev)
        self._rows.clear()
        return 0

    # ---- Python API -------------------------------------------------------------------------
    def take_obu_resubscribe(self):
        """The pairs whose obu stream must be resubscribed (and forget them)."""
        out = sorted(self.obu_resubscribe)
        self.obu_resubscribe.clear()
        return out

    def stats(self):
        """Counters: frames, data/ack/pong/error/unknown frames, parse errors and errors by kind."""
        by_kind = dict(self._errors_by_kind)
        refused = self.parse_errors - sum(by_kind.values())    # refused by FrameDecoder.feed before decoding
        if refused > 0:
            by_kind["type"] = refused
        return {**EventDecoder.stats(self), "errors_by_kind": by_kind, "obu_resubscribe": sorted(self.obu_resubscribe)}
