# cython: language_level=3
"""The worker's own consumer after the sinks: events counted and book validity per symbol, from C."""
from libc.stdint cimport int64_t

from feedhandler.core.consumer cimport Consumer
from feedhandler.events.events cimport BookStatus, BookUpdate


cdef class WorkerCounter(Consumer):
    """Counts events and keeps each book's validity (``BookStatus``, or a first ``BookUpdate``).

    The worker's ``SinkTap`` handler: a compiled ``Consumer``, so counting costs no Python call per event.
    ``valid`` maps a symbol to its book's validity (a ``BookUpdate`` means valid: the feed delivers none
    for an invalid book).
    """
    cdef readonly int64_t events
    cdef readonly dict valid
    cdef object _valid_sym       # the last symbol known valid (skips the dict on its next updates)

    def __init__(self):
        self.valid = {}

    cdef int c_event(self, object event) except -1:
        # Overrides Consumer's dispatch: every event is counted; only the book events are looked at.
        cdef type cls = type(event)
        self.events += 1
        if cls is BookUpdate:
            sym = (<BookUpdate>event).symbol
            if sym is not self._valid_sym:
                self.valid[sym] = True
                self._valid_sym = sym
        elif cls is BookStatus:
            self.valid[(<BookStatus>event).symbol] = bool((<BookStatus>event).valid)
            self._valid_sym = None
        return 0
