"""A WebSocket upgrade refused with 429/503 and ``Retry-After`` is retried only after the time asked for.

The simulator refuses handshakes (its refuse fault, with a status and a Retry-After header); the
manager's own backoff (20 ms) is far shorter than the 0.5 s the server asks for, so the attempts'
spacing shows whose delay was used. Both transports carry the status and the header to the manager.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from feedhandler import (
    ChannelType, ConnectionFailedError, ReconnectPolicy, WebSocketManager, WebSocketManagerConfig,
    WebSocketStrategyFactory,
)
from feedhandler.sim import SimExchange

RETRY_AFTER = 0.5


@pytest.mark.parametrize("transport", ["picows", "websockets"])
@pytest.mark.parametrize("status", [429, 503])
async def test_refused_upgrade_waits_as_told(transport, status):
    async with asyncio.timeout(20), SimExchange("binance", ["BTCUSDT"], seed=3, rate=100) as sim:
        sim.faults.refuse_status = status
        sim.faults.refuse_retry_after = RETRY_AFTER
        sim.faults.refuse(1.2)
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "binance", False, ws_url=sim.ws_url, rest_url=sim.rest_url)
        config = WebSocketManagerConfig("binance", channel_types=[ChannelType.ORDERBOOK], transport=transport,
                                        reconnect=ReconnectPolicy(base_delay=0.02, max_delay=0.02, jitter=0.0),
                                        initialize_timeout=10.0, stale_timeout=0.0)
        refusals: list[tuple[float, ConnectionFailedError]] = []

        def on_error(exc):
            if isinstance(exc, ConnectionFailedError):
                refusals.append((time.monotonic(), exc))

        async with WebSocketManager(config, conn, sub, parser, error_handler=on_error) as manager:
            await manager.initialize(["BTCUSDT"])
            assert manager.is_connected
        assert sim.stats.connections_refused == len(refusals)
        # 1.2 s of refusals at one attempt per 0.5 s: 3 attempts refused (the 20 ms backoff alone: ~40)
        assert 2 <= len(refusals) <= 3, [round(t - refusals[0][0], 3) for t, _ in refusals]
        assert all(e.status == status and e.retry_after == RETRY_AFTER for _, e in refusals), refusals
        gaps = [b[0] - a[0] for a, b in zip(refusals, refusals[1:])]
        assert all(g >= RETRY_AFTER * 0.95 for g in gaps), gaps


async def test_retry_after_is_capped():
    async with asyncio.timeout(20), SimExchange("binance", ["BTCUSDT"], seed=3, rate=100) as sim:
        sim.faults.refuse_status = 429
        sim.faults.refuse_retry_after = 3600   # an hour: capped by max_retry_after
        sim.faults.refuse(0.3)
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "binance", False, ws_url=sim.ws_url, rest_url=sim.rest_url)
        config = WebSocketManagerConfig("binance", reconnect=ReconnectPolicy(base_delay=0.02, max_delay=0.02),
                                        initialize_timeout=10.0, stale_timeout=0.0, max_retry_after=0.4)
        started = time.monotonic()
        async with WebSocketManager(config, conn, sub, parser, error_handler=lambda e: None) as manager:
            await manager.initialize(["BTCUSDT"])
        assert 0.35 <= time.monotonic() - started < 5.0
        assert sim.stats.connections_refused == 1
