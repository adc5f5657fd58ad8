# cython: language_level=3
"""``Consumer``: the base class of compiled event consumers (see ``consumer.pxd`` for the API).

The dispatch compares the event's exact class (the event classes are ``final``), so routing an event costs
a pointer comparison and one C call; nothing here allocates.
"""
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Trade


cdef class Consumer:
    """Receives events as C calls; subclass it in Cython and override the ``cdef`` methods.

    A ``Consumer`` is also a Python callable (``consumer(event)``), so it works as the handler of pure-Python
    parsers and the ``parse_message`` compatibility path too (there, one Python call per event).
    """

    cdef int on_book_update(self, BookUpdate event) except -1:
        return 0

    cdef int on_book_status(self, BookStatus event) except -1:
        return 0

    cdef int on_trade(self, Trade event) except -1:
        return 0

    cdef int on_book_ticker(self, BookTicker event) except -1:
        return 0

    cdef int on_other_event(self, object event) except -1:
        return 0

    cdef int c_event(self, object event) except -1:
        cdef type cls = type(event)
        if cls is BookUpdate:
            return self.on_book_update(<BookUpdate>event)
        if cls is Trade:
            return self.on_trade(<Trade>event)
        if cls is BookTicker:
            return self.on_book_ticker(<BookTicker>event)
        if cls is BookStatus:
            return self.on_book_status(<BookStatus>event)
        return self.on_other_event(event)

    def __call__(self, event):
        """Python entry: route ``event`` to its method (for parsers that call a Python handler)."""
        self.c_event(event)
