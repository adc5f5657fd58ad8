"""The Cython consumer API beside the Python handler, on the real Binance recording (``binance-replay-btcusdt``).

Every frame of the spot BTCUSDT recording (hftbacktest 2024-08-08 + 08-09, the same frames as
``bench_binance.py``) goes through ``BinanceDecoder`` + ``BookSyncGroup`` and every event to a handler that
counts events by kind:

- ``python-handler``: a Python callable (``isinstance`` per event), the default ``message_handler`` path;
- ``cython-consumer``: ``EventCounter`` from ``examples/cython_consumer`` (built here with its own setup.py),
  a compiled ``Consumer`` the dispatcher calls from C: no interpreted call per event;
- ``cython-book-mirror``: the example's ``BookMirror``, which also copies the whole book on every update;
- ``no-handler``: the floor (events are built and dropped).

Each case checks its counts against the others (same events). Recording location: ``../shared/data`` beside the
repository, or ``$FEEDHANDLER_SHARED/data``.

Run: ``python -m pytest benchmarks/bench_consumer.py --benchmark-only -q --benchmark-timer=time.process_time``
(CPU time: on a shared machine wall time mostly measures the other processes).
"""
from __future__ import annotations

import gc
import gzip
import os
from pathlib import Path

import orjson
import pytest

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.events.events import BookStatus, BookTicker, BookUpdate, Trade
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.binance.rules import SPOT_RULE
from feedhandler.sync.book_sync import BookSyncGroup
from cython_build import build_example

SHARED = Path(os.environ.get("FEEDHANDLER_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
DATA = SHARED / "data" / "binance" / "hftbacktest_2024-08-08"


@pytest.fixture(scope="module")
def recording():
    if not DATA.is_dir():
        pytest.skip(f"recordings not found at {DATA}")
    items = []  # (is_snapshot, bytes)
    for name in ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"):
        with gzip.open(DATA / name, "rb") as fh:
            for line in fh:
                raw = line.split(b" ", 1)[1].rstrip(b"\n")
                items.append((raw.startswith(b'{"lastUpdateId"'), raw))
    return items


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return build_example(tmp_path_factory.mktemp("bench_consumer"), "cython_consumer", "book_mirror")


class PythonCounter:
    """The Python-handler baseline: the same counts as ``EventCounter``."""

    def __init__(self) -> None:
        self.book_updates = self.book_statuses = self.trades = self.book_tickers = self.others = 0

    def __call__(self, ev) -> None:
        if isinstance(ev, BookUpdate):
            self.book_updates += 1
        elif isinstance(ev, Trade):
            self.trades += 1
        elif isinstance(ev, BookTicker):
            self.book_tickers += 1
        elif isinstance(ev, BookStatus):
            self.book_statuses += 1
        else:
            self.others += 1

    def counts(self) -> dict[str, int]:
        return {"book_updates": self.book_updates, "book_statuses": self.book_statuses, "trades": self.trades,
                "book_tickers": self.book_tickers, "others": self.others}


def replay(items, make_handler):
    handler = make_handler()
    disp = EventDispatcher()
    books = BookSyncGroup("binance", SPOT_RULE, disp, 6000)
    feed = BinanceDecoder(books, disp).feed
    disp.handler = handler
    for is_snap, raw in items:
        if is_snap:
            snap = orjson.loads(raw)
            books.get("BTCUSDT").load_snapshot(snap["lastUpdateId"], [(float(p), float(q)) for p, q in snap["bids"]],
                                               [(float(p), float(q)) for p, q in snap["asks"]])
        else:
            feed(raw, 0)
    assert books["BTCUSDT"].is_valid
    return handler, disp.events


_COUNTS: dict[str, tuple[dict[str, int], int]] = {}


def _bench(benchmark, recording, name, make_handler):
    gc.disable()
    try:
        handler, events = benchmark.pedantic(replay, args=(recording, make_handler), rounds=5, iterations=1,
                                             warmup_rounds=1)
    finally:
        gc.enable()
    benchmark.extra_info["frames"] = len(recording)
    benchmark.extra_info["events"] = events
    if handler is not None:
        counts = handler.counts()
        assert sum(counts.values()) == events and counts["book_updates"] > 5_000 and counts["trades"] > 0
        assert counts["book_tickers"] > 0
        _COUNTS[name] = (counts, events)
        assert len({(tuple(c.items()), e) for c, e in _COUNTS.values()}) == 1, _COUNTS  # same events everywhere


@pytest.mark.benchmark(group="binance-replay-btcusdt-handler")
def test_python_handler(benchmark, recording):
    _bench(benchmark, recording, "python-handler", PythonCounter)


@pytest.mark.benchmark(group="binance-replay-btcusdt-handler")
def test_cython_consumer(benchmark, recording, example):
    _bench(benchmark, recording, "cython-consumer", example.EventCounter)


@pytest.mark.benchmark(group="binance-replay-btcusdt-handler")
def test_cython_book_mirror(benchmark, recording, example):
    _bench(benchmark, recording, "cython-book-mirror", lambda: example.BookMirror(max_symbols=1, depth=6000))


@pytest.mark.benchmark(group="binance-replay-btcusdt-handler")
def test_no_handler(benchmark, recording):
    _bench(benchmark, recording, "no-handler", lambda: None)
