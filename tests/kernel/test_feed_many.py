"""FrameDecoder.feed_many (the C batch loop) against feed() called per frame on the same frames."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from feedhandler import ParseError
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.binance.rest import parse_depth_snapshot
from feedhandler.exchanges.binance.rules import SPOT_RULE
from feedhandler.sync.book_sync import BookSyncGroup

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "binance" / "hftbacktest_2024-08-08"


def _decoder():
    seen = []
    disp = EventDispatcher()
    books = BookSyncGroup("binance", SPOT_RULE, disp, 6000)
    dec = BinanceDecoder(books, disp)
    disp.handler = lambda ev: seen.append(repr(ev))
    return dec, books, seen


def _recording(limit=30_000):
    if not DATA.is_dir():
        pytest.skip(f"recordings not found at {DATA}")
    items = []
    with gzip.open(DATA / "spot_btcusdt_20240808.gz", "rb") as fh:
        for line in fh:
            recv, raw = line.rstrip(b"\n").split(b" ", 1)
            items.append((int(recv), raw))
            if len(items) >= limit:
                break
    return items


def _segments(items):
    """Runs of stream frames between REST snapshots: [(snapshot or None, [frames], [recv_ns])]."""
    out, snap, frames, times = [], None, [], []
    for recv, raw in items:
        if raw.startswith(b'{"lastUpdateId"'):
            out.append((snap, frames, times))
            snap, frames, times = raw, [], []
        else:
            frames.append(raw)
            times.append(recv)
    out.append((snap, frames, times))
    return out


def test_feed_many_gives_the_events_and_books_of_feed_per_frame():
    items = _recording()
    one, one_books, one_seen = _decoder()
    many, many_books, many_seen = _decoder()
    for snap, frames, times in _segments(items):
        for dec, books in ((one, one_books), (many, many_books)):
            if snap is not None:
                books.get("BTCUSDT").load_snapshot(*parse_depth_snapshot(snap))
        for raw, t in zip(frames, times):
            one.feed(raw, t)
        assert many.feed_many(frames, times) == len(frames)
    assert len(one_seen) > 10_000
    assert many_seen == one_seen
    assert many.frames == one.frames == sum(len(f) for _, f, _ in _segments(items))
    assert many_books.get("BTCUSDT").book.to_dict() == one_books.get("BTCUSDT").book.to_dict()


TRADE = (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000000,"s":"BTCUSDT","t":%d,'
         b'"p":"43000.10","q":"0.0100","T":1700000000000,"m":true,"M":true}}')


def test_a_rejected_frame_is_reported_and_the_batch_goes_on():
    dec, _, seen = _decoder()
    frames = [TRADE % 1, b'{"stream":"btcusdt@trade","data":{"e":"trade","p":', bytearray(TRADE % 2), TRADE % 3]
    errors = []
    assert dec.feed_many(frames, 5, on_error=errors.append) == 3
    assert len(errors) == 1 and isinstance(errors[0], ParseError)
    assert len(seen) == 3 and dec.parse_errors == 1


def test_without_on_error_the_first_rejection_is_raised_with_its_index():
    dec, _, seen = _decoder()
    frames = (TRADE % 1, TRADE % 2, b"{not json", TRADE % 4)
    with pytest.raises(ParseError) as info:
        dec.feed_many(frames)
    assert info.value.index == 2
    assert len(seen) == 2   # the frames before it were applied, none after


def test_receive_times_per_frame_must_match_the_frames():
    dec, _, seen = _decoder()
    with pytest.raises(ValueError, match="2 times for 3 frames"):
        dec.feed_many([TRADE % 1, TRADE % 2, TRADE % 3], [1, 2])
    assert seen == []
    assert dec.feed_many(iter([TRADE % 1, TRADE % 2]), [10, 20]) == 2
    assert dec.feed_many([]) == 0
