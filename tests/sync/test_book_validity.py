"""A book is valid only while it is provably current (issue 18), at the BookSync/BookSyncGroup level.

The oracle is the seeded ``History`` of test_book_sync.py (every state the exchange had, by update id):
each BookUpdate handed out must be one of those states, and no book may stay valid while every update
is being discarded or rejected.
"""
from __future__ import annotations

import asyncio
import tracemalloc

import numpy as np
import pytest
from test_book_sync import SPOT, History, book_state

from feedhandler import ReconnectPolicy
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import RestError, UnsubscribedSymbolError
from feedhandler.events import BookStatus, BookUpdate
from feedhandler.sync import CLOSED, LIVE, SYNCING, WAITING, BookSyncGroup
from feedhandler.sync.service import SnapshotService


class Recorder:
    """Handler and request sink: BookUpdates checked against the history, statuses recorded."""

    def __init__(self, hist: History | None = None):
        self.hist = hist
        self.updates: list[tuple[str, int, bool]] = []
        self.statuses: list[tuple[str, bool, str]] = []
        self.requests: list[str] = []
        self.errors: list[BaseException] = []

    def __call__(self, ev):
        if isinstance(ev, BookUpdate):
            if self.hist is not None:
                assert ev.last_update_id in self.hist.states, f"book at {ev.last_update_id}, never published"
                assert book_state(ev.book) == self.hist.states[ev.last_update_id]
            self.updates.append((ev.symbol, ev.last_update_id, ev.is_snapshot))
        elif isinstance(ev, BookStatus):
            self.statuses.append((ev.symbol, ev.valid, ev.reason))

    def group(self, **kw) -> BookSyncGroup:
        g = BookSyncGroup("t", SPOT, EventDispatcher(self, self.errors.append), depth=64,
                          request_snapshot=lambda s: self.requests.append(s.symbol), **kw)
        return g


def _live(rec: Recorder, group: BookSyncGroup, hist: History, symbol: str = "X"):
    sync = group.get(symbol)
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    bids, asks = hist.states[hist.last_id]
    assert sync.load_snapshot(hist.last_id, bids, asks)
    assert sync.state == LIVE
    return sync


def _live_group(seed: int, frames: int | None = None, seconds: float = 0.0):
    """History, recorder, group (with discard bounds if given) and a LIVE book "X"."""
    hist = History(seed)
    rec = Recorder(hist)
    group = rec.group()
    if frames is not None:
        group.set_discard_bounds(frames, seconds)
    return hist, rec, group, _live(rec, group, hist)


def test_unknown_symbols_create_nothing_and_are_reported_once_bounded():
    rec = Recorder()
    group = rec.group()
    group.subscribe(["BTCUSDT"])
    names = [f"FAKE{i}USDT".encode() for i in range(10_000)]
    def flood():
        for name in names:
            sink = group.lookup_bytes(name)
            assert sink.state == CLOSED
            sink.apply_delta(1, 1, [[99.0, 1.0]], [[101.0, 1.0]])   # what a decoder does with it: nothing

    tracemalloc.start()
    start = tracemalloc.take_snapshot()
    flood()   # first sight: reported (the reports themselves are kept by the test's handler)
    first = tracemalloc.take_snapshot()
    flood()   # the second and third sight of every name only count
    flood()
    again = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown_first = sum(d.size_diff for d in first.compare_to(start, "filename"))
    grown_again = sum(d.size_diff for d in again.compare_to(first, "filename"))
    assert len(group) == 0 and rec.requests == [] and rec.updates == [] and rec.statuses == []
    assert group.unknown_frames == 30_000
    assert group.reported_names == BookSyncGroup.REPORTED_NAMES
    reports = [e for e in rec.errors if isinstance(e, UnsubscribedSymbolError)]
    assert len(reports) == BookSyncGroup.REPORTED_NAMES           # once per name, bounded
    assert len({str(e) for e in reports}) == len(reports)
    assert "FAKE0USDT" in str(reports[0]) and "not subscribed" in str(reports[0])
    # one book per name would be over 1 MB each (its preallocated buffer): here no memory per name at all
    assert grown_first < 2_000_000, f"{grown_first} bytes for 10,000 unknown names"
    assert grown_again < 20_000, f"{grown_again} bytes for 20,000 more frames of known-unknown names"
    # the subscribed symbol is served at once, as usual
    sync = group.lookup_bytes(b"BTCUSDT")
    assert sync.symbol == "BTCUSDT" and sync.state == WAITING
    sync.apply_delta(5, 6, [[99.0, 1.0]], [])
    assert rec.requests == ["BTCUSDT"] and len(group) == 1


def test_subscribed_names_are_matched_as_the_exchange_spells_them():
    rec = Recorder()
    group = rec.group()
    group.subscribe(["btcusdt"])
    assert group.lookup_bytes(b"BTCUSDT").symbol == "BTCUSDT"
    assert group.lookup_bytes(b"btcusdt").state == CLOSED    # frames carry the exchange's (upper case) name


def test_partial_depth_keys_follow_the_subscription_of_their_symbol():
    """Keys "<SYMBOL>@<N>" (partial-depth books): the rules apply to the part before the separator."""
    rec = Recorder()
    group = rec.group(key_separator="@")
    group.subscribe(["btcusdt"])
    book20, book5 = group.lookup_bytes(b"BTCUSDT@depth20"), group.lookup_bytes(b"BTCUSDT@depth5")
    assert (book20.symbol, book5.symbol) == ("BTCUSDT@depth20", "BTCUSDT@depth5") and len(group) == 2
    for _ in range(3):   # a symbol never subscribed: nothing created, counted, reported once per symbol
        for name in (b"ETHUSDT@depth20", b"ETHUSDT@depth5", b"BTCUSD@depth20"):
            assert group.lookup_bytes(name).state == CLOSED
    assert group.lookup_bytes(b"BTCUSDT").state == WAITING   # a key without a separator is the symbol itself
    assert sorted(group.symbols()) == ["BTCUSDT", "BTCUSDT@depth20", "BTCUSDT@depth5"]   # the bare symbol too
    assert group.unknown_frames == 9 and group.reported_names == 2
    reports = [str(e) for e in rec.errors if isinstance(e, UnsubscribedSymbolError)]
    assert len(reports) == 2 and "ETHUSDT@depth20" in reports[0] and "BTCUSD@depth20" in reports[1]
    # unsubscribing the symbol closes every book of it; its late frames build nothing
    closed = group.close(["btcusdt"])
    assert {s.symbol for s in closed} == {"BTCUSDT", "BTCUSDT@depth20", "BTCUSDT@depth5"} and len(group) == 0
    assert all(s.state == CLOSED for s in closed)
    assert group.lookup_bytes(b"BTCUSDT@depth20").state == CLOSED and group.late_frames == 1 and len(group) == 0
    # subscribed again: books again, and a symbol reported unknown before is served once subscribed
    group.subscribe(["BTCUSDT", "ETHUSDT"])
    assert group.lookup_bytes(b"BTCUSDT@depth20").state == WAITING
    assert group.lookup_bytes(b"ETHUSDT@depth5").state == WAITING and len(group) == 2
    with pytest.raises(ValueError):
        rec.group(key_separator="@@")


def test_unsubscribe_closes_the_book_and_late_frames_resurrect_nothing():
    hist = History(3)
    rec = Recorder(hist)
    group = rec.group()
    group.subscribe(["X", "Y"])
    sync = _live(rec, group, hist)
    rec.requests.clear()
    closed = group.close(["X"])
    assert closed == [sync] and sync.state == CLOSED and not sync.is_valid
    assert rec.statuses[-1] == ("X", False, "unsubscribed")
    n_updates, n_status = len(rec.updates), len(rec.statuses)
    for _ in range(50):  # frames still in flight
        d = hist.step()
        late = group.lookup_bytes(b"X")
        assert late.state == CLOSED
        late.apply_delta(d[0], d[1], d[2], d[3])
    # a snapshot answer that was already on its way is refused too
    bids, asks = hist.states[hist.last_id]
    assert sync.load_snapshot(hist.last_id, bids, asks) is False
    assert "X" not in group and group.late_frames == 50 and group.unknown_frames == 0
    assert rec.requests == [] and len(rec.updates) == n_updates and len(rec.statuses) == n_status
    assert not [e for e in rec.errors if isinstance(e, UnsubscribedSymbolError)]   # late frames: counted only
    # subscribing again starts a fresh book
    group.subscribe(["X"])
    fresh = group.lookup_bytes(b"X")
    assert fresh is not sync and fresh.state == WAITING


@pytest.mark.parametrize("bound", ["frames", "time"])
def test_ids_restarting_from_one_turn_the_book_invalid_within_the_bound(bound):
    hist = History(4)
    rec = Recorder()
    group = rec.group()
    if bound == "frames":
        group.set_discard_bounds(20, 0.0)
    else:
        group.set_discard_bounds(10_000, 0.05)
    sync = _live(rec, group, hist)
    rec.requests.clear()
    # the exchange restarts its ids from 1: every delta is now "older" than the book
    seen = 0
    t = 1_000_000_000
    for i in range(1, 200):
        t += 10_000_000   # 10 ms between frames
        sync.apply_delta(i, i, [[99.0, float(i)]], [], recv_ns=t)
        seen += 1
        if sync.state != LIVE:
            break
    assert sync.state == WAITING
    assert seen == (20 if bound == "frames" else 6)
    assert rec.statuses[-1][1] is False and "updates discarded" in rec.statuses[-1][2]
    assert "ids restarted" in rec.statuses[-1][2]
    assert rec.requests == ["X"] and sync.discard_resyncs == 1
    # the snapshot in the new id space syncs it again, the discarded delta is replayed over it
    sync.load_snapshot(seen, [[99.0, 1.0]], [[101.0, 2.0]])
    sync.apply_delta(seen + 1, seen + 1, [[99.5, 3.0]], [], recv_ns=t)
    assert sync.state == LIVE and sync.book.last_update_id == seen + 1
    assert rec.statuses[-1] == ("X", True, "synced")


def test_duplicates_between_applied_updates_do_not_count_as_a_run():
    hist, rec, group, sync = _live_group(5, 3)
    for _ in range(100):
        d = hist.step()
        sync.apply_delta(d[0], d[1], d[2], d[3])
        sync.apply_delta(d[0], d[1], d[2], d[3])   # each update twice: one discard, then an apply
        sync.apply_delta(d[0], d[1], d[2], d[3])
    assert sync.state == LIVE and sync.discard_resyncs == 0 and sync.skipped == 200


def test_rejected_frames_on_the_connection_invalidate_within_the_bound():
    hist, rec, group, sync = _live_group(6, 10)
    rec.requests.clear()
    for _ in range(9):
        group.note_rejected(["X"], 0)
    assert sync.state == LIVE
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])   # an applied update ends the run
    for _ in range(9):
        group.note_rejected(["X"], 0)
    assert sync.state == LIVE
    group.note_rejected(["X"], 0)
    assert sync.state == WAITING and sync.rejected_resyncs == 1
    assert "updates rejected: 10 frames" in rec.statuses[-1][2]
    assert rec.requests == []   # nothing to sync with while frames are rejected: the next accepted delta asks
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    assert rec.requests == ["X"]


def test_snapshot_ahead_of_the_stream_is_never_delivered_and_is_given_up():
    hist = History(7)
    rec = Recorder(hist)
    group = rec.group()
    group.set_discard_bounds(15, 0.0)
    sync = group.get("X")
    for _ in range(3):
        d = hist.step()
        sync.apply_delta(d[0], d[1], d[2], d[3])
    assert rec.requests == ["X"]
    rec.requests.clear()
    # a misbehaving cache: the current book labelled 10,000 ids ahead
    bids, asks = hist.states[hist.last_id]
    assert sync.load_snapshot(hist.last_id + 10_000, bids, asks) is True   # taken, but not valid
    assert sync.state == SYNCING and not sync.is_valid and "ahead of the stream" in sync.invalid_reason
    for i in range(15):
        d = hist.step()
        sync.apply_delta(d[0], d[1], d[2], d[3])
        assert not sync.is_valid
    assert rec.updates == [] and rec.statuses == []   # nothing at an id the exchange never published
    assert sync.state == WAITING and sync.snapshots_ahead == 1 and rec.requests == ["X"]
    # an honest snapshot just before the delta kept in the buffer: replayed over it, valid
    bids, asks = hist.states[d[0] - 1]
    sync.load_snapshot(d[0] - 1, bids, asks)
    assert sync.state == LIVE and book_state(sync.book) == hist.states[hist.last_id]
    assert rec.statuses == [("X", True, "synced")]


def test_snapshot_slightly_ahead_becomes_valid_only_when_a_delta_connects():
    hist = History(8)
    rec = Recorder(hist)
    group = rec.group()
    sync = group.get("X")
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    nxt = hist.step()    # the REST cache already has the next update, the stream has not sent it
    bids, asks = hist.states[hist.last_id]
    assert sync.load_snapshot(hist.last_id, bids, asks) is True and sync.state == SYNCING
    assert rec.updates == []
    sync.apply_delta(nxt[0], nxt[1], nxt[2], nxt[3])   # older than the snapshot: discarded
    assert sync.state == SYNCING
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])           # connects: valid, one snapshot-type update
    assert sync.state == LIVE and rec.statuses == [("X", True, "synced")]
    assert rec.updates == [("X", hist.last_id, True)]


def test_a_snapshot_followed_by_a_gap_is_refused():
    hist = History(9)
    rec = Recorder(hist)
    group = rec.group()
    sync = group.get("X")
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    hist.step()
    bids, asks = hist.states[hist.last_id]
    sync.load_snapshot(hist.last_id + 1, bids, asks)   # claims one id more than it holds
    assert sync.state == SYNCING
    for _ in range(5):
        hist.step()   # lost: the stream moves on by at least 5 ids
    d = hist.step()   # so this delta cannot connect to the snapshot
    rec.requests.clear()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    assert sync.state == WAITING and sync.stale_snapshots == 1 and rec.requests == ["X"]
    assert rec.updates == []


def test_freshness_time_and_stale_status():
    hist, rec, group, sync = _live_group(10)
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3], recv_ns=5_000_000_000)
    assert sync.last_update_ns == 5_000_000_000
    assert group.check_stale(["X"], 1.0, 5_900_000_000) == [] and sync.is_valid
    assert group.check_stale(["X"], 1.0, 6_100_000_000) == ["X"]
    assert not sync.is_valid and rec.statuses[-1] == ("X", False, "stale") and sync.stale_reports == 1
    assert group.check_stale(["X"], 1.0, 9_000_000_000) == []   # reported once
    # the next update buffers and asks for a snapshot
    rec.requests.clear()
    d = hist.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    assert rec.requests == ["X"]


async def test_snapshot_4xx_is_final_other_failures_are_retried():
    calls: dict[str, int] = {"BAD": 0, "FLAKY": 0}

    async def fetch(symbol):
        calls[symbol] += 1
        if symbol == "BAD":
            raise RestError('GET /api/v3/depth failed: HTTP 400: {"code":-1121,"msg":"Invalid symbol."}', 400)
        if calls[symbol] < 3:
            raise RestError("GET /api/v3/depth failed: HTTP 503: busy", 503)
        return 10, [[99.0, 1.0]], [[101.0, 1.0]]

    rec = Recorder()
    group = rec.group()
    service = SnapshotService(fetch, retry=ReconnectPolicy(base_delay=0.01, max_delay=0.02, first_delay=0.01),
                              error_handler=rec.errors.append)
    group.request_snapshot = service.request
    bad, flaky = group.get("BAD"), group.get("FLAKY")
    bad.apply_delta(11, 11, [[99.0, 2.0]], [])
    flaky.apply_delta(10, 11, [[99.0, 2.0]], [])
    async with asyncio.timeout(5):
        while not flaky.is_valid:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    for i in range(20):   # more deltas: a refused symbol is never asked for again
        bad.apply_delta(12 + i, 12 + i, [[99.0, 2.0]], [])
    await asyncio.sleep(0.1)
    assert calls == {"BAD": 1, "FLAKY": 3}
    assert bad.final_error is not None and "400" in bad.final_error and not bad.is_valid
    refused = [e for e in rec.errors if "refused" in str(e)]
    assert len(refused) == 1 and "Invalid symbol" in str(refused[0]) and "not retried" in str(refused[0])
    assert service.refused == 1 and service.pending == []
    await service.close()


async def test_unsubscribed_symbol_snapshot_in_flight_is_cancelled():
    started = asyncio.Event()

    async def fetch(symbol):
        started.set()
        await asyncio.sleep(10)
        return 1, [], []

    rec = Recorder()
    group = rec.group()
    service = SnapshotService(fetch)
    group.request_snapshot = service.request
    group.subscribe(["X"])
    sync = group.lookup_bytes(b"X")
    sync.apply_delta(5, 5, [[99.0, 1.0]], [])
    await asyncio.wait_for(started.wait(), 2)
    group.close(["X"])
    service.cancel(["X"])
    await asyncio.sleep(0.01)
    assert service.pending == [] and sync.state == CLOSED
    await service.close()


def test_buffered_levels_stay_exact_after_resync_in_restarted_id_space():
    """After an id restart the book resyncs and every update handed out is a state of the new history."""
    hist, rec, group, sync = _live_group(11, 5)
    for _ in range(10):
        d = hist.step()
        sync.apply_delta(d[0], d[1], d[2], d[3])
    # restart: a new history numbered from 1, the same book contents (the exchange kept its book)
    restarted = History(11)
    restarted.bids, restarted.asks = dict(hist.bids), dict(hist.asks)
    restarted.last_id = 0
    restarted.states = {0: restarted.state()}
    rec.hist = restarted
    for _ in range(5):
        d = restarted.step()
        sync.apply_delta(d[0], d[1], d[2], d[3])
    assert sync.state == WAITING and sync.discard_resyncs == 1
    d = restarted.step()
    sync.apply_delta(d[0], d[1], d[2], d[3])
    snap = restarted.last_id - 1
    snap = max(k for k in restarted.states if k <= snap)
    bids, asks = restarted.states[snap]
    sync.load_snapshot(snap, np.array(bids).reshape(-1, 2), np.array(asks).reshape(-1, 2))
    assert sync.state == LIVE and book_state(sync.book) == restarted.states[restarted.last_id]
