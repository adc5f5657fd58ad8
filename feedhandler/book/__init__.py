"""L2 order books over preallocated numpy arrays (Cython).

``OrderBook`` keeps one instrument's bids and asks (``BookSyncGroup`` creates
one per symbol; the former ``OrderBookPool``, which it never used, is gone).
``BID`` and ``ASK`` select a side.
Cython code cimports the C-level API from ``feedhandler.book.orderbook``.
"""
from feedhandler.book.orderbook import ASK, BID, OrderBook

__all__ = ["ASK", "BID", "OrderBook"]
