# cython: language_level=3
"""C-level header of the Bybit v5 frame decoder (``cimport feedhandler.exchanges.bybit.decoder``).

:class:`BybitDecoder` extends the kernel's :class:`~feedhandler.kernel.decoder.FrameDecoder`: one
``c_feed`` over the frame bytes decodes the whole frame (levels into preallocated scratch arrays)
before anything is applied or emitted, so a malformed frame raises ``ParseError`` and changes nothing.
Return values are ``MessageType`` ints.
"""
from libc.stdint cimport int64_t

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.sync.book_sync cimport BookSyncGroup


ctypedef struct _Env:
    # the envelope members of one frame (spans into the frame)
    JsonSpan topic, type_, data, op, ret_msg, req_id
    int64_t ts_ms
    int kind               # topic kind (T_* in decoder.pyx)
    int success            # -1 absent, 0 false, 1 true
    Py_ssize_t sym_off     # the symbol starts at topic.ptr + sym_off
    bint has_topic, has_type, has_data, has_op, has_ret, has_req, book_parsed

ctypedef struct _Book:
    # a decoded orderbook ``data`` object (levels in the decoder's scratch)
    JsonSpan s
    int64_t u
    Py_ssize_t nb, na
    bint has_s, has_u
    const char* err        # on error: the field's name, NULL for an error of the object itself
    const char* err_at
    const char* b_at       # where the 'b' / 'a' arrays start (a bad level is reported there)
    const char* a_at


cdef class BybitDecoder(FrameDecoder):
    cdef readonly bint private
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books
    cdef public int ticker_mask            # 1: BookTicker events from ``tickers``, 2: Ticker events
    cdef readonly Py_ssize_t capacity
    cdef readonly int64_t data_frames, acks, pongs, error_frames, unknown_frames
    cdef bint _apply
    cdef const char* _base                 # the frame being decoded (byte offsets in errors)
    cdef dict _ticker_state                # symbol -> _TickerState (linear deltas carry changed fields only)
    cdef EventPool _trades, _book_tickers, _klines, _tickers, _orders, _fills, _balances
    cdef object _scratch
    cdef double* _bid_px
    cdef double* _bid_qty
    cdef double* _ask_px
    cdef double* _ask_qty
    cdef list _cache_keys, _cache_vals     # bytes -> str (symbols, intervals): no allocation on a hit

    cdef str _str(self, const char* p, Py_ssize_t n)
    cdef str _text(self, const JsonSpan* v)
    cdef int _fail(self, const _Env* env, const char* field, const char* at, int rc) except -1
    cdef int _num(self, const _Env* env, const JsonSpan* v, const char* name, double* out, bint required) except -1
    cdef int _ms(self, const _Env* env, const JsonSpan* v, const char* name, int64_t* out_ns) except -1
    cdef int _control(self, _Env* env) except -1
    cdef int _book(self, _Env* env, _Book* bk, int64_t recv_ns) except -1
    cdef int _array(self, _Env* env, int64_t recv_ns) except -1
    cdef int _item(self, _Env* env, const JsonSpan* obj, str symbol, int64_t recv_ns, bint emit) except -1
    cdef int _ticker(self, _Env* env, int64_t recv_ns) except -1
