"""Normalized events (trades, tickers, klines, book updates, private updates) and their pools.

Parsers fill pooled events from Cython (``cimport feedhandler.events.events``);
an event from a pool is valid until the handler returns, ``copy()`` keeps one.
The classes and their fields are defined once, in ``schema.toml`` (see ``schema.py``).
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
from feedhandler.events.events import __all__ as _ALL

__all__ = list(_ALL)
