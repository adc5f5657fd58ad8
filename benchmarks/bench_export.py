"""Export of a real recording to Parquet, beside the replay alone and a plain Python/pandas export, same run.

Recording: ``binance-replay-btcusdt`` (hftbacktest spot BTCUSDT 2024-08-08 + 08-09, 99,573 frames, read once
by the product's reader and replayed from memory). Cases (group ``export-binance-replay-btcusdt``):

- ``feedhandler``: :func:`feedhandler.recording.export.export_parquet`: parser + sync + books, the compiled
  ``EventColumns`` handler into preallocated numpy columns, Arrow record batches, Parquet (lz4, the default) files
  partitioned by exchange/symbol/date;
- ``replay-only``: the same replay with a handler that does nothing (the floor: what the export adds is the
  difference);
- ``python-dicts-pandas``: the same replay, a Python handler appending one dict per event, then one pandas
  DataFrame per table written with ``to_parquet`` (the usual way).

``extra_info`` has ``events``, ``events_per_s`` (events / median wall time of a round) and ``events_per_cpu_s``
(events / median process CPU time of a round: less sensitive to other processes on a shared machine). Run:
``python -m pytest benchmarks/bench_export.py --benchmark-only -q``.
"""
from __future__ import annotations

import gc
import shutil
import statistics
import time
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")

from feedhandler.events import BookStatus, BookTicker, BookUpdate, Trade
from feedhandler.recording import open_recording, replay
from feedhandler.recording.export import export_parquet

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "binance" / "hftbacktest_2024-08-08"
FILES = [DATA / "spot_btcusdt_20240808.gz", DATA / "spot_btcusdt_20240809.gz"]
EVENTS = 6_493 + 19_904 + 73_174 + 1  # book updates + trades + bookTickers + the one BookStatus


@pytest.fixture(scope="module")
def recording():
    if not DATA.is_dir():
        pytest.skip(f"recordings not found at {DATA}")
    rec = open_recording(FILES)
    return rec, list(rec.records())


_CPU: dict[int, list[float]] = {}


def _pedantic(benchmark, fn, rounds=5):
    """Run ``fn`` as the benchmark, also keeping each round's process CPU time (less sensitive to a busy machine)."""
    cpu = _CPU.setdefault(id(benchmark), [])

    def timed():
        c0 = time.process_time()
        out = fn()
        cpu.append(time.process_time() - c0)
        return out

    gc.disable()
    try:
        return benchmark.pedantic(timed, rounds=rounds, iterations=1, warmup_rounds=1)
    finally:
        gc.enable()


def _report(benchmark, events):
    benchmark.extra_info["events"] = events
    benchmark.extra_info["events_per_s"] = round(events / benchmark.stats.stats.median)
    cpu = _CPU.pop(id(benchmark), [])
    if cpu:
        benchmark.extra_info["events_per_cpu_s"] = round(events / statistics.median(cpu))


@pytest.mark.benchmark(group="export-binance-replay-btcusdt")
def test_export_feedhandler(benchmark, recording, tmp_path):
    rec, records = recording

    def run():
        shutil.rmtree(tmp_path / "pq", ignore_errors=True)
        return export_parquet(rec, tmp_path / "pq", records=records)

    result = _pedantic(benchmark, run)
    assert result.events == EVENTS and result.replay.parse_errors == 0
    _report(benchmark, result.events)


@pytest.mark.benchmark(group="export-binance-replay-btcusdt")
def test_export_replay_only(benchmark, recording):
    rec, records = recording
    count = [0]

    def nothing(ev):
        count[0] += 1

    def run():
        count[0] = 0
        return replay(rec, nothing, check=False, records=records)[0]

    summary = _pedantic(benchmark, run)
    assert count[0] == EVENTS and summary.parse_errors == 0
    _report(benchmark, count[0])


@pytest.mark.benchmark(group="export-binance-replay-btcusdt")
def test_export_python_dicts_pandas(benchmark, recording, tmp_path):
    pd = pytest.importorskip("pandas")
    rec, records = recording

    def run():
        tables: dict[str, list[dict]] = {"book_updates": [], "trades": [], "bbo": [], "book_status": []}

        def keep(ev):
            base = {"exchange": ev.exchange, "symbol": ev.symbol, "recv_ns": ev.recv_ns,
                    "exchange_ts_ns": ev.exchange_ts_ns}
            if type(ev) is BookUpdate:
                bb, ba = ev.book.best_bid, ev.book.best_ask
                tables["book_updates"].append({**base, "first_update_id": ev.first_update_id,
                                               "last_update_id": ev.last_update_id, "is_snapshot": ev.is_snapshot,
                                               "bid_price": bb[0], "bid_qty": bb[1], "ask_price": ba[0],
                                               "ask_qty": ba[1]})
            elif type(ev) is Trade:
                tables["trades"].append({**base, "price": ev.price, "qty": ev.qty, "side": ev.side,
                                         "trade_id": ev.trade_id})
            elif type(ev) is BookTicker:
                tables["bbo"].append({**base, "bid_price": ev.bid_price, "bid_qty": ev.bid_qty,
                                      "ask_price": ev.ask_price, "ask_qty": ev.ask_qty, "update_id": ev.update_id})
            elif type(ev) is BookStatus:
                tables["book_status"].append({**base, "valid": ev.valid, "update_id": ev.update_id,
                                              "reason": ev.reason})

        replay(rec, keep, check=False, records=records)
        out = tmp_path / "pd"
        out.mkdir(exist_ok=True)
        for name, rows in tables.items():
            df = pd.DataFrame(rows)
            df["exchange"] = df["exchange"].astype("category")
            df["symbol"] = df["symbol"].astype("category")
            df.to_parquet(out / f"{name}.parquet", compression="zstd")
        return sum(len(r) for r in tables.values())

    n = _pedantic(benchmark, run, rounds=3)
    assert n == EVENTS
    _report(benchmark, n)
