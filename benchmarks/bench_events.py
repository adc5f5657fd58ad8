"""Event construction, copy and to_dict: the compiled events against a slotted dataclass.

Run with::

    python -m pytest benchmarks/bench_events.py --benchmark-only -q

Each call is timed over a loop of ``N`` operations, so the median divided by ``N`` is the
cost of one (``extra_info["ns_per_op"]``). Groups (each case beside its baseline in the
same run; the baseline is a ``@dataclass(slots=True)`` with the same fields):

``event-init``
    ``Trade(**fields)`` (the keyword ``__init__`` of the pure-Python parsers) against the
    dataclass built from the same keywords.
``event-copy``
    ``trade.copy()`` (what a handler calls to keep a pooled event) against ``copy.copy``.
``event-to_dict``
    ``trade.to_dict()`` against ``dataclasses.asdict``.
``event-acquire``
    ``EventPool.acquire()`` (the decoders fill the event from Cython) against ``next()``
    over an ``itertools.cycle`` of as many events.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools

import pytest

from feedhandler.events import BookTicker, EventPool, Trade

N = 10_000
FIELDS = dict(exchange="binance", symbol="BTCUSDT", exchange_ts_ns=1_700_000_000_000_000_000,
              recv_ns=123_456_789, price=43_000.5, qty=0.25, side=1, trade_id=987_654_321, trade_id_str="")
PyTrade = dataclasses.make_dataclass("PyTrade", [(k, type(v), v) for k, v in FIELDS.items()], slots=True)

# group -> {case: (operation, argument)}; the operation runs N times on the argument
CASES = {
    "event-init": {"feedhandler-Trade": (lambda kw: Trade(**kw), FIELDS),
                   "dataclass-slots": (lambda kw: PyTrade(**kw), FIELDS)},
    "event-copy": {"feedhandler-Trade.copy": (Trade.copy, Trade(**FIELDS)),
                   "dataclass-copy.copy": (copy.copy, PyTrade(**FIELDS))},
    "event-to_dict": {"feedhandler-Trade.to_dict": (Trade.to_dict, Trade(**FIELDS)),
                      "dataclasses.asdict": (dataclasses.asdict, PyTrade(**FIELDS))},
    "event-acquire": {"feedhandler-EventPool.acquire": (EventPool.acquire, EventPool(BookTicker, 256)),
                      "itertools.cycle": (next, itertools.cycle([BookTicker() for _ in range(256)]))},
}


@pytest.mark.parametrize("group,case", [(g, c) for g, cases in CASES.items() for c in cases])
def test_event_op(benchmark, group, case):
    op, arg = CASES[group][case]
    benchmark.group = group

    def run():
        for _ in range(N):
            op(arg)

    benchmark(run)
    benchmark.extra_info["ns_per_op"] = benchmark.stats.stats.median / N * 1e9
    result = op(arg)
    if group == "event-to_dict":
        assert result == FIELDS  # the same fields, in the same order, both ways
    elif group in ("event-init", "event-copy"):
        assert dataclasses.asdict(result) == FIELDS if dataclasses.is_dataclass(result) else result.to_dict() == FIELDS
