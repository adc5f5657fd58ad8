"""Coinbase Advanced Trade parsers: the compiled :class:`CoinbaseDecoder` behind ``SyncedMessageParser``.

``level2`` books carry their own snapshots; a ``sequence_num`` gap invalidates every book of the connection
and the manager's in-band recovery resubscribes them. A new connection restarts the sequence.
"""
from __future__ import annotations

from typing import Any, Iterable

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup
from feedhandler.sync.synced_parser import SyncedMessageParser

from .constants import EXCHANGE
from .decoder import CoinbaseDecoder
from .rules import COINBASE_BOOK_RULE


class CoinbasePublicMessageParser(SyncedMessageParser):
    """Public Coinbase parser: ``level2`` books, ``market_trades``, ``ticker`` (best bid/offer and 24 h), ``candles``.

    Parameters
    ----------
    book_depth:
        Book capacity, levels per side (Coinbase sends the whole book: keep it large).
    """

    def __init__(self, book_depth: int = 100_000, **kwargs: Any):
        dispatcher = EventDispatcher()
        books = BookSyncGroup(EXCHANGE, COINBASE_BOOK_RULE, dispatcher, int(book_depth))
        super().__init__(CoinbaseDecoder(dispatcher, books, False), None, inband_books=[books])

    def on_connection_lost(self, symbols: Iterable[str]) -> None:
        super().on_connection_lost(symbols)
        self._decoder.reset_sequence()


class CoinbasePrivateMessageParser(SyncedMessageParser):
    """Private Coinbase parser: the ``user`` channel's orders -> ``OrderUpdate``."""

    def __init__(self, **kwargs: Any):
        super().__init__(CoinbaseDecoder(EventDispatcher(), None, True), None)

    def on_connection_lost(self, symbols: Iterable[str]) -> None:
        self._decoder.reset_sequence()
