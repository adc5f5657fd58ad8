# cython: language_level=3
"""C-level header of the Coinbase Advanced Trade frame decoder (``cimport feedhandler.exchanges.coinbase.decoder``).

:class:`CoinbaseDecoder` extends the kernel's ``FrameDecoder``. It owns the connection's ``sequence_num``
check: one gap invalidates every book of the connection (each is then recovered in-band).
"""
from libc.stdint cimport int64_t

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.sync.book_sync cimport BookSyncGroup

cdef enum:
    _MAX_BOOK_EVENTS = 32

ctypedef struct _BookEvent:
    JsonSpan product
    bint snapshot
    Py_ssize_t b0, nb, a0, na     # its levels in the scratch arrays


cdef class CoinbaseDecoder(FrameDecoder):
    cdef readonly bint private
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books
    cdef public int ticker_mask            # 1: BookTicker events from ``ticker``, 2: Ticker events
    cdef readonly Py_ssize_t capacity
    cdef readonly int64_t data_frames, acks, error_frames, unknown_frames, sequence_gaps, stale_frames
    cdef readonly int64_t expected_sequence   # -1: the connection's first frame is not known yet
    cdef bint _apply
    cdef const char* _base
    cdef EventPool _trades, _book_tickers, _klines, _tickers, _orders
    cdef object _scratch
    cdef double* _bid_px
    cdef double* _bid_qty
    cdef double* _ask_px
    cdef double* _ask_qty
    cdef _BookEvent _events[_MAX_BOOK_EVENTS]
    cdef list _cache_keys, _cache_vals

    cdef str _str(self, const char* p, Py_ssize_t n)
    cdef str _text(self, const JsonSpan* v)
    cdef int _fail(self, str channel, const char* field, const char* at, int rc) except -1
    cdef int _gap(self, str reason) except -1
    cdef int _books(self, const JsonSpan* events, int64_t seq, int64_t recv_ns) except -1
    cdef int _items(self, int kind, const JsonSpan* events, int64_t recv_ns) except -1
    cdef int _item(self, int kind, const JsonSpan* obj, bint emit, int64_t recv_ns) except -1
