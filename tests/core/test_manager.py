"""WebSocketManager life cycle over real sockets on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json

import pytest

from feedhandler import (
    ConnectionFailedError,
    ConnectionState,
    HandlerError,
    ParseError,
    ReconnectPolicy,
    StaleConnectionError,
    SubscriptionState,
    WebSocketManager,
    WebSocketManagerConfig,
)
from manager_helpers import (
    TRADES,
    JsonTestConnectionStrategy,
    JsonTestParser,
    JsonTestSubscriptionStrategy,
    ScriptedServer,
    symbols,
    wait_until,
)

FAST_RECONNECT = ReconnectPolicy(base_delay=0.01, max_delay=0.05, jitter=0.0)


def make_manager(url, events, errors, *, max_per_conn=100, stale=0.0, ping=0.0, keep_alive=0.0,
                 auth_ok=True, policy=FAST_RECONNECT, **cfg):
    config = WebSocketManagerConfig(exchange_name="test", channel_types=TRADES, reconnect=policy,
                                    stale_timeout=stale, initialize_timeout=5.0, **cfg)
    conn = JsonTestConnectionStrategy(url, ping_interval=ping, keep_alive_interval=keep_alive, auth_ok=auth_ok)
    return WebSocketManager(config, conn, JsonTestSubscriptionStrategy(max_per_conn), JsonTestParser(),
                            message_handler=events.append, error_handler=errors.append)


def own_tasks() -> set[asyncio.Task]:
    return {t for t in asyncio.all_tasks() if t.get_name().startswith("feedhandler-")}


async def test_subscribes_and_delivers_frames_in_order():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT", "ETHUSDT"])
            assert manager.is_connected
            assert manager.active_symbols == {"BTCUSDT", "ETHUSDT"}
            await wait_until(lambda: server.live() and len(server.live()[0].streams) == 2)
            assert [json.loads(m) for m in server.live()[0].received] == [
                {"op": "sub", "args": ["trades:BTCUSDT", "trades:ETHUSDT"]}]
            await server.push("BTCUSDT", 50)
            await wait_until(lambda: len(events) == 50)
            assert [e["seq"] for e in events] == list(range(1, 51))
            assert all(e["recv_ns"] > 0 for e in events)
            await wait_until(lambda: all(v == "confirmed" for v in manager.metrics.connections[0].subscriptions.values()))
            m = manager.metrics
            assert m.frames >= 51 and m.parse_errors == 0 and m.bytes > 0
        assert errors == []


async def test_reconnects_and_resubscribes_once_after_drop():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT"])
            await server.wait_streams(1)
            await server.push("BTCUSDT", 5)
            await wait_until(lambda: len(events) == 5)
            await server.drop_all()
            await wait_until(lambda: server.accepted == 2 and server.live() and server.live()[0].streams)
            await wait_until(lambda: manager.is_connected)
            # exactly one subscription on the new connection: no duplicates
            assert [json.loads(m)["op"] for m in server.live()[0].received] == ["sub"]
            assert server.live()[0].streams == ["trades:BTCUSDT"]
            await server.push("BTCUSDT", 5)
            await wait_until(lambda: len(events) == 10)
            assert [e["seq"] for e in events] == list(range(1, 11))
            assert manager.metrics.reconnects == 1
        assert any(isinstance(e, ConnectionFailedError) for e in errors)


async def test_silent_server_triggers_stale_reconnect():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors, stale=0.3) as manager:
            await manager.initialize(["BTCUSDT"])
            await wait_until(lambda: server.accepted >= 2, timeout=5)
            assert any(isinstance(e, StaleConnectionError) for e in errors)
            await wait_until(lambda: manager.is_connected)
            await server.wait_streams(1)
            await server.push("BTCUSDT", 1)
            await wait_until(lambda: len(events) >= 1)


async def test_more_symbols_than_limit_spread_over_connections():
    events, errors = [], []
    syms = symbols(7)
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors, max_per_conn=3) as manager:
            await manager.initialize(syms)
            assert manager.connection_count == 3
            await wait_until(lambda: sum(len(c.streams) for c in server.live()) == 7)
            per_conn = sorted(len(c.streams) for c in server.live())
            assert per_conn == [1, 3, 3]
            assert sorted(s for c in server.live() for s in c.streams) == [f"trades:{s}" for s in syms]
            for s in syms:
                await server.push(s, 2)
            await wait_until(lambda: len(events) == 14)
            assert sorted({e["symbol"] for e in events}) == syms


async def test_raising_handler_does_not_stop_feed():
    errors, seen = [], []

    def handler(event):
        seen.append(event["seq"])
        if event["seq"] % 2:
            raise RuntimeError("boom")

    async with asyncio.timeout(10), ScriptedServer() as server:
        manager = make_manager(server.url, [], errors)
        manager.message_parser.bind(handler, manager._report)
        async with manager:
            await manager.initialize(["BTCUSDT"])
            await server.wait_streams(1)
            await server.push("BTCUSDT", 10)
            await wait_until(lambda: len(seen) == 10)
    handler_errors = [e for e in errors if isinstance(e, HandlerError)]
    assert len(handler_errors) == 5
    assert isinstance(handler_errors[0].__cause__, RuntimeError)


async def test_garbage_frame_is_reported_and_feed_goes_on():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT"])
            await server.wait_streams(1)
            await server.push("BTCUSDT", 1)
            await server.send_raw("\x00garbage{{{")
            await server.send_raw(b"\xff\xfe binary junk")
            await server.push("BTCUSDT", 1)
            await wait_until(lambda: len(events) == 2)
            assert manager.metrics.parse_errors == 2
            assert manager.is_connected
    assert sum(isinstance(e, ParseError) for e in errors) == 2


async def test_unsubscribe_at_run_time():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT", "ETHUSDT"])
            await wait_until(lambda: server.live() and len(server.live()[0].streams) == 2)
            await manager.unsubscribe(["ETHUSDT"])
            await wait_until(lambda: server.live()[0].streams == ["trades:BTCUSDT"])
            assert manager.active_symbols == {"BTCUSDT"}
            assert list(manager.metrics.connections[0].subscriptions) == ["trades:BTCUSDT"]
            await manager.subscribe(["XRPUSDT"])
            await server.wait_streams(2)
            assert manager.connection_count == 1
            await server.push("XRPUSDT", 1)
            await wait_until(lambda: len(events) == 1)


async def test_close_leaves_no_task_or_socket():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        strategy_holder = []
        manager = make_manager(server.url, events, errors, max_per_conn=2, stale=5, ping=0.05, keep_alive=0.05)
        strategy_holder.append(manager.connection_strategy)
        await manager.initialize(symbols(5))
        assert len(own_tasks()) > 0
        await manager.close()
        assert own_tasks() == set()
        assert all(c.state == ConnectionState.CLOSED.value for c in manager.metrics.connections) or \
            manager.metrics.connections == []
        assert strategy_holder[0].closed
        await wait_until(lambda: server.live() == [])
        with pytest.raises(Exception, match="closed"):
            await manager.subscribe(["X"])


async def test_ping_and_keep_alive_run_on_schedule():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors, ping=0.05, keep_alive=0.05) as manager:
            await manager.initialize(["BTCUSDT"])
            await wait_until(lambda: server.live() and
                             sum(json.loads(m)["op"] == "ping" for m in server.live()[0].received) >= 3)
            await wait_until(lambda: manager.connection_strategy.keep_alives >= 3)


async def test_rejected_auth_backs_off():
    events, errors = [], []
    policy = ReconnectPolicy(base_delay=0.2, max_delay=1.0, jitter=0.0)
    async with asyncio.timeout(10), ScriptedServer() as server:
        manager = make_manager(server.url, events, errors, auth_ok=False, policy=policy)
        manager.config.initialize_timeout = 1.0
        with pytest.raises(ConnectionFailedError, match="not connected within"):
            await manager.initialize(["BTCUSDT"])
        # within ~1s of backoff 0, 0.2, 0.4 only a handful of attempts, never a tight loop
        assert 2 <= manager.connection_strategy.auth_attempts <= 5
        assert own_tasks() == set()


async def test_unreachable_exchange_gives_clear_error():
    events, errors = [], []
    manager = make_manager("ws://127.0.0.1:9/ws", events, errors)
    manager.config.initialize_timeout = 0.5
    async with asyncio.timeout(10):
        with pytest.raises(ConnectionFailedError, match="cannot connect to ws://127.0.0.1:9/ws"):
            await manager.initialize(["BTCUSDT"])
    assert own_tasks() == set()


async def test_failed_subscription_is_tracked():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT"])
            await wait_until(lambda: manager.metrics.connections[0].subscriptions["trades:BTCUSDT"]
                             == SubscriptionState.CONFIRMED.value)
            await server.send_raw(json.dumps({"op": "error", "args": ["trades:BTCUSDT"], "msg": "Blocked"}))
            await wait_until(lambda: manager.metrics.connections[0].subscriptions["trades:BTCUSDT"]
                             == SubscriptionState.FAILED.value)
    assert any("Blocked" in str(e) for e in errors)


async def test_parse_message_compat_generator():
    parser = JsonTestParser()
    out = [e async for e in parser.parse_message(json.dumps({"s": "X", "n": 7}))]
    assert out == [{"symbol": "X", "seq": 7, "recv_ns": 0}]


async def test_unacknowledged_subscription_is_reported():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        server.ack = False
        async with make_manager(server.url, events, errors, subscribe_timeout=0.2) as manager:
            await manager.initialize(["BTCUSDT", "ETHUSDT"])
            await wait_until(lambda: any("no acknowledgement" in str(e) for e in errors))
            assert manager.metrics.connections[0].subscriptions == {
                "trades:BTCUSDT": "pending", "trades:ETHUSDT": "pending"}
    text = [str(e) for e in errors if "no acknowledgement" in str(e)]
    assert len(text) == 1 and "trades:BTCUSDT" in text[0] and "trades:ETHUSDT" in text[0]


async def test_acknowledged_subscription_is_not_reported():
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(server.url, events, errors, subscribe_timeout=0.2) as manager:
            await manager.initialize(["BTCUSDT"])
            await asyncio.sleep(0.4)
    assert errors == []
