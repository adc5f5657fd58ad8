"""NatsSink -> real NATS server -> BookFollower, in one process, against the simulator's true book."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from bookcheck import book_digest, true_digest
from feedhandler.bus import BookFollower
from feedhandler.cli.feed import build_manager, parse_channels
from feedhandler.events import BookStatus, BookUpdate, Trade
from feedhandler.sim import SimExchange
from feedhandler.sinks import NatsSink

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
DEPTH = 200


class Recorder:
    """A follower's handler: every BookUpdate checked against the truth when it is delivered."""

    def __init__(self, sim):
        self.sim = sim
        self.updates = 0
        self.wrong: list[tuple[str, int]] = []
        self.statuses: list[tuple[str, bool, str]] = []
        self.trades = 0
        self.last: dict[str, int] = {}

    def __call__(self, ev):
        if isinstance(ev, BookUpdate):
            self.updates += 1
            self.last[ev.symbol] = ev.last_update_id
            if book_digest(ev.book, DEPTH) != true_digest(self.sim, ev.symbol, ev.last_update_id, DEPTH):
                self.wrong.append((ev.symbol, ev.last_update_id))
        elif isinstance(ev, BookStatus):
            self.statuses.append((ev.symbol, ev.valid, ev.reason))
        elif isinstance(ev, Trade):
            self.trades += 1


async def until(cond, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def drive(sim, steps, every=0.005):
    for _ in range(steps):
        await sim.pump(1)
        await asyncio.sleep(every)


@pytest.mark.parametrize("jetstream", [False, True], ids=["core", "jetstream"])
async def test_follower_books_equal_the_true_book(nats_server, jetstream):
    async with SimExchange("binance", SYMBOLS, seed=5, rate=None) as sim:
        rec = Recorder(sim)
        sink = await NatsSink(nats_server.url, depth=DEPTH, jetstream=jetstream, snapshot_interval=0.5).start()
        follower = await BookFollower(nats_server.url, rec, depth=DEPTH, jetstream=jetstream).start()
        manager = build_manager("binance", parse_channels("orderbook,trades"), sink.tap("binance"), print,
                                ws_url=sim.ws_url, rest_url=sim.rest_url)
        async with manager:
            await manager.initialize(SYMBOLS)
            await drive(sim, 150)
            await sim.flush()
            final = {s: sim.model.last_update_id(s) for s in SYMBOLS}
            await until(lambda: all(rec.last.get(s) == final[s] for s in SYMBOLS), what="the follower to catch up")
        await sink.close()
        assert rec.wrong == []
        assert rec.updates >= 150
        assert rec.trades > 0
        assert all(follower.is_valid(s) for s in SYMBOLS)
        for s in SYMBOLS:
            assert book_digest(follower.book(s), DEPTH) == true_digest(sim, s, final[s], DEPTH)
        assert sink.stats()["dropped_batches"] == 0 and follower.decoder.gaps == 0
        await follower.close()


@pytest.mark.parametrize("jetstream", [False, True], ids=["core", "jetstream"])
async def test_late_joiner_recovers_from_the_stream(nats_server, jetstream):
    # core: the next periodic snapshot (0.3 s); JetStream: the replay of the stream (the snapshot
    # interval is long, so only the replayed first snapshot can make it valid)
    interval = 60.0 if jetstream else 0.3
    async with SimExchange("binance", ["BTCUSDT"], seed=6, rate=None) as sim:
        sink = await NatsSink(nats_server.url, depth=DEPTH, jetstream=jetstream, snapshot_interval=interval).start()
        manager = build_manager("binance", parse_channels("orderbook"), sink.tap("binance"), print,
                                ws_url=sim.ws_url, rest_url=sim.rest_url)
        async with manager:
            await manager.initialize(["BTCUSDT"])
            await drive(sim, 40)
            rec = Recorder(sim)
            follower = await BookFollower(nats_server.url, rec, depth=DEPTH, jetstream=jetstream,
                                          replay_seconds=30).start()
            await drive(sim, 100)
            await sim.flush()
            final = sim.model.last_update_id("BTCUSDT")
            await until(lambda: rec.last.get("BTCUSDT") == final, what="the late joiner to be in sync")
        await sink.close()
        assert rec.wrong == []
        assert follower.is_valid("BTCUSDT")
        assert rec.statuses[0][1] is True
        await follower.close()


async def test_follow_command_shows_bus_books(nats_server):
    async with SimExchange("binance", ["BTCUSDT"], seed=8, rate=None) as sim:
        sink = await NatsSink(nats_server.url, depth=50, snapshot_interval=0.2).start()
        manager = build_manager("binance", parse_channels("orderbook"), sink.tap("binance"), print,
                                ws_url=sim.ws_url, rest_url=sim.rest_url)
        async with manager:
            await manager.initialize(["BTCUSDT"])
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "feedhandler", "follow", "--server", nats_server.url, "--format", "json",
                "--depth", "50", "--duration", "4", stdout=subprocess.PIPE)
            await drive(sim, 600, every=0.01)
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        await sink.close()
    assert proc.returncode == 0
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert lines and all(l["symbol"] == "BTCUSDT" and l["best_bid"] < l["best_ask"] for l in lines)


async def test_sink_coalesces_busy_rounds_and_falls_back_to_the_client_when_disconnected(nats_server):
    """One socket write per ``min_write_interval`` while rounds keep coming; every record still arrives
    in order (one follower, no gap); with the connection down, batches go through nats-py (or are
    dropped and counted), never lost silently."""
    from feedhandler.sinks.encoder import SinkTap

    got = []   # trade ids as delivered (the events are pooled: valid only during the call)
    follower = await BookFollower(nats_server.url, lambda ev: got.append(ev.trade_id), channels=["trades"]).start()
    sink = await NatsSink(nats_server.url, min_write_interval=30.0).start()
    tap = SinkTap([sink.encoder("sim")])
    try:
        for i in range(50):                    # 50 loop rounds, one trade each
            tap(Trade(exchange="sim", symbol="X", price=1.0 + i, qty=1.0, side=1, trade_id=i + 1))
            await asyncio.sleep(0)
        assert sink.published == 1             # the first round was written; the rest wait for the interval
        await sink.flush()                     # ... or for a flush: the other 49 rounds in one write
        assert sink.published == 2 and sink.stats()["records"] == 50
        await until(lambda: len(got) == 50, what="50 trades at the follower")
        assert got == list(range(1, 51)) and follower.decoder.gaps == 0
        # connection down: not the direct write; nats-py buffers (bounded) or the loss is counted
        await sink._nc.close()
        tap(Trade(exchange="sim", symbol="X", price=1.0, qty=1.0, side=1, trade_id=51))
        await sink._publish_ready()
        assert sink.publish_errors == 1 and sink.stats()["dropped_records"] == 1
    finally:
        await follower.close()
        sink._nc = None
        await sink.close()
