# cython: language_level=3
"""MEXC spot v3 decoder: ``PushDataV3ApiWrapper`` protobuf frames -> books and events, no protobuf runtime.

See ``decoder.pxd`` for the contract. Field numbers are those of
``mexcdevelop/websocket-proto`` (schema commit 7b8ac7a, 2026-06), as listed in
``protocols.md`` section 1.6 and ``constants.py``. The messages are declared
below as :class:`PbTable`\\ s and walked once by the kernel
(``feedhandler/kernel/pbextract``), which keeps protobuf's semantics exactly
(the differential tests compare with upb): last occurrence wins, repeated
items accumulate, a repeated body field merges, another body member replaces
it, a field with an unexpected wire type is unknown and skipped, an absent
string is the proto3 default "" (which reads as 0 for numbers).
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport memcmp, memcpy

import numpy as np

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.codec.numbers cimport NUM_OK, parse_int64
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, SIDE_UNKNOWN, BalanceUpdate, BookTicker, Event, EventPool, Fill, Kline, OrderUpdate, Ticker,
    Trade,
)
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.extract cimport KT_INT64, KT_STR, FieldTable, KtLevels, KtOut, kt_scan, kt_seen, kt_text
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.kernel.pbextract cimport (
    PK_DEC, PK_DEC_INT, PK_DEC_PRICE, PK_DEC_SIZE, PK_EACH, PK_LEVELS, PK_ONEOF, PK_STR, PK_VARINT, PX_ERR_ITEM,
    PX_ERR_LEVELS, PX_ERR_NUMBER, PbTable, pbx_fail, pbx_scan,
)
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport BookSync, BookSyncGroup

from feedhandler.core.errors import ParseError
from feedhandler.events.events import (
    BalanceUpdate as _BalanceUpdate, BookTicker as _BookTicker, Fill as _Fill, Kline as _Kline,
    OrderUpdate as _OrderUpdate, Ticker as _Ticker, Trade as _Trade,
)

from feedhandler.exchanges.mexc.constants import BODY_FIELDS

# The text control frames ({"id":0,"code":0,"msg":"spot@public..."}), read with the kernel's table scan.
cdef FieldTable _CONTROL_FIELDS = FieldTable("mexc.control", [("id", KT_INT64, 0), ("code", KT_INT64, 1),
                                                              ("msg", KT_STR, 2)])

# Body field numbers of PushDataV3ApiWrapper (constants.py lists them with names).
cdef enum:
    F_DEALS = 301
    F_INCREASE_DEPTHS = 302
    F_LIMIT_DEPTHS = 303
    F_PRIVATE_ORDERS = 304
    F_BOOK_TICKER = 305
    F_PRIVATE_DEALS = 306
    F_PRIVATE_ACCOUNT = 307
    F_KLINE = 308
    F_MINI_TICKER = 309
    F_MINI_TICKERS = 310
    F_BOOK_TICKER_BATCH = 311
    F_INCREASE_DEPTHS_BATCH = 312
    F_AGGRE_DEPTHS = 313
    F_AGGRE_DEALS = 314
    F_AGGRE_BOOK_TICKER = 315

# Slots of self.out. The wrapper's are 0..3; a frame has one body, so the bodies share 4.. .
# An item (or a flat body) keeps its numbers in F0..F5, varints in I0..I3, strings in T0..T2.
cdef enum:
    S_CHANNEL = 0
    S_SYMBOL = 1
    S_CREATE = 2
    S_SEND = 3
    S_COUNT = 4      # items of a repeated body field
    S_FROM = 5
    S_TO = 6
    S_LOT = 7        # lastOrderCreateTime
    S_VERSION = 8
    S_PX = 9         # level item strings
    S_QTY = 10
    F0 = 11
    F1 = 12
    F2 = 13
    F3 = 14
    F4 = 15
    F5 = 16
    I0 = 17
    I1 = 18
    I2 = 19
    I3 = 20
    T0 = 21
    T1 = 22
    T2 = 23
    L_BIDS = 0
    L_ASKS = 1


def _depth_table(name, version_fields):
    item = PbTable(name + "Item", [(1, "price", PK_STR, S_PX), (2, "quantity", PK_STR, S_QTY)])
    return PbTable(name, [(1, "asks", PK_LEVELS, L_ASKS, (item, S_PX, S_QTY)),
                          (2, "bids", PK_LEVELS, L_BIDS, (item, S_PX, S_QTY)), *version_fields])


def _ticker_fields():
    return [(1, "bidPrice", PK_DEC_PRICE, F0), (2, "bidQuantity", PK_DEC_SIZE, F1),
            (3, "askPrice", PK_DEC_PRICE, F2), (4, "askQuantity", PK_DEC_SIZE, F3)]


def _deal_fields():
    return [(1, "price", PK_DEC_PRICE, F0), (2, "quantity", PK_DEC_SIZE, F1), (3, "tradeType", PK_VARINT, I0),
            (4, "time", PK_VARINT, I1)]


_MINI = PbTable("PublicMiniTickerV3Api", [
    (1, "symbol", PK_STR, T0), (2, "price", PK_DEC, F0), (4, "zonedRate", PK_DEC, F1), (5, "high", PK_DEC, F2),
    (6, "low", PK_DEC, F3), (7, "volume", PK_DEC, F4), (8, "quantity", PK_DEC, F5)])
_TICKER = PbTable("PublicBookTickerV3Api", _ticker_fields())
_BODIES = {
    F_AGGRE_DEPTHS: _depth_table("PublicAggreDepthsV3Api", [
        (4, "fromVersion", PK_DEC_INT, S_FROM), (5, "toVersion", PK_DEC_INT, S_TO),
        (6, "lastOrderCreateTime", PK_VARINT, S_LOT)]),
    F_LIMIT_DEPTHS: _depth_table("PublicLimitDepthsV3Api", [
        (4, "version", PK_DEC_INT, S_FROM), (5, "lastOrderCreateTime", PK_VARINT, S_LOT)]),
    F_INCREASE_DEPTHS: _depth_table("PublicIncreaseDepthsV3Api", [(4, "version", PK_DEC_INT, S_FROM)]),
    F_AGGRE_DEALS: PbTable("PublicAggreDealsV3Api", [(1, "deals", PK_EACH, S_COUNT, PbTable(
        "PublicAggreDealsV3ApiItem", _deal_fields() + [(5, "tradeId", PK_STR, T0)]))]),
    F_DEALS: PbTable("PublicDealsV3Api", [(1, "deals", PK_EACH, S_COUNT,
                                           PbTable("PublicDealsV3ApiItem", _deal_fields()))]),
    F_AGGRE_BOOK_TICKER: PbTable("PublicAggreBookTickerV3Api",
                                 _ticker_fields() + [(5, "version", PK_DEC_INT, S_VERSION)]),
    F_BOOK_TICKER: _TICKER,
    F_BOOK_TICKER_BATCH: PbTable("PublicBookTickerBatchV3Api", [(1, "items", PK_EACH, S_COUNT, _TICKER),
                                                                (2, "version", PK_DEC_INT, S_VERSION)]),
    F_KLINE: PbTable("PublicSpotKlineV3Api", [
        (1, "interval", PK_STR, T0), (2, "windowStart", PK_VARINT, I0), (3, "openingPrice", PK_DEC, F0),
        (4, "closingPrice", PK_DEC, F1), (5, "highestPrice", PK_DEC, F2), (6, "lowestPrice", PK_DEC, F3),
        (7, "volume", PK_DEC, F4), (8, "amount", PK_DEC, F5), (9, "windowEnd", PK_VARINT, I1)]),
    F_MINI_TICKER: _MINI,
    F_MINI_TICKERS: PbTable("PublicMiniTickersV3Api", [(1, "items", PK_EACH, S_COUNT, _MINI)]),
    F_PRIVATE_ORDERS: PbTable("PrivateOrdersV3Api", [
        (1, "id", PK_STR, T0), (2, "clientId", PK_STR, T1), (3, "price", PK_DEC, F0), (4, "quantity", PK_DEC, F1),
        (6, "avgPrice", PK_DEC, F2), (7, "orderType", PK_VARINT, I0), (8, "tradeType", PK_VARINT, I1),
        (13, "cumulativeQuantity", PK_DEC, F3), (15, "status", PK_VARINT, I2), (16, "createTime", PK_VARINT, I3)]),
    F_PRIVATE_DEALS: PbTable("PrivateDealsV3Api", [
        (1, "price", PK_DEC, F0), (2, "quantity", PK_DEC, F1), (4, "tradeType", PK_VARINT, I0),
        (5, "isMaker", PK_VARINT, I1), (7, "tradeId", PK_STR, T0), (9, "orderId", PK_STR, T1),
        (10, "feeAmount", PK_DEC, F2), (11, "feeCurrency", PK_STR, T2), (12, "time", PK_VARINT, I2)]),
    F_PRIVATE_ACCOUNT: PbTable("PrivateAccountV3Api", [
        (1, "vcoinName", PK_STR, T0), (3, "balanceAmount", PK_DEC, F0), (5, "frozenAmount", PK_DEC, F1),
        (8, "time", PK_VARINT, I0)]),
}
cdef PbTable _WRAPPER = PbTable("PushDataV3ApiWrapper", [
    (1, "channel", PK_STR, S_CHANNEL), (3, "symbol", PK_STR, S_SYMBOL), (5, "createTime", PK_VARINT, S_CREATE),
    (6, "sendTime", PK_VARINT, S_SEND),
    # every oneof member; 312 (unofficial increase-depth batch) has no table: counted, not walked
    *[(number, name, PK_ONEOF, -1, _BODIES.get(number)) for number, name in BODY_FIELDS.items()]])


# ---- small helpers ----------------------------------------------------------------------------------

cdef int64_t _MAX_MS = 9223372036854        # largest ms whose ns fits int64 (a C constant: the literal
cdef int64_t _MAX_S = 9223372036            # in a comparison would be a Python int, compared per frame)


cdef inline int64_t _ms_ns(int64_t ms) noexcept:
    # ms -> ns without signed overflow (undefined in C): beyond +-292 years the time is "unknown" (0).
    if ms > _MAX_MS or ms < -_MAX_MS:
        return 0
    return ms * 1000000


cdef inline int64_t _s_ns(int64_t s) noexcept:
    if s > _MAX_S or s < -_MAX_S:
        return 0
    return s * 1000000000


cdef inline int _side(int64_t trade_type) noexcept:
    if <int32_t>trade_type == 1:
        return SIDE_BUY
    if <int32_t>trade_type == 2:
        return SIDE_SELL
    return SIDE_UNKNOWN


cdef Py_ssize_t _find(const uint8_t* p, Py_ssize_t n, const char* needle, Py_ssize_t m) noexcept:
    cdef Py_ssize_t i
    if m > n:
        return -1
    for i in range(n - m + 1):
        if p[i] == <uint8_t>needle[0] and memcmp(p + i, needle, m) == 0:
            return i
    return -1


_ORDER_TYPES = {1: "LIMIT_ORDER", 2: "POST_ONLY", 3: "IMMEDIATE_OR_CANCEL", 4: "FILL_OR_KILL", 5: "MARKET_ORDER",
                100: "STOP_LIMIT"}
_STATUSES = {1: "NEW", 2: "FILLED", 3: "PARTIALLY_FILLED", 4: "CANCELED", 5: "PARTIALLY_CANCELED"}


cdef inline str _text(JsonSpan s):
    if s.len == 0:
        return ""
    return s.ptr[:s.len].decode("utf-8", "replace")


cdef inline void _copy_item(const KtOut* o, MxItem* it) noexcept:
    memcpy(it.f, &o.f64[F0], sizeof(it.f))
    it.i0 = o.i64[I0]
    it.i1 = o.i64[I1]
    it.t = o.span[T0]


cdef int _keep_item(void* ctx, int slot, KtOut* o, Py_ssize_t index) noexcept:
    """on_item: an item of a repeated body field into the decoder's preallocated items."""
    cdef MexcDecoder self = <MexcDecoder>ctx
    if index >= self.max_levels:
        return -1
    _copy_item(o, &self._items[index])
    return 0


cdef class MexcDecoder(FrameDecoder):
    """Compiled MEXC spot v3 frame decoder (protobuf data, JSON control frames).

    Parameters
    ----------
    dispatcher : EventDispatcher, optional
        Where events go (a new one if None).
    books : BookSyncGroup, optional
        Books of the aggregated-depth streams (None: depth frames are decoded and counted only).
    partial_books : BookSyncGroup, optional
        Books of the limit-depth (top-N) streams.
    max_levels : int
        Largest number of levels per side, and of items (deals, tickers), accepted in one frame.
    exchange : str
        Name carried by events.
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, BookSyncGroup partial_books=None,
                 Py_ssize_t max_levels=10000, str exchange="mexc"):
        if max_levels < 1:
            raise ValueError("max_levels must be >= 1")
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self.partial_books = partial_books
        FrameDecoder.__init__(self, exchange)
        self.max_levels = max_levels
        (self._trades, self._book_tickers, self._klines, self._tickers, self._orders, self._fills,
         self._balances) = [EventPool(cls, size) for cls, size in ((_Trade, 1024), (_BookTicker, 256), (_Kline, 64),
                            (_Ticker, 4096), (_OrderUpdate, 64), (_Fill, 64), (_BalanceUpdate, 64))]
        # the kernel's preallocated scratch: levels[0] bids, levels[1] asks; items of repeated bodies
        self.use_levels(max_levels, False, 2)
        PyMem_Free(self._items)
        self._items = <MxItem*>PyMem_Malloc(max_levels * sizeof(MxItem))
        if self._items == NULL:
            raise MemoryError()
        self.out.on_item = _keep_item
        self.out.ctx = <void*>self
        self.symbols = SymbolTable(8192)

    def __dealloc__(self):
        PyMem_Free(self._items)

    # ---- entry points (feed and classify: FrameDecoder's, over c_feed / c_classify) ----------------

    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1:
        """Tell a frame's ``MessageType`` by quick inspection (first byte, control-frame text)."""
        return _classify(<const uint8_t*>data, n)

    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef const uint8_t* p = <const uint8_t*>data
        cdef int rc, kind, body
        self.frames += 1
        kind = _classify(p, n)
        if kind == MessageType.UNKNOWN:
            self.err_text += 1
            self.parse_errors += 1
            raise ParseError("mexc: empty frame")
        if kind != MessageType.DATA:
            return self._control(p, n)
        # one walk: the wrapper, then the body member it kept (merged segments) with that body's table
        rc = pbx_scan(&_WRAPPER.table, p, n, &self.out, &self._pb)
        if rc != 0:
            self._pb_fail(rc)
        body = self._pb.oneof.number if self._pb.oneof != NULL else 0
        if body == 0:
            self.empty += 1
        elif body == F_AGGRE_DEPTHS or body == F_INCREASE_DEPTHS or body == F_LIMIT_DEPTHS:
            self._depth(body, recv_ns)
        elif body == F_INCREASE_DEPTHS_BATCH:
            self.unsupported += 1
        else:
            self._events(body, recv_ns)
        return MessageType.DATA

    cdef int _pb_fail(self, int rc) except -1:
        if rc == PX_ERR_NUMBER:
            self.err_number += 1
        elif rc == PX_ERR_LEVELS or rc == PX_ERR_ITEM:
            self.err_levels += 1
        else:
            self.err_wire += 1
        return pbx_fail(self, &self._pb)

    cdef int _refuse(self, str field, str reason, bint symbol) except -1:
        if symbol:
            self.err_symbol += 1
        else:
            self.err_levels += 1
        return self.fail(field, -1, reason)

    # ---- control frames ---------------------------------------------------------------------------

    cdef int _control(self, const uint8_t* p, Py_ssize_t n) except -1:
        cdef int kind = _classify(p, n)
        if kind == MessageType.PONG:
            self.pongs += 1
        elif kind == MessageType.SUBSCRIPTION_ACK:
            self.acks += 1
        elif kind == MessageType.ERROR:
            self.exchange_errors += 1
        if p[0] == b'{' and (p[n - 1] != b'}' or _find(p, n, b'"msg"', 5) < 0):
            self.err_text += 1
            self.parse_errors += 1
            raise ParseError(f"mexc: malformed text frame {(<const char*>p)[:min(n, 80)]!r}")
        # what the frame says, decoded once for the subscription strategy
        self.control_id = -1
        self.control_code = 0
        self.control_text = None
        if p[0] == b'{' and kt_scan(&_CONTROL_FIELDS.table, <const char*>p, n, &self.out) == 0:
            if kt_seen(&self.out, 0):
                self.control_id = self.out.i64[0]
            if kt_seen(&self.out, 1):
                self.control_code = self.out.i64[1]
            if kt_seen(&self.out, 2):
                self.control_text = kt_text(&self.out.span[2])
        elif kind == MessageType.ERROR:
            self.control_code = -1
            self.control_text = (<const char*>p)[:min(n, 200)].decode("utf-8", "replace")
        return kind

    # ---- wrapper fields ---------------------------------------------------------------------------

    cdef int64_t _frame_ts_ns(self) noexcept:
        if kt_seen(&self.out, S_SEND):
            return _ms_ns(self.out.i64[S_SEND])
        if kt_seen(&self.out, S_CREATE):
            return _ms_ns(self.out.i64[S_CREATE])
        return 0

    cdef int64_t _own_ts_ns(self, int slot) noexcept:
        """A private push's own time (ms, in slot), else the frame's."""
        return _ms_ns(self.out.i64[slot]) if self.out.i64[slot] else self._frame_ts_ns()

    cdef int _symbol_span(self, JsonSpan* out) noexcept:
        """The frame's symbol: wrapper field 3, else taken from the channel string (-1: none).

        Channel shapes: ``...api.pb@100ms@SYM``, ``...api.pb@SYM@5``, ``...api.pb@SYM@Min1``,
        ``...api.pb@SYM`` : the first segment after ``.pb@`` that is not a speed (``<digits>ms``).
        """
        cdef Py_ssize_t i, j, k, start
        cdef const uint8_t* c = <const uint8_t*>self.out.span[S_CHANNEL].ptr
        cdef Py_ssize_t n = self.out.span[S_CHANNEL].len
        if self.out.span[S_SYMBOL].len > 0:
            out[0] = self.out.span[S_SYMBOL]
            return 0
        i = _find(c, n, b".pb@", 4)
        if i < 0:
            return -1
        start = i + 4
        while start < n:
            j = start
            while j < n and c[j] != b'@':
                j += 1
            # a speed segment: digits then "ms"
            k = start
            while k < j and b'0' <= c[k] <= b'9':
                k += 1
            if not (k > start and j - k == 2 and c[k] == b'm' and c[k + 1] == b's') and j > start:
                out.ptr = <const char*>c + start
                out.len = j - start
                return 0
            start = j + 1
        return -1

    cdef str _symbol_str(self):
        cdef JsonSpan sym
        if self._symbol_span(&sym) != 0:
            self._refuse("symbol", "no symbol in the frame (wrapper field 3 or the channel)", True)
        return self.symbols.c_intern(sym.ptr, sym.len)

    # ---- depth --------------------------------------------------------------------------------------

    cdef int _depth(self, int body, int64_t recv_ns) except -1:
        """313/302/303: versions checked, then the levels (checked by the kernel) into the book."""
        cdef KtOut* o = &self.out
        cdef JsonSpan sym
        cdef BookSync sync
        cdef BookSyncGroup group
        cdef Py_ssize_t i
        cdef KtLevels* bids = &o.levels[L_BIDS]
        cdef KtLevels* asks = &o.levels[L_ASKS]
        cdef int64_t ts = self._frame_ts_ns()
        self._from = o.i64[S_FROM]
        self._to = o.i64[S_TO] if body == F_AGGRE_DEPTHS else self._from
        self._last_order_ts = o.i64[S_LOT] if body != F_INCREASE_DEPTHS else 0
        if ((body == F_AGGRE_DEPTHS and (o.span[S_TO].len == 0 or self._to < self._from))
                or (body != F_LIMIT_DEPTHS and o.span[S_FROM].len == 0)):
            self._refuse("fromVersion", "missing or inverted fromVersion/toVersion", False)
        if self._symbol_span(&sym) != 0:
            self._symbol_str()  # raises
        if body == F_LIMIT_DEPTHS:
            self.limit_depths += 1
            group = self.partial_books
            if group is None:
                return 0
            # key "<SYMBOL>@<N>": the channel tail after ".pb@" when present, else the symbol
            i = _find(<const uint8_t*>o.span[S_CHANNEL].ptr, o.span[S_CHANNEL].len, b".pb@", 4)
            if i >= 0 and o.span[S_CHANNEL].len > i + 4:
                sync = group.c_get(o.span[S_CHANNEL].ptr + i + 4, o.span[S_CHANNEL].len - i - 4)
            else:
                sync = group.c_get(sym.ptr, sym.len)
            sync.on_full_snapshot(self._from, bids.px, bids.qty, bids.count, asks.px, asks.qty, asks.count,
                                  ts, recv_ns)
            return 0
        self.depth_updates += 1
        group = self.books
        if group is None:
            return 0
        sync = group.c_get(sym.ptr, sym.len)
        # every level obeyed the price/size rule in the kernel's walk, and _to >= _from
        sync.on_delta_validated(self._from, self._to, 0, bids.px, bids.qty, bids.count,
                                asks.px, asks.qty, asks.count, ts, recv_ns)
        return 0

    # ---- events: the body was walked and checked completely; now deliver ------------------------------

    cdef int _events(self, int body, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef Py_ssize_t i, count = o.i64[S_COUNT]
        cdef MxItem flat
        cdef str symbol = None
        _copy_item(o, &flat)
        if body == F_MINI_TICKER:
            # a ticker names its symbol; without one it takes the frame's (which must then exist)
            if flat.t.len == 0:
                symbol = self._symbol_str()
        elif body == F_MINI_TICKERS:
            for i in range(count):
                if self._items[i].t.len == 0:
                    symbol = self._symbol_str()
                    break
        elif body != F_PRIVATE_ACCOUNT:
            symbol = self._symbol_str()
        elif o.span[S_SYMBOL].len:
            symbol = self.symbols.c_intern(o.span[S_SYMBOL].ptr, o.span[S_SYMBOL].len)
        else:
            symbol = ""  # account pushes carry no pair
        if body == F_AGGRE_DEALS or body == F_DEALS:
            for i in range(count):
                if body == F_DEALS:
                    self._items[i].t.len = 0  # PublicDealsV3ApiItem has no tradeId: T0 holds another body's
                self._trade(&self._items[i], symbol, recv_ns)
        elif body == F_AGGRE_BOOK_TICKER or body == F_BOOK_TICKER:
            self._ticker(&flat, o.i64[S_VERSION] if body == F_AGGRE_BOOK_TICKER else 0, symbol, recv_ns)
        elif body == F_BOOK_TICKER_BATCH:
            for i in range(count):
                self._ticker(&self._items[i], o.i64[S_VERSION], symbol, recv_ns)
        elif body == F_MINI_TICKER:
            self._mini(&flat, symbol, recv_ns)
        elif body == F_MINI_TICKERS:
            for i in range(count):
                self._mini(&self._items[i], symbol, recv_ns)
        elif body == F_KLINE:
            self._kline(symbol, recv_ns)
        elif body == F_PRIVATE_ORDERS:
            self._order(symbol, recv_ns)
        elif body == F_PRIVATE_DEALS:
            self._fill(symbol, recv_ns)
        elif body == F_PRIVATE_ACCOUNT:
            self._balance(symbol, recv_ns)
        return 0

    cdef Event _event(self, EventPool pool, str symbol, int64_t ts, int64_t recv_ns):
        """The next pooled event, stamped with the exchange, symbol and both times."""
        cdef Event ev = <Event>pool.acquire()
        ev.exchange = self.exchange
        ev.symbol = symbol
        ev.exchange_ts_ns = ts
        ev.recv_ns = recv_ns
        return ev

    cdef int _trade(self, const MxItem* it, str symbol, int64_t recv_ns) except -1:
        cdef int64_t tid
        cdef Trade t = <Trade>self._event(self._trades, symbol, _ms_ns(it.i1), recv_ns)
        self.trades += 1
        t.price = it.f[0]
        t.qty = it.f[1]
        t.side = _side(it.i0)
        t.trade_id = -1
        t.trade_id_str = ""
        if it.t.len and parse_int64(it.t.ptr, it.t.len, &tid) == NUM_OK and tid >= 0:
            t.trade_id = tid
        elif it.t.len:
            t.trade_id_str = _text(it.t)
        return self.dispatcher.emit(t)

    cdef int _ticker(self, const MxItem* it, int64_t version, str symbol, int64_t recv_ns) except -1:
        cdef BookTicker ev = <BookTicker>self._event(self._book_tickers, symbol, self._frame_ts_ns(), recv_ns)
        self.book_tickers += 1
        ev.bid_price = it.f[0]
        ev.bid_qty = it.f[1]
        ev.ask_price = it.f[2]
        ev.ask_qty = it.f[3]
        ev.update_id = version
        return self.dispatcher.emit(ev)

    cdef int _mini(self, const MxItem* it, str symbol, int64_t recv_ns) except -1:
        cdef Ticker ev = <Ticker>self._event(self._tickers, self.symbols.c_intern(it.t.ptr, it.t.len) if it.t.len
                                              else symbol, self._frame_ts_ns(), recv_ns)
        self.tickers += 1
        ev.last = it.f[0]
        ev.change_pct = it.f[1]  # MEXC's zonedRate as sent (the requested timezone's change)
        ev.high = it.f[2]
        ev.low = it.f[3]
        ev.quote_volume = it.f[4]
        ev.volume = it.f[5]
        return self.dispatcher.emit(ev)

    cdef int _kline(self, str symbol, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef Kline k = <Kline>self._event(self._klines, symbol, self._frame_ts_ns(), recv_ns)
        self.klines += 1
        k.interval = self.symbols.c_intern(o.span[T0].ptr, o.span[T0].len) if o.span[T0].len else ""
        k.open_time_ns = _s_ns(o.i64[I0])
        k.close_time_ns = _s_ns(o.i64[I1])
        k.open = o.f64[F0]
        k.close = o.f64[F1]
        k.high = o.f64[F2]
        k.low = o.f64[F3]
        k.volume = o.f64[F4]
        k.quote_volume = o.f64[F5]
        k.closed = False  # MEXC pushes the running candle every second and never marks it final
        return self.dispatcher.emit(k)

    cdef int _order(self, str symbol, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef OrderUpdate ev = <OrderUpdate>self._event(self._orders, symbol, self._own_ts_ns(I3), recv_ns)
        cdef int32_t order_type = <int32_t>o.i64[I0], status = <int32_t>o.i64[I2]
        self.orders += 1
        ev.order_id = _text(o.span[T0])
        ev.client_order_id = _text(o.span[T1])
        ev.side = _side(o.i64[I1])
        ev.order_type = _ORDER_TYPES.get(order_type) or f"UNKNOWN_{order_type}"
        ev.status = _STATUSES.get(status) or f"UNKNOWN_{status}"
        ev.price = o.f64[F0]
        ev.qty = o.f64[F1]
        ev.avg_price = o.f64[F2]
        ev.filled_qty = o.f64[F3]
        return self.dispatcher.emit(ev)

    cdef int _fill(self, str symbol, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef Fill ev = <Fill>self._event(self._fills, symbol, self._own_ts_ns(I2), recv_ns)
        self.fills += 1
        ev.order_id = _text(o.span[T1])
        ev.trade_id = _text(o.span[T0])
        ev.side = _side(o.i64[I0])
        ev.price = o.f64[F0]
        ev.qty = o.f64[F1]
        ev.fee = o.f64[F2]
        ev.fee_asset = _text(o.span[T2])
        ev.is_maker = o.i64[I1] != 0
        return self.dispatcher.emit(ev)

    cdef int _balance(self, str symbol, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef BalanceUpdate ev = <BalanceUpdate>self._event(self._balances, symbol, self._own_ts_ns(I0), recv_ns)
        self.balances += 1
        ev.asset = self.symbols.c_intern(o.span[T0].ptr, o.span[T0].len) if o.span[T0].len else ""
        ev.free = o.f64[F0]
        ev.locked = o.f64[F1]
        return self.dispatcher.emit(ev)

    # ---- Python helpers (tests, tools; not the hot path) ------------------------------------------------

    def last_depth(self):
        """The levels and versions of the last decoded depth frame, as copies.

        Returns
        -------
        dict
            ``bids``/``asks`` (``(n, 2)`` float64 arrays), ``from_version``, ``to_version``,
            ``last_order_create_time`` (ms, 0 if absent).
        """
        sides = [np.array([(self.out.levels[k].px[i], self.out.levels[k].qty[i])
                           for i in range(self.out.levels[k].count)], dtype=np.float64).reshape(-1, 2) for k in (0, 1)]
        return {"bids": sides[L_BIDS], "asks": sides[L_ASKS], "from_version": self._from, "to_version": self._to,
                "last_order_create_time": self._last_order_ts}

    def stats(self):
        """Counters: frames by kind and errors by kind."""
        return {
            "frames": self.frames, "depth_updates": self.depth_updates, "limit_depths": self.limit_depths,
            "trades": self.trades, "book_tickers": self.book_tickers, "klines": self.klines,
            "tickers": self.tickers, "orders": self.orders, "fills": self.fills, "balances": self.balances,
            "acks": self.acks, "pongs": self.pongs, "exchange_errors": self.exchange_errors,
            "empty": self.empty, "unsupported": self.unsupported,
            "errors": {"wire": self.err_wire, "number": self.err_number, "levels": self.err_levels,
                       "symbol": self.err_symbol, "text": self.err_text},
        }


cdef int _classify(const uint8_t* p, Py_ssize_t n) noexcept:
    """JSON control text, plain error text, or a protobuf wrapper."""
    cdef Py_ssize_t i, m
    if n <= 0:
        return MessageType.UNKNOWN
    if p[0] == b'{':
        if _find(p, n, b'"msg":"PONG"', 12) >= 0:
            return MessageType.PONG
        if _find(p, n, b"Not Subscribed", 14) >= 0:
            return MessageType.ERROR
        i = _find(p, n, b'"code":', 7)
        if i >= 0 and i + 7 < n and p[i + 7] != b'0':
            return MessageType.ERROR
        if i >= 0 and i + 8 < n and b'0' <= p[i + 8] <= b'9':
            return MessageType.ERROR  # "code":0N... is not zero either
        return MessageType.SUBSCRIPTION_ACK
    # A wrapper starts with a tag byte; real frames start with 0x0a (channel). Printable
    # ASCII text that is not JSON is a plain-text error such as "Invalid listen key".
    if 0x20 <= p[0] <= 0x7e:
        m = n if n < 256 else 256
        for i in range(m):
            if not (0x20 <= p[i] <= 0x7e):
                return MessageType.DATA
        return MessageType.ERROR
    return MessageType.DATA
