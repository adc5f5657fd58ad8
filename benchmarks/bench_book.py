"""Order-book apply benchmark: feedhandler's Cython book against its baselines.

Run with::

    python -m pytest benchmarks/bench_book.py --benchmark-only -q

Workload: one seeded stream (``make_stream``) of single-level updates on a
book of about 200 levels a side: a third deletes, a third quantity changes,
a third inserts, all clustered near the top of the book (ranks/offsets from
the top are exponential, mean ~8-12), the mid drifting, crossing levels
deleted as a real exchange would, plus a few deletes of absent levels.  Every case starts from the same snapshot (setup, untimed)
and replays the whole stream; ``extra_info["ns_per_level"]`` is the median
round divided by the number of level updates.

Groups (each case next to its baseline in the same run):

``book-apply+best``
    apply each level, then read best bid AND best ask as (price, qty):
    feedhandler per level (``apply_level``), feedhandler batched per message
    (``apply_levels``, best read after each message), ``order_book.OrderBook``
    (the ``order-book`` C library) and ``sortedcontainers.SortedDict``.
``book-apply-only``
    the same stream with no reads, feedhandler against ``order-book``.
``book-search``
    batched feedhandler with the position search's linear-scan length at
    0 (pure binary search), 8, 32 (default) and 64, to justify the default.
"""
from __future__ import annotations

import gc
import platform
import random
from importlib.metadata import version

import numpy as np
import pytest

order_book = pytest.importorskip("order_book", reason="benchmark baseline: pip install order-book")
sortedcontainers = pytest.importorskip("sortedcontainers")

from feedhandler.book import ASK, BID, OrderBook  # noqa: E402
from feedhandler.book import orderbook as orderbook_module  # noqa: E402

TICK = 0.01
N_UPDATES = 20_000
DEPTH = 200
MESSAGE_LEVELS = 20  # levels per message in the batched variants
ROUNDS = 15


def _price(tick: int) -> float:
    # Integer ticks / 100 is the correctly rounded double of the decimal
    # string, i.e. exactly what the exchange-feed parser produces.
    return tick / 100


def make_stream(n_updates: int = N_UPDATES, depth: int = DEPTH, seed: int = 20240601):
    """Seeded realistic L2 update stream.

    Returns
    -------
    snapshot : (bids, asks)
        Lists of (price, qty), best first, ``depth`` levels each.
    events : list of (side, price, qty)
        Absolute-quantity updates; qty 0 deletes.
    """
    rng = random.Random(seed)
    mid = 3_000_000  # 30000.00 in ticks
    bids = sortedcontainers.SortedDict()
    asks = sortedcontainers.SortedDict()
    offsets = rng.sample(range(0, int(depth * 1.5)), depth)
    for off in offsets:
        bids[mid - 1 - off] = rng.randint(1, 500)
    for off in rng.sample(range(0, int(depth * 1.5)), depth):
        asks[mid + 1 + off] = rng.randint(1, 500)
    snapshot = (
        [(_price(t), q / 1000) for t, q in reversed(bids.items())],
        [(_price(t), q / 1000) for t, q in asks.items()],
    )
    events: list[tuple[int, float, float]] = []
    while len(events) < n_updates:
        if rng.random() < 0.02:
            mid += rng.choice((-1, 1))
        side = BID if rng.random() < 0.5 else ASK
        own, other = (bids, asks) if side == BID else (asks, bids)
        r = rng.random()
        if r < 0.015:
            # A delete of an absent level (exchanges do send those).
            tick = mid - 1000 if side == BID else mid + 1000
            events.append((side, _price(tick), 0.0))
            continue
        # Two thirds are deletes or inserts, leaning towards whichever brings
        # the side back to `depth` levels, so the book neither drains nor grows.
        lean_delete = min(0.95, max(0.05, 0.5 + (len(own) - depth) / 40))
        is_change = r < 0.34
        if not is_change and own and rng.random() < lean_delete:
            # Delete an existing level, ranked from the top (clustered).
            rank = min(int(rng.expovariate(1 / 8)), len(own) - 1)
            tick = own.peekitem(-1 - rank)[0] if side == BID else own.peekitem(rank)[0]
            del own[tick]
            events.append((side, _price(tick), 0.0))
            continue
        if is_change and own:
            # Quantity change of an existing level, ranked from the top.
            rank = min(int(rng.expovariate(1 / 8)), len(own) - 1)
            tick = own.peekitem(-1 - rank)[0] if side == BID else own.peekitem(rank)[0]
        else:
            # A new level near the top: the first free tick at an exponential
            # offset from the mid.
            off = int(rng.expovariate(1 / 12))
            tick = mid - 1 - off if side == BID else mid + 1 + off
            while tick in own:
                tick += -1 if side == BID else 1
            # A level through the other side's top removes what it crosses.
            crossing = list(other.irange(maximum=tick)) if side == BID else list(other.irange(minimum=tick))
            for t in crossing:
                del other[t]
                events.append((ASK if side == BID else BID, _price(t), 0.0))
        qty = rng.randint(1, 5000)
        own[tick] = qty
        events.append((side, _price(tick), qty / 1000))
    return snapshot, events[:n_updates]


SNAPSHOT, EVENTS = make_stream()
N_EVENTS = len(EVENTS)
SIDES = [s for s, _, _ in EVENTS]
PRICES = [p for _, p, _ in EVENTS]
QTYS = [q for _, _, q in EVENTS]


def _messages():
    """EVENTS cut into messages of MESSAGE_LEVELS levels, per side, as
    preallocated float64 arrays (as a parser's scratch buffers would be)."""
    out = []
    for start in range(0, N_EVENTS, MESSAGE_LEVELS):
        chunk = EVENTS[start:start + MESSAGE_LEVELS]
        per_side = []
        for side in (BID, ASK):
            per_side.append(np.array([p for s, p, _ in chunk if s == side], dtype=np.float64))
            per_side.append(np.array([q for s, _, q in chunk if s == side], dtype=np.float64))
        out.append(tuple(per_side))
    return out


MESSAGES = _messages()


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cython": version("cython"),
        "order-book": version("order-book"),
        "sortedcontainers": version("sortedcontainers"),
        "n_level_updates": str(N_EVENTS),
        "deletes_fraction": f"{sum(1 for q in QTYS if q == 0.0) / N_EVENTS:.3f}",
    }


def _run(benchmark, target, make_state):
    benchmark.extra_info.update(_versions())
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        benchmark.pedantic(target, setup=lambda: ((make_state(),), {}), rounds=ROUNDS, iterations=1,
                           warmup_rounds=1)
    finally:
        if gc_was_enabled:
            gc.enable()
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ns_per_level"] = round(benchmark.stats.stats.median / N_EVENTS * 1e9, 1)


# ------------------------------------------------------------------ states

def _fh_book() -> OrderBook:
    book = OrderBook("BTCUSDT", 1000)
    book.load_snapshot(SNAPSHOT[0], SNAPSHOT[1], 1)
    return book


def _ob_book():
    ob = order_book.OrderBook()
    for p, q in SNAPSHOT[0]:
        ob.bids[p] = q
    for p, q in SNAPSHOT[1]:
        ob.asks[p] = q
    return ob


def _sd_book():
    return sortedcontainers.SortedDict(SNAPSHOT[0]), sortedcontainers.SortedDict(SNAPSHOT[1])


# ----------------------------------------------------------------- targets

def fh_per_level_best(book: OrderBook):
    apply_level = book.apply_level
    for s, p, q in zip(SIDES, PRICES, QTYS):
        apply_level(s, p, q)
        book.best_bid
        book.best_ask


def fh_batched_best(book: OrderBook):
    apply_levels = book.apply_levels
    for bp, bq, ap, aq in MESSAGES:
        apply_levels(BID, bp, bq)
        apply_levels(ASK, ap, aq)
        book.best_bid
        book.best_ask


def ob_per_level_best(ob):
    bids, asks = ob.bids, ob.asks
    for s, p, q in zip(SIDES, PRICES, QTYS):
        side = bids if s == BID else asks
        if q == 0.0:
            try:
                del side[p]
            except KeyError:
                pass
        else:
            side[p] = q
        if len(bids):
            bids.index(0)
        if len(asks):
            asks.index(0)


def sd_per_level_best(state):
    bids, asks = state
    for s, p, q in zip(SIDES, PRICES, QTYS):
        side = bids if s == BID else asks
        if q == 0.0:
            side.pop(p, None)
        else:
            side[p] = q
        if bids:
            bids.peekitem(-1)
        if asks:
            asks.peekitem(0)


def fh_per_level_only(book: OrderBook):
    apply_level = book.apply_level
    for s, p, q in zip(SIDES, PRICES, QTYS):
        apply_level(s, p, q)


def fh_batched_only(book: OrderBook):
    apply_levels = book.apply_levels
    for bp, bq, ap, aq in MESSAGES:
        apply_levels(BID, bp, bq)
        apply_levels(ASK, ap, aq)


def ob_per_level_only(ob):
    bids, asks = ob.bids, ob.asks
    for s, p, q in zip(SIDES, PRICES, QTYS):
        side = bids if s == BID else asks
        if q == 0.0:
            try:
                del side[p]
            except KeyError:
                pass
        else:
            side[p] = q


# --------------------------------------------------------------- sanity

def test_all_implementations_agree():
    """The baselines and feedhandler end in the same book (else the race is unfair)."""
    book, ob, (sb, sa) = _fh_book(), _ob_book(), _sd_book()
    fh_per_level_only(book)
    ob_per_level_only(ob)
    sd_per_level_best((sb, sa))
    expected_bids = sorted(sb.items(), reverse=True)
    expected_asks = list(sa.items())
    assert book.to_dict()["bids"] == expected_bids
    assert book.to_dict()["asks"] == expected_asks
    assert list(ob.bids.to_dict().items()) == expected_bids
    assert list(ob.asks.to_dict().items()) == expected_asks
    batched = _fh_book()
    fh_batched_only(batched)
    assert batched.to_dict() == book.to_dict()
    assert 150 <= book.bid_count <= 260 and 150 <= book.ask_count <= 260, (book.bid_count, book.ask_count)


# ------------------------------------------------------------- benchmarks

@pytest.mark.benchmark(group="book-apply+best")
def test_feedhandler_per_level_with_best(benchmark):
    _run(benchmark, fh_per_level_best, _fh_book)


@pytest.mark.benchmark(group="book-apply+best")
def test_feedhandler_batched_with_best(benchmark):
    _run(benchmark, fh_batched_best, _fh_book)


@pytest.mark.benchmark(group="book-apply+best")
def test_order_book_per_level_with_best(benchmark):
    _run(benchmark, ob_per_level_best, _ob_book)


@pytest.mark.benchmark(group="book-apply+best")
def test_sortedcontainers_per_level_with_best(benchmark):
    _run(benchmark, sd_per_level_best, _sd_book)


@pytest.mark.benchmark(group="book-apply-only")
def test_feedhandler_per_level_only(benchmark):
    _run(benchmark, fh_per_level_only, _fh_book)


@pytest.mark.benchmark(group="book-apply-only")
def test_feedhandler_batched_only(benchmark):
    _run(benchmark, fh_batched_only, _fh_book)


@pytest.mark.benchmark(group="book-apply-only")
def test_order_book_per_level_only(benchmark):
    _run(benchmark, ob_per_level_only, _ob_book)


@pytest.mark.benchmark(group="book-search")
@pytest.mark.parametrize("scan", [0, 4, 8, 32, 64])
def test_feedhandler_linear_scan_length(benchmark, scan):
    old = orderbook_module._set_linear_scan(scan)
    try:
        _run(benchmark, fh_batched_only, _fh_book)
    finally:
        orderbook_module._set_linear_scan(old)
    benchmark.extra_info["linear_scan"] = scan
