"""Bybit v5 message parsers: the compiled :class:`BybitDecoder` behind ``SyncedMessageParser``.

Books (``orderbook.{depth}.{symbol}``) carry their own snapshots: there is no REST fetch. A book that
needs a fresh snapshot (a gap in ``u``, a delta before any snapshot) turns invalid (a ``BookStatus``
says so) and the manager's in-band recovery unsubscribes and subscribes its topic again.
"""
from __future__ import annotations

from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup
from feedhandler.sync.synced_parser import SyncedMessageParser

from .constants import EXCHANGE
from .decoder import BybitDecoder
from .rules import BYBIT_BOOK_RULE


class BybitPublicMessageParser(SyncedMessageParser):
    """Public Bybit parser: books, trades, tickers (best bid/offer and 24 h ticker), klines.

    Parameters
    ----------
    book_depth:
        Book capacity, levels per side.
    """

    def __init__(self, book_depth: int = 1000, **kwargs: Any):
        dispatcher = EventDispatcher()
        books = BookSyncGroup(EXCHANGE, BYBIT_BOOK_RULE, dispatcher, int(book_depth))
        super().__init__(BybitDecoder(dispatcher, books, False), None, inband_books=[books])


class BybitPrivateMessageParser(SyncedMessageParser):
    """Private Bybit parser: ``order`` -> OrderUpdate, ``execution`` -> Fill, ``wallet`` -> BalanceUpdate
    (one per coin). A refused ``auth`` is reported as ``AuthenticationError`` and the connection retried."""

    def __init__(self, **kwargs: Any):
        super().__init__(BybitDecoder(EventDispatcher(), None, True), None)
