"""Differential tests: the Cython OrderBook against a small dict-based reference.

The reference below is written from the documented semantics only (no code
shared with the implementation); random operation sequences are applied to
both and the full observable state is compared after every step.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedhandler.book import ASK, BID, OrderBook
from feedhandler.book import orderbook as orderbook_module


class ReferenceBook:
    """Obviously-correct model: one dict per side, sorted only when read."""

    def __init__(self, symbol: str, capacity: int) -> None:
        self.symbol = symbol
        self.capacity = capacity
        self.sides: dict[int, dict[float, float]] = {BID: {}, ASK: {}}
        self.last_update_id = 0
        self.dropped_levels = 0
        self.absent_deletes = 0

    @staticmethod
    def _best_first(side: int, levels: dict[float, float]) -> list[tuple[float, float]]:
        return sorted(levels.items(), key=lambda pq: -pq[0] if side == BID else pq[0])

    @staticmethod
    def _valid(p: float, q: float) -> bool:
        return math.isfinite(p) and p > 0 and math.isfinite(q) and q >= 0

    def apply_levels(self, side: int, prices: list[float], qtys: list[float]) -> None:
        if not all(self._valid(p, q) for p, q in zip(prices, qtys)):
            raise ValueError("invalid level")
        book = self.sides[side]
        for p, q in zip(prices, qtys):
            if q == 0:
                if p in book:
                    del book[p]
                else:
                    self.absent_deletes += 1
            elif p in book or len(book) < self.capacity:
                book[p] = q
            else:
                worst = self._best_first(side, book)[-1][0]
                better = p > worst if side == BID else p < worst
                self.dropped_levels += 1
                if better:
                    del book[worst]
                    book[p] = q

    def load_snapshot(self, bids, asks, update_id: int) -> None:
        for levels in (bids, asks):
            if not all(self._valid(p, q) for p, q in levels):
                raise ValueError("invalid level")
        for side, levels in ((BID, bids), (ASK, asks)):
            last_positive = {p: q for p, q in levels if q > 0}
            ordered = self._best_first(side, last_positive)
            self.dropped_levels += max(0, len(ordered) - self.capacity)
            self.sides[side] = dict(ordered[: self.capacity])
        self.last_update_id = update_id

    def truncate(self, depth: int) -> None:
        for side in (BID, ASK):
            self.sides[side] = dict(self._best_first(side, self.sides[side])[:depth])

    def clear(self) -> None:
        self.sides = {BID: {}, ASK: {}}
        self.last_update_id = self.dropped_levels = self.absent_deletes = 0

    def levels(self, side: int) -> list[tuple[float, float]]:
        return self._best_first(side, self.sides[side])

    def to_dict(self) -> dict:
        return {
            "symbol": self.symbol,
            "last_update_id": self.last_update_id,
            "bids": self.levels(BID),
            "asks": self.levels(ASK),
        }


def assert_same(book: OrderBook, ref: ReferenceBook, depth: int) -> None:
    assert book.to_dict() == ref.to_dict()
    bids, asks = ref.levels(BID), ref.levels(ASK)
    assert book.best_bid == (bids[0] if bids else None)
    assert book.best_ask == (asks[0] if asks else None)
    assert book.bid_count == len(bids) and book.ask_count == len(asks)
    assert len(book) == len(bids) + len(asks)
    assert book.dropped_levels == ref.dropped_levels
    assert book.absent_deletes == ref.absent_deletes
    crossed = bool(bids and asks and bids[0][0] >= asks[0][0])
    assert book.is_crossed() is crossed
    if bids and asks:
        assert book.spread == asks[0][0] - bids[0][0]
        assert book.mid == (asks[0][0] + bids[0][0]) * 0.5
    else:
        assert math.isnan(book.spread) and math.isnan(book.mid)
    for side, top, levels in ((BID, book.top_bids, bids), (ASK, book.top_asks, asks)):
        px, qty = top(depth)
        assert px.tolist() == [p for p, _ in levels[:depth]]
        assert qty.tolist() == [q for _, q in levels[:depth]]
        # the C API the sinks and the shared-memory table copy the top with
        assert [tuple(pq) for pq in orderbook_module._top_pairs(book, side, depth).tolist()] == levels[:depth]
        rp, rq = orderbook_module._top_region(book, side, depth)
        assert list(zip(rp.tolist(), rq.tolist())) == levels[:depth][::-1]


# Prices on a small grid of exact binary fractions so that collisions
# (updates of existing levels, deletes of present levels) are frequent.
prices = st.integers(1, 40).map(lambda t: t / 4)
positive_qty = st.integers(1, 1000).map(lambda t: t / 8)
qtys = st.one_of(st.just(0.0), positive_qty)
level = st.tuples(prices, qtys)
sides = st.sampled_from([BID, ASK])


@st.composite
def snapshot_side(draw, side: int, level=level):
    levels = draw(st.lists(level, max_size=16))
    order = draw(st.sampled_from(["as-is", "best-first", "worst-first", "best-first-unique"]))
    if order == "best-first-unique":
        # What exchanges send: strictly sorted best first, no duplicates.
        levels = list({p: q for p, q in levels}.items())
        order = "best-first"
    if order != "as-is":
        levels.sort(key=lambda pq: pq[0], reverse=(side == BID) == (order == "best-first"))
    return levels


update_ids = st.integers(-(2**63), 2**63 - 1)


def make_operation(level):
    """One book operation over levels drawn from ``level``."""
    return st.one_of(
        st.tuples(st.just("apply"), sides, st.lists(level, max_size=12)),
        st.tuples(st.just("apply_one"), sides, level),
        st.tuples(st.just("snapshot"), snapshot_side(BID, level), snapshot_side(ASK, level), update_ids),
        st.tuples(st.just("truncate"), st.integers(0, 10)),
        st.tuples(st.just("clear")),
        st.tuples(st.just("set_id"), update_ids),
    )


operation = make_operation(level)


def apply_op(book: OrderBook, ref: ReferenceBook, op) -> None:
    """One operation of ``make_operation`` on both the book and the reference."""
    kind = op[0]
    if kind == "apply":
        _, side, levels = op
        px = [p for p, _ in levels]
        qv = [q for _, q in levels]
        ref.apply_levels(side, px, qv)
        book.apply_levels(side, np.array(px, dtype=np.float64), np.array(qv, dtype=np.float64))
    elif kind == "apply_one":
        _, side, (p, q) = op
        ref.apply_levels(side, [p], [q])
        book.apply_level(side, p, q)
    elif kind == "snapshot":
        _, bids, asks, uid = op
        ref.load_snapshot(bids, asks, uid)
        book.load_snapshot(bids, asks, uid)
    elif kind == "truncate":
        ref.truncate(op[1])
        book.truncate(op[1])
    elif kind == "clear":
        ref.clear()
        book.clear()
    else:
        ref.last_update_id = op[1]
        book.last_update_id = op[1]


def run_ops(capacity: int, ops, depth: int, **layout) -> None:
    book = OrderBook("TEST", capacity, **layout)
    ref = ReferenceBook("TEST", capacity)
    for op in ops:
        apply_op(book, ref, op)
        assert_same(book, ref, depth)
        assert_same(book.copy(), ref, depth)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.integers(1, 8), ops=st.lists(operation, max_size=25), depth=st.integers(0, 12))
def test_matches_reference_small_capacity(capacity, ops, depth):
    run_ops(capacity, ops, depth)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, max_size=25), depth=st.integers(0, 50))
def test_matches_reference_large_capacity(ops, depth):
    run_ops(1000, ops, depth)


@pytest.mark.parametrize("scan", [0, 1, 3, 100_000])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.integers(1, 40), ops=st.lists(operation, max_size=25))
def test_any_linear_scan_length_gives_same_book(scan, capacity, ops):
    # The position search mixes a linear scan with a binary search; both
    # halves must find the same slot whatever the split.
    old = orderbook_module._set_linear_scan(scan)
    try:
        run_ops(capacity, ops, 8)
    finally:
        orderbook_module._set_linear_scan(old)


@settings(max_examples=100, deadline=None)
@given(
    capacity=st.integers(1, 8),
    bids=st.lists(level, max_size=30),
    asks=st.lists(level, max_size=30),
)
def test_snapshot_overflow_counts_distinct_levels(capacity, bids, asks):
    # Snapshot deeper than the book, with duplicates: only distinct
    # positive-quantity prices beyond capacity are counted.
    book, ref = OrderBook("S", capacity), ReferenceBook("S", capacity)
    ref.load_snapshot(bids, asks, 7)
    book.load_snapshot(np.array(bids, dtype=np.float64).reshape(-1, 2), asks, 7)
    assert_same(book, ref, capacity)


# ---------------------------------------------------------------- ladder layout
# A 64-slot ladder (the smallest) over prices spread across hundreds of ticks
# of a 0.01 grid, with coarser and finer decimal grids mixed in and rare
# prices on no decimal grid at all: every window move (a new best above the
# window, the ladder emptying, the best sinking into the bottom quarter),
# the overflow below the window, grid refinement and the fall back to the
# sorted layout are reached and compared with the reference.
ladder_price = st.one_of(
    st.integers(1, 400).map(lambda t: t / 100),
    st.integers(1, 40).map(lambda t: t / 10),
    st.integers(1, 4).map(float),
    st.integers(1, 4000).map(lambda t: t / 1000),
)
ladder_level = st.tuples(ladder_price, qtys)
odd_level = st.tuples(st.one_of(ladder_price, ladder_price, ladder_price, st.integers(1, 30).map(lambda t: t / 3),
                                st.just(2.0**60)), qtys)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.integers(1, 60), ops=st.lists(make_operation(ladder_level), max_size=30),
       depth=st.integers(0, 70))
def test_ladder_matches_reference(capacity, ops, depth):
    run_ops(capacity, ops, depth, ladder_ticks=64)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.integers(1, 60), ops=st.lists(make_operation(odd_level), max_size=30),
       depth=st.integers(0, 70), decimals=st.sampled_from([-1, 0, 2]))
def test_ladder_with_off_grid_prices_matches_reference(capacity, ops, depth, decimals):
    run_ops(capacity, ops, depth, ladder_ticks=64, price_decimals=decimals)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.integers(1, 40), ops=st.lists(make_operation(ladder_level), max_size=25))
def test_sorted_layout_matches_reference(capacity, ops):
    # ladder_ticks=0: the previous layout, kept as the benchmarks' baseline.
    run_ops(capacity, ops, 8, ladder_ticks=0)


def test_ladder_long_random_walk_matches_reference():
    # A longer seeded run than hypothesis draws: the mid wanders over ~40
    # windows of a 64-slot ladder, levels cluster near the top, the book is
    # full most of the time (evictions), every check after each level.
    rng = np.random.default_rng(7)
    book, ref = OrderBook("W", 40, ladder_ticks=64), ReferenceBook("W", 40)
    mid = 100_000
    for step in range(6000):
        mid += int(rng.integers(-3, 4))
        side = BID if rng.random() < 0.5 else ASK
        off = int(rng.geometric(0.08))
        tick = mid - off if side == BID else mid + off
        qty = 0.0 if rng.random() < 0.4 else float(rng.integers(1, 50))
        ref.apply_levels(side, [tick / 100], [qty])
        book.apply_level(side, tick / 100, qty)
        if step % 7 == 0:
            assert_same(book, ref, 50)
    assert book.layout == "ladder" and book.price_decimals == 2
    assert_same(book, ref, 50)


def _check_region(book: OrderBook, ref: ReferenceBook, depth: int) -> None:
    for side in (BID, ASK):
        rp, rq = orderbook_module._top_region(book, side, depth)
        assert list(zip(rp.tolist(), rq.tolist())) == ref.levels(side)[:depth][::-1]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.integers(1, 60), ops=st.lists(make_operation(odd_level), max_size=40),
       depth=st.integers(0, 20), other=st.integers(0, 20), ticks=st.sampled_from([0, 64, 1024]))
def test_top_region_cache_matches_reference(capacity, ops, depth, other, ticks):
    # c_top_region keeps its last walk while nothing at or better than its worst level changes
    # (what the bus encoder reads on every book event): after every operation the region equals
    # the reference's top, whether it was re-walked or kept; a request for another depth and
    # c_top_pairs (which shares the buffer) in between must not leave a wrong region behind.
    book = OrderBook("TEST", capacity, ladder_ticks=ticks)
    ref = ReferenceBook("TEST", capacity)
    for i, op in enumerate(ops):
        apply_op(book, ref, op)
        _check_region(book, ref, depth)
        _check_region(book, ref, depth)   # a kept region, read twice
        if i % 5 == 4:
            _check_region(book, ref, other)
            orderbook_module._top_pairs(book, BID, other)
    _check_region(book, ref, depth)


@pytest.mark.parametrize("off_grid_side", [BID, ASK])
def test_snapshot_with_a_price_off_every_grid_on_one_side(off_grid_side):
    # A bid off every decimal grid (1/3) once let the asks restart the grid search, so the book
    # kept a ladder on grid 0 and stored 1/3 as a wrong level; found by hypothesis.
    odd, plain = [(0.01, 0.125), (1 / 3, 0.125)], [(1.0, 0.125)]
    bids, asks = (odd, plain) if off_grid_side == BID else (plain, [(3.0, 0.125), (10 / 3, 0.125)])
    book, ref = OrderBook("T", 2, ladder_ticks=64), ReferenceBook("T", 2)
    book.load_snapshot(bids, asks, 0)
    ref.load_snapshot(bids, asks, 0)
    assert book.layout == "sorted"
    assert_same(book, ref, 2)
