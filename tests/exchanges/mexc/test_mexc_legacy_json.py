"""The retired MEXC spot v3 JSON push (replay of old recordings): the real hftbacktest sample replays into the
book its later ``limit.depth`` snapshot shows (oracle: the frames applied with ``json.loads`` and a dict), and
malformed frames are refused without touching the book."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedhandler.core.errors import ParseError
from feedhandler.exchanges.mexc.legacy_json import MexcLegacyJsonParser, is_legacy_json_frame

FILE = (Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mexc"
        / "hftbacktest_spot_v3_json_SOLUSDT_2025-01-12.txt")


@pytest.mark.skipif(not FILE.is_file(), reason=f"recording not found at {FILE}")
def test_deltas_on_the_first_limit_depth_give_the_later_top_10():
    lines = [line.split(" ", 1) for line in FILE.read_text().splitlines() if line]
    parser = MexcLegacyJsonParser()
    tickers: list = []
    parser.bind(lambda e: tickers.append(e.update_id) if type(e).__name__ == "BookTicker" else None)
    first = json.loads(lines[0][1])["d"]
    oracle = {side: {float(x["p"]): float(x["v"]) for x in first[side]} for side in ("bids", "asks")}
    checked = 0
    for i, (ns, frame) in enumerate(lines):
        assert is_legacy_json_frame(frame.encode())
        parser.feed(frame.encode(), int(ns))
        msg = json.loads(frame)
        if i == 0:
            continue
        if "increase" in msg["c"]:
            for side in ("bids", "asks"):
                for x in msg["d"].get(side, []):
                    p, v = float(x["p"]), float(x["v"])
                    oracle[side].pop(p, None) if v == 0 else oracle[side].__setitem__(p, v)
        else:  # a later top-10 snapshot: the rebuilt book's top 10 equals it
            book = parser.books["SOLUSDT"].book
            assert book.last_update_id == int(msg["d"]["r"])
            top = book.to_dict()
            assert [list(x) for x in top["bids"][:10]] == [[float(x["p"]), float(x["v"])] for x in msg["d"]["bids"]]
            assert [list(x) for x in top["asks"][:10]] == [[float(x["p"]), float(x["v"])] for x in msg["d"]["asks"]]
            checked += 1
    assert checked == 2 and tickers == [4474505332, 4474505332]
    d = parser.books["SOLUSDT"].book.to_dict()
    assert {p: q for p, q in d["bids"]} == oracle["bids"] and {p: q for p, q in d["asks"]} == oracle["asks"]
    assert d["last_update_id"] == 4474505334


def test_malformed_frames_are_refused_and_change_nothing():
    parser = MexcLegacyJsonParser()
    parser.bind(lambda e: None)
    snap = {"c": "spot@public.limit.depth.v3.api@X@10", "s": "X", "t": 1,
            "d": {"bids": [{"p": "1", "v": "2"}], "asks": [{"p": "3", "v": "4"}], "r": "10"}}
    parser.feed(json.dumps(snap).encode(), 1)
    before = parser.books["X"].book.to_dict()
    inc = {"c": "spot@public.increase.depth.v3.api@X", "s": "X", "t": 2, "d": {"r": "11"}}
    for bad in (b"{", b"[]", b'{"c":"spot@public.increase.depth.v3.api@X"}',
                json.dumps({**inc, "d": {"r": "x"}}).encode(),
                json.dumps({**inc, "d": {"r": "11", "bids": [{"p": "1"}]}}).encode(),
                json.dumps({**inc, "d": {"r": "11", "bids": [["1", "2"]]}}).encode(),
                json.dumps({**inc, "d": {"r": "11", "asks": [{"p": "-3", "v": "1"}]}}).encode(),
                json.dumps({**inc, "d": {"r": "11", "asks": [{"p": "3", "v": "NaN"}]}}).encode()):
        with pytest.raises(ParseError):
            parser.feed(bad, 3)
        assert parser.books["X"].book.to_dict() == before
    parser.feed(json.dumps({**inc, "d": {"r": "11", "bids": [{"p": "1", "v": "0"}]}}).encode(), 4)
    assert parser.books["X"].book.best_bid is None or parser.books["X"].book.best_bid[0] != 1.0
