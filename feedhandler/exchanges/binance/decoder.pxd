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
from libc.stdint cimport int64_t

from feedhandler.codec.json_scan cimport JsonIter, JsonSpan
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
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

ctypedef unsigned int uint32_mask

cdef enum:
    N_SLOTS = 26           # payload/envelope keys the decoder knows (see decoder.pyx KEY_*)

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
    # pools
    cdef EventPool _trades, _tickers, _klines
    # scratch: levels of one frame
    # (pointers into the kernel's level scratch, FrameDecoder.use_levels: levels[0] bids, [1] asks)
    cdef double* _bid_px
    cdef double* _bid_qty
    cdef double* _ask_px
    cdef double* _ask_qty
    cdef Py_ssize_t _nb, _na
    # scratch: spans of the current payload, indexed by key id
    cdef JsonSpan _slot[N_SLOTS]
    cdef uint32_mask _present
    cdef uint32_mask _lv_parsed                # level keys (b/a/bids/asks) already parsed into scratch
    cdef JsonSpan _stream
    cdef bint _has_stream
    cdef int _kind
    # decoded scalars
    cdef int64_t _first, _last, _prev, _event_ts, _trade_id, _trade_ts
    cdef double _price, _qty, _bid_p, _bid_q, _ask_p, _ask_q
    cdef bint _maker
    # kline scalars
    cdef int64_t _k_open, _k_close
    cdef double _k_o, _k_h, _k_l, _k_c, _k_v, _k_qv
    cdef bint _k_closed
    cdef JsonSpan _k_sym, _k_interval
    # string caches (bytes -> str), so repeated symbols allocate nothing
    cdef dict _str_cache
    cdef bytes _last_sym_key
    cdef str _last_sym
    cdef char _partial_key[136]
    cdef char _last_stream[3][64]              # last stream name per exact path (0 bookTicker, 1 trade, 2 depth)
    cdef Py_ssize_t _last_stream_len[3]
    cdef Py_ssize_t _partial_key_len

    cpdef int classify(self, object raw) except -1
    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int _control(self, const char* base) except -1
    cdef int _decode(self, const char* p, const char* end) except -1
    cdef int _decode_any(self, const char* p, const char* end) except -1
    cdef int _check_numbers(self) except -1
    cdef bint _decode_book_ticker_exact(self, const char* p, const char* end) noexcept
    cdef bint _decode_trade_exact(self, const char* p, const char* end) noexcept
    cdef bint _decode_depth_exact(self, const char* p, const char* end) noexcept
    cdef const char* _exact_stream(self, const char* q, const char* end, JsonSpan* out, int slot) noexcept
    cdef const char* _exact_symbol(self, const char* q, const char* end, JsonSpan* out) noexcept
    cdef bint _decode_fast(self, const char* p, const char* end) noexcept
    cdef bint _fast_member(self, JsonIter* it, int kid, JsonSpan* val) noexcept
    cdef int _scan_payload(self, const char* p, const char* end) except -1
    cdef int _decode_payload(self) except -1
    cdef int _apply(self, int64_t recv_ns) except -1
    cdef int _emit_kline(self, int64_t recv_ns) except -1
    cdef str _cached_str(self, const char* p, Py_ssize_t n)
    cdef int _message_type(self) noexcept
    cdef int _fail(self, int64_t* counter, str what) except -1
    cdef const char* _scan_envelope_data(self, const char* p, const char* end) except? NULL
    cdef int _scan_payload_until(self, const char* p, const char* end, JsonIter* it) except -1
    cdef int _int_field(self, int kid, int64_t* out) except -1
    cdef int _num_field(self, int kid, double* out) except -1
    cdef int _str_field(self, int kid) except -1
    cdef int _levels(self, int kid, double* px, double* qty, Py_ssize_t* count) except -1
    cdef int _opt_ts(self, int kid, int64_t* out) except -1
    cdef int _partial_name(self) except -1
    cdef int _partial_name_from(self, const char* s, Py_ssize_t n) except -1
    cdef int _decode_kline(self) except -1

