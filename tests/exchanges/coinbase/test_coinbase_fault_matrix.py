"""Coinbase Advanced Trade end to end on the simulator under every fault of the matrix, and the ``user`` channel.

Books: every BookUpdate (whose id is the frame's ``sequence_num``, mapped back to the model's id by the
simulator) equals the simulator's true book, through and after each fault. A hole in ``sequence_num`` (a
skipped, truncated or reordered frame) invalidates every book of the connection; the manager resubscribes them.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fault_matrix_kit import (  # noqa: E402
    FAULTS, REST_SNAPSHOT_FAULTS, Checker, build, no_feedhandler_tasks, run_fault_case, run_unsubscribe_case, wait_for,
)

from feedhandler import ChannelType  # noqa: E402
from feedhandler.events import OrderUpdate  # noqa: E402
from feedhandler.sim import SimExchange  # noqa: E402

SYMBOLS = ["BTC-USD", "ETH-USD"]
# no REST book on Coinbase: the snapshot faults have no counterpart
# No REST book (the REST-snapshot faults do not apply), and level2 carries no update id of its own: its only
# sequence is the connection's sequence_num, so the wire-id faults (ids restarting, ids past int64) have no
# Coinbase counterpart; a sequence_num gap is the "gap" case.
MATRIX = sorted(f for f in FAULTS if f not in REST_SNAPSHOT_FAULTS | {"id_restart", "ids_past_int64"})
KEY_NAME = "organizations/sim/apiKeys/sim-key"


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize("fault", MATRIX)
async def test_book_recovers_to_truth_after_fault(fault):
    symbols = SYMBOLS[:1] if fault == "reorder" else SYMBOLS
    async with asyncio.timeout(30), SimExchange("coinbase", symbols, seed=21, rate=150) as sim:
        stats = await run_fault_case("coinbase", sim, symbols, fault)
    if fault in ("gap", "truncated", "reorder"):
        assert stats["sequence_gaps"] >= 1, stats
    if fault == "duplicate":
        assert stats["stale_frames"] >= 1, stats


async def test_unsubscribe_with_frames_in_flight_closes_the_book():
    async with asyncio.timeout(30), SimExchange("coinbase", SYMBOLS, seed=21, rate=150) as sim:
        await run_unsubscribe_case("coinbase", sim, SYMBOLS)


def order_check(ev, raw) -> str | None:
    [o] = json.loads(raw)["events"][0]["orders"]
    want = (o["product_id"], o["order_id"], o["client_order_id"], o["status"], o["order_type"],
            float(o["limit_price"]), float(o["cumulative_quantity"]) + float(o["leaves_quantity"]),
            float(o["cumulative_quantity"]), float(o["avg_price"]))
    got = (ev.symbol, ev.order_id, ev.client_order_id, ev.status, ev.order_type, ev.price, ev.qty, ev.filled_qty,
           ev.avg_price)
    return None if got == want else f"{got} != {want}"


async def test_user_channel_with_jwt_then_rejected_jwt():
    pem = _pem()
    async with asyncio.timeout(30), SimExchange("coinbase", SYMBOLS, seed=22, rate=50,
                                                credentials={KEY_NAME: pem}) as sim:
        checker = Checker(sim, order_check)
        manager, _ = build("coinbase", sim, checker, is_private=True, api_key=KEY_NAME, secret_key=pem,
                           channels=[ChannelType.ORDERS])
        async with manager:
            await manager.initialize(SYMBOLS)
            await wait_for(lambda: sum(isinstance(e, OrderUpdate) for e in checker.events) >= 1, "order pushes")
            subs = manager.metrics.connections[0].subscriptions
            assert subs == {"user:BTC-USD": "confirmed", "user:ETH-USD": "confirmed"}, subs
        assert checker.frame_mismatches == [] and checker.errors == [], (checker.frame_mismatches, checker.errors)
        assert sim.stats.auth_accepted >= 1
        # a key the exchange does not know: refused, reported, nothing delivered, the key never shown
        other = _pem()
        checker = Checker(sim, order_check)
        manager, _ = build("coinbase", sim, checker, is_private=True, api_key="organizations/x/apiKeys/y",
                           secret_key=other, channels=[ChannelType.ORDERS])
        async with manager:
            await manager.initialize(SYMBOLS)
            await wait_for(lambda: len(checker.errors) >= 1, "refusal reported")
        assert checker.events == [] and sim.stats.auth_rejected >= 1
        assert any("authentication failure" in str(e) for e in checker.errors), checker.errors
        assert all(other[30:70] not in str(e) for e in checker.errors)
    assert not no_feedhandler_tasks()
