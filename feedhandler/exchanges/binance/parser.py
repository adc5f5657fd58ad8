"""``BinancePublicMessageParser``: the compiled Binance decoder with its books and REST snapshots."""
from __future__ import annotations

from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup
from feedhandler.sync.synced_parser import SyncedMessageParser

from . import constants as C
from .decoder import BinanceDecoder
from .rest import BinanceSnapshotFetcher
from .rules import PARTIAL_RULE, rule_for_market

__all__ = ["BinancePublicMessageParser"]


class BinancePublicMessageParser(SyncedMessageParser):
    """Parses Binance market-data streams and keeps local books in sync.

    Parameters
    ----------
    rest_url:
        REST base URL for depth snapshots (default ``https://api.binance.com``).
    book_depth:
        Book capacity, levels per side (default 1000); also the snapshot ``limit`` (capped at 5000).
    market:
        ``"spot"`` (default; ``U``/``u`` contiguity) or ``"usdm"``/``"coinm"`` (futures ``pu`` rule,
        snapshot path ``/fapi/v1/depth`` for usdm).
    snapshot_fetcher:
        Replace the REST fetcher (``async fetch(symbol) -> (lastUpdateId, bids, asks)``), e.g. in replays.
    time_unit:
        ``"ms"`` or ``"us"`` (streams opened with ``timeUnit=MICROSECOND``).
    ws_url:
        When it is a raw ``/ws/<stream>`` URL, the stream name names partial-depth books.

    Notes
    -----
    Partial depth streams (``depth5/10/20``) update separate books keyed ``"BTCUSDT@depth20"``
    (``parser.partial_books``); each frame is delivered as a ``BookUpdate`` with ``is_snapshot=True``
    and ``symbol="BTCUSDT@depth20"``, so it is never confused with the diff-depth book of ``"BTCUSDT"``.
    """

    def __init__(self, rest_url: str | None = None, book_depth: int = 1000, market: str = "spot",
                 snapshot_fetcher: Any = None, time_unit: str = "ms", ws_url: str | None = None,
                 max_concurrency: int = 4, rate_limit: Any = None, **kwargs: Any):
        dispatcher = EventDispatcher()
        books = BookSyncGroup("binance", rule_for_market(market), dispatcher, int(book_depth))
        partial = BookSyncGroup("binance", PARTIAL_RULE, dispatcher, 20, None, 64, 1, key_separator="@")
        raw_stream = ""
        if ws_url and "/ws/" in ws_url:
            raw_stream = ws_url.split("/ws/", 1)[1].split("?", 1)[0]
        decoder = BinanceDecoder(books, dispatcher, partial, "binance", time_unit=time_unit, raw_stream=raw_stream)
        self._own_fetcher: BinanceSnapshotFetcher | None = None
        if snapshot_fetcher is None:
            default_rest = C.USDM_REST_URL if market == "usdm" else C.REST_URL
            path = C.USDM_DEPTH_PATH if market == "usdm" else C.DEPTH_PATH
            limit = max(1, min(int(book_depth), C.MAX_SNAPSHOT_LIMIT))
            snapshot_fetcher = self._own_fetcher = BinanceSnapshotFetcher(rest_url or default_rest, limit, path)
        super().__init__(decoder, snapshot_fetcher, max_concurrency=max_concurrency, rate_limit=rate_limit,
                         partial_books=partial)

    def partial_book(self, stream_or_key: str):
        """The partial-depth book for ``"btcusdt@depth20@100ms"`` or ``"BTCUSDT@depth20"`` (None if not seen)."""
        key = stream_or_key if stream_or_key[:1].isupper() else self._decoder.partial_book_key(stream_or_key)
        return self.partial_books[key].book if key in self.partial_books else None

    async def close(self) -> None:
        await super().close()
        if self._own_fetcher is not None:
            await self._own_fetcher.close()
