"""Binance end to end under every fault of the sync issue, depth stream only, plus rejected auth.

Depth only on the connection (no trade/ticker frames), so every reordered, duplicated or lost frame hits
the one book: a reorder must surface as a gap and be recovered. Every BookUpdate equals the simulator's
true book at its update id (whole book), through and after each fault.
"""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fault_matrix_kit import (  # noqa: E402
    FAULTS, Checker, build, no_feedhandler_tasks, run_fault_case, run_unsubscribe_case, wait_for,
)

from feedhandler import ChannelType  # noqa: E402
from feedhandler.core.errors import AuthenticationError  # noqa: E402
from feedhandler.events import Fill  # noqa: E402
from feedhandler.sim import SimExchange  # noqa: E402

KEY, SECRET = "sim-api-key", "sim-api-secret"


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_book_recovers_to_truth_after_fault(fault):
    async with asyncio.timeout(30), SimExchange("binance", ["BTCUSDT"], seed=7, rate=150) as sim:
        stats = await run_fault_case("binance", sim, ["BTCUSDT"], fault, book_depth=200)
        if fault == "reorder":
            # the swapped deltas were detected as a gap and the book was re-synced from a new snapshot
            assert sum(b.get("gaps", 0) for b in stats["books"].values()) >= 1, stats["books"]


async def test_unsubscribe_with_frames_in_flight_closes_the_book():
    async with asyncio.timeout(30), SimExchange("binance", ["BTCUSDT", "ETHUSDT"], seed=8, rate=150) as sim:
        await run_unsubscribe_case("binance", sim, ["BTCUSDT", "ETHUSDT"], book_depth=200)


async def test_rejected_auth_reports_backs_off_then_recovers():
    async with asyncio.timeout(30), SimExchange("binance", ["BTCUSDT"], seed=4, rate=100, levels=10) as sim:
        sim.faults.reject_auth = True
        checker = Checker(sim)
        manager, parser = build("binance", sim, checker, is_private=True, api_key=KEY, secret_key=SECRET,
                                channels=[ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES])
        async with manager:
            await manager.initialize(["BTCUSDT"])
            rejected = lambda: [e for e in checker.errors if isinstance(e, AuthenticationError)]  # noqa: E731
            await wait_for(lambda: len(rejected()) >= 2, "rejections reported")
            assert checker.events == []
            # each rejection says what happened (the error code), then the connection is retried
            assert all("-1022" in str(e) for e in rejected()), rejected()
            assert all(SECRET not in str(e) for e in checker.errors)
            sim.faults.clear()
            # the next (re-signed) attempt is accepted and the account's fills arrive
            await wait_for(lambda: any(isinstance(e, Fill) for e in checker.events), "fills after the fault")
        assert not no_feedhandler_tasks()
        assert sum(r["ok"] for r in sim.protocol.signed_requests) >= 1
        assert sum(not r["ok"] for r in sim.protocol.signed_requests) >= 2
