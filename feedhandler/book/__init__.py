"""L2 order books over preallocated numpy arrays (Cython).

``OrderBook`` keeps one instrument's bids and asks; ``OrderBookPool``
preallocates books for many symbols.  ``BID`` and ``ASK`` select a side.
Cython code cimports the C-level API from ``feedhandler.book.orderbook``.
"""
from feedhandler.book.orderbook import ASK, BID, OrderBook, OrderBookPool

__all__ = ["ASK", "BID", "OrderBook", "OrderBookPool"]
