"""MEXC end to end: real WebSocketManager + strategies from the factory + the simulator's mexc protocol."""
from __future__ import annotations

import asyncio
import hashlib
import hmac

import pytest

from feedhandler import ChannelType, ReconnectPolicy, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.core.errors import AuthenticationError
from feedhandler.events import BalanceUpdate, BookStatus, BookUpdate, Fill, OrderUpdate, Trade
from feedhandler.sim import SimExchange

FAST = ReconnectPolicy(base_delay=0.05, max_delay=0.3, jitter=0.0)
KEY, SECRET = "sim-api-key", "sim-api-secret"


def sides(book):
    d = book.to_dict()
    return [tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]


class Checker:
    def __init__(self, sim):
        self.sim = sim
        self.updates = 0
        self.mismatches: list[str] = []
        self.statuses: list[tuple[str, bool, str]] = []
        self.errors: list[BaseException] = []
        self.events: list = []

    def __call__(self, ev):
        if isinstance(ev, BookUpdate):
            self.updates += 1
            t = self.sim.model.true_book(ev.symbol, ev.last_update_id)
            if sides(ev.book) != ([tuple(x) for x in t.bids], [tuple(x) for x in t.asks]):
                self.mismatches.append(f"{ev.symbol}@{ev.last_update_id}")
        elif isinstance(ev, BookStatus):
            self.statuses.append((ev.symbol, ev.valid, ev.reason))
        else:
            self.events.append(ev.copy())


async def run_public(sim, checker, symbols, faults_on=None, duration=1.2, stale=0.0, channels=None):
    conn, sub, parser = WebSocketStrategyFactory.create_strategies("mexc", False, ws_url=sim.ws_url,
                                                                   rest_url=sim.rest_url, speed="10ms")
    config = WebSocketManagerConfig("mexc", channel_types=channels or [ChannelType.ORDERBOOK], reconnect=FAST,
                                    stale_timeout=stale, initialize_timeout=5.0, max_frame_size=1 << 20)
    manager = WebSocketManager(config, conn, sub, parser, message_handler=checker,
                               error_handler=checker.errors.append)
    async with manager:
        await manager.initialize(symbols)
        async with asyncio.timeout(10):
            while not all(s in parser.books and parser.books[s].is_valid for s in symbols):
                await asyncio.sleep(0.02)
        if faults_on is not None:
            faults_on(sim.faults)
            await asyncio.sleep(duration)
            sim.faults.clear()
        else:
            await asyncio.sleep(0.5)
        async with asyncio.timeout(10):
            while True:
                await asyncio.sleep(0.05)
                if all(parser.books[s].is_valid and parser.books[s].book.last_update_id
                       >= sim.model.last_update_id(s) - 30 for s in symbols):
                    break
        for s in symbols:
            b = parser.books[s].book
            t = sim.model.true_book(s, b.last_update_id)
            assert sides(b) == ([tuple(x) for x in t.bids], [tuple(x) for x in t.asks])
        stats = parser.stats()
        sent = [m for c in sim.connections for m in c.stats.messages_received]
    assert not [t for t in asyncio.all_tasks()
                if t.get_name().startswith("feedhandler-") and not t.get_name().startswith("feedhandler-sim")]
    assert checker.mismatches == [], checker.mismatches[:5]
    return stats, sent


async def test_public_clean_feed_books_trades_tickers():
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT", "ETHUSDT"], seed=1, rate=100) as sim:
        checker = Checker(sim)
        stats, sent = await run_public(sim, checker, ["BTCUSDT", "ETHUSDT"],
                                       channels=[ChannelType.ORDERBOOK, ChannelType.TRADES, ChannelType.BOOK_TICKER])
        assert checker.updates > 10
        assert [s for s in checker.statuses if not s[1]] == []
        assert any('"spot@public.aggre.depth.v3.api.pb@10ms@BTCUSDT"' in m for m in sent)
        trades = [e for e in checker.events if isinstance(e, Trade)]
        assert trades and all(t.trade_id > 0 and t.side in (1, 2) for t in trades)
        assert stats["errors"] == {"wire": 0, "number": 0, "levels": 0, "symbol": 0, "text": 0}
        assert stats["acks"] >= 1


FAULTS = {
    "drop": (lambda f: setattr(f, "drop_after_frames", 30), "connection lost"),
    "gap": (lambda f: setattr(f, "gap_probability", 0.05), "gap"),
    "duplicate": (lambda f: setattr(f, "duplicate_probability", 0.2), None),
    "reorder": (lambda f: setattr(f, "reorder_probability", 0.1), "gap"),
    "garbage": (lambda f: setattr(f, "garbage_probability", 0.1), None),
    "truncated": (lambda f: setattr(f, "truncate_probability", 0.05), "gap"),
    "stale_snapshot_and_slow_rest": (lambda f: (setattr(f, "stale_snapshot_ids", 20),
                                                setattr(f, "rest_delay", 0.2), setattr(f, "gap_probability", 0.05)),
                                     "gap"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_public_faults_recover_to_true_book(fault):
    switch, reason = FAULTS[fault]
    async with asyncio.timeout(40), SimExchange("mexc", ["BTCUSDT"], seed=7, rate=150) as sim:
        checker = Checker(sim)
        stats, _ = await run_public(sim, checker, ["BTCUSDT"], faults_on=switch)
        if reason is not None:
            invalid = [s for s in checker.statuses if not s[1]]
            assert any(reason in r for _, _, r in invalid), invalid
            assert [v for _, v, _ in checker.statuses][-1] is True
        if fault in ("garbage", "truncated"):
            assert sum(stats["errors"].values()) > 0


async def test_public_silence_reconnects():
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT"], seed=3, rate=100) as sim:
        checker = Checker(sim)
        await run_public(sim, checker, ["BTCUSDT"], stale=0.4, faults_on=lambda f: f.silence(1.0))
        assert sim.stats.connections_accepted >= 2


async def test_subscription_limit_and_acks():
    syms = [f"S{i:02d}USDT" for i in range(31)]
    async with asyncio.timeout(30), SimExchange("mexc", syms, seed=2, rate=5, levels=5) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies("mexc", ws_url=sim.ws_url, rest_url=sim.rest_url)
        assert sub.max_subscriptions_per_connection == 30
        checker = Checker(sim)
        manager = WebSocketManager(WebSocketManagerConfig("mexc", reconnect=FAST, initialize_timeout=5.0),
                                   conn, sub, parser, message_handler=checker, error_handler=checker.errors.append)
        async with manager:
            await manager.initialize(syms)
            assert len(sim.active_connections) == 2  # 31 streams: 30 + 1
            async with asyncio.timeout(5):
                while sum(len(c.subscriptions) for c in sim.active_connections) < 31:
                    await asyncio.sleep(0.02)
            assert not checker.errors
            assert max(len(c.subscriptions) for c in sim.active_connections) == 30
        # the simulator itself refuses the 31st on one connection with MEXC's error shape
        ack = sub.parse_ack('{"id":0,"code":0,"msg":"Not Subscribed successfully! [a,b].  Reason： Blocked!"}')
        assert ack.failed == ["a", "b"] and ack.reason == "Blocked!"
        assert sub.parse_ack('{"id":0,"code":0,"msg":"a,b"}').confirmed == ["a", "b"]


async def test_private_listen_key_flow_events_and_keep_alive():
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT"], seed=5, rate=100) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "mexc", True, ws_url=sim.ws_url, rest_url=sim.rest_url, api_key=KEY, secret_key=SECRET,
            keep_alive_interval=0.3)
        checker = Checker(sim)
        config = WebSocketManagerConfig("mexc", is_private=True, reconnect=FAST, initialize_timeout=5.0,
                                        channel_types=[ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES],
                                        api_key=KEY, secret_key=SECRET)
        manager = WebSocketManager(config, conn, sub, parser, message_handler=checker,
                                   error_handler=checker.errors.append)
        proto = sim.protocol
        async with manager:
            await manager.initialize(["BTCUSDT"])
            assert "listenKey=" in sim.active_connections[0].query.get("listenKey", "") or \
                sim.active_connections[0].query.get("listenKey") in proto.listen_keys
            await asyncio.sleep(1.1)
            kinds = {type(e) for e in checker.events}
            assert {OrderUpdate, Fill, BalanceUpdate} <= kinds
            fills = [e for e in checker.events if isinstance(e, Fill)]
            assert all(f.order_id.startswith("C02__") and f.fee_asset == "USDT" for f in fills)
            puts = [t for m, ok, t in proto.listen_key_log if m == "PUT" and ok]
            assert len(puts) >= 2
            gaps = [b - a for a, b in zip(puts, puts[1:])]
            assert all(0.2 < g < 1.0 for g in gaps), gaps
            # reconnect: a NEW key for the new connection, the old one deleted
            first_key = sim.active_connections[0].query["listenKey"]
            sim.faults.drop_after_frames = 1
            await asyncio.sleep(0.3)
            sim.faults.clear()
            async with asyncio.timeout(5):
                while not sim.active_connections or sim.active_connections[0].query["listenKey"] == first_key:
                    await asyncio.sleep(0.05)
            assert conn.keys_created >= 2
            # every signature is the documented HMAC of the documented string
            for method, total in proto.signed_payloads:
                assert "timestamp=" in total
        assert [m for m, ok, _ in proto.listen_key_log if m == "DELETE" and ok]
        assert not any(KEY in str(e) or SECRET in str(e) for e in checker.errors)
        assert SECRET not in repr(conn) and first_key not in repr(conn)


async def test_private_rejected_signature_backs_off():
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT"], seed=6, rate=50) as sim:
        sim.faults.reject_auth = True
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "mexc", True, ws_url=sim.ws_url, rest_url=sim.rest_url, api_key=KEY, secret_key="wrong-secret")
        errors: list[BaseException] = []
        config = WebSocketManagerConfig("mexc", is_private=True, initialize_timeout=1.0,
                                        reconnect=ReconnectPolicy(base_delay=0.2, max_delay=0.4, jitter=0.0),
                                        channel_types=[ChannelType.ORDERS], api_key=KEY, secret_key="wrong-secret")
        manager = WebSocketManager(config, conn, sub, parser, error_handler=errors.append)
        with pytest.raises(Exception):
            await manager.initialize(["BTCUSDT"])
        await manager.close()
        assert errors and all(isinstance(e, AuthenticationError) for e in errors)
        assert len(errors) <= 6  # ~1 s with 0.2-0.4 s backoff: no tight loop
        assert not any("wrong-secret" in str(e) for e in errors)


def test_signature_is_documented_hmac():
    from feedhandler.exchanges.mexc import MexcRestClient
    client = MexcRestClient("http://127.0.0.1:1", KEY, SECRET, clock_ms=lambda: 1700000000000)
    q = client.signed_query([("listenKey", "abc")])
    payload, sig = q.rsplit("&signature=", 1)
    assert payload == "listenKey=abc&timestamp=1700000000000"
    assert sig == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def test_private_strategy_takes_a_rest_client_as_in_the_migration_guide():
    """``MexcPrivateConnectionStrategy(rest_client)``: the guide's form, listen key from that client."""
    from feedhandler.exchanges.mexc.rest import MexcRestClient
    from feedhandler.exchanges.mexc.strategies import MexcPrivateConnectionStrategy
    from feedhandler.sim import SimExchange

    async with asyncio.timeout(20), SimExchange("mexc", ["BTCUSDT"], seed=3) as sim:
        key, secret = next(iter(sim.credentials.items()))
        rest = MexcRestClient(sim.rest_url, key, secret)
        strategy = MexcPrivateConnectionStrategy(rest, ws_url=sim.ws_url)
        try:
            context = await strategy.create_connection_context()
            assert "listenKey=" in context.url and context.keep_alive_interval == 1800
            assert strategy.keys_created == 1
            assert "listenKey" not in repr(context) or "<redacted>" in repr(context)
        finally:
            await strategy.close()
            await rest.close()
