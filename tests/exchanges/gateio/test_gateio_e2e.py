"""End to end: the Gate.io strategies and a real WebSocketManager against the simulator (127.0.0.1)."""
from __future__ import annotations

import asyncio

import pytest

from feedhandler.core.errors import SubscriptionError
from feedhandler.core.factory import WebSocketStrategyFactory
from feedhandler.core.manager import WebSocketManager
from feedhandler.core.types import ChannelType, ReconnectPolicy, WebSocketManagerConfig
from feedhandler.events.events import BalanceUpdate, BookStatus, BookUpdate, Fill, OrderUpdate, Trade
from feedhandler.exchanges.gateio import resubscribe_obu_on_gap
from feedhandler.sim.faults import FaultConfig
from feedhandler.sim.server import SimExchange

PAIRS = ["BTC_USDT", "ETH_USDT"]


class Checker:
    """Compares every BookUpdate with the simulator's true book at the same update id."""

    def __init__(self, sim: SimExchange):
        self.sim = sim
        self.checked = 0
        self.mismatches: list[str] = []
        self.statuses: list[tuple[str, bool, str]] = []
        self.trades = 0
        self.errors: list[BaseException] = []

    def on_event(self, ev) -> None:
        if isinstance(ev, BookUpdate):
            d = ev.book.to_dict()
            true = self.sim.model.true_book(ev.symbol, ev.last_update_id)
            if d["bids"] != true.bids or d["asks"] != true.asks:
                self.mismatches.append(f"{ev.symbol}@{ev.last_update_id}")
            self.checked += 1
        elif isinstance(ev, BookStatus):
            self.statuses.append((ev.symbol, ev.valid, ev.reason))
        elif isinstance(ev, Trade):
            self.trades += 1

    def on_error(self, err: BaseException) -> None:
        self.errors.append(err)


def _config(**kw) -> WebSocketManagerConfig:
    return WebSocketManagerConfig("gateio", reconnect=ReconnectPolicy(base_delay=0.05, max_delay=0.2),
                                  stale_timeout=kw.pop("stale_timeout", 5.0), initialize_timeout=5.0, **kw)


async def _run_until(sim: SimExchange, cond, steps_max: int = 3000) -> None:
    for _ in range(steps_max):
        if cond():
            return
        await sim.pump(1)
        await asyncio.sleep(0.002)
    raise AssertionError("condition not reached")


def _synced(parser, sim, group="books") -> bool:
    books = getattr(parser, group)
    for p in PAIRS:
        if p not in books or not books[p].is_valid:
            return False
        d = books[p].book.to_dict()
        true = sim.model.true_book(p, d["last_update_id"])
        if d["bids"] != true.bids or d["asks"] != true.asks:
            return False
    return True


async def test_order_book_update_with_frame_faults_stays_exact():
    faults = FaultConfig(seed=3, gap_probability=0.03, duplicate_probability=0.03, reorder_probability=0.03,
                         garbage_probability=0.03, truncate_probability=0.03, stale_snapshot_ids=2)
    async with asyncio.timeout(30):
        async with SimExchange("gateio", PAIRS, seed=1, faults=faults, full_snapshot_every=9, levels=30) as sim:
            conn, sub, parser = WebSocketStrategyFactory.create_strategies(
                "gateio", ws_url=sim.ws_url, rest_url=sim.rest_url)
            chk = Checker(sim)
            mgr = WebSocketManager(_config(channel_types=[ChannelType.ORDERBOOK, ChannelType.TRADES]),
                                   conn, sub, parser, chk.on_event, chk.on_error)
            async with mgr:
                await mgr.initialize(PAIRS)
                await _run_until(sim, lambda: chk.checked >= 300)
                sim.faults.clear()
                await _run_until(sim, lambda: _synced(parser, sim))
                assert mgr.metrics.parse_errors > 0  # garbage and truncated frames were refused, counted
            assert chk.mismatches == []
            assert any(not valid and "gap" in reason for _, valid, reason in chk.statuses)
            assert any(valid for _, valid, _ in chk.statuses)
            assert chk.trades > 0
            assert sum(parser.books[p].gaps for p in PAIRS) > 0
            assert parser.stats()["parse_errors"] > 0
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("feedhandler")] == []


async def test_drop_and_silence_reconnect_and_resync():
    async with asyncio.timeout(30):
        async with SimExchange("gateio", PAIRS, seed=2, levels=20, rest_port=0) as sim:
            conn, sub, parser = WebSocketStrategyFactory.create_strategies(
                "gateio", ws_url=sim.ws_url, rest_url=sim.rest_url)
            chk = Checker(sim)
            mgr = WebSocketManager(_config(stale_timeout=0.5), conn, sub, parser, chk.on_event, chk.on_error)
            async with mgr:
                await mgr.initialize(PAIRS)
                await _run_until(sim, lambda: _synced(parser, sim))
                sim.faults.drop_after_frames = 15
                await _run_until(sim, lambda: mgr.metrics.reconnects >= 1)
                sim.faults.drop_after_frames = None
                await _run_until(sim, lambda: _synced(parser, sim) and mgr.is_connected)
                before = mgr.metrics.reconnects
                sim.faults.silence(1.0)
                await _run_until(sim, lambda: mgr.metrics.reconnects > before)
                await asyncio.sleep(1.0)
                await _run_until(sim, lambda: _synced(parser, sim) and mgr.is_connected)
            assert chk.mismatches == []
            assert any(not valid and reason == "connection lost" for _, valid, reason in chk.statuses)
            assert any("no frame" in str(e) for e in chk.errors)


async def test_obu_snapshot_first_and_resubscribe_on_gap():
    async with asyncio.timeout(30):
        async with SimExchange("gateio", PAIRS[:1], seed=4, levels=20, faults=FaultConfig(seed=1)) as sim:
            conn, sub, parser = WebSocketStrategyFactory.create_strategies(
                "gateio", ws_url=sim.ws_url, rest_url=sim.rest_url, book_channel="obu")
            chk = Checker(sim)
            mgr = WebSocketManager(_config(), conn, sub, parser, chk.on_event, chk.on_error)
            resubscribe_obu_on_gap(mgr, parser)
            async with mgr:
                await mgr.initialize(PAIRS[:1])
                ok = lambda: PAIRS[0] in parser.obu_books and parser.obu_books[PAIRS[0]].is_valid
                await _run_until(sim, ok)
                sim.faults.gap_probability = 0.2
                gap_seen = lambda: any(not v and "gap" in r for _, v, r in chk.statuses)
                await _run_until(sim, gap_seen)
                sim.faults.gap_probability = 0.0
                await _run_until(sim, lambda: ok() and _exact_obu(parser, sim))
            assert chk.mismatches == [] and chk.checked > 0
            assert parser.stats()["errors_by_kind"] == {}
            # recovered by resubscribing: the stream was subscribed again (with one pair per connection the
            # manager's unsubscribe closes the emptied connection, so the new subscribe comes on a new one)
            sent = [m for c in sim.connections for m in c.stats.messages_received if "spot.obu" in m]
            assert sum('"event":"subscribe"' in m for m in sent) >= 2


def _exact_obu(parser, sim) -> bool:
    d = parser.obu_books[PAIRS[0]].book.to_dict()
    true = sim.model.true_book(PAIRS[0], d["last_update_id"])
    return d["bids"] == true.bids and d["asks"] == true.asks


@pytest.mark.parametrize("secret,ok", [("sim-api-secret", True), ("wrong-secret", False)])
async def test_private_channels_signature(secret, ok):
    async with asyncio.timeout(20):
        async with SimExchange("gateio", PAIRS[:1], seed=5, levels=10) as sim:
            conn, sub, parser = WebSocketStrategyFactory.create_strategies(
                "gateio", True, ws_url=sim.ws_url, api_key="sim-api-key", secret_key=secret)
            got: list = []
            errors: list[BaseException] = []
            cfg = _config(is_private=True, channel_types=[ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES])
            mgr = WebSocketManager(cfg, conn, sub, parser, lambda e: got.append(e.copy()), errors.append)
            async with mgr:
                await mgr.initialize(PAIRS[:1])
                for _ in range(200):
                    if len(got) >= 3 or len(errors) >= 3:
                        break
                    await asyncio.sleep(0.01)
                subs = mgr.metrics.connections[0].subscriptions
            if ok:
                assert {type(e) for e in got} == {OrderUpdate, Fill, BalanceUpdate}
                assert all(v == "confirmed" for v in subs.values()), subs
                assert not errors
            else:
                assert got == []
                assert all(v == "failed" for v in subs.values()), subs
                assert any(isinstance(e, SubscriptionError) and "code 4" in str(e) for e in errors)
                assert all("wrong-secret" not in str(e) for e in errors)
