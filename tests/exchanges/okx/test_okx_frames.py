"""OKX decoder: hypothesis-built frames against json.loads + float() (a dict reference book), mutated and
truncated real frames (ParseError or a correct decode, never a crash or a corrupted book), control frames."""
from __future__ import annotations

import json
import os
import sys
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from recording import frames, reference_checksum  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from frame_mutation import mutate  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.core.errors import ParseError  # noqa: E402
from feedhandler.events import BookUpdate, Kline  # noqa: E402
from feedhandler.exchanges.okx import OKX_BOOKS_RULE, OkxChecksum, OkxDecoder, okx_format  # noqa: E402
from feedhandler.exchanges.okx.decoder import okx_crc32  # noqa: E402
from feedhandler.sync import BookSyncGroup  # noqa: E402


def _decoder(events=None):
    d = EventDispatcher((events.append if events is not None else (lambda ev: None)))
    books = BookSyncGroup("okx", OKX_BOOKS_RULE, d, 1000, integrity=OkxChecksum())
    return OkxDecoder(d, books), books


def _ref_checksum(bids: dict, asks: dict) -> int:
    return reference_checksum([bids[p] for p in sorted(bids, reverse=True)], [asks[p] for p in sorted(asks)])


def _text(units: int, decimals: int) -> str:
    s = f"{units / 10**decimals:.{decimals}f}" if decimals else str(units)
    return s.rstrip("0").rstrip(".") if "." in s else s


level = st.tuples(st.integers(1, 40), st.integers(0, 10**6))   # price offset in ticks, size units (0: delete)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(level, max_size=8), st.lists(level, max_size=8)), min_size=1, max_size=15),
       st.integers(0, 3), st.integers(0, 8))
def test_random_streams_equal_the_reference_book_and_checksum(updates, pdec, sdec):
    events: list = []
    dec, books = _decoder(events)
    bids: dict[float, tuple[str, str]] = {}
    asks: dict[float, tuple[str, str]] = {}
    seq = 100
    for k, (b, a) in enumerate([([(i, 5) for i in range(1, 6)], [(i, 5) for i in range(1, 6)])] + updates):
        wire_b, wire_a = [], []
        for side, levels, wire, base, sign in ((bids, b, wire_b, 1000, -1), (asks, a, wire_a, 1000, 1)):
            for off, size in levels:
                px = _text(base * 10**pdec + sign * off, pdec)
                sz = _text(size, sdec)
                wire.append([px, sz, "0", "1"])
                if size == 0:
                    side.pop(float(px), None)
                else:
                    side[float(px)] = (px, sz)
        msg = {"arg": {"channel": "books", "instId": "X-Y"}, "action": "snapshot" if k == 0 else "update",
               "data": [{"asks": wire_a, "bids": wire_b, "ts": str(1000 + k), "checksum": _ref_checksum(bids, asks),
                         "prevSeqId": -1 if k == 0 else seq, "seqId": seq + 1}]}
        seq += 1
        dec.feed(json.dumps(msg), 0)
        sync = books["X-Y"]
        assert sync.is_valid, sync.stats()
        got = sync.book.to_dict()
        assert got["bids"] == sorted(((p, float(s)) for p, (_, s) in bids.items()), reverse=True)
        assert got["asks"] == sorted((p, float(s)) for p, (_, s) in asks.items())
    assert books["X-Y"].integrity_failures == 0 and books["X-Y"].integrity_checks == len(updates) + 1


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-8, max_value=1e12, allow_nan=False), st.integers(0, 12))
def test_okx_format_is_the_shortest_round_trip_text(x, decimals):
    text = f"{x:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{x:.0f}"
    if len(text.replace(".", "").lstrip("0")) > 15 or float(text) == 0:
        return
    assert okx_format(float(text)) == text


@given(st.binary(max_size=300))
def test_crc32_equals_zlib(data):
    assert okx_crc32(data) == zlib.crc32(data)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_real_frames_never_crash_nor_corrupt(data):
    recorded = [f for f in frames() if b'"books"' in f and b'"data"' in f]
    dec, books = _decoder()
    good, _ = _decoder()
    k = data.draw(st.integers(1, 40))
    for f in recorded[:k]:
        dec.feed(f, 0)
        good.feed(f, 0)
    frame = mutate(recorded[k], data)
    try:
        dec.feed(frame, 0)
    except ParseError as exc:
        assert str(exc).startswith("okx: ")
        for s in good.books.symbols():   # a rejected frame changed nothing
            assert books[s].book.to_dict() == good.books[s].book.to_dict()
    # whatever was accepted: a valid book is exactly what its checksum says, or it was invalidated
    checksum = OkxChecksum()
    for s in books.symbols():
        sync = books[s]
        if sync.is_valid:
            assert checksum.checksum(sync.book) is not None


def test_control_frames_and_errors_name_the_field_and_offset():
    dec, _ = _decoder()
    assert dec.feed(b"pong", 0) == 3
    assert dec.feed(b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a"}', 0) == 2
    assert dec.control_text == "books:BTC-USDT"   # the key of OkxPublicSubscriptionStrategy
    assert dec.feed(b'{"event":"error","code":"60012","msg":"Invalid request","connId":"a"}', 0) == 4
    assert dec.control_code == 60012
    assert dec.feed(b'{"event":"login","code":"0","msg":"","connId":"a"}', 0) == 6
    bad = b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["1","x"]],"bids":[],"ts":"1","seqId":1,"prevSeqId":-1}]}'
    with pytest.raises(ParseError, match=r"field 'asks'.* at byte \d+"):
        dec.feed(bad, 0)
    with pytest.raises(ParseError, match=r"at byte \d+"):
        dec.feed(b'{"arg":{"channel":"books"', 0)
    with pytest.raises(ParseError, match="seqId"):
        dec.feed(b'{"arg":{"channel":"books","instId":"B"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1"}]}', 0)


def test_candles_equal_json_loads():
    events: list = []
    dec, _ = _decoder(events)
    row = ["1597026383085", "8533.02", "8553.74", "8527.17", "8548.26", "45247", "529.5858061", "4.5e5", "1"]
    dec.feed(json.dumps({"arg": {"channel": "candle1H", "instId": "BTC-USDT"}, "data": [row]}), 0)
    (k,) = [e for e in events if isinstance(e, Kline)]
    assert (k.symbol, k.interval, k.open_time_ns, k.close_time_ns) == (
        "BTC-USDT", "1H", 1597026383085 * 10**6, 1597026383085 * 10**6 + 3600 * 10**9)
    assert (k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.closed) == (
        *(float(x) for x in row[1:6]), float(row[7]), True)


def test_heartbeat_keeps_the_chain_and_reset_continues_from_the_new_seq():
    events: list = []
    dec, books = _decoder(events)

    def book(action, prev, seq, bids=(), asks=()):
        return json.dumps({"arg": {"channel": "books", "instId": "B"}, "action": action, "data": [{
            "asks": [[p, s, "0", "1"] for p, s in asks], "bids": [[p, s, "0", "1"] for p, s in bids],
            "ts": "1", "checksum": 0, "prevSeqId": prev, "seqId": seq}]})
    dec.feed(book("snapshot", -1, 10, [("9", "1")], [("11", "1")]), 0)
    dec.feed(book("update", 10, 10), 0)                         # heartbeat
    dec.feed(book("update", 10, 12, [("8", "2")]), 0)
    dec.feed(book("update", 12, 3, [("7", "3")]), 0)            # maintenance reset: seqId goes backwards
    dec.feed(book("update", 3, 4, [("6", "4")]), 0)
    sync = books["B"]
    assert sync.is_valid and sync.book.last_update_id == 4 and dec.heartbeats == 1 and dec.resets == 1
    assert [b[0] for b in sync.book.to_dict()["bids"]] == [9.0, 8.0, 7.0, 6.0]
    dec.feed(book("update", 5, 6, [("5", "1")]), 0)             # prevSeqId != 4: a gap
    assert not sync.is_valid and "gap" in sync.invalid_reason
    assert sum(isinstance(e, BookUpdate) for e in events) == 5
