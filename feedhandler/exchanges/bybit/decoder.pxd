# cython: language_level=3
"""C-level header of the Bybit v5 frame decoder (``cimport feedhandler.exchanges.bybit.decoder``).

:class:`BybitDecoder` extends the kernel's :class:`~feedhandler.kernel.event_decoder.EventDecoder`: one
``kt_scan`` over the frame bytes decodes the whole frame (levels into the kernel's level arrays) before
anything is applied or emitted, so a malformed frame raises ``ParseError`` and changes nothing.
Return values are ``MessageType`` ints.
"""
from libc.stdint cimport int64_t

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.kernel.event_decoder cimport EventDecoder
from feedhandler.kernel.extract cimport KtOut


cdef class BybitDecoder(EventDecoder):
    cdef const char* _base                 # the frame being decoded (byte offsets in errors)
    cdef int _kind                         # its topic kind (T_* in decoder.pyx)
    cdef Py_ssize_t _sym_off               # the symbol starts at topic + _sym_off
    cdef bint _data_read                   # its "data" object was read in the envelope's pass
    cdef dict _ticker_state                # symbol -> _TickerState (linear deltas carry changed fields only)

    cdef int _bad(self, str field, const char* at, str reason) except -1
    cdef str _where(self)
    cdef str _opt_text(self, KtOut* o, int slot)
    cdef str _symbol(self, KtOut* o)
    cdef int _control(self, KtOut* o) except -1
    cdef int _book(self, KtOut* o, int64_t recv_ns) except -1
    cdef int _ticker(self, KtOut* o, int64_t recv_ns) except -1
    cdef int _array(self, KtOut* o, int64_t recv_ns) except -1
    cdef int _item(self, KtOut* o, const JsonSpan* obj, str symbol, int64_t recv_ns, bint emit) except -1
