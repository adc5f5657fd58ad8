"""Gate.io message parsers: the compiled :class:`GateioDecoder` behind ``SyncedMessageParser``.

Books
-----
- ``spot.order_book_update``: ``books`` (rule ``gateio-spot``), synced from the REST snapshot
  ``GET /api/v4/spot/order_book?with_id=true`` (``GateioSnapshotFetcher``); a ``full: true`` push
  replaces the book and sets its id to ``u``.
- ``spot.obu``: ``obu_books`` (rule ``gateio-obu``), keyed by the pair (``ob.BTC_USDT.50`` ->
  ``BTC_USDT``). No REST: the first push is a full snapshot. On a gap the book turns invalid (a
  ``BookStatus`` says so) and the pair is put in ``obu_resubscribe``; the parser cannot send, so
  ``on_obu_gap(pair, stream)`` is called. A ``WebSocketManager`` wires it to its in-band recovery
  (``set_book_recovery``: the manager unsubscribes and subscribes that pair's book channel again,
  with backoff, until the new full snapshot arrived); nothing to wire by hand.
  :func:`resubscribe_obu_on_gap` (the older, user-wired way: unsubscribe + subscribe of the whole
  pair through the manager's public API) still works and replaces it; the strategy's
  ``obu_resubscribe_messages(stream)`` gives the two raw requests for callers that own a socket.
- ``spot.order_book`` (top-N snapshots): ``partial_books``; each push replaces that book and is
  delivered as a ``BookUpdate`` with ``is_snapshot=True`` (a separate book from ``books``).
- ``market="usdt"`` (USDT futures, ``wss://fx-ws.gateio.ws/v4/ws/usdt``): ``futures.order_book_update`` into
  ``books`` (rule ``gateio-futures``: the spot ``U/u`` procedure) synced from
  ``GET /api/v4/futures/usdt/order_book?contract=..&with_id=true``, keyed by the contract (``BTC_USDT``);
  sizes are contracts. ``futures.trades`` (signed ``size``: negative is a sell), ``futures.book_ticker``,
  ``futures.candlesticks``.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.rest import RateLimit
from feedhandler.sync.book_sync import BookSyncGroup
from feedhandler.sync.service import SnapshotFetcher
from feedhandler.sync.synced_parser import SyncedMessageParser

from feedhandler.core.errors import ConfigurationError

from .constants import EXCHANGE, MARKETS, REST_ORDER_BOOK_LIMIT
from .decoder import GateioDecoder
from .rest import GateioSnapshotFetcher
from .rules import GATEIO_FUTURES_RULE, GATEIO_OBU_RULE, GATEIO_SPOT_RULE


class GateioPublicMessageParser(SyncedMessageParser):
    """Public Gate.io parser, spot (books, trades, book ticker, candles, tickers) or USDT futures.

    Parameters
    ----------
    rest_url:
        REST base for snapshots (default ``https://api.gateio.ws``).
    book_depth:
        Book capacity, levels per side.
    snapshot_fetcher:
        Replace the REST fetcher (``async f(pair) -> (id, bids, asks)``).
    rate_limit:
        ``RateLimit`` for the snapshot calls.
    snapshot_limit:
        REST ``limit`` (100).
    market:
        ``"spot"`` (default) or ``"usdt"`` (USDT futures).
    """

    def __init__(self, rest_url: str | None = None, book_depth: int = 1000,
                 snapshot_fetcher: SnapshotFetcher | None = None, rate_limit: RateLimit | None = None,
                 snapshot_limit: int = REST_ORDER_BOOK_LIMIT, market: str = "spot", **kwargs: Any):
        if market not in MARKETS:
            raise ConfigurationError(f"gateio market must be one of {MARKETS}, not {market!r}")
        self.market = market
        futures = market == "usdt"
        dispatcher = EventDispatcher()
        depth = int(book_depth)
        books = BookSyncGroup(EXCHANGE, GATEIO_FUTURES_RULE if futures else GATEIO_SPOT_RULE, dispatcher, depth)
        obu_books = BookSyncGroup(EXCHANGE, GATEIO_OBU_RULE, dispatcher, depth)
        partial_books = BookSyncGroup(EXCHANGE, GATEIO_SPOT_RULE, dispatcher, depth)
        decoder = GateioDecoder(dispatcher, books, obu_books, partial_books, False, futures=futures)
        self._owned_fetcher: GateioSnapshotFetcher | None = None
        if snapshot_fetcher is None:
            self._owned_fetcher = GateioSnapshotFetcher(rest_url, snapshot_limit, rate_limit, market=market)
            snapshot_fetcher = self._owned_fetcher
        super().__init__(decoder, snapshot_fetcher, rate_limit=rate_limit, partial_books=partial_books)
        self.obu_books: BookSyncGroup = obu_books

    @property
    def on_obu_gap(self) -> Callable[[str, str], Any] | None:
        """``callback(pair, stream)`` called once per obu gap (the stream must be resubscribed)."""
        return self._decoder.on_obu_gap

    @on_obu_gap.setter
    def on_obu_gap(self, callback: Callable[[str, str], Any] | None) -> None:
        self._decoder.on_obu_gap = callback

    def set_book_recovery(self, recover: Callable[[str], None] | None) -> None:
        # obu books ask through the decoder's on_obu_gap (which also records obu_resubscribe)
        super().set_book_recovery(recover)
        self._decoder.on_obu_gap = None if recover is None else (lambda pair, stream: recover(pair))

    def awaits_snapshot(self, symbol: str) -> bool:
        return symbol in self.obu_books and not self.obu_books[symbol].is_valid

    def take_obu_resubscribe(self) -> list[str]:
        """Pairs whose obu stream needs a resubscribe since the last call."""
        return self._decoder.take_obu_resubscribe()

    def obu_book(self, pair: str):
        """The obu book of ``pair`` (None if not seen)."""
        return self.obu_books[pair].book if pair in self.obu_books else None

    def _groups(self) -> list[BookSyncGroup]:
        # obu books are keyed by the pair too: the same subscription rules apply to them
        groups = super()._groups()
        return groups + [g for g in (self.obu_books,) if g not in groups]

    async def close(self) -> None:
        await super().close()
        if self._owned_fetcher is not None:
            await self._owned_fetcher.close()


class GateioPrivateMessageParser(SyncedMessageParser):
    """Private Gate.io spot parser: ``spot.orders`` -> OrderUpdate, ``spot.usertrades`` -> Fill,
    ``spot.balances`` -> BalanceUpdate (one event per array element)."""

    def __init__(self, **kwargs: Any):
        decoder = GateioDecoder(EventDispatcher(), None, None, None, True)
        super().__init__(decoder, None)


def resubscribe_obu_on_gap(manager: Any, parser: GateioPublicMessageParser) -> None:
    """Recover obu gaps through the manager: unsubscribe and subscribe the pair again.

    The gap callback runs inside the data path, so the (async) resubscription is scheduled as a
    task; repeated gaps of a pair while one is running are ignored.
    """
    running: dict[str, asyncio.Task[None]] = {}

    async def _resubscribe(pair: str) -> None:
        await manager.unsubscribe([pair])
        await manager.subscribe([pair])

    def on_gap(pair: str, stream: str) -> None:
        if pair in running:
            return
        task = asyncio.get_running_loop().create_task(_resubscribe(pair), name=f"gateio-obu-resub-{pair}")
        running[pair] = task
        task.add_done_callback(lambda t, p=pair: running.pop(p, None))

    parser.on_obu_gap = on_gap
