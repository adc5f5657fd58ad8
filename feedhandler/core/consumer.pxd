# cython: language_level=3
"""The Cython consumer API (``cimport feedhandler.core.consumer``): events as C method calls.

Subclass :class:`Consumer` in your own Cython module, override the ``cdef`` methods you need, and pass an
instance as the ``message_handler`` (to ``WebSocketManager`` or ``parser.bind``). A compiled parser's
:class:`~feedhandler.core.dispatch.EventDispatcher` then calls those methods through the C vtable: no
Python-level call per event. The rules of the Python handler apply: an event is valid until the method
returns (``event.copy()`` to keep one); an exception raised by a method is reported to the error handler
as a ``HandlerError`` and the feed goes on. Return 0, or -1 with a Python exception set.

    # my_consumer.pyx
    from feedhandler.core.consumer cimport Consumer
    from feedhandler.events.events cimport BookUpdate, Trade

    cdef class MyConsumer(Consumer):
        cdef public long trades
        cdef int on_trade(self, Trade event) except -1:
            self.trades += 1
            return 0
"""
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Trade


cdef class Consumer:
    # One method per event kind; the defaults ignore the event.
    cdef int on_book_update(self, BookUpdate event) except -1
    cdef int on_book_status(self, BookStatus event) except -1
    cdef int on_trade(self, Trade event) except -1
    cdef int on_book_ticker(self, BookTicker event) except -1
    # Every other event: Kline, Ticker, OrderUpdate, Fill, BalanceUpdate.
    cdef int on_other_event(self, object event) except -1
    # The dispatch by event class (called by EventDispatcher and by __call__); not meant to be overridden.
    cdef int c_event(self, object event) except -1
