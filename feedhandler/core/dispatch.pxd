from libc.stdint cimport int64_t

from feedhandler.core.consumer cimport Consumer

cdef class EventDispatcher:
    """Delivers events from compiled parsers to the user's handler.

    One Python-level call per event (the handler itself), or none when the
    handler is a compiled :class:`~feedhandler.core.consumer.Consumer` (its
    ``cdef`` methods are called through the C vtable). An exception raised
    by the handler is counted and passed to ``error_handler`` wrapped in a
    ``HandlerError``, and never reaches the parser, so the rest of the frame
    is still delivered.
    """
    cdef object _handler
    cdef Consumer _consumer       # the handler when it is a Consumer, else None
    cdef public object error_handler
    cdef readonly int64_t events
    cdef readonly int64_t handler_errors

    cdef int emit(self, object event) except -1
    cdef void report(self, object error) noexcept
    cdef void _handler_failed(self, object exc) noexcept
