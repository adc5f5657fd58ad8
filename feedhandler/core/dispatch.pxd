from libc.stdint cimport int64_t

cdef class EventDispatcher:
    """Delivers events from compiled parsers to the user's handler.

    One Python-level call per event (the handler itself); an exception raised
    by the handler is counted and passed to ``error_handler`` wrapped in a
    ``HandlerError``, and never reaches the parser, so the rest of the frame
    is still delivered.
    """
    cdef public object handler
    cdef public object error_handler
    cdef readonly int64_t events
    cdef readonly int64_t handler_errors

    cdef int emit(self, object event) except -1
    cdef void report(self, object error) noexcept
