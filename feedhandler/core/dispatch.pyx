# cython: freethreading_compatible=False
"""Event delivery from compiled parsers to Python handlers."""
from feedhandler.core.errors import HandlerError


cdef class EventDispatcher:
    def __init__(self, handler=None, error_handler=None):
        self.handler = handler
        self.error_handler = error_handler

    cdef int emit(self, object event) except -1:
        self.events += 1
        if self.handler is None:
            return 0
        try:
            self.handler(event)
        except Exception as exc:  # the feed must go on whatever the handler does
            self.handler_errors += 1
            err = HandlerError(f"message handler raised {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self.report(err)
        return 0

    cdef void report(self, object error) noexcept:
        if self.error_handler is None:
            return
        try:
            self.error_handler(error)
        except Exception:
            # An error handler that raises has nowhere left to report to; swallowing it keeps the feed alive.
            pass

    def deliver(self, event):
        """Python entry to :meth:`emit` (tests, pure-Python parsers)."""
        self.emit(event)

    def report_error(self, error):
        """Pass ``error`` to the error handler, never raising."""
        self.report(error)
