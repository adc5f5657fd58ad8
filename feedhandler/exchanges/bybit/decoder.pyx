# cython: language_level=3
"""Bybit v5 frame decoder: JSON text frames -> events and book updates, on the kernel's FieldTable.

Frames (protocols.md section 6, the 2026 recording)::

    {"topic":"orderbook.200.BTCUSDT","type":"snapshot"|"delta","ts":ms,"data":{"s":..,"b":[[p,q]..],"a":..,"u":N,"seq":N},"cts":ms}
    {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":ms,"data":[{"T":ms,"s":..,"S":"Buy","v":..,"p":..,"i":..}]}
    {"topic":"tickers.BTCUSDT","type":"snapshot"|"delta","data":{"symbol":..,"bid1Price":..,"lastPrice":..},"cs":N,"ts":ms}
    {"topic":"kline.1.BTCUSDT","data":[{"start":ms,"end":ms,"interval":"1","open":..,"confirm":false,..}],"ts":ms}
    {"id":..,"topic":"order"|"execution"|"wallet","creationTime":ms,"data":[..]}             (private)
    {"success":true,"ret_msg":"","conn_id":..,"req_id":"7","op":"subscribe"|"auth"|"ping"}   (control)

One ``kt_scan`` reads the envelope; an ``orderbook`` or ``tickers`` ``data`` object is read in the same
pass with its table (levels straight into the kernel's level arrays). An array ``data`` (trades, klines,
private topics) is kept as a validated span and read item by item twice: checked whole, then emitted, so a
malformed frame raises ``ParseError`` (naming the field and the byte offset) and nothing of it reaches a
book or the handler.
"""
from libc.math cimport NAN, isfinite
from libc.stdint cimport int64_t
from libc.string cimport memcmp

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_OBJECT, JsonIter, JsonSpan, json_array_begin, json_array_next, json_span_eq,
)
from feedhandler.codec.numbers cimport NUM_OK, parse_int64
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, BalanceUpdate, BookTicker, Fill, Kline, OrderUpdate, Ticker, Trade, acquire_event,
)
from feedhandler.kernel.extract cimport (
    KF_EMPTY_NULL, KF_REQUIRED, KT_BOOL, KT_DOUBLE, KT_EACH, KT_INT64, KT_INT64_MS, KT_LEVELS, KT_PRICE, KT_SELECT,
    KT_SIZE, KT_SPAN, KT_STR, FieldTable, KtOut, KtTable, kt_scan, kt_scan_span, kt_seen, kt_text,
)
from feedhandler.kernel.event_decoder cimport EventDecoder
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.sync.book_sync cimport WAITING, BookSync, BookSyncGroup

from feedhandler.core.errors import AuthenticationError

cdef enum:
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
    # kernel slots: the envelope, then each payload's own
    S_TOPIC = 0
    S_TYPE = 1
    S_TS = 2
    S_SUCCESS = 3
    S_OP = 4
    S_RET = 5
    S_REQ = 6
    S_DATA = 7
    S_SYM = 8
    S_U = 9
    S_TK = 10       # 10 ticker numbers, 10..19, in TICKER order
    S_T = 20
    S_SIDE = 21
    S_QTY = 22
    S_PX = 23
    S_ID = 24
    S_START = 25
    S_END = 26
    S_INTERVAL = 27
    S_OHLCV = 28    # open, high, low, close, volume, turnover: 28..33
    S_CONFIRM = 34
    S_KTS = 35
    S_SYMBOL = 36
    S_ORDER_ID = 37
    S_LINK_ID = 38
    S_OTYPE = 39
    S_STATUS = 40
    S_CUM = 41
    S_AVG = 42
    S_EXEC_ID = 43
    S_FEE = 44
    S_FEE_CCY = 45
    S_MAKER = 46
    S_COINS = 47
    S_COIN = 48
    S_WALLET_BAL = 49
    S_LOCKED = 50
    L_BIDS = 0
    L_ASKS = 1

_R, _E = KF_REQUIRED, KF_EMPTY_NULL
BOOK = FieldTable("bybit.orderbook", [("s", KT_STR, S_SYM), ("u", KT_INT64, S_U, _R),
                                      ("b", KT_LEVELS, L_BIDS, _R), ("a", KT_LEVELS, L_ASKS, _R)])
TICKER = FieldTable("bybit.tickers", [(k, KT_DOUBLE, S_TK + i, _E) for i, k in enumerate((
    "bid1Price", "bid1Size", "ask1Price", "ask1Size", "lastPrice", "highPrice24h", "lowPrice24h", "volume24h",
    "turnover24h", "price24hPcnt"))])
TRADE = FieldTable("bybit.publicTrade", [("T", KT_INT64_MS, S_T), ("S", KT_STR, S_SIDE, _R), ("v", KT_SIZE, S_QTY, _R),
                                         ("p", KT_PRICE, S_PX, _R), ("i", KT_SPAN, S_ID)])
KLINE = FieldTable("bybit.kline", [("start", KT_INT64_MS, S_START), ("end", KT_INT64_MS, S_END),
                                   ("interval", KT_STR, S_INTERVAL, _R)]
                   + [(k, KT_DOUBLE, S_OHLCV + i, _R) for i, k in enumerate(
                       ("open", "high", "low", "close", "volume", "turnover"))]
                   + [("confirm", KT_BOOL, S_CONFIRM, _R), ("timestamp", KT_INT64_MS, S_KTS)])
ORDER = FieldTable("bybit.order", [
    ("symbol", KT_STR, S_SYMBOL, _R), ("orderId", KT_STR, S_ORDER_ID, _R), ("orderLinkId", KT_SPAN, S_LINK_ID),
    ("side", KT_STR, S_SIDE), ("orderType", KT_SPAN, S_OTYPE), ("orderStatus", KT_SPAN, S_STATUS),
    ("price", KT_DOUBLE, S_PX, _R | _E), ("qty", KT_DOUBLE, S_QTY, _R | _E), ("cumExecQty", KT_DOUBLE, S_CUM, _E),
    ("avgPrice", KT_DOUBLE, S_AVG, _E), ("updatedTime", KT_INT64_MS, S_T)])
EXECUTION = FieldTable("bybit.execution", [
    ("symbol", KT_STR, S_SYMBOL, _R), ("orderId", KT_SPAN, S_ORDER_ID), ("execId", KT_STR, S_EXEC_ID, _R),
    ("side", KT_STR, S_SIDE), ("execPrice", KT_DOUBLE, S_PX, _R | _E), ("execQty", KT_DOUBLE, S_QTY, _R | _E),
    ("execFee", KT_DOUBLE, S_FEE, _E), ("feeCurrency", KT_SPAN, S_FEE_CCY), ("isMaker", KT_BOOL, S_MAKER),
    ("execTime", KT_INT64_MS, S_T)])
COIN = FieldTable("bybit.coin", [("coin", KT_STR, S_COIN, _R), ("walletBalance", KT_DOUBLE, S_WALLET_BAL, _R | _E),
                                 ("locked", KT_DOUBLE, S_LOCKED, _E)])
WALLET = FieldTable("bybit.wallet", [("coin", KT_EACH, S_COINS, _R, COIN)])
FRAME = FieldTable("bybit", [
    ("topic", KT_STR, S_TOPIC), ("type", KT_STR, S_TYPE), ("ts", KT_INT64_MS, S_TS), ("creationTime", KT_INT64_MS, S_TS),
    ("success", KT_BOOL, S_SUCCESS), ("op", KT_SPAN, S_OP), ("ret_msg", KT_SPAN, S_RET), ("req_id", KT_SPAN, S_REQ),
    ("data", KT_SELECT, S_DATA)])
cdef FieldTable _FRAME = FRAME
cdef FieldTable COIN_TABLE = COIN
# the payload table of each topic kind (T_*); None: no payload read
cdef list _TABLES = [None, None, BOOK, TRADE, TICKER, KLINE, ORDER, EXECUTION, WALLET]


cdef int _topic_kind(const JsonSpan* t, Py_ssize_t* sym_off) noexcept nogil:
    """The topic's kind and where its symbol starts (``orderbook.200.BTCUSDT`` -> T_BOOK, 14)."""
    cdef const char* p = t.ptr
    cdef Py_ssize_t n = t.len, i, head = 0
    cdef int kind = T_OTHER
    if t.has_escapes:
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


cdef const KtTable* _select(void* ctx, int slot, KtOut* o) noexcept:
    """An object ``data`` of a book or ticker topic seen before it: read in the same pass."""
    cdef BybitDecoder d = <BybitDecoder>ctx
    if kt_seen(o, S_TOPIC) and o.span[S_DATA].kind == JSON_OBJECT:
        d._kind = _topic_kind(&o.span[S_TOPIC], &d._sym_off)
        if _object_kind(d._kind):
            d._data_read = True
            return &(<FieldTable>_TABLES[d._kind]).table
    return NULL


cdef inline bint _object_kind(int kind) noexcept nogil:
    return kind == T_BOOK or kind == T_TICKER      # "data" is one object; the other topics' is an array


cdef inline int _side(const JsonSpan* v) noexcept nogil:
    return SIDE_BUY if json_span_eq(v, b"Buy", 3) else SIDE_SELL if json_span_eq(v, b"Sell", 4) else -1


cdef inline double _or_nan(KtOut* o, int slot) noexcept nogil:
    return o.f64[slot] if kt_seen(o, slot) else NAN


cdef class _TickerState:
    """Merged ``tickers`` fields of one symbol, in TICKER order (NaN: not seen)."""
    cdef double v[10]


cdef class BybitDecoder(EventDecoder):
    """Compiled Bybit v5 decoder (public or private side).

    The parameters are :class:`~feedhandler.kernel.event_decoder.EventDecoder`'s: ``books`` holds the
    ``orderbook`` topics (rule ``bybit``), keyed by the topic's symbol; ``private`` decodes the ``order``,
    ``execution`` and ``wallet`` topics.
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, bint private=False,
                 Py_ssize_t capacity=5000, str exchange="bybit"):
        EventDecoder.__init__(self, dispatcher, books, private, capacity, exchange)
        self._ticker_state = {}
        self.use_levels(self.capacity, False, 2)
        self.out.select = _select
        self.out.ctx = <void*>self

    cdef int _bad(self, str field, const char* at, str reason) except -1:
        return self.fail(field, at - self._base, f"{self._where()}{reason}")

    cdef str _where(self):
        return kt_text(&self.out.span[S_TOPIC]) + ": " if kt_seen(&self.out, S_TOPIC) else ""

    # ---- the frame --------------------------------------------------------------------------
    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef JsonSpan* data = &o.span[S_DATA]
        self.frames += 1
        self._base = p
        self._kind = T_NONE
        self._data_read = False
        if kt_scan(&_FRAME.table, p, n, o) < 0:
            return self.scan_fail(p, self._where()[:-2])
        if not kt_seen(o, S_TOPIC):
            return self._control(o)
        if self._kind == T_NONE:
            self._kind = _topic_kind(&o.span[S_TOPIC], &self._sym_off)
        if self._kind == T_OTHER or (self.private != (self._kind >= T_ORDER)):
            self.unknown_frames += 1
            return MessageType.UNKNOWN
        if not kt_seen(o, S_DATA) or data.kind != (JSON_OBJECT if _object_kind(self._kind) else JSON_ARRAY):
            return self._bad("data", data.ptr if kt_seen(o, S_DATA) else p,
                             "missing" if not kt_seen(o, S_DATA) else "not of the topic's JSON type")
        if not self._data_read and _object_kind(self._kind):
            # "data" came before "topic": read it now
            if kt_scan_span(&(<FieldTable>_TABLES[self._kind]).table, data, o) < 0:
                return self.scan_fail(p, self._where()[:-2])
        if self._kind == T_BOOK:
            return self._book(o, recv_ns)
        if self._kind == T_TICKER:
            return self._ticker(o, recv_ns)
        return self._array(o, recv_ns)

    cdef int _control(self, KtOut* o) except -1:
        """Acks, pongs and errors: ``{"success":..,"ret_msg":..,"req_id":..,"op":..}``."""
        cdef int64_t rid = -1
        cdef int success = o.i64[S_SUCCESS] if kt_seen(o, S_SUCCESS) else -1
        cdef const JsonSpan* op = &o.span[S_OP]
        if kt_seen(o, S_REQ) and parse_int64(o.span[S_REQ].ptr, o.span[S_REQ].len, &rid) != NUM_OK:
            rid = -1
        self.control_id = rid
        self.control_code = 1 if success == 0 else 0
        self.control_text = kt_text(&o.span[S_RET]) if kt_seen(o, S_RET) else None
        if not kt_seen(o, S_OP):
            self.unknown_frames += 1
            return MessageType.UNKNOWN
        if json_span_eq(op, b"pong", 4) or (json_span_eq(op, b"ping", 4) and success != 0):
            self.pongs += 1
            return MessageType.PONG
        if json_span_eq(op, b"auth", 4):
            if success == 1:
                self.acks += 1
                return MessageType.AUTH_ACK
            self.error_frames += 1
            if self._apply:
                self.dispatcher.report(AuthenticationError(
                    f"{self.exchange} rejected authentication ({str(self.control_text)[:200]}); "
                    "check the API key, secret and permissions"))
            return MessageType.RECONNECT   # the manager reconnects with backoff and authenticates again
        if success == 1:
            self.acks += 1
            return MessageType.SUBSCRIPTION_ACK
        self.error_frames += 1
        return MessageType.ERROR

    cdef int _book(self, KtOut* o, int64_t recv_ns) except -1:
        cdef const char* sym = o.span[S_TOPIC].ptr + self._sym_off
        cdef Py_ssize_t sn = o.span[S_TOPIC].len - self._sym_off
        cdef bint snapshot = kt_seen(o, S_TYPE) and json_span_eq(&o.span[S_TYPE], b"snapshot", 8)
        cdef int64_t ts = o.i64[S_TS] if kt_seen(o, S_TS) else 0
        cdef BookSync sync
        if not snapshot and not (kt_seen(o, S_TYPE) and json_span_eq(&o.span[S_TYPE], b"delta", 5)):
            return self._bad("type", o.span[S_TYPE].ptr if kt_seen(o, S_TYPE) else o.span[S_TOPIC].ptr,
                             "must be snapshot or delta")
        if kt_seen(o, S_SYM) and (o.span[S_SYM].len != sn or memcmp(o.span[S_SYM].ptr, sym, sn) != 0):
            return self._bad("s", o.span[S_SYM].ptr, "does not match the topic")
        if self.books is None:
            return self._bad("topic", o.span[S_TOPIC].ptr, "this decoder keeps no books (private side)")
        if not self._apply:
            return MessageType.DATA
        self.data_frames += 1
        sync = self.books.c_get(sym, sn)
        if snapshot:   # any snapshot (``u == 1`` after a restart included) replaces the book
            if sync.state == WAITING:
                # deltas buffered before it belong to the previous subscription (or numbering): drop them
                sync.c_invalidate(sync.invalid_reason, False)
            sync.on_full_snapshot(o.i64[S_U], o.levels[L_BIDS].px, o.levels[L_BIDS].qty, o.levels[L_BIDS].count,
                                  o.levels[L_ASKS].px, o.levels[L_ASKS].qty, o.levels[L_ASKS].count, ts, recv_ns)
        else:
            sync.on_delta_validated(o.i64[S_U], o.i64[S_U], 0, o.levels[L_BIDS].px, o.levels[L_BIDS].qty,
                                    o.levels[L_BIDS].count, o.levels[L_ASKS].px, o.levels[L_ASKS].qty,
                                    o.levels[L_ASKS].count, ts, recv_ns)
        return MessageType.DATA

    cdef int _ticker(self, KtOut* o, int64_t recv_ns) except -1:
        """``tickers``: a snapshot replaces the symbol's fields, a delta updates the ones it carries."""
        cdef int i, present = 0
        cdef _TickerState st
        cdef BookTicker bt
        cdef Ticker tk
        cdef int64_t ts = o.i64[S_TS] if kt_seen(o, S_TS) else 0
        if not self._apply:
            return MessageType.DATA
        self.data_frames += 1
        symbol = self.symbols.c_intern(o.span[S_TOPIC].ptr + self._sym_off, o.span[S_TOPIC].len - self._sym_off)
        st = self._ticker_state.get(symbol)
        if st is None or not kt_seen(o, S_TYPE) or json_span_eq(&o.span[S_TYPE], b"snapshot", 8):
            if st is None:
                st = self._ticker_state[symbol] = _TickerState()
            for i in range(10):
                st.v[i] = NAN
        for i in range(10):
            if kt_seen(o, S_TK + i):
                present |= 1 << i
                st.v[i] = o.f64[S_TK + i]
        if (self.ticker_mask & 1) and (present & 0xF) and isfinite(st.v[0]) and isfinite(st.v[2]):
            bt = <BookTicker>acquire_event(self._book_tickers, self.exchange, symbol, ts, recv_ns)
            bt.bid_price, bt.bid_qty, bt.ask_price, bt.ask_qty = st.v[0], st.v[1], st.v[2], st.v[3]
            bt.update_id = 0
            self.dispatcher.emit(bt)
        if (self.ticker_mask & 2) and (present & 0x3F0) and isfinite(st.v[4]):
            tk = <Ticker>acquire_event(self._tickers, self.exchange, symbol, ts, recv_ns)
            tk.last, tk.high, tk.low, tk.volume, tk.quote_volume = st.v[4], st.v[5], st.v[6], st.v[7], st.v[8]
            tk.change_pct = st.v[9] * 100.0   # Bybit sends a fraction ("0.001624"); events carry percent
            self.dispatcher.emit(tk)
        return MessageType.DATA

    cdef int _array(self, KtOut* o, int64_t recv_ns) except -1:
        """Trades, klines and the private topics: ``data`` is an array; checked whole, then emitted."""
        cdef JsonIter it
        cdef JsonSpan item
        cdef int emit, rc
        cdef const KtTable* t = &(<FieldTable>_TABLES[self._kind]).table
        symbol = self.symbols.c_intern(o.span[S_TOPIC].ptr + self._sym_off, o.span[S_TOPIC].len - self._sym_off) \
            if self._kind < T_ORDER else ""
        for emit in range(2 if self._apply else 1):
            rc = json_array_begin(&it, o.span[S_DATA].ptr, o.span[S_DATA].ptr + o.span[S_DATA].len)
            while rc == 0 and json_array_next(&it, &item) == 1:
                if item.kind != JSON_OBJECT:
                    return self._bad("data", item.ptr, "an item is not an object")
                if kt_scan_span(t, &item, o) < 0:
                    return self.scan_fail(self._base, self._where()[:-2])
                self._item(o, &item, symbol, recv_ns, emit)
        if self._apply:
            self.data_frames += 1
        return MessageType.DATA

    cdef int _item(self, KtOut* o, const JsonSpan* obj, str symbol, int64_t recv_ns, bint emit) except -1:
        cdef int64_t tid = -1
        cdef int side = _side(&o.span[S_SIDE]) if kt_seen(o, S_SIDE) else -1
        cdef int64_t ts = o.i64[S_T] if kt_seen(o, S_T) else 0
        cdef JsonIter it
        cdef JsonSpan coin
        cdef Trade tr
        cdef Kline kl
        cdef OrderUpdate ou
        cdef Fill fl
        cdef BalanceUpdate bu
        if self._kind == T_TRADE:
            if side < 0:
                return self._bad("S", o.span[S_SIDE].ptr, "must be Buy or Sell")
            if kt_seen(o, S_ID) and parse_int64(o.span[S_ID].ptr, o.span[S_ID].len, &tid) != NUM_OK:
                tid = -1
            if emit:
                tr = <Trade>acquire_event(self._trades, self.exchange, symbol, ts, recv_ns)
                tr.price, tr.qty, tr.side, tr.trade_id = o.f64[S_PX], o.f64[S_QTY], side, tid
                tr.trade_id_str = "" if tid >= 0 or not kt_seen(o, S_ID) else kt_text(&o.span[S_ID])
                self.dispatcher.emit(tr)
        elif self._kind == T_KLINE and emit:
            kl = <Kline>acquire_event(self._klines, self.exchange, symbol, o.i64[S_KTS] if kt_seen(o, S_KTS) else 0,
                                      recv_ns)
            kl.interval = self.symbols.c_intern(o.span[S_INTERVAL].ptr, o.span[S_INTERVAL].len)
            kl.open_time_ns = o.i64[S_START] if kt_seen(o, S_START) else 0
            kl.close_time_ns = o.i64[S_END] if kt_seen(o, S_END) else 0
            kl.open, kl.high, kl.low = o.f64[S_OHLCV], o.f64[S_OHLCV + 1], o.f64[S_OHLCV + 2]
            kl.close, kl.volume, kl.quote_volume = o.f64[S_OHLCV + 3], o.f64[S_OHLCV + 4], o.f64[S_OHLCV + 5]
            kl.closed = o.i64[S_CONFIRM] != 0
            self.dispatcher.emit(kl)
        elif self._kind == T_ORDER and emit:
            ou = <OrderUpdate>acquire_event(self._orders, self.exchange, self._symbol(o), ts, recv_ns)
            ou.order_id, ou.client_order_id = kt_text(&o.span[S_ORDER_ID]), self._opt_text(o, S_LINK_ID)
            ou.side, ou.order_type, ou.status = max(side, 0), self._opt_text(o, S_OTYPE), self._opt_text(o, S_STATUS)
            ou.price, ou.qty, ou.filled_qty, ou.avg_price = o.f64[S_PX], o.f64[S_QTY], _or_nan(o, S_CUM), _or_nan(o, S_AVG)
            self.dispatcher.emit(ou)
        elif self._kind == T_EXEC and emit:
            fl = <Fill>acquire_event(self._fills, self.exchange, self._symbol(o), ts, recv_ns)
            fl.order_id, fl.trade_id, fl.side = self._opt_text(o, S_ORDER_ID), kt_text(&o.span[S_EXEC_ID]), max(side, 0)
            fl.price, fl.qty, fl.fee, fl.fee_asset = o.f64[S_PX], o.f64[S_QTY], _or_nan(o, S_FEE), self._opt_text(o, S_FEE_CCY)
            fl.is_maker = kt_seen(o, S_MAKER) and o.i64[S_MAKER] != 0
            self.dispatcher.emit(fl)
        elif self._kind == T_WALLET and emit:
            # {"coin":[{"coin":"USDT","walletBalance":..,"locked":..}, ..]} -> one BalanceUpdate per coin (the
            # scan above checked them all; each is read again to emit it)
            json_array_begin(&it, o.span[S_COINS].ptr, o.span[S_COINS].ptr + o.span[S_COINS].len)
            while json_array_next(&it, &coin) == 1 and kt_scan_span(&COIN_TABLE.table, &coin, o) == 0:
                asset = self.symbols.c_intern(o.span[S_COIN].ptr, o.span[S_COIN].len)
                bu = <BalanceUpdate>acquire_event(self._balances, self.exchange, asset,
                                                  o.i64[S_TS] if kt_seen(o, S_TS) else 0, recv_ns)
                bu.asset = asset
                # walletBalance includes what orders hold: free is the rest
                bu.locked = o.f64[S_LOCKED] if kt_seen(o, S_LOCKED) and isfinite(o.f64[S_LOCKED]) else 0.0
                bu.free = o.f64[S_WALLET_BAL] - bu.locked
                self.dispatcher.emit(bu)
        return 0

    cdef str _opt_text(self, KtOut* o, int slot):
        return kt_text(&o.span[slot]) if kt_seen(o, slot) else ""

    cdef str _symbol(self, KtOut* o):
        return self.symbols.c_intern(o.span[S_SYMBOL].ptr, o.span[S_SYMBOL].len)
