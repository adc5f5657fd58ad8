"""Protobuf wire reader (feedhandler.codec.protobuf) against the official protobuf (upb).

Run with::

    python -m pytest benchmarks/bench_protobuf.py --benchmark-only -q

Workload: one depth update shaped like MEXC's ``PublicAggreDepthsV3Api``
(``DepthUpdate`` in ``tests/protos/wire_test.proto``): 20 levels (10 asks +
10 bids) of (string price, string quantity) plus an event type, two version
strings and an int64 time; seeded, about 600 bytes.

Group ``protobuf-depth20`` (each case beside its baseline in the same run):

``cython_walk``
    ``walk_fields(data, [(1, 2)])``: the C reader walks the message and every
    level (tags, varints, zero-copy string slices), counting fields and string
    bytes. One Python call per frame, as a parser makes.
``upb_parse``
    ``msg.ParseFromString(data)`` (upb, lazily materialized: no Python objects
    for the fields yet).
``upb_parse_to_python``
    ``ParseFromString`` plus reading every price/quantity string and the
    scalars into Python, the work the seed's parser did per frame.
``python_decode_fields``
    ``decode_fields`` on the top level and on each level (one Python tuple and
    bytes object per field): the Python helper's cost, for reference.

The ratio to the upb baselines is in ``extra_info`` and in the table's
parenthesized factors.
"""
from __future__ import annotations

import gc
import random
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the protos helper

from feedhandler.codec.protobuf import decode_fields, walk_fields  # noqa: E402
from protos import load_proto  # noqa: E402

wire_test = load_proto("wire_test")
GROUP = "protobuf-depth20"
ROUNDS, ITERATIONS = 300, 100
_results: dict[str, float] = {}


def _depth_update() -> bytes:
    rng = random.Random(20250809)
    mid = 67_000.0

    def level(offset: int) -> Any:
        return wire_test.DepthLevel(
            price=f"{mid + offset * 0.01:.2f}",
            quantity=f"{rng.uniform(0.0001, 3.0):.8f}" if rng.random() > 0.1 else "0.00000000",
        )

    msg = wire_test.DepthUpdate(
        asks=[level(i) for i in range(1, 11)],
        bids=[level(-i) for i in range(1, 11)],
        event_type="spot@public.aggre.depth.v3.api.pb@100ms",
        from_version="21765987912",
        to_version="21765987931",
        last_order_create_time=1754726400123,
    )
    return msg.SerializeToString()


DATA = _depth_update()


def _expected_walk() -> tuple[int, int]:
    # Independent of walk_fields: counted with the Python helper.
    top = decode_fields(DATA)
    levels = [decode_fields(v) for f, _, v in top if f in (1, 2)]
    fields = len(top) + sum(len(x) for x in levels)
    strings = sum(len(v) for f, wt, v in top if wt == 2 and f not in (1, 2))
    strings += sum(len(v) for x in levels for _, _, v in x)
    return fields, strings


def _run(benchmark: Any, name: str, fn: Any) -> Any:
    gc.collect()
    result = benchmark.pedantic(fn, rounds=ROUNDS, iterations=ITERATIONS, warmup_rounds=20)
    _results[name] = benchmark.stats.stats.median
    benchmark.extra_info["frame_bytes"] = len(DATA)
    for base in ("upb_parse", "upb_parse_to_python"):
        if name != base and base in _results and name in _results:
            benchmark.extra_info[f"speedup_vs_{base}"] = round(_results[base] / _results[name], 2)
    return result


# The baselines run first so that each case can report its ratio to them.
@pytest.mark.benchmark(group=GROUP, disable_gc=True)
def test_upb_parse(benchmark: Any) -> None:
    msg = wire_test.DepthUpdate()
    _run(benchmark, "upb_parse", lambda: msg.ParseFromString(DATA))
    assert len(msg.asks) == 10 and len(msg.bids) == 10


@pytest.mark.benchmark(group=GROUP, disable_gc=True)
def test_upb_parse_to_python(benchmark: Any) -> None:
    msg = wire_test.DepthUpdate()

    def parse_and_read() -> int:
        msg.ParseFromString(DATA)
        n = 0
        for side in (msg.asks, msg.bids):
            for lvl in side:
                n += len(lvl.price) + len(lvl.quantity)
        n += len(msg.event_type) + len(msg.from_version) + len(msg.to_version)
        return n + (msg.last_order_create_time > 0)

    assert _run(benchmark, "upb_parse_to_python", parse_and_read) > 0


@pytest.mark.benchmark(group=GROUP, disable_gc=True)
def test_cython_walk(benchmark: Any) -> None:
    nested = [(1, 2)]
    result = _run(benchmark, "cython_walk", lambda: walk_fields(DATA, nested))
    assert result == _expected_walk()


@pytest.mark.benchmark(group=GROUP, disable_gc=True)
def test_python_decode_fields(benchmark: Any) -> None:
    def decode_all() -> int:
        top = decode_fields(DATA)
        return len(top) + sum(len(decode_fields(v)) for f, _, v in top if f in (1, 2))

    assert _run(benchmark, "python_decode_fields", decode_all) == _expected_walk()[0]
