"""The replay's compiled hot loop (``feedloop.feed_frames``, used when ``check=False``) gives what the Python loop
gives: the same events in the same order, frames, parse errors, snapshots and last receive time."""
from __future__ import annotations

from pathlib import Path

import pytest

from feedhandler.recording import open_recording, replay
from feedhandler.recording.feedloop import feed_frames
from feedhandler.recording.format import KIND_TEXT, Record

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _events(rec, records, check):
    got = []
    def keep(e):  # every field; a book update's live book as its top at the time
        d = e.to_dict()
        book = d.pop("book", None)
        if book is not None:
            d["top"] = (book.best_bid, book.best_ask, book.last_update_id)
        got.append(d)

    summary, _ = replay(rec, keep, check=check, records=records)
    return summary, got


@pytest.mark.parametrize("path", ["bybit/cryptofeed_v3_2026-08-09/BYBIT.jsonl.zst",  # two connections
                                  "binance/cryptofeed_usdm_futures_2021-07-22/BINANCE_FUTURES.ws.1.0",
                                  "mexc/crypto-crawler-rs_mexc_messages.txt"])  # a Python parser
def test_unchecked_replay_equals_the_checked_one(path):
    if not (DATA / path).exists():
        pytest.skip(f"shared recording {path} not found")
    rec = open_recording(DATA / path)
    records = list(rec.records())
    # a malformed frame on the first connection, in the middle: a parse error either way, the feed goes on
    frames = [i for i, r in enumerate(records) if r.kind == KIND_TEXT]
    mid = frames[len(frames) // 2]
    bad = Record(records[mid].recv_ns, records[mid].connection_id, KIND_TEXT, b'{"truncated":')
    records.insert(mid, bad)
    slow, slow_events = _events(rec, records, True)
    fast, fast_events = _events(rec, records, False)
    assert fast_events == slow_events and len(fast_events) > 0
    assert (fast.frames, fast.parse_errors, fast.snapshots, fast.sent, fast.last_recv_ns) == (
        slow.frames, slow.parse_errors, slow.snapshots, slow.sent, slow.last_recv_ns)
    assert fast.parse_errors >= 1 and fast.books == slow.books


def test_feed_frames_stops_at_the_first_record_it_does_not_feed():
    fed = []

    def feed(payload, recv_ns):
        if payload == b"bad":
            raise ValueError("bad frame")
        fed.append((payload, recv_ns))

    records = [Record(1, 7, KIND_TEXT, b"a"), Record(2, 7, 1, b"bad"), Record(3, 7, KIND_TEXT, b"c"),
               Record(4, 8, KIND_TEXT, b"other connection"), Record(5, 7, KIND_TEXT, b"d")]
    it = iter(records)
    seen = []
    n, errors, last_ns, stop = feed_frames(it, feed, 7, 4095, seen.append)
    assert (n, errors, last_ns, stop) == (3, 1, 3, records[3])
    assert fed == [(b"a", 1), (b"c", 3)] and seen == [4096]  # progress at frame 4096 (4095 before + 1)
    assert feed_frames(it, feed, 7, 0, None) == (1, 0, 5, None) and fed[-1] == (b"d", 5)
