"""OKX end to end on the simulator under the fault matrix, wrong checksums and rejected login.

Every BookUpdate equals the simulator's true book at its seqId (whole book), through and after each fault;
recovery is in band (the manager resubscribes the book channel). The REST faults (slow / stale snapshots) do
not apply: OKX books carry their own snapshots.
"""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fault_matrix_kit import (  # noqa: E402
    FAULTS, REST_SNAPSHOT_FAULTS, Checker, book_sides, build, no_feedhandler_tasks, run_fault_case, run_unsubscribe_case,
    true_sides, wait_for,
)

from feedhandler import ChannelType  # noqa: E402
from feedhandler.events import BalanceUpdate, BookTicker, Fill, Kline, OrderUpdate, Trade  # noqa: E402
from feedhandler.exchanges.okx.sim_protocol import SIM_PASSPHRASE  # noqa: E402
from feedhandler.sim import SimExchange  # noqa: E402

INST = "BTC-USDT"
KEY, SECRET = "sim-api-key", "sim-api-secret"
STREAM_FAULTS = sorted(f for f in FAULTS if f not in REST_SNAPSHOT_FAULTS)


@pytest.mark.parametrize("fault", STREAM_FAULTS)
async def test_book_recovers_to_truth_after_fault(fault):
    async with asyncio.timeout(30), SimExchange("okx", [INST], seed=7, rate=150, levels=40) as sim:
        stats = await run_fault_case("okx", sim, [INST], fault)
    assert stats["books"][INST]["integrity_failures"] == 0
    assert stats["books"][INST]["integrity_checks"] > 10   # every push carries a checksum, all verified


async def test_unsubscribe_with_frames_in_flight_closes_the_book():
    async with asyncio.timeout(30), SimExchange("okx", [INST, "ETH-USDT"], seed=7, rate=150, levels=40) as sim:
        await run_unsubscribe_case("okx", sim, [INST, "ETH-USDT"])


async def test_wrong_checksums_invalidate_and_recover_in_band():
    async with asyncio.timeout(30), SimExchange("okx", [INST], seed=8, rate=150, levels=40) as sim:
        checker = Checker(sim)
        manager, parser = build("okx", sim, checker)
        async with manager:
            await manager.initialize([INST])
            sync = parser.books[INST] if INST in parser.books else None
            await wait_for(lambda: INST in parser.books and parser.books[INST].is_valid, "first snapshot")
            sim.protocol.wrong_checksum_probability = 0.05
            await wait_for(lambda: any(not v and r.startswith("checksum mismatch") for _, v, r in checker.statuses),
                           "a checksum mismatch")
            sim.protocol.wrong_checksum_probability = 0.0
            mark = checker.updates
            sync = parser.books[INST]
            await wait_for(lambda: sync.is_valid and checker.updates > mark + 10
                           and sync.book.last_update_id >= sim.model.last_update_id(INST) - 30, "recovery")
            assert book_sides(sync.book) == true_sides(sim, INST, sync.book.last_update_id)
            assert sync.integrity_failures >= 1 and manager.metrics.book_recoveries >= 1
            assert sim.stats.connections_accepted == 1   # recovered by resubscribing, not by reconnecting
        assert not no_feedhandler_tasks()
    assert sim.protocol.wrong_checksums >= 1
    assert checker.mismatches == []     # no BookUpdate of a state whose checksum disagreed
    assert [v for s, v, _ in checker.statuses if s == INST][-1] is True


async def test_trades_and_bbo_match_the_model():
    async with asyncio.timeout(30), SimExchange("okx", [INST], seed=9, rate=200, levels=20) as sim:
        checker = Checker(sim)
        manager, parser = build("okx", sim, checker, channels=[ChannelType.TRADES, ChannelType.BOOK_TICKER])
        async with manager:
            await manager.initialize([INST])
            await wait_for(lambda: sum(isinstance(e, Trade) for e in checker.events) >= 20
                           and sum(isinstance(e, BookTicker) for e in checker.events) >= 20, "trades and bbo")
        assert not no_feedhandler_tasks()
    for ev in checker.events:
        if isinstance(ev, BookTicker):
            true = sim.model.true_book(INST, ev.update_id)
            assert (ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty) == (*true.bids[0], *true.asks[0])
        elif isinstance(ev, Trade):
            assert ev.symbol == INST and ev.price > 0 and ev.qty > 0 and ev.trade_id >= 0
    assert checker.errors == []


async def test_candles_ride_their_own_business_connection():
    # OKX serves candles on /ws/v5/business only (the simulator refuses them elsewhere, code 60018, as OKX
    # does): the manager keeps them on a connection of their own, the books on /ws/v5/public
    async with asyncio.timeout(30), SimExchange("okx", [INST], seed=11, rate=200, levels=20) as sim:
        checker = Checker(sim)
        manager, parser = build("okx", sim, checker, channels=[ChannelType.ORDERBOOK, ChannelType.KLINE])
        async with manager:
            await manager.initialize([INST])
            await wait_for(lambda: sum(isinstance(e, Kline) for e in checker.events) >= 5 and checker.updates > 10,
                           "candles and book updates")
            conns = {c.endpoint: c for c in manager._connections}
            assert sorted(conns) == ["", "business"]
            assert conns[""].context.url.endswith("/ws/v5/public") and sorted(conns[""].subscriptions) == [
                "books:" + INST]
            assert conns["business"].context.url.endswith("/ws/v5/business")
            assert sorted(conns["business"].subscriptions) == ["candle1m:" + INST]
            assert parser.books[INST].is_valid
        assert not no_feedhandler_tasks()
    klines = [e for e in checker.events if isinstance(e, Kline)]
    assert all(k.symbol == INST and k.interval == "1m" and k.close_time_ns - k.open_time_ns == 60 * 10**9
               and k.low <= min(k.open, k.close) <= max(k.open, k.close) <= k.high and k.volume > 0 for k in klines)
    assert checker.mismatches == [] and checker.errors == []


@pytest.mark.parametrize("secret,ok", [(SECRET, True), ("wrong-secret", False)])
async def test_private_login_then_orders_fills_balances(secret, ok):
    async with asyncio.timeout(30), SimExchange("okx", [INST], seed=5, rate=50, levels=10) as sim:
        checker = Checker(sim)
        manager, parser = build("okx", sim, checker, is_private=True, api_key=KEY, secret_key=secret,
                                passphrase=SIM_PASSPHRASE,
                                channels=[ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES])
        async with manager:
            if ok:
                await manager.initialize([INST])
                await wait_for(lambda: {type(e) for e in checker.events} >= {OrderUpdate, Fill, BalanceUpdate},
                               "private pushes")
            else:
                with pytest.raises(Exception):
                    await manager.initialize([INST])
                assert sim.stats.auth_rejected >= 1
                assert checker.events == []
        assert not no_feedhandler_tasks()
    assert all(secret not in str(e) and SIM_PASSPHRASE not in str(e) for e in checker.errors)
    assert secret not in repr(manager.connection_strategy) and SIM_PASSPHRASE not in repr(manager.connection_strategy)
    if ok:
        o = next(e for e in checker.events if isinstance(e, OrderUpdate))
        f = next(e for e in checker.events if isinstance(e, Fill))
        b = next(e for e in checker.events if isinstance(e, BalanceUpdate))
        assert (o.symbol, o.status, o.qty, o.filled_qty) == (INST, "partially_filled", 1.5, 0.5)
        assert (f.qty, f.fee, f.is_maker) == (0.5, -0.0005, True)
        assert (b.asset, b.free, b.locked) == ("USDT", 99.0, 1.5)
