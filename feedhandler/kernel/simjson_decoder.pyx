# cython: language_level=3
"""The reference decoder on the kernel: the simulator's neutral ``simjson`` protocol, compiled.

It is the guide's worked example (``feedhandler/kernel/README.md``): one :class:`FieldTable`
declares every key of every frame kind (``b`` is declared twice: a level array in ``depth``
frames, a price in ``bbo`` frames), one ``kt_scan`` fills the slots, then ``c_feed`` checks what
the frame kind requires and applies or emits. Frames (``feedhandler/sim/protocols/simjson.py``)::

    {"ch":"depth","s":"BTCUSDT","U":1,"u":2,"b":[["p","q"],...],"a":[...],"ts":ms}   (+ "full":true)
    {"ch":"trade","s":"BTCUSDT","p":"..","q":"..","side":"buy","id":7,"ts":ms}
    {"ch":"bbo","s":"BTCUSDT","u":9,"b":"p","B":"q","a":"p","A":"q","ts":ms}
    {"op":"ack","id":N,"args":[...]}   {"op":"pong"}   {"op":"error","id":N,"msg":"..."}
"""
from libc.stdint cimport int64_t, uint64_t

from feedhandler.codec.json_scan cimport JsonSpan, json_span_eq
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport SIDE_BUY, SIDE_SELL, BookTicker, Event, EventPool, Trade, acquire_event
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.extract cimport (
    KF_NULLABLE, KT_BOOL, KT_INT64, KT_INT64_MS, KT_LEVELS, KT_PRICE, KT_SIZE, KT_SPAN, KT_STR, FieldTable,
    KtOut, kt_require, kt_scan, kt_seen, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport BookSync, BookSyncGroup

from feedhandler.events.events import BookTicker as _BookTicker, Trade as _Trade
from feedhandler.sync.book_sync import SequenceRule

# Slots (one number per key; level arrays 0 and 1 are bids and asks).
cdef enum:
    S_OP = 0
    S_ID = 1
    S_MSG = 2
    S_ARGS = 3
    S_CH = 4
    S_SYM = 5
    S_FIRST = 6
    S_LAST = 7
    S_TS = 8
    S_FULL = 9
    S_BID_PX = 10
    S_BID_QTY = 11
    S_ASK_PX = 12
    S_ASK_QTY = 13
    S_PRICE = 14
    S_QTY = 15
    S_SIDE = 16
    L_BIDS = 0
    L_ASKS = 1

FRAME = FieldTable("simjson", [
    ("op", KT_STR, S_OP), ("id", KT_INT64, S_ID), ("msg", KT_STR, S_MSG), ("args", KT_SPAN, S_ARGS),
    ("ch", KT_STR, S_CH), ("s", KT_STR, S_SYM), ("U", KT_INT64, S_FIRST), ("u", KT_INT64, S_LAST),
    ("ts", KT_INT64_MS, S_TS), ("full", KT_BOOL, S_FULL, KF_NULLABLE),
    ("b", KT_LEVELS, L_BIDS), ("a", KT_LEVELS, L_ASKS),           # depth: level arrays
    ("b", KT_PRICE, S_BID_PX), ("B", KT_SIZE, S_BID_QTY),         # bbo: one price and size each
    ("a", KT_PRICE, S_ASK_PX), ("A", KT_SIZE, S_ASK_QTY),
    ("p", KT_PRICE, S_PRICE), ("q", KT_SIZE, S_QTY), ("side", KT_STR, S_SIDE),
])

cdef uint64_t _BIT = 1
cdef uint64_t NEED_DELTA = (_BIT << S_SYM) | (_BIT << S_FIRST) | (_BIT << S_LAST)
cdef uint64_t NEED_FULL = (_BIT << S_SYM) | (_BIT << S_LAST)
cdef uint64_t NEED_TRADE = (_BIT << S_SYM) | (_BIT << S_PRICE) | (_BIT << S_QTY) | (_BIT << S_SIDE)
cdef uint64_t NEED_BBO = ((_BIT << S_SYM) | (_BIT << S_BID_PX) | (_BIT << S_BID_QTY) | (_BIT << S_ASK_PX)
                          | (_BIT << S_ASK_QTY))


cdef class SimJsonKernelDecoder(FrameDecoder):
    """Compiled ``simjson`` decoder: depth (delta / full) into a :class:`BookSyncGroup`, trades, bbo.

    Parameters
    ----------
    depth : int
        Book capacity, and the most levels per side a frame may carry.
    """
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books
    cdef readonly SymbolTable symbols
    cdef EventPool _trades, _tickers
    cdef FieldTable _frame

    def __init__(self, Py_ssize_t depth=1000):
        FrameDecoder.__init__(self, "simjson")
        self.dispatcher = EventDispatcher()
        self.symbols = SymbolTable()
        self.books = BookSyncGroup("simjson", SequenceRule("simjson"), self.dispatcher, depth=depth,
                                   symbol_table=self.symbols)
        self._trades = EventPool(_Trade, 256)
        self._tickers = EventPool(_BookTicker, 256)
        self._frame = FRAME
        self.use_levels(depth, False)

    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef KtOut* o = &self.out
        cdef const JsonSpan* ch
        self.frames += 1
        self.scan(&self._frame.table, data, n)          # one pass; ParseError (field, offset) if refused
        if kt_seen(o, S_OP):
            return self._control(o)
        if not kt_seen(o, S_CH):
            return self.fail("ch", -1, "neither an op nor a channel")
        ch = &o.span[S_CH]
        if json_span_eq(ch, b"depth", 5):
            return self._depth(o, data, recv_ns)
        if json_span_eq(ch, b"trade", 5):
            return self._trade(o, data, recv_ns)
        if json_span_eq(ch, b"bbo", 3):
            return self._bbo(o, data, recv_ns)
        return MessageType.UNKNOWN

    cdef int _control(self, KtOut* o) except -1:
        cdef const JsonSpan* op = &o.span[S_OP]
        self.control_id = o.i64[S_ID] if kt_seen(o, S_ID) else -1
        self.control_code = 0
        self.control_text = None
        if json_span_eq(op, b"pong", 4):
            return MessageType.PONG
        if json_span_eq(op, b"ack", 3):
            self.control_text = kt_text(&o.span[S_ARGS]) if kt_seen(o, S_ARGS) else None
            return MessageType.SUBSCRIPTION_ACK
        if json_span_eq(op, b"error", 5):
            self.control_code = 1
            self.control_text = kt_text(&o.span[S_MSG]) if kt_seen(o, S_MSG) else None
            return MessageType.ERROR
        return MessageType.UNKNOWN

    cdef int _depth(self, KtOut* o, const char* data, int64_t recv_ns) except -1:
        cdef bint full = kt_seen(o, S_FULL) and o.i64[S_FULL] != 0
        cdef int64_t ts = o.i64[S_TS] if kt_seen(o, S_TS) else 0
        cdef BookSync sync
        if kt_require(&self._frame.table, o, NEED_FULL if full else NEED_DELTA, NULL) < 0:
            return self.scan_fail(data, "depth")
        if not (o.levels[L_BIDS].seen and o.levels[L_ASKS].seen):
            return self.fail("b" if not o.levels[L_BIDS].seen else "a", -1, "depth frame without levels")
        if not full and o.i64[S_LAST] < o.i64[S_FIRST]:
            return self.fail("u", o.span[S_LAST].ptr - data, "last update id below the first")
        # Everything is decoded and checked: only now does the frame touch a book.
        sync = self.books.c_get(o.span[S_SYM].ptr, o.span[S_SYM].len)
        if full:
            sync.on_full_snapshot(o.i64[S_LAST], o.levels[L_BIDS].px, o.levels[L_BIDS].qty, o.levels[L_BIDS].count,
                                  o.levels[L_ASKS].px, o.levels[L_ASKS].qty, o.levels[L_ASKS].count, ts, recv_ns)
        else:
            sync.on_delta_validated(o.i64[S_FIRST], o.i64[S_LAST], 0,
                                    o.levels[L_BIDS].px, o.levels[L_BIDS].qty, o.levels[L_BIDS].count,
                                    o.levels[L_ASKS].px, o.levels[L_ASKS].qty, o.levels[L_ASKS].count, ts, recv_ns)
        return MessageType.DATA

    cdef Event _event(self, EventPool pool, KtOut* o, int64_t recv_ns):
        return acquire_event(pool, self.exchange, self.symbols.c_intern(o.span[S_SYM].ptr, o.span[S_SYM].len),
                             o.i64[S_TS] if kt_seen(o, S_TS) else 0, recv_ns)

    cdef int _trade(self, KtOut* o, const char* data, int64_t recv_ns) except -1:
        cdef Trade ev
        cdef int side
        if kt_require(&self._frame.table, o, NEED_TRADE, NULL) < 0:
            return self.scan_fail(data, "trade")
        side = SIDE_BUY if json_span_eq(&o.span[S_SIDE], b"buy", 3) else (
            SIDE_SELL if json_span_eq(&o.span[S_SIDE], b"sell", 4) else -1)
        if side < 0:
            return self.fail("side", o.span[S_SIDE].ptr - data, "side must be buy or sell")
        ev = <Trade>self._event(self._trades, o, recv_ns)
        ev.price = o.f64[S_PRICE]
        ev.qty = o.f64[S_QTY]
        ev.side = side
        ev.trade_id = o.i64[S_ID] if kt_seen(o, S_ID) else -1
        ev.trade_id_str = ""
        self.dispatcher.emit(ev)
        return MessageType.DATA

    cdef int _bbo(self, KtOut* o, const char* data, int64_t recv_ns) except -1:
        cdef BookTicker ev
        if kt_require(&self._frame.table, o, NEED_BBO, NULL) < 0:
            return self.scan_fail(data, "bbo")
        ev = <BookTicker>self._event(self._tickers, o, recv_ns)
        ev.bid_price = o.f64[S_BID_PX]
        ev.bid_qty = o.f64[S_BID_QTY]
        ev.ask_price = o.f64[S_ASK_PX]
        ev.ask_qty = o.f64[S_ASK_QTY]
        ev.update_id = o.i64[S_LAST] if kt_seen(o, S_LAST) else 0
        self.dispatcher.emit(ev)
        return MessageType.DATA

    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1:
        """The frame's ``MessageType`` without applying anything (UNKNOWN if malformed)."""
        if kt_scan(&self._frame.table, data, n, &self.out) < 0:
            return MessageType.UNKNOWN
        if kt_seen(&self.out, S_OP):
            return self._control(&self.out)
        return MessageType.DATA

    def stats(self):
        return {"frames": self.frames, "parse_errors": self.parse_errors}
