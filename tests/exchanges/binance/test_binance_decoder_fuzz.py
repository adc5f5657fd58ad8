"""Generated and mutated frames: valid ones decode to float() of their text; broken ones never crash nor touch a book."""
from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ParseError
from feedhandler.core.types import MessageType
from feedhandler.events.events import BookTicker, Trade
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.binance.rules import SPOT_RULE
from feedhandler.exchanges.binance.strategies import BinancePublicSubscriptionStrategy
from feedhandler.sync.book_sync import BookSyncGroup
from feedhandler import ChannelType

num_text = st.one_of(
    st.decimals(min_value="0.00000001", max_value="99999999", places=8, allow_nan=False).map(str),
    st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=1, max_value=10**25).map(str),
)
levels = st.lists(st.tuples(num_text, num_text), max_size=12)


def _live_decoder():
    d = EventDispatcher()
    books = BookSyncGroup("binance", SPOT_RULE, d, 100)
    books.get("BTCUSDT").load_snapshot(100, [(1.0, 1.0)], [(2.0, 1.0)])
    dec = BinanceDecoder(books, d)
    events = []
    d.handler = lambda e: events.append(e.copy())
    return dec, books, events


@st.composite
def frames(draw):
    kind = draw(st.sampled_from(["depth", "trade", "agg", "ticker", "partial", "ack", "error"]))
    if kind == "depth":
        data = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 101, "u": 101 + draw(st.integers(0, 5)),
                "b": draw(levels), "a": draw(levels)}
        stream = "btcusdt@depth@100ms"
    elif kind in ("trade", "agg"):
        data = {"e": "trade" if kind == "trade" else "aggTrade", "E": 5, "s": "BTCUSDT",
                "t" if kind == "trade" else "a": draw(st.integers(0, 2**63 - 1)),
                "p": draw(num_text), "q": draw(num_text), "T": 4, "m": draw(st.booleans())}
        stream = "btcusdt@trade"
    elif kind == "ticker":
        data = {"u": draw(st.integers(0, 2**63 - 1)), "s": "BTCUSDT", "b": draw(num_text), "B": draw(num_text),
                "a": draw(num_text), "A": draw(num_text)}
        stream = "btcusdt@bookTicker"
    elif kind == "partial":
        data = {"lastUpdateId": 7, "bids": draw(levels), "asks": draw(levels)}
        stream = "btcusdt@depth10@100ms"
    elif kind == "ack":
        return json.dumps({"result": None, "id": draw(st.integers(0, 100))}).encode()
    else:
        return json.dumps({"error": {"code": 2, "msg": "x"}, "id": 3}).encode()
    obj = {"stream": stream, "data": data} if draw(st.booleans()) else data
    if kind == "partial" and "stream" not in obj:
        obj = {"stream": stream, "data": data}
    return json.dumps(obj, separators=(",", ":") if draw(st.booleans()) else (", ", ": ")).encode()


@settings(max_examples=400, deadline=None)
@given(frames())
def test_valid_frames_decode_to_float_of_text(raw):
    dec, books, events = _live_decoder()
    msg = json.loads(raw)
    data = msg.get("data", msg)
    mt = dec.feed(raw, 1)  # every generated frame is valid: no ParseError allowed
    if "result" in msg:
        assert mt == MessageType.SUBSCRIPTION_ACK
    elif "error" in msg:
        assert mt == MessageType.ERROR
    else:
        assert mt == MessageType.DATA
    for ev in events:
        if isinstance(ev, Trade):
            assert (ev.price, ev.qty) == (float(data["p"]), float(data["q"]))
            assert ev.trade_id == data.get("t", data.get("a"))
            assert ev.side == (2 if data["m"] else 1)
        elif isinstance(ev, BookTicker):
            assert (ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty, ev.update_id) == (
                float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"]), data["u"])
    if data.get("e") == "depthUpdate":
        book = books["BTCUSDT"].book
        ref_b = {1.0: 1.0}
        ref_a = {2.0: 1.0}
        for side, lv in ((ref_b, data["b"]), (ref_a, data["a"])):
            for p, q in lv:
                if float(q) == 0.0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
        if books["BTCUSDT"].is_valid:
            d = book.to_dict()
            assert dict(d["bids"]) == ref_b and dict(d["asks"]) == ref_a


@settings(max_examples=400, deadline=None)
@given(frames(), st.data())
def test_mutated_frames_never_crash_nor_change_book(raw, data):
    dec, books, _ = _live_decoder()
    before = books["BTCUSDT"].book.to_dict()
    how = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    b = bytearray(raw)
    if how == "truncate":
        b = b[: data.draw(st.integers(0, max(0, len(b) - 1)))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] = data.draw(st.integers(0, 255))
    else:
        i = data.draw(st.integers(0, len(b)))
        b[i:i] = data.draw(st.binary(min_size=1, max_size=4))
    mutated = bytes(b)
    try:
        json.loads(mutated)
        valid_json = True
    except ValueError:
        valid_json = False
    try:
        dec.feed(mutated, 0)
    except ParseError:
        assert books["BTCUSDT"].book.to_dict() == before   # refused frames apply nothing
        return
    assert valid_json  # anything the decoder accepted is valid JSON
    dec.classify(mutated)


def test_error_messages_and_counters():
    dec, books, _ = _live_decoder()
    cases = [b"", b"{", b"[1]", b'{"e":"trade"}', b'{"e":"depthUpdate","s":"BTCUSDT","U":5,"u":4,"b":[],"a":[]}',
             b'{"e":"trade","s":"BTCUSDT","t":1,"p":"x","q":"1","m":true}', "\u00e9", 12,
             b'{"lastUpdateId":1,"bids":[],"asks":[]}']
    for raw in cases:
        try:
            dec.feed(raw, 0)
        except ParseError as exc:
            assert str(exc).startswith("binance: ")
        else:
            raise AssertionError(f"accepted {raw!r}")
    assert sum(dec.stats()["errors"].values()) == len(cases)
    assert dec.classify(b"{") == MessageType.UNKNOWN
    assert dec.classify('{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}') == MessageType.RECONNECT


def test_subscription_batching_and_ack_mapping():
    sub = BinancePublicSubscriptionStrategy(max_streams_per_request=3)
    syms = ["BTCUSDT", "ETHUSDT"]
    msgs = sub.create_subscription_messages(syms, [ChannelType.ORDERBOOK, ChannelType.TRADES], True)
    reqs = [json.loads(m) for m in msgs]
    assert [len(r["params"]) for r in reqs] == [3, 1]
    assert [r["id"] for r in reqs] == sorted({r["id"] for r in reqs})
    assert all(p == p.lower() for r in reqs for p in r["params"])
    ack = sub.parse_ack(json.dumps({"result": None, "id": reqs[1]["id"]}))
    assert ack.confirmed == reqs[1]["params"]
    err = sub.parse_ack(json.dumps({"error": {"code": 2, "msg": "bad"}, "id": reqs[0]["id"]}))
    assert err.failed == reqs[0]["params"] and "bad" in err.reason
    assert sub.parse_ack('{"result":null,"id":999}') is None
