"""MEXC message parsers: the compiled :class:`MexcDecoder` behind the ``MessageParser`` interface."""
from __future__ import annotations

from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup
from feedhandler.sync.synced_parser import SyncedMessageParser

from . import constants as C
from .decoder import MexcDecoder
from .rest import MexcRestClient, MexcSnapshotFetcher
from .rules import MEXC_SPOT_RULE

__all__ = ["MexcPrivateMessageParser", "MexcPublicMessageParser"]


class MexcPublicMessageParser(SyncedMessageParser):
    """Public MEXC frames -> books (aggregated depth + REST snapshot), trades, tickers, klines.

    Aggregated depth (313) keeps one book per symbol in :attr:`books`, synchronised against
    ``GET /api/v3/depth`` (``lastUpdateId``) by :data:`MEXC_SPOT_RULE`. Limit depth (303, top-N with a
    version) is a separate book per stream in :attr:`partial_books` (keyed ``"<SYMBOL>@<N>"``), replaced
    by every frame (``BookUpdate.is_snapshot`` is True); it never touches the synchronised book.

    Parameters
    ----------
    rest_url : str, optional
        REST base URL for snapshots (default ``https://api.mexc.com``).
    book_depth : int
        Book capacity (levels per side).
    snapshot_limit : int
        ``limit`` of the REST snapshot (5000, as the current procedure says).
    rate_limit : RateLimit, optional
        Token bucket for the snapshot calls.
    max_levels : int
        Largest number of levels per side accepted in one frame.
    """

    def __init__(self, rest_url: str | None = None, book_depth: int = 1000,
                 snapshot_limit: int = C.DEPTH_SNAPSHOT_LIMIT, rate_limit: Any = None, max_levels: int = 10000,
                 max_concurrency: int = 4, **_: Any):
        dispatcher = EventDispatcher()
        books = BookSyncGroup(C.EXCHANGE, MEXC_SPOT_RULE, dispatcher, depth=book_depth)
        partial = BookSyncGroup(C.EXCHANGE, MEXC_SPOT_RULE, dispatcher, depth=max(20, min(book_depth, 100)),
                                key_separator="@")
        decoder = MexcDecoder(dispatcher, books, partial, max_levels=max_levels)
        self.rest = MexcRestClient(rest_url or C.REST_URL, rate_limit=rate_limit)
        super().__init__(decoder, MexcSnapshotFetcher(self.rest, snapshot_limit), max_concurrency=max_concurrency,
                         rate_limit=rate_limit, partial_books=partial)

    async def close(self) -> None:
        await super().close()
        await self.rest.close()


class MexcPrivateMessageParser(SyncedMessageParser):
    """Private MEXC frames: orders (304) -> ``OrderUpdate``, deals (306) -> ``Fill``, account (307) ->
    ``BalanceUpdate``. No books."""

    def __init__(self, **_: Any):
        decoder = MexcDecoder(EventDispatcher(), None, None, max_levels=16)
        super().__init__(decoder, None)
