"""Two supervised worker processes replaying recordings into a shared-memory table."""
from __future__ import annotations

import os
import uuid

import orjson
import pytest

from feedhandler.recording import RecordingWriter
from feedhandler.workers import Supervisor, parse_config

N = 300


def write_recording(path, symbol):
    with RecordingWriter(path, {"exchange": "binance", "symbols": [symbol]}) as w:
        w.snapshot(symbol, 1000, [(100.0 - i, 1.0) for i in range(1, 50)], [(101.0 + i, 1.0) for i in range(50)], 1)
        uid = 1001
        for i in range(N):
            data = {"e": "depthUpdate", "E": 1723161255208, "s": symbol, "U": uid, "u": uid,
                    "b": [[f"{99.0 - i % 7:.2f}", f"{1 + i % 5}.5"]], "a": [[f"{102.0 + i % 3:.2f}", "2.0"]]}
            uid += 1
            w.frame(orjson.dumps({"stream": f"{symbol.lower()}@depth@100ms", "data": data}), 2 + i, 0)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this host")
def test_two_workers_replay_every_frame(tmp_path):
    files = []
    for sym in ("AAAUSDT", "BBBUSDT"):
        p = tmp_path / f"{sym}.fhrec"
        write_recording(p, sym)
        files.append(str(p))
    name = f"fhsup-{uuid.uuid4().hex[:8]}"
    config = parse_config({"run": {"progress_interval": 0.2},
                           "feeds": [{"exchange": "binance", "replay": files, "symbols": ["AAAUSDT", "BBBUSDT"]}],
                           "sinks": {"shm": {"name": name, "depth": 5}}})
    sup = Supervisor(config, 2, restart=False)
    summary = sup.run(duration=60)
    assert summary["workers"] == 2 and summary["restarts"] == 0
    assert summary["worker_frames"] == [N, N]           # one recording each, every frame
    assert all(w.last.get("valid") == 1 for w in sup.workers)   # each worker's book ended valid
    assert not os.path.exists(f"/dev/shm/{name}.table")          # the supervisor removed its table


def test_window_rate_interpolates_the_reports_and_refuses_an_uncovered_window(tmp_path):
    from feedhandler.workers.config import RunConfig, FeedConfig

    config = RunConfig(feeds=[FeedConfig("binance", [], replay=["a", "b"])])
    sup = Supervisor(config, 2, restart=False)
    # worker 0: 1000 frames/s on 0.5 CPU s/s from t=10; worker 1: 3000 frames/s on 1 CPU s/s from t=11
    sup.workers[0].samples.extend((10.0 + k, 1000 * k, 0.5 * k) for k in range(6))
    sup.workers[1].samples.extend((11.0 + k, 3000 * k, 1.0 * k) for k in range(6))
    r = sup.window_rate(11.5, 14.25)
    assert r["frames_per_s"] == pytest.approx(4000.0)
    assert r["cpu_per_s"] == pytest.approx(1.5)
    assert r["frames_per_cpu_s"] == pytest.approx(4000.0 / 1.5)
    with pytest.raises(ValueError, match="worker 1"):
        sup.window_rate(10.5, 12.0)     # worker 1 had not reported yet at 10.5
    with pytest.raises(ValueError, match="empty"):
        sup.window_rate(12.0, 12.0)


def test_repeat_replays_the_recordings_that_many_times(tmp_path):
    p = tmp_path / "AAAUSDT.fhrec"
    write_recording(p, "AAAUSDT")
    config = parse_config({"run": {"progress_interval": 0.1},
                           "feeds": [{"exchange": "binance", "replay": [str(p)], "repeat": 3}]})
    sup = Supervisor(config, 1, restart=False)
    summary = sup.run(duration=60)
    assert summary["worker_frames"] == [3 * N] and summary["restarts"] == 0
    assert sup.workers[0].last.get("valid") == 1 and sup.workers[0].last.get("errors") == 0


def test_worker_counter_counts_every_event_and_follows_validity():
    from feedhandler.book import OrderBook
    from feedhandler.events import BookStatus, BookUpdate, Trade
    from feedhandler.sinks.encoder import SinkTap
    from feedhandler.workers.counter import WorkerCounter

    counter = WorkerCounter()
    tap = SinkTap([], counter)
    book = OrderBook("A", 16)
    for sym in ("A", "B", "A"):
        tap(BookUpdate(exchange="x", symbol=sym, book=book, first_update_id=1, last_update_id=1))
    tap(Trade(exchange="x", symbol="A", price=1.0, qty=1.0, side=1, trade_id=1))
    tap(BookStatus(exchange="x", symbol="A", valid=False, reason="gap", update_id=2))
    assert counter.events == 5 and counter.valid == {"A": False, "B": True}
    tap(BookUpdate(exchange="x", symbol="A", book=book, first_update_id=3, last_update_id=3))
    assert counter.events == 6 and counter.valid == {"A": True, "B": True}
