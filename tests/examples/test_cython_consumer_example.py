"""``examples/cython_consumer``: built with its own setup.py against the installed headers, run on the simulator.

The example's ``BookMirror`` (a compiled ``Consumer``) is the manager's ``message_handler``. While the feed
runs, every update it recorded is checked against the simulator's true book at that update id; the update
ids of each symbol must follow each other without a gap (every BookUpdate reached it), its event counts must
equal the dispatcher's, and its mirrored books must equal the true books at the end.
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedhandler import ChannelType, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.sim.server import SimExchange
from cython_build import build_example  # noqa: E402
SYMS = ["BTCUSDT", "ETHUSDT"]


@pytest.fixture(scope="module")
def book_mirror(tmp_path_factory):
    return build_example(tmp_path_factory.mktemp("cython_consumer"), "cython_consumer", "book_mirror")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("transport", ["picows"])  # websockets: tests/transport/test_compiled_frame_path.py
async def test_compiled_consumer_mirrors_the_true_book(book_mirror, transport):
    async with SimExchange("binance", SYMS, seed=7, rate=150.0) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "binance", ws_url=sim.ws_url, rest_url=sim.rest_url)
        mirror = book_mirror.BookMirror(max_symbols=4, depth=1000, history=50_000)
        errors: list[BaseException] = []
        config = WebSocketManagerConfig("binance", transport=transport, channel_types=[
            ChannelType.ORDERBOOK, ChannelType.TRADES, ChannelType.BOOK_TICKER])
        manager = WebSocketManager(config, conn, sub, parser, message_handler=mirror, error_handler=errors.append)
        dispatcher = parser.decoder.dispatcher
        assert dispatcher.consumer is mirror  # events reach it from C
        checked, wrong = 0, []
        async with manager:
            await manager.initialize(SYMS)
            deadline = time.monotonic() + 30
            while (mirror.book_updates < 300 or not mirror.trades or not mirror.book_tickers) \
                    and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                rows = mirror.history()
                for symbol, _first, last, top in rows[checked:]:  # within the simulator's history
                    truth = sim.model.true_book(symbol, last)
                    if top != (*truth.bids[0], *truth.asks[0]):
                        wrong.append((symbol, last, top))
                checked = len(rows)
        assert not errors, errors[:3]
        assert mirror.book_updates >= 300 and mirror.trades > 0 and mirror.book_tickers > 0
        assert not wrong, wrong[:3]
        assert mirror.dropped == 0
        counts = mirror.counts()
        assert sum(counts.values()) == dispatcher.events
        assert counts["book_updates"] == mirror.history_rows
        # no update missed: each symbol's updates continue one another
        last_seen: dict[str, int] = {}
        for symbol, first, last, _ in mirror.history():
            if symbol in last_seen:
                assert first == last_seen[symbol] + 1, (symbol, first, last_seen[symbol])
            last_seen[symbol] = last
        for symbol in SYMS:
            last_id, bids, asks = mirror.book(symbol)
            truth = sim.model.true_book(symbol, last_id)
            assert (bids, asks) == (truth.bids, truth.asks), symbol
