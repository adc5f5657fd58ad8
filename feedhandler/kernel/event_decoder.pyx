# cython: language_level=3
"""``EventDecoder``: the base of the decoders that deliver events to a dispatcher and keep books.

It adds to :class:`~feedhandler.kernel.decoder.FrameDecoder` what such a decoder always holds: the
dispatcher, the public side's ``BookSyncGroup`` and its symbol table, the level capacity, one event
pool per event class, the frame-kind counters, and a ``classify`` that runs the decoder's own
``c_feed`` with ``_apply`` False (every byte checked, nothing applied or emitted; a decoder may
override ``c_classify`` instead).
"""
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport BookSyncGroup

from feedhandler.events.events import (
    BalanceUpdate as _BalanceUpdate, BookTicker as _BookTicker, Fill as _Fill, Kline as _Kline,
    OrderUpdate as _OrderUpdate, Ticker as _Ticker, Trade as _Trade,
)


cdef class EventDecoder(FrameDecoder):
    """Base of the compiled decoders of one exchange's public or private side.

    Parameters
    ----------
    dispatcher:
        Where events go (the parser binds the user's handler to it); a new one if None.
    books:
        The public side's ``BookSyncGroup`` (its symbol table becomes the decoder's); None on the
        private side.
    private:
        Decode the exchange's private (account) channels instead of the public ones.
    capacity:
        Most levels per side one frame may carry (bigger frames are refused with ``ParseError``).
    exchange:
        The name the events carry.
    """

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, bint private=False,
                 Py_ssize_t capacity=5000, str exchange=""):
        FrameDecoder.__init__(self, exchange)
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.private = private
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self.symbols = books.symbol_table if books is not None else SymbolTable()
        self.ticker_mask = 3
        self.capacity = capacity
        self._apply = True
        self._trades = EventPool(_Trade, 256)
        self._book_tickers, self._klines, self._tickers, self._orders, self._fills, self._balances = [
            EventPool(cls, 64) for cls in (_BookTicker, _Kline, _Ticker, _OrderUpdate, _Fill, _BalanceUpdate)]

    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1:
        """The frame's ``MessageType``: the decoder's own ``c_feed`` with ``_apply`` False (every byte
        checked, ``ParseError`` for a malformed frame, nothing applied or emitted)."""
        self._apply = False
        try:
            return self.c_feed(data, n, 0)
        finally:
            self._apply = True

    def stats(self):
        """Counters: frames, by kind, and the frames refused (``parse_errors``)."""
        return {"frames": self.frames, "data_frames": self.data_frames, "acks": self.acks, "pongs": self.pongs,
                "error_frames": self.error_frames, "unknown_frames": self.unknown_frames,
                "parse_errors": self.parse_errors}
