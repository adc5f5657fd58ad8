"""OrderBook behaviour: validation, views, ids, inputs, layouts."""
from __future__ import annotations

import array
import gc
import math
import sys
import tracemalloc

import numpy as np
import pytest

from feedhandler.book import ASK, BID, OrderBook


def sample_book(capacity: int = 50) -> OrderBook:
    book = OrderBook("BTCUSDT", capacity)
    book.load_snapshot([(100.0 - i, 1.0 + i) for i in range(10)], [(101.0 + i, 2.0 + i) for i in range(10)], 42)
    return book


def state(book: OrderBook):
    return book.to_dict(), book.dropped_levels, book.absent_deletes


# --------------------------------------------------------------- validation

BAD_VALUES = [float("nan"), float("inf"), float("-inf"), -1.0]


@pytest.mark.parametrize("bad", BAD_VALUES + [0.0, -0.0])
@pytest.mark.parametrize("position", [0, 2])
def test_invalid_price_in_batch_raises_and_leaves_book_unchanged(bad, position):
    book = sample_book()
    before = state(book)
    px = np.array([99.5, 100.5, 98.25])
    qty = np.array([1.0, 0.0, 3.0])
    px[position] = bad
    with pytest.raises(ValueError, match=f"level {position} has invalid price"):
        book.apply_levels(BID, px, qty)
    assert state(book) == before


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize("position", [0, 2])
def test_invalid_qty_in_batch_raises_and_leaves_book_unchanged(bad, position):
    book = sample_book()
    before = state(book)
    px = np.array([101.5, 101.0, 120.0])
    qty = np.array([1.0, 0.0, 3.0])
    qty[position] = bad
    with pytest.raises(ValueError, match=f"level {position} has invalid quantity"):
        book.apply_levels(ASK, px, qty)
    assert state(book) == before


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_invalid_single_level_raises_and_leaves_book_unchanged(bad):
    book = sample_book()
    before = state(book)
    with pytest.raises(ValueError, match="invalid price"):
        book.apply_level(BID, bad, 1.0)
    with pytest.raises(ValueError, match="invalid quantity"):
        book.apply_level(ASK, 101.0, bad)
    assert state(book) == before


@pytest.mark.parametrize("bad", BAD_VALUES)
@pytest.mark.parametrize("where", ["bid_px", "bid_qty", "ask_px", "ask_qty"])
def test_invalid_snapshot_raises_and_leaves_book_unchanged(bad, where):
    book = sample_book()
    before = state(book)
    bids = np.array([[90.0, 1.0], [89.0, 2.0]])
    asks = np.array([[91.0, 1.0], [92.0, 2.0]])
    target = bids if where.startswith("bid") else asks
    target[1, 0 if where.endswith("px") else 1] = bad
    with pytest.raises(ValueError, match="load_snapshot"):
        book.load_snapshot(bids, asks, 43)
    assert state(book) == before
    assert book.last_update_id == 42


@pytest.mark.parametrize("side", [-1, 2, 7])
def test_invalid_side_raises(side):
    book = sample_book()
    before = state(book)
    with pytest.raises(ValueError, match="side must be BID"):
        book.apply_level(side, 100.0, 1.0)
    with pytest.raises(ValueError, match="side must be BID"):
        book.apply_levels(side, [100.0], [1.0])
    assert state(book) == before


def test_malformed_arrays_raise():
    book = sample_book()
    before = state(book)
    with pytest.raises(ValueError, match="differ in length"):
        book.apply_levels(BID, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        book.apply_levels(BID, [[1.0, 2.0]], [[1.0, 2.0]])
    with pytest.raises(ValueError):
        book.apply_levels(BID, ["abc"], [1.0])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        book.load_snapshot([(1.0, 2.0, 3.0)], [], 1)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        book.load_snapshot([1.0, 2.0], [], 1)
    assert state(book) == before
    with pytest.raises(ValueError, match="capacity"):
        OrderBook("X", 0)
    with pytest.raises(TypeError):
        OrderBook(b"X", 5)


# ---------------------------------------------------------- array-likes in

@pytest.mark.parametrize(
    "make",
    [
        list,
        tuple,
        lambda v: array.array("d", v),
        lambda v: np.array(v, dtype=np.float32),
        lambda v: np.array(v, dtype=">f8"),
        lambda v: np.repeat(np.array(v, dtype=np.float64), 2)[::2],  # non-contiguous
        lambda v: memoryview(np.array(v, dtype=np.float64)),
    ],
    ids=["list", "tuple", "array-d", "float32", "big-endian", "strided", "memoryview"],
)
def test_apply_levels_accepts_array_likes(make):
    px, qty = [99.5, 100.0, 104.0], [5.0, 0.0, 0.5]
    book, expected = sample_book(), sample_book()
    book.apply_levels(BID, make(px), make(qty))
    for p, q in zip(px, qty):
        expected.apply_level(BID, p, q)
    assert book.to_dict() == expected.to_dict()
    assert book.best_bid == (104.0, 0.5)
    book.apply_levels(ASK, make([]), make([]))
    assert book.to_dict() == expected.to_dict()


def test_snapshot_accepts_pairs_and_arrays_and_sets_id():
    a = OrderBook("X", 10)
    b = OrderBook("X", 10)
    pairs_b, pairs_a = [(1.5, 2.0), (3.0, 1.0)], [(4.0, 1.0), (3.5, 2.0)]
    a.load_snapshot(pairs_b, pairs_a, 9)
    b.load_snapshot(np.array(pairs_b), np.array(pairs_a), 9)
    assert a.to_dict() == b.to_dict() == {
        "symbol": "X",
        "last_update_id": 9,
        "bids": [(3.0, 1.0), (1.5, 2.0)],
        "asks": [(3.5, 2.0), (4.0, 1.0)],
    }
    a.load_snapshot([], np.empty((0, 2)), 10)
    assert a.to_dict()["bids"] == a.to_dict()["asks"] == []
    assert a.best_bid is None and a.best_ask is None
    assert math.isnan(a.best_bid_price) and math.isnan(a.best_ask_price)


# ---------------------------------------------------------------- behaviour

def test_overflow_drops_far_end_and_counts():
    book = OrderBook("X", 3)
    book.apply_levels(BID, [10.0, 11.0, 12.0], [1.0, 1.0, 1.0])
    book.apply_level(BID, 11.5, 2.0)  # pushes out 10.0
    assert book.to_dict()["bids"] == [(12.0, 1.0), (11.5, 2.0), (11.0, 1.0)]
    assert book.dropped_levels == 1
    book.apply_level(BID, 9.0, 2.0)  # worse than the worst of a full side
    assert book.to_dict()["bids"] == [(12.0, 1.0), (11.5, 2.0), (11.0, 1.0)]
    assert book.dropped_levels == 2
    book.apply_level(BID, 12.0, 0.0)
    book.apply_level(BID, 12.0, 0.0)  # absent now
    assert book.absent_deletes == 1
    assert book.bid_count == 2


def test_crossed_and_locked_books_detected():
    book = OrderBook("X", 5)
    assert not book.is_crossed()
    book.apply_level(BID, 100.0, 1.0)
    assert not book.is_crossed()  # one side empty
    book.apply_level(ASK, 100.5, 1.0)
    assert not book.is_crossed()
    book.apply_level(ASK, 100.0, 1.0)
    assert book.is_crossed()  # locked
    book.apply_level(ASK, 100.0, 0.0)
    book.apply_level(BID, 101.0, 1.0)
    assert book.is_crossed()


def test_update_ids_near_int64_limits_survive():
    book = sample_book()
    top = 2**63 - 1
    book.load_snapshot([(1.0, 1.0)], [(2.0, 1.0)], top)
    assert book.last_update_id == top
    assert book.copy().last_update_id == top
    assert book.to_dict()["last_update_id"] == top
    book.last_update_id = top - 1
    assert book.last_update_id == top - 1
    book.last_update_id = -(2**63)
    assert book.last_update_id == -(2**63)
    with pytest.raises(OverflowError):
        book.last_update_id = 2**63
    with pytest.raises(OverflowError):
        book.load_snapshot([], [], 2**63)
    assert book.last_update_id == -(2**63)


def test_copy_is_independent():
    book = sample_book()
    twin = book.copy()
    assert twin is not book and twin.to_dict() == book.to_dict()
    assert (twin.dropped_levels, twin.absent_deletes, twin.capacity) == (
        book.dropped_levels, book.absent_deletes, book.capacity)
    twin.apply_level(BID, 100.0, 0.0)
    assert book.best_bid == (100.0, 1.0)
    assert twin.best_bid == (99.0, 2.0)


def test_clear_and_truncate():
    book = sample_book()
    book.apply_level(ASK, 500.0, 0.0)
    book.truncate(3)
    assert book.to_dict()["bids"] == [(100.0, 1.0), (99.0, 2.0), (98.0, 3.0)]
    assert book.to_dict()["asks"] == [(101.0, 2.0), (102.0, 3.0), (103.0, 4.0)]
    assert book.absent_deletes == 1 and book.dropped_levels == 0
    with pytest.raises(ValueError):
        book.truncate(-1)
    book.clear()
    assert book.to_dict() == {"symbol": "BTCUSDT", "last_update_id": 0, "bids": [], "asks": []}
    assert book.absent_deletes == 0 and len(book) == 0


def test_repr_mentions_state():
    text = repr(sample_book())
    assert "BTCUSDT" in text and "(100.0, 1.0)" in text and "(101.0, 2.0)" in text and "42" in text


# -------------------------------------------------------------------- views

def sample_sorted_book(capacity: int = 50) -> OrderBook:
    book = OrderBook("BTCUSDT", capacity, ladder_ticks=0)
    book.load_snapshot([(100.0 - i, 1.0 + i) for i in range(10)], [(101.0 + i, 2.0 + i) for i in range(10)], 42)
    return book


def test_top_n_are_views_not_copies():
    # The sorted layout (ladder_ticks=0) hands out views of the book's own memory.
    book = sample_sorted_book()
    assert book.layout == "sorted"
    px, qty = book.top_bids(3)
    assert px.tolist() == [100.0, 99.0, 98.0] and qty.tolist() == [1.0, 2.0, 3.0]
    assert px.dtype == np.float64 and px.shape == (3,)
    assert not px.flags.owndata and not qty.flags.owndata
    deeper_px, deeper_qty = book.top_bids(10)
    assert np.shares_memory(px, deeper_px) and np.shares_memory(qty, deeper_qty)
    # A change in the book shows through the old view: it is the book's memory.
    book.apply_level(BID, 100.0, 7.5)
    assert qty[0] == 7.5
    apx, aqty = book.top_asks(2)
    book.apply_level(ASK, 101.0, 0.25)
    assert aqty.tolist() == [0.25, 3.0] and apx.tolist() == [101.0, 102.0]
    assert np.shares_memory(apx, book.top_asks(10)[0])


def test_ladder_top_n_are_views_of_one_refilled_buffer():
    # The ladder layout copies the best n into a per-book buffer (allocated
    # once) and hands out read-only views of it, refreshed by each top_* call.
    book = sample_book()
    assert book.layout == "ladder" and book.price_decimals == 0
    px, qty = book.top_bids(3)
    assert px.tolist() == [100.0, 99.0, 98.0] and qty.tolist() == [1.0, 2.0, 3.0]
    assert px.dtype == np.float64 and px.shape == (3,) and not px.flags.owndata
    deeper_px, deeper_qty = book.top_bids(10)
    assert np.shares_memory(px, deeper_px) and np.shares_memory(qty, deeper_qty)
    book.apply_level(BID, 100.0, 7.5)
    assert qty[0] == 1.0  # a copy: the book's change shows at the next call
    assert book.top_bids(1)[1].tolist() == [7.5] and qty[0] == 7.5
    apx, aqty = book.top_asks(2)
    assert not np.shares_memory(apx, px)  # each side has its own buffer
    book.apply_level(ASK, 101.0, 0.25)
    assert book.top_asks(2)[1].tolist() == [0.25, 3.0] and apx.tolist() == [101.0, 102.0]
    with pytest.raises(ValueError):
        px[0] = 1.0


def test_layouts_and_grid():
    book = OrderBook("X", 10)
    assert book.layout == "ladder" and book.price_decimals is None and book.ladder_ticks == 1024
    book.apply_level(BID, 61837.6, 1.0)
    assert book.price_decimals == 1
    book.apply_level(BID, 61837.63, 1.0)  # a finer price refines the grid
    assert book.price_decimals == 2 and book.best_bid == (61837.63, 1.0)
    book.apply_level(ASK, 1 / 3, 1.0)  # on no decimal grid: the sorted layout from now on
    assert book.layout == "sorted" and book.price_decimals is None
    assert book.to_dict()["bids"] == [(61837.63, 1.0), (61837.6, 1.0)] and book.best_ask == (1 / 3, 1.0)
    book.clear()
    assert book.layout == "ladder" and book.price_decimals is None
    assert OrderBook("X", 10, ladder_ticks=0).layout == "sorted"
    assert OrderBook("X", 5000).ladder_ticks == 32768 and OrderBook("X", 100_000).ladder_ticks == 65536
    assert OrderBook("X", 10, price_decimals=4).price_decimals == 4
    for bad in (63, 100, -2):
        with pytest.raises(ValueError, match="ladder_ticks"):
            OrderBook("X", 10, ladder_ticks=bad)
    with pytest.raises(ValueError, match="price_decimals"):
        OrderBook("X", 10, price_decimals=13)


def test_views_are_read_only_and_clamped():
    book = sample_book()
    px, qty = book.top_asks(100)
    assert px.shape == (10,)
    with pytest.raises(ValueError):
        px[0] = 1.0
    with pytest.raises(ValueError):
        qty[0] = 1.0
    assert book.best_ask == (101.0, 2.0)
    assert book.top_bids(0)[0].shape == (0,)
    with pytest.raises(ValueError):
        book.top_bids(-1)
    empty = OrderBook("E", 4)
    assert empty.top_bids(5)[0].shape == (0,)


# --------------------------------------------------------- allocation-free

def _stream(n_batches: int, batch: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    ticks = 10_000 - rng.geometric(0.05, size=(n_batches, batch))
    prices = ticks / 100.0
    qtys = np.where(rng.random((n_batches, batch)) < 0.33, 0.0, rng.integers(1, 100, (n_batches, batch)) / 10)
    return np.ascontiguousarray(prices), np.ascontiguousarray(qtys)


def test_steady_state_apply_levels_does_not_grow_memory():
    book = OrderBook("X", 256)
    prices, qtys = _stream(1000, 100)  # 100k level updates
    rows_p = [prices[i] for i in range(1000)]  # preallocated row views
    rows_q = [qtys[i] for i in range(1000)]

    def run():
        for i in range(1000):
            book.apply_levels(BID, rows_p[i], rows_q[i])
            book.apply_levels(ASK, rows_p[i], rows_q[i])

    run()  # warm-up: caches, numpy's buffer-format cache
    gc.collect()
    blocks_before = sys.getallocatedblocks()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        run()
        end, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    gc.collect()
    blocks_after = sys.getallocatedblocks()
    assert end - start < 1024, f"memory grew by {end - start} bytes over 100k updates"
    assert peak - start < 16 * 1024, f"transient peak {peak - start} bytes"
    assert blocks_after - blocks_before < 64
    assert book.bid_count > 0 and book.absent_deletes > 0  # the stream really did work


def test_steady_state_apply_level_does_not_grow_memory():
    book = OrderBook("X", 64)  # small capacity: overflow path is exercised too
    prices, qtys = _stream(1, 100_000)
    px, qv = prices[0].tolist(), qtys[0].tolist()
    sides = [BID, ASK] * 50_000

    def run():
        for s, p, q in zip(sides, px, qv):
            book.apply_level(s, p, q)

    run()
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        run()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 1024
    assert book.dropped_levels > 0
