"""Normalized events (trades, tickers, klines, book updates, private updates) and their pools.

Parsers fill pooled events from Cython (``cimport feedhandler.events.events``);
an event from a pool is valid until the handler returns, ``copy()`` keeps one.
"""
from feedhandler.events.events import (
    EVENT_CLASSES,
    BalanceUpdate,
    BookStatus,
    BookTicker,
    BookUpdate,
    Event,
    EventPool,
    Fill,
    Kline,
    OrderUpdate,
    Side,
    Ticker,
    Trade,
)

__all__ = [
    "Side",
    "Event",
    "Trade",
    "BookTicker",
    "Kline",
    "Ticker",
    "BookUpdate",
    "BookStatus",
    "OrderUpdate",
    "Fill",
    "BalanceUpdate",
    "EventPool",
    "EVENT_CLASSES",
]
