# cython: language_level=3
"""C-level header of the Gate.io spot v4 frame decoder (``cimport feedhandler.exchanges.gateio.decoder``).

One :class:`GateioDecoder` turns Gate.io JSON text frames into events and book
updates. It scans the frame with the allocation-free JSON kernel
(:mod:`feedhandler.codec.json_scan`), parses every number with
``numbers.parse_double`` (bit-for-bit ``float()``), puts price levels into
preallocated scratch arrays and only then hands them to the book sync
engine: a malformed frame raises ``ParseError`` and changes nothing.

It extends the kernel's ``FrameDecoder``: ``c_feed`` is the one C entry,
``feed``/``classify`` the kernel's. Return values are ``MessageType`` ints
(``feedhandler.kernel.message_type``): UNKNOWN (a channel the decoder does
not know), DATA, SUBSCRIPTION_ACK, PONG, ERROR (an error envelope or a failed
subscription ack, with ``control_code``/``control_text`` from its error
object). ``-1`` means a Python exception is set (``ParseError`` for a
malformed frame).
"""
from libc.stdint cimport int64_t

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.sync.book_sync cimport BookSyncGroup

cpdef enum:
    # Symbol-string cache size (per decoder) before falling back to a dict.
    SYMBOL_CACHE = 64


ctypedef struct _Envelope:
    # the envelope members of one frame (spans into the frame)
    JsonSpan channel
    JsonSpan event
    JsonSpan result       # len 0 when book_parsed (walked in place, never scanned as a whole)
    JsonSpan time_ms
    JsonSpan tsec
    JsonSpan id
    JsonSpan error
    bint has_channel, has_event, has_result, has_error, has_time_ms, has_time, has_id
    bint book_parsed      # result decoded as a book update into _BookFields + scratch (single pass)

ctypedef struct _BookFields:
    # a decoded spot.order_book_update / spot.obu ``result`` (levels in the decoder's scratch)
    JsonSpan sym
    int64_t first, last, t_ms
    Py_ssize_t nb, na
    bint full, has_first, has_last, has_sym, has_b, has_a
    const char* err_field  # on error: the field's name (NUL-terminated literal), NULL for a JSON error


cdef class GateioDecoder(FrameDecoder):
    cdef readonly bint private
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books          # spot.order_book_update (REST-synced)
    cdef public BookSyncGroup obu_books      # spot.obu (full snapshot first, resubscribe on a gap)
    cdef public BookSyncGroup partial_books  # spot.order_book (every push is a whole top-N book)
    cdef public object on_obu_gap            # callable(pair: str, stream: str) or None
    cdef readonly set obu_resubscribe        # pairs whose obu stream must be resubscribed
    cdef readonly Py_ssize_t capacity        # levels per side a frame may carry
    # counters
    cdef readonly int64_t data_frames, acks, pongs, error_frames, unknown_frames
    cdef dict _errors_by_kind
    cdef dict _obu_level                     # pair -> "50"/"400" (from the last obu snapshot)
    # events
    cdef EventPool _trades, _book_tickers, _klines, _tickers, _orders, _fills, _balances
    # scratch levels, preallocated once
    # (pointers into the kernel's level scratch, FrameDecoder.use_levels: levels[0] bids, [1] asks)
    cdef double* _bid_px
    cdef double* _bid_qty
    cdef double* _ask_px
    cdef double* _ask_qty
    # small string cache (symbols, intervals): bytes key -> str, no allocation on a hit
    cdef list _cache_keys
    cdef list _cache_vals
    cdef dict _cache_more

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1
    cdef int _decode(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -1
    cdef int _control(self, _Envelope* env) except -1
    cdef str c_intern(self, const char* p, Py_ssize_t n)

    # private helpers (each channel's decoder: validate into locals/scratch, then apply/emit when asked)
    cdef int _feed_fast(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -2
    cdef int _feed_slow(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -1
    cdef int _dispatch(self, _Envelope* env, _BookFields* bf, int64_t recv_ns, bint apply) except -1
    cdef int _fail(self, str kind, str message) except -1
    cdef int _json_fail(self, int rc, const char* base, const char* at, str where) except -1
    cdef int _field_fail(self, str channel, str field, int rc) except -1
    cdef str _channel_str(self, int kind)
    cdef bint _status_success(self, const JsonSpan* result) noexcept
    cdef int _plain_string(self, const JsonSpan* v, str channel, str field) except -1
    cdef str _text(self, const JsonSpan* v)
    cdef int _book_update(self, const JsonSpan* result, bint obu, int64_t recv_ns, bint apply) except -1
    cdef int _book_apply(self, _BookFields* bf, bint obu, int64_t recv_ns, bint apply) except -1
    cdef int _order_book(self, const JsonSpan* result, int64_t recv_ns, bint apply) except -1
    cdef int _trade(self, const JsonSpan* result, int64_t recv_ns, bint apply) except -1
    cdef int _book_ticker(self, const JsonSpan* result, int64_t recv_ns, bint apply) except -1
    cdef int _candle(self, const JsonSpan* result, int64_t ts_ns, int64_t recv_ns, bint apply) except -1
    cdef int _ticker(self, const JsonSpan* result, int64_t ts_ns, int64_t recv_ns, bint apply) except -1
    cdef int _private_array(self, int kind, const JsonSpan* result, int64_t recv_ns, bint apply) except -1
    cdef int _order(self, const JsonSpan* obj, int64_t recv_ns, bint emit) except -1
    cdef int _fill(self, const JsonSpan* obj, int64_t recv_ns, bint emit) except -1
    cdef int _balance(self, const JsonSpan* obj, int64_t recv_ns, bint emit) except -1
