"""Feature flag per exchange, run-time parser swap without losing a frame, and mixed strategies."""
from __future__ import annotations

import asyncio

import pytest

from feedhandler import ChannelType, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import MessageParser
from feedhandler.events import BookUpdate, Trade
from feedhandler.exchanges.mexc import MexcPublicConnectionStrategy
from feedhandler.legacy import MexcWebsocketPublic
from feedhandler.migration import create_websocket_client, use_new_architecture
from feedhandler.sim import SimExchange


def sides(book):
    d = book.to_dict()
    return [tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]


def test_flag_is_per_exchange():
    cfg = {"use_new_websocket_architecture": {"mexc": False, "default": True}}
    assert not use_new_architecture(cfg, "MEXC") and use_new_architecture(cfg, "binance")
    legacy = create_websocket_client("mexc", cfg, print)
    new = create_websocket_client("binance", cfg, print, manager_config=WebSocketManagerConfig("binance"))
    assert isinstance(legacy, MexcWebsocketPublic) and isinstance(new, WebSocketManager)

    class Cfg:
        use_new_websocket_architecture = True
    assert isinstance(create_websocket_client("mexc", Cfg(), print), WebSocketManager)
    with pytest.raises(ConfigurationError, match="no legacy client for gateio"):
        create_websocket_client("gateio", {"use_new_websocket_architecture": False}, print,
                                manager_config=WebSocketManagerConfig("gateio"))
    with pytest.raises(ConfigurationError):
        use_new_architecture({"use_new_websocket_architecture": "yes"}, "mexc")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("new", [True, False])
async def test_both_sides_of_the_flag_deliver_the_same_event_types_and_true_books(new):
    async with SimExchange("mexc", ["BTCUSDT"], seed=4, rate=150) as sim:
        got: dict[str, int] = {}
        bad: list[str] = []

        def handler(ev):
            got[type(ev).__name__] = got.get(type(ev).__name__, 0) + 1
            if isinstance(ev, BookUpdate):
                t = sim.model.true_book(ev.symbol, ev.last_update_id)
                if sides(ev.book) != ([tuple(x) for x in t.bids], [tuple(x) for x in t.asks]):
                    bad.append(f"{ev.last_update_id}")

        mcfg = WebSocketManagerConfig("mexc", channel_types=[ChannelType.ORDERBOOK, ChannelType.TRADES],
                                      initialize_timeout=5.0)
        client = create_websocket_client("mexc", {"use_new_websocket_architecture": {"mexc": new}}, handler,
                                         manager_config=mcfg, ws_url=sim.ws_url, rest_url=sim.rest_url, speed="10ms")
        assert isinstance(client, WebSocketManager) is new
        try:
            await client.initialize(["BTCUSDT"])
            assert client.is_connected and client.active_symbols == {"BTCUSDT"}
            async with asyncio.timeout(10):
                while got.get("BookUpdate", 0) < 30 or got.get("Trade", 0) < 3:
                    await asyncio.sleep(0.05)
        finally:
            await client.close()
    assert not bad
    assert {"BookUpdate", "BookStatus", "Trade"} <= set(got)


class Counting(MessageParser):
    """Counts frames, then hands them to the wrapped parser."""

    def __init__(self, inner):
        self.inner = inner
        self.frames = 0

    def bind(self, handler, error_handler=None):
        super().bind(handler, error_handler)
        self.inner.bind(handler, error_handler)

    def get_message_type(self, raw):
        return self.inner.get_message_type(raw)

    def feed(self, raw, recv_ns):
        self.frames += 1
        return self.inner.feed(raw, recv_ns)

    def stats(self):
        return self.inner.stats()

    async def close(self):
        await self.inner.close()


@pytest.mark.timeout(40)
async def test_parser_swap_under_load_loses_no_frame_and_does_not_reconnect():
    async with SimExchange("mexc", ["BTCUSDT", "ETHUSDT"], seed=2, rate=None) as sim:
        cfg = WebSocketManagerConfig("mexc", channel_types=[ChannelType.ORDERBOOK, ChannelType.TRADES],
                                     initialize_timeout=5.0)
        conn, sub, p1 = WebSocketStrategyFactory.create_strategies("mexc", False, ws_url=sim.ws_url,
                                                                   rest_url=sim.rest_url, speed="10ms")
        first = Counting(p1)
        trades = []
        async with WebSocketManager(cfg, conn, sub, first, message_handler=lambda e: trades.append(1)
                                    if isinstance(e, Trade) else None) as manager:
            await manager.initialize(["BTCUSDT", "ETHUSDT"])
            swaps = []
            for i in range(6):
                sim.step(40)  # frames queued while we swap: the sender writes them meanwhile
                if i % 2 == 1:
                    if i == 3:  # swap to the legacy implementation, mid-stream
                        legacy = MexcWebsocketPublic(cfg, ws_url=sim.ws_url, rest_url=sim.rest_url, speed="10ms")
                        from feedhandler.legacy import LegacyMessageParser
                        nxt = Counting(LegacyMessageParser(legacy))
                    else:
                        _, _, p = WebSocketStrategyFactory.create_strategies(
                            "mexc", False, ws_url=sim.ws_url, rest_url=sim.rest_url, speed="10ms")
                        nxt = Counting(p)
                    old = manager.swap_parser(nxt)
                    swaps.append(old)
                await asyncio.sleep(0.01)
            await sim.flush()
            sent = sum(c.stats.frames_sent for c in sim.connections)
            async with asyncio.timeout(10):
                while manager.metrics.frames < sent:
                    await asyncio.sleep(0.02)
            parsed = sum(p.frames for p in swaps) + manager.message_parser.frames
            m = manager.metrics
            assert len(sim.connections) == 1 and m.reconnects == 0
            assert m.frames == sent == parsed
            assert m.parse_errors == 0
            for old in swaps:
                await old.close()
            await legacy._close_client()
        assert trades


@pytest.mark.timeout(30)
async def test_mix_and_match_binance_json_parser_behind_the_mexc_connection_strategy():
    async with SimExchange("binance", ["BTCUSDT"], seed=6, rate=150) as sim:
        _, sub, parser = WebSocketStrategyFactory.create_strategies("binance", False, ws_url=sim.ws_url,
                                                                    rest_url=sim.rest_url)
        conn = MexcPublicConnectionStrategy(ws_url=sim.ws_url)  # a different exchange's connection strategy
        bad, n = [], [0]

        def handler(ev):
            if isinstance(ev, BookUpdate):
                n[0] += 1
                t = sim.model.true_book(ev.symbol, ev.last_update_id)
                if sides(ev.book) != ([tuple(x) for x in t.bids], [tuple(x) for x in t.asks]):
                    bad.append(ev.last_update_id)

        cfg = WebSocketManagerConfig("binance", channel_types=[ChannelType.ORDERBOOK], initialize_timeout=5.0)
        async with WebSocketManager(cfg, conn, sub, parser, message_handler=handler) as manager:
            await manager.initialize(["BTCUSDT"])
            async with asyncio.timeout(10):
                while n[0] < 30:
                    await asyncio.sleep(0.05)
            # and swap the subscription strategy at run time: resubscribe through a fresh instance
            _, sub2, _ = WebSocketStrategyFactory.create_strategies("binance", False)
            assert manager.swap_subscription_strategy(sub2, resubscribe=True) is sub
            before = n[0]
            async with asyncio.timeout(10):
                while n[0] < before + 20:
                    await asyncio.sleep(0.05)
            assert manager.metrics.reconnects == 0
        assert not bad
