# cython: language_level=3
"""C-level header of the Coinbase Advanced Trade frame decoder (``cimport feedhandler.exchanges.coinbase.decoder``).

:class:`CoinbaseDecoder` extends the kernel's ``EventDecoder``. It owns the connection's ``sequence_num``
check: one gap invalidates every book of the connection (each is then recovered in-band).
"""
from libc.stdint cimport int64_t

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.kernel.event_decoder cimport EventDecoder
from feedhandler.kernel.extract cimport KtOut

cdef enum:
    _MAX_BOOK_EVENTS = 32

ctypedef struct _BookEvent:
    JsonSpan product
    bint snapshot
    Py_ssize_t b0, nb, a0, na     # its levels in the scratch arrays


cdef class CoinbaseDecoder(EventDecoder):
    cdef readonly int64_t sequence_gaps, stale_frames
    cdef readonly int64_t expected_sequence   # -1: the connection's first frame is not known yet
    cdef const char* _base
    cdef object _scratch
    cdef double* _bid_px
    cdef double* _bid_qty
    cdef double* _ask_px
    cdef double* _ask_qty
    cdef _BookEvent _events[_MAX_BOOK_EVENTS]
    # the l2_data frame being read: events so far, levels per side, where the current event's levels start
    cdef Py_ssize_t _nev, _nb, _na, _b0, _a0
    cdef bint _l2_read                     # its events were read with the l2 table (channel came first)
    cdef const char* _err_field            # what a kernel callback refused (KT_ERR_ITEM)
    cdef const char* _err_at
    cdef int _err_rc

    cdef int _fail(self, str channel, const char* field, const char* at, int rc) except -1
    cdef int _gap(self, str reason) except -1
    cdef int _sequence(self, int64_t seq) except -1
    cdef bint _exact_l2(self, const char* q, const char* end, int64_t* seq) noexcept
    cdef const char* _exact_event(self, const char* q, const char* end) noexcept
    cdef int _scan_failed(self, const char* p, Py_ssize_t n) except -1
    cdef int _item_error(self, const char* field, const char* at, int rc) noexcept
    cdef int _book_item(self, int slot, KtOut* o) noexcept
    cdef int _apply_books(self, int64_t seq, int64_t recv_ns) except -1
    cdef int _items(self, int kind, const JsonSpan* events, int64_t recv_ns) except -1
    cdef int _item(self, int kind, const JsonSpan* obj, bint emit, int64_t recv_ns) except -1
