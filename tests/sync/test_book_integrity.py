"""The integrity hook of BookSync (a checksum run after each armed update), against a dict reference book."""
from __future__ import annotations

import random
import zlib

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.events import BookStatus, BookUpdate
from feedhandler.sync import LINK_PREVIOUS, BookSyncGroup, CallbackIntegrity, SequenceRule

# each update links to the previous one by ``prev``; passed as first = prev (the OKX convention)
RULE = SequenceRule("prev-link", LINK_PREVIOUS, 0)


def _crc_of(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> int:
    """The reference checksum: CRC32 of the repr of the top 5 levels per side (an independent oracle)."""
    return zlib.crc32(repr((bids[:5], asks[:5])).encode())


def _book_crc(book, expected: int) -> bool:
    d = book.to_dict()
    return _crc_of([tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]) == expected


def _group(requests: list[str]):
    events: list = []
    dispatcher = EventDispatcher(lambda ev: events.append(
        ("status", ev.valid, ev.reason) if isinstance(ev, BookStatus) else ("update", ev.last_update_id)))
    group = BookSyncGroup("x", RULE, dispatcher, 100, integrity=CallbackIntegrity("checksum", _book_crc))
    group.request_snapshot = lambda sync: requests.append(sync.symbol)
    return group, events


def _sorted(d: dict[float, float], reverse: bool) -> list[tuple[float, float]]:
    return sorted(d.items(), reverse=reverse)


def test_random_stream_checked_against_reference_and_corruption_detected():
    rng = random.Random(5)
    requests: list[str] = []
    group, events = _group(requests)
    sync = group.get("S")
    assert sync.integrity is not None
    bids = {100.0 - i: 1.0 for i in range(10)}
    asks = {101.0 + i: 1.0 for i in range(10)}
    sync.expect_integrity(_crc_of(_sorted(bids, True), _sorted(asks, False)))
    sync.apply_full_snapshot(1, _sorted(bids, True), _sorted(asks, False))
    assert sync.is_valid and sync.integrity_checks == 1
    seq = 1
    for _ in range(300):
        b, a = [], []
        for _ in range(rng.randint(1, 3)):
            side, levels = (bids, b) if rng.random() < 0.5 else (asks, a)
            price = (100.0 - rng.randint(0, 12)) if side is bids else (101.0 + rng.randint(0, 12))
            qty = 0.0 if (price in side and rng.random() < 0.3 and len(side) > 3) else float(rng.randint(1, 9))
            levels.append((price, qty))
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
        claimed = _crc_of(_sorted(bids, True), _sorted(asks, False))
        sync.expect_integrity(claimed)
        sync.apply_delta(seq, seq + 1, b, a, prev=seq)
        seq += 1
        assert sync.is_valid, sync.stats()
    assert sync.integrity_checks == 301 and sync.integrity_failures == 0
    assert requests == []
    # an update whose claimed value disagrees with the book it produces: invalid, recovery asked, no update out
    n_events = len(events)
    sync.expect_integrity(12345)
    sync.apply_delta(seq, seq + 1, [(100.0, 7.0)], [], prev=seq)
    assert not sync.is_valid and sync.integrity_failures == 1
    assert sync.invalid_reason == f"checksum mismatch at update {seq + 1}"
    assert events[n_events:] == [("status", False, f"checksum mismatch at update {seq + 1}")]
    assert requests == ["S"]


def test_unarmed_updates_are_not_checked_and_the_value_is_consumed_by_one_update():
    requests: list[str] = []
    group, events = _group(requests)
    sync = group.get("S")
    sync.apply_full_snapshot(10, [(99.0, 1.0)], [(101.0, 1.0)])
    sync.apply_delta(10, 11, [(98.0, 1.0)], [], prev=10)   # not armed: no check at all
    assert sync.is_valid and sync.integrity_checks == 0
    # armed, but the update is a duplicate (skipped): the value must not carry over to the next update
    sync.expect_integrity(999)
    sync.apply_delta(10, 11, [(98.0, 1.0)], [], prev=10)
    sync.apply_delta(11, 12, [(97.0, 1.0)], [], prev=11)
    assert sync.is_valid and sync.integrity_checks == 0 and requests == []


def test_snapshot_with_wrong_value_is_refused_before_buffered_updates_touch_it():
    requests: list[str] = []
    group, events = _group(requests)
    sync = group.get("S")
    sync.expect_integrity(1)
    sync.apply_full_snapshot(10, [(99.0, 1.0)], [(101.0, 1.0)])
    assert not sync.is_valid and sync.integrity_failures == 1 and requests == ["S"]
    assert not any(e[0] == "update" for e in events)
    good = _crc_of([(99.0, 2.0)], [(101.0, 1.0)])
    sync.snapshot_failed()
    sync.expect_integrity(good)
    sync.apply_full_snapshot(20, [(99.0, 2.0)], [(101.0, 1.0)])
    assert sync.is_valid and events[-1] == ("update", 20)
