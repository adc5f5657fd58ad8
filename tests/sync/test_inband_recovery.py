"""In-band book recovery by the manager itself: a gap on a stream that carries its own snapshots
(Gate.io ``spot.obu`` here) is recovered by unsubscribing and subscribing that book channel again,
with backoff, without any user wiring; every book handed out equals the simulator's true book."""
from __future__ import annotations

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "exchanges"))
from fault_matrix_kit import Checker, book_sides, build, no_feedhandler_tasks, true_sides, wait_for  # noqa: E402

from feedhandler.sim import SimExchange  # noqa: E402

PAIR = "BTC_USDT"


def _obu_requests(sim: SimExchange) -> list[str]:
    return [json.loads(m)["event"] for c in sim.connections for m in c.stats.messages_received
            if '"spot.obu"' in m]


async def test_gateio_obu_gap_recovers_in_band_without_user_wiring():
    async with asyncio.timeout(30), SimExchange("gateio", [PAIR], seed=11, rate=150, levels=20) as sim:
        checker = Checker(sim)
        manager, parser = build("gateio", sim, checker, book_channel="obu")
        async with manager:
            await manager.initialize([PAIR])
            obu = parser.obu_books
            await wait_for(lambda: PAIR in obu and obu[PAIR].is_valid, "first obu snapshot")
            sim.faults.gap_probability = 0.05
            await wait_for(lambda: any(not v and "gap" in r for _, v, r in checker.statuses), "a gap")
            sim.faults.clear()
            mark = checker.updates
            await wait_for(lambda: obu[PAIR].is_valid and checker.updates > mark + 10
                           and obu[PAIR].book.last_update_id >= sim.model.last_update_id(PAIR) - 30, "recovery")
            sync = obu[PAIR]
            assert book_sides(sync.book) == true_sides(sim, PAIR, sync.book.last_update_id)
            assert manager.metrics.book_recoveries >= 1
            # recovered on the same connection: an unsubscribe then a subscribe of the obu stream, no reconnect
            assert sim.stats.connections_accepted == 1
            events = _obu_requests(sim)
            assert events[0] == "subscribe" and "unsubscribe" in events
            k = events.index("unsubscribe")
            assert events[k + 1] == "subscribe"
            assert parser.stats()["errors_by_kind"] == {}
        assert not no_feedhandler_tasks()
    assert checker.mismatches == [], checker.mismatches[:5]
    assert [v for s, v, _ in checker.statuses if s == PAIR][-1] is True


async def test_repeated_gaps_are_recovered_with_backoff():
    """Gaps on every other frame for a second: resubscriptions are paced by config.reconnect, then the book recovers."""
    async with asyncio.timeout(30), SimExchange("gateio", [PAIR], seed=12, rate=200, levels=20) as sim:
        checker = Checker(sim)
        manager, parser = build("gateio", sim, checker, book_channel="obu")   # FAST: 0, 20, 40, 80, 160, 200 ms...
        async with manager:
            await manager.initialize([PAIR])
            obu = parser.obu_books
            await wait_for(lambda: PAIR in obu and obu[PAIR].is_valid, "first obu snapshot")
            sim.faults.gap_probability = 0.5
            await asyncio.sleep(1.0)
            sim.faults.clear()
            gaps = obu[PAIR].gaps
            recoveries = manager.metrics.book_recoveries
            await wait_for(lambda: obu[PAIR].is_valid and obu[PAIR].book.last_update_id
                           >= sim.model.last_update_id(PAIR) - 30, "recovery")
            assert book_sides(obu[PAIR].book) == true_sides(sim, PAIR, obu[PAIR].book.last_update_id)
        assert not no_feedhandler_tasks()
    # ~100 gapped frames, but at most one resubscription per backoff step (capped at 0.2 s)
    assert gaps >= 3 and 2 <= recoveries <= 12, (gaps, recoveries)
    assert checker.mismatches == []
