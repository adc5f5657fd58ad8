"""BookSync against a reference history: every book handed out is a state the exchange had."""
from __future__ import annotations

import random

import numpy as np
import pytest

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.events import BookStatus, BookUpdate
from feedhandler.sync import (
    DELTA_APPLY, DELTA_GAP, DELTA_SKIP, LINK_PREVIOUS, LIVE, WAITING, BookSyncGroup, SequenceRule,
)

SPOT = SequenceRule("spot")
FUTURES = SequenceRule("futures", LINK_PREVIOUS, 0)


def test_spot_rule_verdicts():
    assert SPOT.check_first(100, 95, 100) == DELTA_SKIP  # u <= S
    assert SPOT.check_first(100, 95, 101) == DELTA_APPLY  # U <= S+1 <= u
    assert SPOT.check_first(100, 101, 103) == DELTA_APPLY
    assert SPOT.check_first(100, 102, 103) == DELTA_GAP
    assert SPOT.check_next(100, 101, 105) == DELTA_APPLY
    assert SPOT.check_next(100, 99, 100) == DELTA_SKIP  # duplicate
    assert SPOT.check_next(100, 102, 105) == DELTA_GAP


def test_futures_rule_verdicts():
    assert FUTURES.check_first(100, 90, 99) == DELTA_SKIP  # u < S
    assert FUTURES.check_first(100, 95, 100) == DELTA_APPLY  # U <= S <= u
    assert FUTURES.check_first(100, 101, 105) == DELTA_GAP
    assert FUTURES.check_next(105, 106, 110, prev=105) == DELTA_APPLY  # pu == previous u
    assert FUTURES.check_next(105, 106, 110, prev=104) == DELTA_GAP
    assert FUTURES.check_next(105, 100, 104, prev=99) == DELTA_SKIP


class History:
    """A seeded random exchange book and the deltas that built it (the oracle)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.bids = {100.0 - i * 0.5: 1.0 + i for i in range(1, 11)}
        self.asks = {100.0 + i * 0.5: 1.0 + i for i in range(1, 11)}
        self.last_id = 1000
        self.states = {self.last_id: self.state()}

    def state(self):
        return (sorted(self.bids.items(), reverse=True), sorted(self.asks.items()))

    def step(self):
        rng = self.rng
        first = self.last_id + 1
        self.last_id += rng.randint(1, 3)
        best_bid, best_ask = max(self.bids), min(self.asks)
        bids, asks = [], []
        for _ in range(rng.randint(1, 4)):
            side, book, levels = (("b", self.bids, bids) if rng.random() < 0.5 else ("a", self.asks, asks))
            if rng.random() < 0.3 and len(book) > 3:
                price = rng.choice(sorted(book))
                del book[price]
                levels.append((price, 0.0))
            else:
                off = rng.randint(0, 8) * 0.5
                price = (best_ask - 0.5 - off) if side == "b" else (best_bid + 0.5 + off)
                if (side == "b" and price >= min(self.asks)) or (side == "a" and price <= max(self.bids)):
                    continue
                qty = float(rng.randint(1, 50))
                book[price] = qty
                levels.append((price, qty))
        self.states[self.last_id] = self.state()
        return first, self.last_id, np.array(bids).reshape(-1, 2), np.array(asks).reshape(-1, 2)


def book_state(book):
    d = book.to_dict()
    return ([tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]])


@pytest.mark.parametrize("seed", range(12))
def test_faulty_stream_never_hands_out_a_false_book(seed):
    hist = History(seed)
    rng = random.Random(seed + 1000)
    events = []
    checked = []

    def handler(ev):
        if isinstance(ev, BookUpdate):
            # the book handed out must equal the true book at that update id
            assert ev.last_update_id in hist.states, "book at an id the exchange never had"
            assert book_state(ev.book) == hist.states[ev.last_update_id]
            checked.append(ev.last_update_id)
        events.append(ev.copy())

    requests = []
    group = BookSyncGroup("test", SPOT, EventDispatcher(handler), depth=64, request_snapshot=requests.append)
    sync = group.get("SYM")
    held = None
    for step in range(400):
        delta = hist.step()
        fault = rng.random()
        if fault < 0.03:
            continue  # lost frame: a gap
        if fault < 0.06:
            sync.apply_delta(delta[0], delta[1], delta[2], delta[3])  # duplicate
        if fault < 0.09 and held is None:
            held = delta  # reorder: send it after the next one
            continue
        sync.apply_delta(delta[0], delta[1], delta[2], delta[3])
        if held is not None:
            sync.apply_delta(held[0], held[1], held[2], held[3])
            held = None
        if requests and rng.random() < 0.3:
            # the snapshot arrives some steps after the request, sometimes already stale
            requests.clear()
            snap_id = hist.last_id - (rng.randint(1, 6) if rng.random() < 0.2 else 0)
            snap_id = max(k for k in hist.states if k <= max(snap_id, 1000))
            bids, asks = hist.states[snap_id]
            sync.load_snapshot(snap_id, np.array(bids).reshape(-1, 2), np.array(asks).reshape(-1, 2))
    # a clean tail: after faults stop, the book converges to the truth
    for _ in range(5):
        if requests:
            requests.clear()
            bids, asks = hist.states[hist.last_id]
            sync.load_snapshot(hist.last_id, np.array(bids).reshape(-1, 2), np.array(asks).reshape(-1, 2))
        d = hist.step()
        sync.apply_delta(d[0], d[1], d[2], d[3])
    assert sync.state == LIVE
    assert sync.book.last_update_id == hist.last_id
    assert book_state(sync.book) == hist.states[hist.last_id]
    assert len(checked) > 50
    statuses = [e for e in events if isinstance(e, BookStatus)]
    assert statuses and statuses[0].valid
    # valid and invalid alternate, each invalid one says why
    for a, b in zip(statuses, statuses[1:]):
        assert a.valid != b.valid
    assert all(s.reason for s in statuses)
    assert sync.gaps + sync.skipped > 0


def test_gap_invalidates_and_requests_once():
    hist = History(1)
    statuses, requests = [], []
    group = BookSyncGroup("t", SPOT, EventDispatcher(lambda e: isinstance(e, BookStatus) and statuses.append(e.copy())),
                          request_snapshot=requests.append)
    sync = group.get("X")
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    assert sync.state == WAITING and len(requests) == 1
    bids, asks = hist.states[hist.last_id]
    assert sync.load_snapshot(hist.last_id, bids, asks)
    hist.step()  # lost
    for _ in range(3):
        d = hist.step()
        sync.apply_delta(d[0], d[1], d[2], d[3])
    assert sync.state == WAITING and len(requests) == 2 and sync.gaps == 1
    assert [s.valid for s in statuses] == [True, False]
    assert "gap" in statuses[1].reason


def test_invalid_delta_rejected_book_unchanged():
    hist = History(2)
    group = BookSyncGroup("t", SPOT, EventDispatcher(None), request_snapshot=lambda s: None)
    sync = group.get("X")
    bids, asks = hist.states[hist.last_id]
    sync.load_snapshot(hist.last_id, bids, asks)
    before = book_state(sync.book)
    for bad in ([[float("nan"), 1.0]], [[100.0, -1.0]], [[-5.0, 1.0]], [[float("inf"), 1.0]]):
        with pytest.raises(ValueError):
            sync.apply_delta(hist.last_id + 1, hist.last_id + 1, [[99.0, 2.0]], bad)
        assert book_state(sync.book) == before and sync.book.last_update_id == hist.last_id


def test_crossed_book_is_invalidated():
    group = BookSyncGroup("t", SPOT, EventDispatcher(None), request_snapshot=lambda s: None)
    sync = group.get("X")
    sync.load_snapshot(10, [[99.0, 1.0]], [[101.0, 1.0]])
    sync.apply_delta(11, 11, [[102.0, 1.0]], [])
    assert sync.state == WAITING and sync.crossed == 1


def test_buffer_overflow_is_bounded_and_counted():
    group = BookSyncGroup("t", SPOT, EventDispatcher(None), request_snapshot=lambda s: None,
                          buffer_levels=10, buffer_deltas=4)
    sync = group.get("X")
    for i in range(1, 20):
        sync.apply_delta(i, i, [[99.0, float(i)]], [[101.0, 1.0]])
    assert sync.buffer_overflows > 0 and sync.buffered_count <= 4
    # a snapshot older than what is still buffered is refused, a fresh one is used
    assert not sync.load_snapshot(5, [[99.0, 5.0]], [[101.0, 1.0]])
    assert sync.stale_snapshots == 1
    assert sync.load_snapshot(19, [[99.0, 19.0]], [[101.0, 1.0]])
    assert sync.book.best_bid == (99.0, 19.0)


def test_full_snapshot_resets():
    got = []
    group = BookSyncGroup("t", SPOT, EventDispatcher(lambda e: got.append(e.copy())), request_snapshot=lambda s: None)
    sync = group.get("X")
    sync.apply_full_snapshot(50, [[99.0, 1.0]], [[101.0, 1.0]])
    assert sync.state == LIVE
    sync.apply_delta(51, 52, [[99.5, 2.0]], [])
    assert sync.book.best_bid == (99.5, 2.0) and sync.book.last_update_id == 52
    sync.apply_full_snapshot(80, [[98.0, 3.0]], [[102.0, 1.0]])
    assert sync.book.best_bid == (98.0, 3.0) and sync.book.last_update_id == 80
    assert [type(e).__name__ for e in got] == ["BookStatus", "BookUpdate", "BookUpdate", "BookUpdate"]


def test_manager_config_book_depth_reaches_new_books():
    from feedhandler import WebSocketManagerConfig
    from simjson_feed import simjson_parser

    parser = simjson_parser("http://127.0.0.1:9")
    parser.configure(WebSocketManagerConfig("simjson", book_depth=7))
    assert parser.books.get("X").book.capacity == 7


def test_lookup_by_frame_bytes_is_allocation_free_across_symbols():
    import sys

    class CountingGroup(BookSyncGroup):
        # get() builds and hashes a str: the slow path a known symbol must never take
        calls = 0

        def get(self, symbol):
            CountingGroup.calls += 1
            return super().get(symbol)

    group = CountingGroup("t", SPOT, EventDispatcher(None), depth=8)
    names = [f"SYM{i}USDT" for i in range(40)] + ["BTC_USDT", "ÉTHUSDT"]
    syncs = {n: group.get(n) for n in names[:20]}
    keys = [n.encode() for n in names]
    # unknown names are created on first sight (through their bytes), known ones come back as the same object
    for n, k in zip(names, keys):
        assert group.lookup_bytes(k) is group.get(n)
    assert all(group.lookup_bytes(n.encode()) is s for n, s in syncs.items())
    order = [keys[(i * 7) % len(keys)] for i in range(1000)]  # interleaved, never two in a row the same
    for k in order:
        group.lookup_bytes(k)
    before, calls = sys.getallocatedblocks(), CountingGroup.calls
    for _ in range(20):
        for k in order:
            group.lookup_bytes(k)
    assert CountingGroup.calls == calls  # no str built, no dict lookup, for 20,000 interleaved lookups
    assert sys.getallocatedblocks() - before < 20
    group.forget(names[:10])
    assert len(group) == len(names) - 10
    assert group.lookup_bytes(keys[15]) is group.get(names[15])
    assert names[3] not in group and group.lookup_bytes(keys[3]).symbol == names[3]  # re-created on demand
