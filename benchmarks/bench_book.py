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

import functools
import gc
import platform
import random
from importlib.metadata import version

import numpy as np
import pytest

order_book = pytest.importorskip("order_book", reason="benchmark baseline: pip install order-book")
sortedcontainers = pytest.importorskip("sortedcontainers")
orjson = pytest.importorskip("orjson")

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


def _ob_book(snapshot=SNAPSHOT):
    ob = order_book.OrderBook()
    for p, q in snapshot[0]:
        ob.bids[p] = q
    for p, q in snapshot[1]:
        ob.asks[p] = q
    return ob


def _sd_book():
    return sortedcontainers.SortedDict(SNAPSHOT[0]), sortedcontainers.SortedDict(SNAPSHOT[1])


# ----------------------------------------------------------------- targets

def fh_per_level_best(book: OrderBook, sides=SIDES, prices=PRICES, qtys=QTYS):
    apply_level = book.apply_level
    for s, p, q in zip(sides, prices, qtys):
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


def ob_per_level_best(ob, sides=SIDES, prices=PRICES, qtys=QTYS):
    bids, asks = ob.bids, ob.asks
    for s, p, q in zip(sides, prices, qtys):
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


def sd_per_level_best(state, sides=SIDES, prices=PRICES, qtys=QTYS):
    bids, asks = state
    for s, p, q in zip(sides, prices, qtys):
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


# ------------------------------------------------------- depth scaling (issue 14)
# One level applied, then the best bid AND ask read, at books of 20, 200, 1,000 and 5,000 levels a side,
# with updates clustered near the top ("near": exponential ranks, mean 8) or uniformly deep ("uniform":
# ranks and new prices uniform over the whole book).  Cases per group, same stream, same run:
#   feedhandler-ladder-c   the default layout, a C loop (``_apply_with_best``: c_apply_level + c_best_*),
#   feedhandler-sorted-c   the previous layout (``ladder_ticks=0``), the same C loop,
#   feedhandler-ladder-py  one Python call per level (``apply_level``) + ``best_bid``/``best_ask``,
#   order-book             the ``order-book`` C library from Python,
#   sorteddict             ``sortedcontainers.SortedDict``.
DEPTHS = (20, 200, 1000, 5000)
DEPTH_UPDATES = 20_000


@functools.lru_cache(maxsize=None)
def depth_stream(depth: int, uniform: bool, n_updates: int = DEPTH_UPDATES):
    """Seeded stream at a stable book depth: ((bids, asks) snapshot, (sides int8, prices, qtys))."""
    rng = random.Random(20240601 + depth + uniform)
    mid = 3_000_000
    span = int(depth * 1.5) + 2
    bids, asks = sortedcontainers.SortedDict(), sortedcontainers.SortedDict()
    for off in rng.sample(range(span), depth):
        bids[mid - 1 - off] = rng.randint(1, 500)
    for off in rng.sample(range(span), depth):
        asks[mid + 1 + off] = rng.randint(1, 500)
    snapshot = ([(_price(t), q / 1000) for t, q in reversed(bids.items())],
                [(_price(t), q / 1000) for t, q in asks.items()])

    def rank(n: int) -> int:
        return rng.randrange(n) if uniform else min(int(rng.expovariate(1 / 8)), n - 1)

    events: list[tuple[int, float, float]] = []
    while len(events) < n_updates:
        side = BID if rng.random() < 0.5 else ASK
        own = bids if side == BID else asks
        lean_delete = min(0.95, max(0.05, 0.5 + (len(own) - depth) / max(40, depth / 5)))
        is_change = rng.random() < 0.34
        if not is_change and own and rng.random() < lean_delete:
            k = rank(len(own))
            tick = own.peekitem(-1 - k)[0] if side == BID else own.peekitem(k)[0]
            del own[tick]
            events.append((side, _price(tick), 0.0))
            continue
        if is_change and own:
            k = rank(len(own))
            tick = own.peekitem(-1 - k)[0] if side == BID else own.peekitem(k)[0]
        else:
            off = rng.randrange(span) if uniform else int(rng.expovariate(1 / 12))
            tick = mid - 1 - off if side == BID else mid + 1 + off
            while tick in own:  # the first free tick; bids stay below the mid, asks above: never crossed
                tick += -1 if side == BID else 1
        qty = rng.randint(1, 5000)
        own[tick] = qty
        events.append((side, _price(tick), qty / 1000))
    sides = np.array([s for s, _, _ in events], dtype=np.int8)
    prices = np.array([p for _, p, _ in events], dtype=np.float64)
    qtys = np.array([q for _, _, q in events], dtype=np.float64)
    return snapshot, (sides, prices, qtys)


def _depth_book(snapshot, depth: int, ladder_ticks: int) -> OrderBook:
    book = OrderBook("BTCUSDT", 2 * depth + 64, ladder_ticks=ladder_ticks)
    book.load_snapshot(snapshot[0], snapshot[1], 1)
    return book


def _depth_case(benchmark, depth: int, mode: str, impl: str):
    snapshot, (sides, prices, qtys) = depth_stream(depth, mode == "uniform")
    s_list, p_list, q_list = sides.tolist(), prices.tolist(), qtys.tolist()
    if impl in ("feedhandler-ladder-c", "feedhandler-sorted-c"):
        lt = -1 if impl == "feedhandler-ladder-c" else 0

        def make():
            return _depth_book(snapshot, depth, lt)

        def target(book):
            orderbook_module._apply_with_best(book, sides, prices, qtys)
    elif impl == "feedhandler-ladder-py":
        def make():
            return _depth_book(snapshot, depth, -1)

        def target(book):
            fh_per_level_best(book, s_list, p_list, q_list)
    elif impl == "order-book":
        def make():
            return _ob_book(snapshot)

        def target(ob):
            ob_per_level_best(ob, s_list, p_list, q_list)
    else:
        def make():
            return sortedcontainers.SortedDict(snapshot[0]), sortedcontainers.SortedDict(snapshot[1])

        def target(state):
            sd_per_level_best(state, s_list, p_list, q_list)
    benchmark.extra_info.update({"depth": depth, "mode": mode, "impl": impl, "levels": len(p_list)})
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        # order-book's index(0) re-sorts after every change: seconds per round on deep books
        rounds = 15 if impl.endswith("-c") else 3 if impl == "order-book" else 5
        benchmark.pedantic(target, setup=lambda: ((make(),), {}), rounds=rounds, iterations=1, warmup_rounds=1)
    finally:
        if gc_was_enabled:
            gc.enable()
    if benchmark.stats is not None:
        benchmark.extra_info["ns_per_level"] = round(benchmark.stats.stats.median / len(p_list) * 1e9, 1)


DEPTH_IMPLS = ("feedhandler-ladder-c", "feedhandler-sorted-c", "feedhandler-ladder-py", "order-book", "sorteddict")


@pytest.mark.parametrize("impl", DEPTH_IMPLS)
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("mode", ["near", "uniform"])
def test_depth_apply_best(benchmark, mode, depth, impl):
    benchmark.group = f"book-depth-{mode}-{depth}"
    _depth_case(benchmark, depth, mode, impl)


def test_depth_streams_agree_across_layouts():
    """Every layout ends each depth stream in the SortedDict's book (else the race is unfair)."""
    for depth in DEPTHS:
        for uniform in (False, True):
            snapshot, (sides, prices, qtys) = depth_stream(depth, uniform, 4000)
            ref = [dict(snapshot[0]), dict(snapshot[1])]
            for s, p, q in zip(sides.tolist(), prices.tolist(), qtys.tolist()):
                if q == 0.0:
                    ref[s].pop(p, None)
                else:
                    ref[s][p] = q
            for lt in (-1, 0):
                book = _depth_book(snapshot, depth, lt)
                orderbook_module._apply_with_best(book, sides, prices, qtys)
                assert book.to_dict()["bids"] == sorted(ref[BID].items(), reverse=True)
                assert book.to_dict()["asks"] == sorted(ref[ASK].items())
                assert book.layout == ("ladder" if lt else "sorted")
            assert abs(len(ref[BID]) - depth) <= max(20, depth // 5), (depth, len(ref[BID]))


# ------------------------------------------------------------- snapshot load
# A REST depth snapshot body (Binance's shape, N levels a side, prices/quantities as strings) to a usable
# book: the compiled decoder + BookSync.load_snapshot (what SnapshotService runs), against
# orjson + float() + SortedDict, orjson + float() + order-book, and the previous way (msgspec Struct +
# float() + numpy + BookSync on the sorted layout).
SNAPSHOT_LEVELS = (100, 1000, 5000)


@functools.lru_cache(maxsize=None)
def snapshot_body(levels: int) -> bytes:
    rng = random.Random(levels)
    mid = 6_183_763
    bids = [[f"{(mid - i) / 100:.8f}", f"{rng.randint(1, 400000) / 100000:.8f}"] for i in range(levels)]
    asks = [[f"{(mid + 1 + i) / 100:.8f}", f"{rng.randint(1, 400000) / 100000:.8f}"] for i in range(levels)]
    return orjson.dumps({"lastUpdateId": 51312367391, "bids": bids, "asks": asks})


def _snapshot_case(benchmark, levels: int, impl: str):
    from feedhandler.sync.book_sync import BookSync, SequenceRule
    from feedhandler.sync.snapshot import DepthSnapshotDecoder
    body = snapshot_body(levels)
    rule = SequenceRule("bench")
    if impl.startswith("feedhandler"):
        ladder = -1 if impl == "feedhandler" else 0
        sync = BookSync("binance", "BTCUSDT", OrderBook("BTCUSDT", 5000, ladder_ticks=ladder), rule)
        decoder = DepthSnapshotDecoder("binance", 5000)

        if impl == "feedhandler":
            def target():
                sync.invalidate("bench")
                uid, bids, asks = decoder.decode(body)
                sync.load_snapshot(uid, bids, asks)
        else:
            import msgspec

            class _Depth(msgspec.Struct):
                lastUpdateId: int
                bids: list[tuple[str, str]]
                asks: list[tuple[str, str]]

            dec = msgspec.json.Decoder(_Depth)

            def target():
                sync.invalidate("bench")
                snap = dec.decode(body)
                bids = np.array([(float(p), float(q)) for p, q in snap.bids], dtype=np.float64).reshape(-1, 2)
                asks = np.array([(float(p), float(q)) for p, q in snap.asks], dtype=np.float64).reshape(-1, 2)
                sync.load_snapshot(snap.lastUpdateId, bids, asks)
        check = lambda: sync.is_valid and sync.book.bid_count == levels  # noqa: E731
    elif impl == "orjson-float-sorteddict":
        state = {}

        def target():
            snap = orjson.loads(body)
            state["b"] = sortedcontainers.SortedDict({float(p): float(q) for p, q in snap["bids"]})
            state["a"] = sortedcontainers.SortedDict({float(p): float(q) for p, q in snap["asks"]})
        check = lambda: len(state["b"]) == levels  # noqa: E731
    else:
        state = {}

        def target():
            snap = orjson.loads(body)
            ob = order_book.OrderBook()
            for p, q in snap["bids"]:
                ob.bids[float(p)] = float(q)
            for p, q in snap["asks"]:
                ob.asks[float(p)] = float(q)
            state["ob"] = ob
        check = lambda: len(state["ob"].bids) == levels  # noqa: E731
    benchmark.extra_info.update({"levels_per_side": levels, "body_bytes": len(body), "impl": impl})
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        benchmark.pedantic(target, rounds=30 if levels <= 1000 else 15, iterations=1, warmup_rounds=2)
    finally:
        if gc_was_enabled:
            gc.enable()
    assert check()


@pytest.mark.parametrize("impl", ["feedhandler", "feedhandler-previous-way", "orjson-float-sorteddict",
                                  "orjson-float-order-book"])
@pytest.mark.parametrize("levels", SNAPSHOT_LEVELS)
def test_snapshot_load(benchmark, levels, impl):
    benchmark.group = f"book-snapshot-{levels}"
    _snapshot_case(benchmark, levels, impl)
