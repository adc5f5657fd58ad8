# cython: language_level=3
"""Two compiled consumers written against feedhandler's Cython API (``cimport feedhandler.core.consumer``).

``EventCounter`` counts every event by kind. ``BookMirror`` also keeps, per symbol, a copy of the book as of
its last ``BookUpdate`` and a bounded history of (first id, last id, best bid, best ask) per update, so a
test can compare what it received with an independent truth. Both run entirely in C: the parser's
dispatcher calls these ``cdef`` methods through the vtable, with no Python-level call per event.
"""
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from feedhandler.book.orderbook cimport ASK, BID, OrderBook
from feedhandler.core.consumer cimport Consumer
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Trade

import numpy as np


cdef class EventCounter(Consumer):
    """Counts events by kind; ``last_recv_ns`` keeps the newest receive time."""

    cdef public int64_t book_updates, book_statuses, trades, book_tickers, others
    cdef public int64_t last_recv_ns

    cdef int on_book_update(self, BookUpdate event) except -1:
        self.book_updates += 1
        self.last_recv_ns = event.recv_ns
        return 0

    cdef int on_book_status(self, BookStatus event) except -1:
        self.book_statuses += 1
        return 0

    cdef int on_trade(self, Trade event) except -1:
        self.trades += 1
        self.last_recv_ns = event.recv_ns
        return 0

    cdef int on_book_ticker(self, BookTicker event) except -1:
        self.book_tickers += 1
        self.last_recv_ns = event.recv_ns
        return 0

    cdef int on_other_event(self, object event) except -1:
        self.others += 1
        return 0

    def counts(self):
        return {"book_updates": self.book_updates, "book_statuses": self.book_statuses, "trades": self.trades,
                "book_tickers": self.book_tickers, "others": self.others}


cdef class BookMirror(EventCounter):
    """Mirrors up to ``max_symbols`` books (``depth`` levels per side) and records ``history`` updates.

    Memory is allocated once, here; the event methods only copy into it (no allocation per event).
    """

    cdef readonly Py_ssize_t depth, max_symbols, history_size
    cdef dict _slot                     # symbol -> slot, filled on the first update of a symbol
    cdef list _symbols
    cdef double[:, :, ::1] _px          # [slot, side, level], best level first
    cdef double[:, :, ::1] _qty
    cdef Py_ssize_t[:, ::1] _n          # [slot, side]
    cdef int64_t[::1] _last_id          # [slot]
    cdef int64_t[:, ::1] _hist_ids      # [row, (slot, first id, last id)]
    cdef double[:, ::1] _hist_top       # [row, (bid px, bid qty, ask px, ask qty)]
    cdef public Py_ssize_t history_rows
    cdef public int64_t dropped          # updates of symbols beyond max_symbols, or history rows past the end

    def __init__(self, Py_ssize_t max_symbols=16, Py_ssize_t depth=1000, Py_ssize_t history=0):
        self.depth, self.max_symbols, self.history_size = depth, max_symbols, history
        self._slot = {}
        self._symbols = []
        self._px = np.zeros((max_symbols, 2, depth))
        self._qty = np.zeros((max_symbols, 2, depth))
        self._n = np.zeros((max_symbols, 2), dtype=np.intp)
        self._last_id = np.zeros(max_symbols, dtype=np.int64)
        self._hist_ids = np.zeros((max(history, 1), 3), dtype=np.int64)
        self._hist_top = np.zeros((max(history, 1), 4))

    cdef int on_book_update(self, BookUpdate event) except -1:
        cdef OrderBook book = <OrderBook?>event.book
        cdef Py_ssize_t slot, side, i, n, row
        cdef const double* pairs
        EventCounter.on_book_update(self, event)
        found = self._slot.get(event.symbol)
        if found is None:
            if len(self._symbols) >= self.max_symbols:
                self.dropped += 1
                return 0
            slot = len(self._symbols)
            self._slot[event.symbol] = slot
            self._symbols.append(event.symbol)
        else:
            slot = <Py_ssize_t>found
        # The book's best levels, best first, as (price, qty) pairs: its public C API (orderbook.pxd,
        # c_top_pairs); the layout itself (a tick ladder) is private.
        for side in range(2):
            n = book.c_top_pairs(side, self.depth, &pairs)
            for i in range(n):
                self._px[slot, side, i] = pairs[2 * i]
                self._qty[slot, side, i] = pairs[2 * i + 1]
            self._n[slot, side] = n
        self._last_id[slot] = event.last_update_id
        if self.history_size:
            row = self.history_rows
            if row >= self.history_size:
                self.dropped += 1
                return 0
            self._hist_ids[row, 0] = slot
            self._hist_ids[row, 1] = event.first_update_id
            self._hist_ids[row, 2] = event.last_update_id
            self._hist_top[row, 0] = book.c_best_bid_price()
            self._hist_top[row, 1] = book.c_best_bid_qty()
            self._hist_top[row, 2] = book.c_best_ask_price()
            self._hist_top[row, 3] = book.c_best_ask_qty()
            self.history_rows = row + 1
        return 0

    # --- Python accessors (after the run; not on the hot path) ---------------------------------
    def symbols(self):
        return list(self._symbols)

    def book(self, str symbol):
        """``(last_update_id, bids, asks)`` as of the symbol's last update, best first, as (price, qty)."""
        cdef Py_ssize_t slot = self._slot[symbol]
        sides = []
        for side in range(2):
            n = self._n[slot, side]
            sides.append([(self._px[slot, side, i], self._qty[slot, side, i]) for i in range(n)])
        return int(self._last_id[slot]), sides[0], sides[1]

    def history(self):
        """``[(symbol, first id, last id, (bid px, bid qty, ask px, ask qty)), ...]`` in arrival order."""
        return [(self._symbols[self._hist_ids[r, 0]], int(self._hist_ids[r, 1]), int(self._hist_ids[r, 2]),
                 tuple(self._hist_top[r, k] for k in range(4))) for r in range(self.history_rows)]
