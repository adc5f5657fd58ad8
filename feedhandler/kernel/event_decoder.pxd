# cython: language_level=3
"""C-level header of ``EventDecoder`` (``cimport feedhandler.kernel.event_decoder``).

A :class:`~feedhandler.kernel.decoder.FrameDecoder` that delivers events and keeps books: what the
JSON exchange decoders of one exchange's public or private side (Bybit, Coinbase) share beyond the
frame entry. ``classify`` decodes and validates the whole frame with ``_apply`` False, so a subclass's
``c_feed`` checks ``_apply`` before it changes a book, a counter of applied frames or emits an event.
"""
from libc.stdint cimport int64_t

from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport BookSyncGroup


cdef class EventDecoder(FrameDecoder):
    cdef readonly bint private             # decodes the private (account) channels, not the public ones
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books        # the public side's books; None on the private side
    cdef readonly SymbolTable symbols      # the books' table: symbols, intervals, assets interned once
    cdef public int ticker_mask            # 1: BookTicker events from ticker frames, 2: Ticker events
    cdef readonly Py_ssize_t capacity      # most levels per side one frame may carry
    cdef readonly int64_t data_frames, acks, pongs, error_frames, unknown_frames
    cdef bint _apply                       # False while classify runs: decode and check, change nothing
    # one pool per event class (trades 256 deep, the others 64)
    cdef EventPool _trades, _book_tickers, _klines, _tickers, _orders, _fills, _balances
