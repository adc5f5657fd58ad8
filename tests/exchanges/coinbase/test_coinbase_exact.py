"""The exact-layout ``l2_data`` fast path against the general path.

A frame in Coinbase's compact layout takes the fast path; the same bytes with one leading space (valid JSON
that the exact path refuses: it needs '{' first) take the general kernel scan. Both decoders must end with
the same books, the same counters and the same verdict (accepted or ``ParseError``) on every frame: the
recording, hypothesis-built compact frames (integers, exponents, zero sizes, several events, ``client_id``),
and mutations of them.
"""
from __future__ import annotations

import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cryptofeed_capture import SHARED_DATA, frames_by_connection, read_capture  # noqa: E402
from frame_mutation import mutate  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.core.errors import ParseError  # noqa: E402
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder  # noqa: E402
from feedhandler.exchanges.coinbase.rules import COINBASE_BOOK_RULE  # noqa: E402
from feedhandler.sync.book_sync import BookSyncGroup  # noqa: E402

CAPTURE = SHARED_DATA / "coinbase" / "cryptofeed_v3_2026-08-09" / "COINBASE.jsonl.zst"
TS = "2026-08-09T21:05:48.483587501Z"


def _pair(depth=1000, capacity=64):
    out = []
    for _ in range(2):
        d = EventDispatcher()
        d.handler = lambda e: None
        books = BookSyncGroup("coinbase", COINBASE_BOOK_RULE, d, depth)
        out.append((CoinbaseDecoder(d, books, False, capacity=capacity), books))
    return out


def _feed(dec, raw):
    try:
        return dec.feed(raw, 0)
    except ParseError:
        return "ParseError"


def _top(book):
    return [v.tolist() for v in (*book.top_bids(25), *book.top_asks(25))]


def _same(fast, general, whole=True):
    (a, ba), (b, bb) = fast, general
    assert a.stats() == b.stats()
    assert sorted(ba.symbols()) == sorted(bb.symbols())
    for s in ba.symbols():
        x, y = ba[s].book, bb[s].book
        assert (ba[s].is_valid, x.last_update_id, _top(x)) == (bb[s].is_valid, y.last_update_id, _top(y))
        if whole:
            assert x.to_dict() == y.to_dict()


@pytest.mark.skipif(not CAPTURE.is_file(), reason=f"recording not available at {CAPTURE}")
def test_recording_fast_path_equals_the_general_path():
    fast, general = _pair(100_000, 100_000)     # the snapshots hold 46k and 23k levels
    [texts] = frames_by_connection(read_capture(CAPTURE)).values()
    n = 0
    for t in texts:
        raw = t.encode()
        assert _feed(fast[0], raw) == _feed(general[0], b" " + raw)
        if raw.startswith(b'{"channel":"l2_data"'):
            n += 1
            _same(fast, general, whole=n % 50 == 0)   # the top 25 after every frame, the whole book every 50
    _same(fast, general)
    assert n >= 773


num = st.one_of(st.integers(0, 10**9).map(str), st.decimals(min_value="0", max_value="99999", places=6,
                                                                allow_nan=False).map(lambda d: format(d, "f")),
                st.sampled_from(["1e3", "2.5E-1", "-1", "", "0.0", "007", "1.5 ", "\\u0031"]))
update = st.tuples(st.sampled_from(["bid", "offer", "ask"]), num, num)
event = st.tuples(st.sampled_from(["snapshot", "update", "other"]), st.sampled_from(["BTC-USD", "ETH-USD"]),
                  st.lists(update, max_size=6))


def _frame(seq, events, client_id):
    head = {"channel": "l2_data", **({"client_id": ""} if client_id else {}), "timestamp": TS, "sequence_num": seq}
    body = [{"type": k, "product_id": p, "updates": [
        {"side": s, "event_time": TS, "price_level": px, "new_quantity": q} for s, px, q in ups]}
        for k, p, ups in events]
    return json.dumps({**head, "events": body}, separators=(",", ":")).encode().replace(b"\\\\u", b"\\u")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(event, min_size=1, max_size=3), st.booleans()), min_size=1, max_size=4),
       st.data())
def test_compact_frames_and_their_mutations_decode_as_the_general_path(frames, data):
    fast, general = _pair()
    for seq, (events, client_id) in enumerate(frames):
        raw = _frame(seq, events, client_id)
        if data.draw(st.booleans()):
            raw = mutate(raw, data, (1, 3), [b",", b"]", b"}", b'"', b"9", b" ", b"\\"])
        assert _feed(fast[0], raw) == _feed(general[0], b" " + raw)
        _same(fast, general)
