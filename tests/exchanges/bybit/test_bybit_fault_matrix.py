"""Bybit v5 end to end on the simulator under every fault of the matrix, and the private side's auth.

Books: every BookUpdate equals the simulator's true book at its update id (whole book), through and after
each fault. Bybit books have no REST snapshot: a gap (skipped, truncated or reordered pushes) is recovered
in-band by resubscribing the topic; the snapshot faults act on the in-band snapshot sent after the ack.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fault_matrix_kit import (  # noqa: E402
    FAULTS, REST_SNAPSHOT_FAULTS, Checker, build, no_feedhandler_tasks, run_fault_case, run_unsubscribe_case, wait_for,
)

from feedhandler import ChannelType  # noqa: E402
from feedhandler.core.errors import AuthenticationError  # noqa: E402
from feedhandler.events import BalanceUpdate, BookTicker, Fill, OrderUpdate, Ticker, Trade  # noqa: E402
from feedhandler.sim import SimExchange  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
KEY, SECRET = "sim-api-key", "sim-api-secret"
# the REST snapshot faults have in-band counterparts below (Bybit has no REST book)
MATRIX = sorted(f for f in FAULTS if f not in REST_SNAPSHOT_FAULTS)


@pytest.mark.parametrize("fault", MATRIX)
async def test_book_recovers_to_truth_after_fault(fault):
    # one book for reorder: a swap of two of its deltas is always a gap (two books' frames may swap harmlessly)
    symbols = SYMBOLS[:1] if fault == "reorder" else SYMBOLS
    async with asyncio.timeout(30), SimExchange("bybit", symbols, seed=11, rate=150) as sim:
        await run_fault_case("bybit", sim, symbols, fault)


async def test_unsubscribe_with_frames_in_flight_closes_the_book():
    async with asyncio.timeout(30), SimExchange("bybit", SYMBOLS, seed=8, rate=150) as sim:
        await run_unsubscribe_case("bybit", sim, SYMBOLS)


def private_frame_check(ev, raw) -> str | None:
    """Each private event against an independent json.loads + float() decode of its frame."""
    msg = json.loads(bytes(raw) if not isinstance(raw, str) else raw)
    d = msg["data"]
    if isinstance(ev, OrderUpdate):
        [o] = d
        want = (o["symbol"], o["orderId"], o["orderLinkId"], o["orderStatus"], o["orderType"], float(o["price"]),
                float(o["qty"]), float(o["cumExecQty"]), int(o["updatedTime"]) * 10**6)
        got = (ev.symbol, ev.order_id, ev.client_order_id, ev.status, ev.order_type, ev.price, ev.qty,
               ev.filled_qty, ev.exchange_ts_ns)
        ok = got == want and ev.avg_price != ev.avg_price   # "" avgPrice: NaN
    elif isinstance(ev, Fill):
        [f] = d
        want = (f["symbol"], f["orderId"], f["execId"], float(f["execPrice"]), float(f["execQty"]),
                float(f["execFee"]), f["feeCurrency"], f["isMaker"], int(f["execTime"]) * 10**6)
        got = (ev.symbol, ev.order_id, ev.trade_id, ev.price, ev.qty, ev.fee, ev.fee_asset, ev.is_maker,
               ev.exchange_ts_ns)
        ok = got == want
    elif isinstance(ev, BalanceUpdate):
        coins = {c["coin"]: c for c in d[0]["coin"]}
        c = coins[ev.asset]
        want = (float(c["walletBalance"]) - float(c["locked"]), float(c["locked"]))
        got = (ev.free, ev.locked)
        ok = got == want
    else:
        return f"unexpected event {ev!r}"
    return None if ok else f"{type(ev).__name__}: {got} != {want}"


PRIVATE = [ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES]


async def test_private_auth_then_orders_fills_balances():
    async with asyncio.timeout(30), SimExchange("bybit", SYMBOLS, seed=3, rate=50) as sim:
        checker = Checker(sim, private_frame_check)
        manager, parser = build("bybit", sim, checker, is_private=True, api_key=KEY, secret_key=SECRET,
                                channels=PRIVATE)
        async with manager:
            await manager.initialize(SYMBOLS)
            await wait_for(lambda: {type(e) for e in checker.events} >= {OrderUpdate, Fill, BalanceUpdate},
                           "private pushes")
            subs = manager.metrics.connections[0].subscriptions
            assert subs == {"order": "confirmed", "execution": "confirmed", "wallet": "confirmed"}, subs
        assert not no_feedhandler_tasks()
        assert checker.frame_mismatches == [] and checker.errors == [], (checker.frame_mismatches, checker.errors)
        assert sum(isinstance(e, BalanceUpdate) for e in checker.events) == 2   # one per coin of the push
        conn = sim.connections[0]
        assert conn.path == "/v5/private" and conn.authenticated
        auth = json.loads(conn.stats.messages_received[0])
        assert auth["op"] == "auth" and auth["args"][0] == KEY and SECRET not in conn.stats.messages_received[0]
        assert SECRET not in repr(manager.connection_strategy) and SECRET not in repr(manager.subscription_strategy)


async def test_rejected_auth_reports_backs_off_and_recovers():
    async with asyncio.timeout(30), SimExchange("bybit", SYMBOLS, seed=4, rate=50) as sim:
        sim.faults.reject_auth = True
        checker = Checker(sim, private_frame_check)
        manager, parser = build("bybit", sim, checker, is_private=True, api_key=KEY, secret_key=SECRET,
                                channels=PRIVATE)
        async with manager:
            await manager.initialize(SYMBOLS)
            await wait_for(lambda: sum(isinstance(e, AuthenticationError) for e in checker.errors) >= 3,
                           "rejections reported")
            assert checker.events == []
            assert sim.stats.auth_rejected >= 3 and sim.stats.connections_accepted >= 3
            assert all(SECRET not in str(e) for e in checker.errors)
            sim.faults.clear()
            await wait_for(lambda: {type(e) for e in checker.events} >= {OrderUpdate, Fill, BalanceUpdate},
                           "private pushes after the fault")
        assert not no_feedhandler_tasks()
        assert checker.frame_mismatches == []


async def test_stale_inband_snapshot_is_refused_then_recovers():
    """The in-band counterpart of a stale REST snapshot: the snapshot after the ack is older than the deltas
    that follow, so the first delta is a gap; the manager resubscribes (with backoff) until a good one comes."""
    async with asyncio.timeout(30), SimExchange("bybit", SYMBOLS, seed=12, rate=150) as sim:
        sim.faults.stale_snapshot_ids = 10_000
        checker = Checker(sim)
        manager, parser = build("bybit", sim, checker)
        async with manager:
            await manager.initialize(SYMBOLS)
            await wait_for(lambda: all(s in parser.books and parser.books[s].stats()["gaps"] >= 2 for s in SYMBOLS)
                           and manager.metrics.book_recoveries >= 2 * len(SYMBOLS), "stale snapshots refused")
            assert not any(parser.books[s].is_valid and parser.books[s].stats()["applied"] for s in SYMBOLS)
            sim.faults.clear()
            mark = checker.updates
            await wait_for(lambda: checker.updates >= mark + 10 and all(
                parser.books[s].is_valid and parser.books[s].book.last_update_id >= sim.model.last_update_id(s) - 30
                for s in SYMBOLS), "recovery after stale snapshots")
        assert not no_feedhandler_tasks()
        assert checker.mismatches == [], checker.mismatches[:5]
        assert any("gap" in r for _, _, r in checker.invalid)
