# cython: language_level=3
"""C-level header of the Binance JSON stream decoder (``cimport feedhandler.exchanges.binance.decoder``).

``BinanceDecoder.feed(raw, recv_ns)`` decodes one text frame (raw payload or
combined-stream envelope ``{"stream":..,"data":..}``) completely into
preallocated scratch arrays, then applies it: depth deltas go to ``books``
(a ``BookSyncGroup``), partial depth (``depth5/10/20``) to ``partial_books``
as full snapshots of a separate book keyed ``"<SYMBOL>@depth<N>"``, trades,
book tickers and klines to ``dispatcher`` as pooled events.

It extends the kernel's ``FrameDecoder`` (one C entry ``c_feed``, the Python
``feed`` over it). Return value of ``feed``/``classify``: a ``MessageType``
int. ``feed`` raises ``feedhandler.core.errors.ParseError`` (-1) for a
malformed frame and applies nothing of it: levels, ids, prices and sizes are
checked (the kernel's one rule) before any book is looked up or created.
"""
from libc.stdint cimport int64_t, uint64_t

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport BookSyncGroup

cpdef enum BinanceFrameKind:
    BK_UNKNOWN = 0         # valid JSON, not a known event (counted, ignored)
    BK_DEPTH_UPDATE = 1
    BK_PARTIAL_DEPTH = 2
    BK_TRADE = 3
    BK_AGG_TRADE = 4
    BK_BOOK_TICKER = 5
    BK_KLINE = 6
    BK_SHUTDOWN = 7
    BK_ACK = 8             # {"result":..,"id":..}
    BK_ERROR = 9           # {"error":{..},"id":..} or {"code":..,"msg":..}

cdef class BinanceDecoder(FrameDecoder):
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books            # diff-depth books (REST snapshot + U/u deltas)
    cdef public BookSyncGroup partial_books    # depth5/10/20 books, one full snapshot per frame
    cdef public str raw_stream                 # stream of a raw /ws/<stream> connection ('' if combined)
    cdef readonly int64_t ts_scale             # exchange ms (or us) -> ns
    cdef readonly Py_ssize_t max_levels        # per side, per frame
    # counters
    cdef readonly int64_t depth_updates, partial_depths, trades, book_tickers, klines
    cdef readonly int64_t acks, exchange_errors, shutdowns, ignored
    cdef readonly int64_t err_json, err_field, err_levels, err_book, err_stream
    # pools, and the interned str of event symbols and kline intervals
    cdef EventPool _trades, _tickers, _klines
    cdef SymbolTable _symbols
    # The decoded frame (levels: the kernel's self.out.levels, L_B/L_A depth, L_BIDS/L_ASKS partial;
    # the general path's other values: self.out's slots)
    cdef int _kind
    cdef JsonSpan _sym, _stream
    cdef bint _has_stream
    cdef int64_t _first, _last, _prev, _event_ts, _trade_id, _trade_ts
    cdef double _price, _qty, _bid_p, _bid_q, _ask_p, _ask_q
    cdef bint _maker
    # the exact paths' last stream name (0 bookTicker, 1 trade, 2 depth) and symbol (3), matched by memcmp
    cdef char _names_seen[4][64]
    cdef Py_ssize_t _names_len[4]
    cdef char _partial_key[136]
    cdef Py_ssize_t _partial_key_len

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1
    cdef int _message_type(self) noexcept
    cdef int _control(self) except -1
    cdef int _fail(self, int64_t* counter, str field, str what) except -1
    cdef int _scan_error(self, const char* p, Py_ssize_t n) except -1
    cdef int _need(self, uint64_t slots, const char* p) except -1
    cdef int _need_levels(self, int bids, int asks) except -1
    cdef int _ts(self, int slot, bint span, int64_t* out) except -1
    cdef int _symbol(self, int slot, str name) except -1
    cdef int _decode(self, const char* p, Py_ssize_t n) except -1
    cdef bint _depth_exact(self, const char* p, const char* end) noexcept
    cdef bint _ticker_exact(self, const char* p, const char* end) noexcept
    cdef bint _trade_exact(self, const char* p, const char* end) noexcept
    cdef int _decode_general(self, const char* p, Py_ssize_t n) except -1
    cdef int _partial_name(self) except -1
    cdef int _partial_name_from(self, const char* s, Py_ssize_t n) except -1
    cdef int _apply(self, int64_t recv_ns) except -1
    cdef int _emit_kline(self, int64_t recv_ns) except -1
