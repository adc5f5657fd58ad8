"""OKX v5 message parsers: the compiled :class:`OkxDecoder` behind ``SyncedMessageParser``.

``books`` carries its own snapshots (no REST): the books group is in-band, so a gap or a checksum
mismatch makes the manager unsubscribe and subscribe that instrument's book channel again (see
``WebSocketManager`` in-band recovery); every book is checked with :class:`OkxChecksum` whenever a
frame's checksum is non-zero.
"""
from __future__ import annotations

from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup
from feedhandler.sync.synced_parser import SyncedMessageParser

from .constants import BOOK_LEVELS, EXCHANGE
from .decoder import OkxChecksum, OkxDecoder
from .rules import OKX_BOOKS_RULE


class OkxPublicMessageParser(SyncedMessageParser):
    """Public OKX parser: ``books`` (synced, checksummed), ``bbo-tbt``, ``trades``, ``tickers``, candles.

    Parameters
    ----------
    book_depth:
        Book capacity, levels per side (at least the 400 of a ``books`` snapshot).
    """

    def __init__(self, book_depth: int = 1000, **kwargs: Any):
        dispatcher = EventDispatcher()
        depth = max(int(book_depth), BOOK_LEVELS)
        books = BookSyncGroup(EXCHANGE, OKX_BOOKS_RULE, dispatcher, depth, integrity=OkxChecksum())
        super().__init__(OkxDecoder(dispatcher, books, depth), None, inband_books=[books])

    def configure(self, config: Any) -> None:
        depth = getattr(config, "book_depth", None)
        if depth and self.books is not None:
            self.books.set_depth(max(int(depth), BOOK_LEVELS))


class OkxPrivateMessageParser(SyncedMessageParser):
    """Private OKX parser: ``orders`` -> OrderUpdate (+ Fill when the push carries a fill), ``account`` ->
    BalanceUpdate per currency."""

    def __init__(self, **kwargs: Any):
        super().__init__(OkxDecoder(EventDispatcher(), None), None)
