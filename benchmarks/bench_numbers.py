"""Number parsing and JSON level scanning: feedhandler.codec against float()/orjson/msgspec.

Run with::

    python -m pytest benchmarks/bench_numbers.py --benchmark-only -q

Workload: the price and quantity strings of a real Binance REST depth
snapshot (``shared/data/binance/cryptofeed_spot_2021-10-11``, NKNUSDT, 1000+1000
levels, texts like ``"0.35210000"`` / ``"672.00000000"``) when the recording is
present, otherwise a seeded synthetic list in the same format (the case name
says which). The texts are bytes, as they come off the wire.

Groups (each case next to its baseline in the same run):

``parse_double``
    ``numbers.parse_many`` (one C loop over ``parse_double``, summing) against
    ``sum(float(x) for x in items)``: ``extra_info["ns_per_number"]``.
``parse_double-17digits``
    the same on ``repr()`` texts of random doubles (17 significant digits):
    most of them leave the fast path for CPython's strtod, so this shows the
    fallback's cost honestly.
``levels-20x20``
    a depth frame with 20 bids and 20 asks ``[["p","q"],...]``:
    ``json_scan.scan_levels`` for both sides (each call validates the whole
    frame and returns two float64 arrays) against ``orjson.loads`` +
    ``float()`` and ``msgspec.json.decode`` + ``float()`` into lists.
"""
from __future__ import annotations

import gc
import json
import random
from pathlib import Path

import pytest

orjson = pytest.importorskip("orjson")
msgspec = pytest.importorskip("msgspec")

from feedhandler.codec.json_scan import scan_levels  # noqa: E402
from feedhandler.codec.numbers import parse_many  # noqa: E402

SNAPSHOT = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "binance"
            / "cryptofeed_spot_2021-10-11" / "BINANCE.http.0.0")
ROUNDS = 20


def _wire_numbers() -> tuple[str, list[bytes]]:
    """Price/qty texts of one real depth snapshot, or a seeded stand-in."""
    if SNAPSHOT.exists():
        line = SNAPSHOT.read_bytes().splitlines()[0]
        body = json.loads(line.partition(b": ")[2])
        items = [t.encode() for side in ("bids", "asks") for level in body[side] for t in level]
        return "binance-snapshot", items
    rng = random.Random(20211011)
    items = []
    for _ in range(2000):
        items.append(f"{rng.uniform(0.3, 0.4):.8f}".encode())
        items.append(f"{rng.randrange(1, 30000)}.00000000".encode())
    return "synthetic", items


SOURCE, NUMBERS = _wire_numbers()
rng = random.Random(7)
LONG_NUMBERS = [repr(rng.uniform(0, 1e5)).encode() for _ in range(len(NUMBERS))]


def _depth_frame(levels: int = 20) -> bytes:
    items = NUMBERS[: 4 * levels]
    bids = [[items[i].decode(), items[i + 1].decode()] for i in range(0, 2 * levels, 2)]
    asks = [[items[i].decode(), items[i + 1].decode()] for i in range(2 * levels, 4 * levels, 2)]
    frame = {"e": "depthUpdate", "E": 1633998512068, "s": "NKNUSDT", "U": 499869750, "u": 499869752,
             "b": bids, "a": asks}
    return json.dumps(frame, separators=(",", ":")).encode()


FRAME = _depth_frame()


def _run(benchmark, fn, arg, per_call: int, unit: str):
    gc.disable()
    try:
        result = benchmark.pedantic(fn, args=(arg,), rounds=ROUNDS, iterations=1, warmup_rounds=2)
    finally:
        gc.enable()
    benchmark.extra_info["source"] = SOURCE
    benchmark.extra_info[unit] = benchmark.stats.stats.median * 1e9 / per_call
    return result


def _python_sum(items: list[bytes]) -> float:
    return sum(float(x) for x in items)


@pytest.mark.benchmark(group="parse_double")
def test_parse_many(benchmark) -> None:
    total = _run(benchmark, parse_many, NUMBERS, len(NUMBERS), "ns_per_number")
    assert total == _python_sum(NUMBERS)


@pytest.mark.benchmark(group="parse_double")
def test_python_float_baseline(benchmark) -> None:
    _run(benchmark, _python_sum, NUMBERS, len(NUMBERS), "ns_per_number")


@pytest.mark.benchmark(group="parse_double-17digits")
def test_parse_many_17_digits(benchmark) -> None:
    total = _run(benchmark, parse_many, LONG_NUMBERS, len(LONG_NUMBERS), "ns_per_number")
    assert total == _python_sum(LONG_NUMBERS)


@pytest.mark.benchmark(group="parse_double-17digits")
def test_python_float_17_digits_baseline(benchmark) -> None:
    _run(benchmark, _python_sum, LONG_NUMBERS, len(LONG_NUMBERS), "ns_per_number")


FRAMES = [FRAME] * 1000  # one round = 1000 frames, so the timer resolution does not matter


def _scan_levels(frames: list[bytes]):
    for frame in frames:
        bp, bq = scan_levels(frame, b"b")
        ap, aq = scan_levels(frame, b"a")
    return bp, bq, ap, aq


def _orjson(frames: list[bytes]):
    for frame in frames:
        d = orjson.loads(frame)
        bp = [float(p) for p, _ in d["b"]]
        bq = [float(q) for _, q in d["b"]]
        ap = [float(p) for p, _ in d["a"]]
        aq = [float(q) for _, q in d["a"]]
    return bp, bq, ap, aq


_msgspec_decode = msgspec.json.Decoder().decode


def _msgspec(frames: list[bytes]):
    for frame in frames:
        d = _msgspec_decode(frame)
        bp = [float(p) for p, _ in d["b"]]
        bq = [float(q) for _, q in d["b"]]
        ap = [float(p) for p, _ in d["a"]]
        aq = [float(q) for _, q in d["a"]]
    return bp, bq, ap, aq


@pytest.mark.benchmark(group="levels-20x20")
def test_scan_levels_20x20(benchmark) -> None:
    result = _run(benchmark, _scan_levels, FRAMES, len(FRAMES), "ns_per_frame")
    assert [r.tolist() for r in result] == list(_orjson(FRAMES[:1]))


@pytest.mark.benchmark(group="levels-20x20")
def test_orjson_float_baseline(benchmark) -> None:
    _run(benchmark, _orjson, FRAMES, len(FRAMES), "ns_per_frame")


@pytest.mark.benchmark(group="levels-20x20")
def test_msgspec_float_baseline(benchmark) -> None:
    _run(benchmark, _msgspec, FRAMES, len(FRAMES), "ns_per_frame")
