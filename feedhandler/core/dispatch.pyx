# cython: freethreading_compatible=False
"""Event delivery from compiled parsers to Python handlers or compiled consumers."""
from feedhandler.core.consumer cimport Consumer

from feedhandler.core.errors import HandlerError


cdef class EventDispatcher:
    def __init__(self, handler=None, error_handler=None):
        self.handler = handler
        self.error_handler = error_handler

    @property
    def handler(self):
        """The event handler: a Python callable, a compiled ``Consumer`` (called from C), or None."""
        return self._handler

    @handler.setter
    def handler(self, value):
        self._handler = value
        self._consumer = <Consumer>value if isinstance(value, Consumer) else None

    @property
    def consumer(self):
        """The handler when it is a compiled ``Consumer`` (events reach it with no Python call), else None."""
        return self._consumer

    cdef int emit(self, object event) except -1:
        self.events += 1
        if self._consumer is not None:
            try:
                self._consumer.c_event(event)
            except Exception as exc:
                self._handler_failed(exc)
            return 0
        if self._handler is None:
            return 0
        try:
            self._handler(event)
        except Exception as exc:  # the feed must go on whatever the handler does
            self._handler_failed(exc)
        return 0

    cdef void _handler_failed(self, object exc) noexcept:
        self.handler_errors += 1
        err = HandlerError(f"message handler raised {type(exc).__name__}: {exc}")
        err.__cause__ = exc
        self.report(err)

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
