"""The guide's reference decoder (kernel/simjson_decoder.pyx) on the simulator, and against the
pure-Python json.loads + float() decoder of tests/sync/simjson_feed.py on the same frames."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler import ChannelType, MessageType, ParseError, ReconnectPolicy, WebSocketManager, WebSocketManagerConfig
from feedhandler.events import BookStatus, BookTicker, BookUpdate, Trade
from feedhandler.kernel.simjson_decoder import SimJsonKernelDecoder
from feedhandler.rest import RateLimit, RestClient
from feedhandler.sim import SimExchange
from feedhandler.sync.synced_parser import SyncedMessageParser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from simjson_feed import SimJsonConnection, SimJsonDecoder, SimJsonSubscription  # noqa: E402

FAST = ReconnectPolicy(base_delay=0.02, max_delay=0.2, jitter=0.0)


def sides(book):
    d = book.to_dict()
    return [tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]


@pytest.mark.parametrize("fault", [None, "garbage", "truncate"])
async def test_books_equal_the_simulators_true_book(fault):
    async with asyncio.timeout(40), SimExchange("simjson", ["BTCUSDT", "ETHUSDT"], seed=11, rate=150) as sim:
        rest = RestClient(sim.rest_url, timeout=5.0, retries=2, backoff=(0.02, 0.2))

        async def fetch(symbol):
            body = await rest.get_json("/depth", {"symbol": symbol, "limit": 5000})
            return (body["lastUpdateId"], [[float(p), float(q)] for p, q in body["bids"]],
                    [[float(p), float(q)] for p, q in body["asks"]])

        parser = SyncedMessageParser(SimJsonKernelDecoder(1000), fetch, max_concurrency=4,
                                     rate_limit=RateLimit(1000.0, 10))
        mismatches, errors, updates = [], [], []

        def handler(ev):
            if isinstance(ev, BookUpdate):
                updates.append(ev.last_update_id)
                t = sim.model.true_book(ev.symbol, ev.last_update_id)
                if sides(ev.book) != ([tuple(x) for x in t.bids], [tuple(x) for x in t.asks]):
                    mismatches.append((ev.symbol, ev.last_update_id))

        config = WebSocketManagerConfig("simjson", channel_types=[ChannelType.ORDERBOOK], reconnect=FAST,
                                        initialize_timeout=5.0, transport="websockets")
        manager = WebSocketManager(config, SimJsonConnection(sim.ws_url), SimJsonSubscription(), parser,
                                   message_handler=handler, error_handler=errors.append)
        try:
            async with manager:
                await manager.initialize(["BTCUSDT", "ETHUSDT"])
                async with asyncio.timeout(10):
                    while len(updates) < 30:
                        await asyncio.sleep(0.02)
                if fault == "garbage":
                    sim.faults.garbage_probability = 0.2
                elif fault == "truncate":
                    sim.faults.truncate_probability = 0.1
                await asyncio.sleep(1.0)
                sim.faults.clear()
                async with asyncio.timeout(10):
                    while not all(s in parser.books and parser.books[s].is_valid
                                  and parser.books[s].book.last_update_id >= sim.model.last_update_id(s) - 60
                                  for s in ("BTCUSDT", "ETHUSDT")):
                        await asyncio.sleep(0.05)
                for s in ("BTCUSDT", "ETHUSDT"):
                    sync = parser.books[s]
                    t = sim.model.true_book(s, sync.book.last_update_id)
                    assert sides(sync.book) == ([tuple(x) for x in t.bids], [tuple(x) for x in t.asks])
        finally:
            await rest.close()
        assert mismatches == []
        assert len(updates) > 30
        if fault is not None:
            assert parser.decoder.parse_errors > 0
            assert any(isinstance(e, ParseError) for e in errors)


price = st.one_of(st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False).map(str),
                  st.sampled_from(["-1.5", "1e400", "0", "x", "1E5"]))
levels = st.lists(st.tuples(price, price), max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(levels, levels, st.integers(0, 3), st.booleans()), min_size=1, max_size=8))
def test_depth_frames_match_the_python_reference(steps):
    fast, ref = SimJsonKernelDecoder(100), SimJsonDecoder(100)
    got, want = [], []
    fast.dispatcher.handler = lambda e: got.append(_summary(e))
    ref.dispatcher.handler = lambda e: want.append(_summary(e))
    uid = 10
    for bids, asks, gap, full in steps:
        first, uid = uid + 1 + (gap == 3), uid + 1 + gap
        msg = {"ch": "depth", "s": "BTCUSDT", "u": uid, "b": [list(x) for x in bids], "a": [list(x) for x in asks]}
        if full:
            msg["full"] = True
        else:
            msg["U"] = first
        frame = json.dumps(msg)
        outcomes = []
        for dec in (fast, ref):
            try:
                outcomes.append(dec.feed(frame, 1))
            except ParseError:
                outcomes.append("error")
        assert outcomes[0] == outcomes[1], frame
    assert got == want
    if "BTCUSDT" in fast.books:
        assert sides(fast.books["BTCUSDT"].book) == sides(ref.books["BTCUSDT"].book)
    if all(o == "error" for o in outcomes_seen(fast, steps)):
        assert "BTCUSDT" not in fast.books          # rejected frames created no book (the reference's do)


def outcomes_seen(dec, steps):
    return ["error"] * dec.parse_errors + ["ok"] * (dec.frames - dec.parse_errors)


def _summary(ev):
    if isinstance(ev, BookUpdate):
        return ("update", ev.symbol, ev.first_update_id, ev.last_update_id, ev.is_snapshot, sides(ev.book))
    if isinstance(ev, BookStatus):
        return ("status", ev.symbol, ev.valid, ev.reason)
    return repr(ev)


def test_trade_bbo_and_control_frames():
    d = SimJsonKernelDecoder(10)
    events = []
    d.dispatcher.handler = lambda e: events.append(e.copy())
    assert d.feed(b'{"ch":"trade","s":"ETH","p":"2500.5","q":"0.1","side":"sell","id":99,"ts":1700000000000}', 5) \
        == MessageType.DATA
    assert d.feed(b'{"ch":"bbo","s":"ETH","u":3,"b":"2500","B":"1","a":"2501","A":"2","ts":1}', 6) == MessageType.DATA
    t, b = events
    assert isinstance(t, Trade) and (t.symbol, t.price, t.qty, t.trade_id, t.exchange_ts_ns, t.recv_ns) == \
        ("ETH", 2500.5, 0.1, 99, 1700000000000 * 10**6, 5)
    assert isinstance(b, BookTicker) and (b.bid_price, b.bid_qty, b.ask_price, b.ask_qty, b.update_id) == \
        (2500.0, 1.0, 2501.0, 2.0, 3)
    assert d.feed(b'{"op":"ack","id":7,"args":["depth:ETH"]}', 0) == MessageType.SUBSCRIPTION_ACK
    assert (d.control_id, d.control_code, d.control_text) == (7, 0, '["depth:ETH"]')
    assert d.feed(b'{"op":"error","id":8,"msg":"unknown \\u0073ymbol"}', 0) == MessageType.ERROR
    assert (d.control_id, d.control_code, d.control_text) == (8, 1, "unknown symbol")
    assert d.feed('{"op":"pong"}', 0) == MessageType.PONG
    assert d.classify(b'{"op":"pong"}') == MessageType.PONG and d.classify(b"{bad") == MessageType.UNKNOWN


@pytest.mark.parametrize("frame, field", [
    (b'{"ch":"trade","s":"ETH","p":"-1.5","q":"1","side":"buy"}', "p"),       # one rule: price > 0
    (b'{"ch":"trade","s":"ETH","p":"1","q":"1e400","side":"buy"}', "q"),      # finite sizes only
    (b'{"ch":"bbo","s":"ETH","b":"1","B":"-2","a":"2","A":"1"}', "B"),
    (b'{"ch":"depth","s":"ETH","U":1,"u":2,"b":[["1","2"]],"a":[["nan","1"]]}', "a"),
    (b'{"ch":"depth","s":"ETH","U":1,"b":[],"a":[]}', "u"),
    (b'{"ch":"trade","s":"ETH","p":"1","q":"1","side":"up"}', "side"),
])
def test_rejected_frames_name_the_field_and_leave_no_trace(frame, field):
    d = SimJsonKernelDecoder(10)
    events = []
    d.dispatcher.handler = events.append
    with pytest.raises(ParseError) as info:
        d.feed(frame, 0)
    assert info.value.field == field and f"field {field!r}" in str(info.value)
    assert events == [] and len(d.books) == 0 and len(d.symbols) == 0
    assert (d.frames, d.parse_errors) == (1, 1)
