"""Bybit decoder: hypothesis-built frames against json.loads + float() and a dict book, mutated and random
frames (ParseError, nothing applied), field errors naming the field and byte offset, control frames, the
book rule (u + 1, snapshot restarts), strategies and the auth signature."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ParseError
from feedhandler.core.types import ChannelType, MessageType
from feedhandler.events.events import BookStatus, BookUpdate, Side, Trade
from feedhandler.exchanges.bybit import (
    BybitCredentials, BybitPrivateConnectionStrategy, BybitPublicSubscriptionStrategy, sign,
)
from feedhandler.exchanges.bybit.decoder import BybitDecoder
from feedhandler.exchanges.bybit.rules import BYBIT_BOOK_RULE
from feedhandler.sync.book_sync import BookSyncGroup

decimals = st.decimals(min_value="0.00000001", max_value="99999999", places=8, allow_nan=False).map(
    lambda d: format(d.normalize(), "f"))
qtys = st.one_of(st.just("0"), decimals)
levels = st.lists(st.tuples(decimals, qtys), max_size=25)
TOPIC = "orderbook.200.BTCUSDT"


def _decoder(private=False):
    events = []
    d = EventDispatcher()
    d.handler = lambda e: events.append(e.copy())
    books = BookSyncGroup("bybit", BYBIT_BOOK_RULE, d, 1000)
    return BybitDecoder(d, None if private else books, private), books, events


def _book(kind, u, bids, asks, topic=TOPIC, sym="BTCUSDT"):
    return json.dumps({"topic": topic, "type": kind, "ts": 1700000000123,
                       "data": {"s": sym, "b": bids, "a": asks, "u": u, "seq": u * 7}, "cts": 1}).encode()


SNAP = _book("snapshot", 1 << 40, [["1", "1"]], [["100000000", "1"]])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bids=levels, asks=levels, data=st.data())
def test_valid_then_mutated_frames(bids, asks, data):
    dec, books, events = _decoder()
    dec.feed(SNAP, 1)
    frame = _book("delta", (1 << 40) + 1, [list(x) for x in bids], [list(x) for x in asks])
    raw = bytearray(frame[:data.draw(st.integers(1, len(frame)))])
    for _ in range(data.draw(st.integers(0, 3))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    before = books["BTCUSDT"].book.to_dict()
    try:
        dec.feed(bytes(raw), 2)
    except ParseError:
        assert books["BTCUSDT"].book.to_dict() == before
    # the intact delta on a fresh snapshot: the book is the dict book of json.loads + float()
    dec.feed(SNAP, 3)
    n = len(events)
    dec.feed(frame, 4)
    if books["BTCUSDT"].is_valid:
        want_b, want_a = {1.0: 1.0}, {100000000.0: 1.0}
        for want, side in ((want_b, bids), (want_a, asks)):
            for p, q in side:
                want.pop(float(p), None) if float(q) == 0 else want.__setitem__(float(p), float(q))
        d = books["BTCUSDT"].book.to_dict()
        assert d["bids"] == sorted(want_b.items(), reverse=True) and d["asks"] == sorted(want_a.items())
        assert d["last_update_id"] == (1 << 40) + 1
        [upd] = [e for e in events[n:] if isinstance(e, BookUpdate)]
        assert upd.exchange_ts_ns == 1700000000123 * 10**6 and upd.recv_ns == 4 and not upd.is_snapshot
    else:   # random levels crossed the book: invalidated, and said so
        assert any(isinstance(e, BookStatus) and not e.valid for e in events[n:])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(blob):
    dec, books, _ = _decoder()
    try:
        assert dec.feed(blob, 0) in (0, 1, 2, 3, 4, 6, 7)
    except ParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(trades=st.lists(st.tuples(decimals, decimals, st.sampled_from(["Buy", "Sell"]),
                                 st.one_of(st.integers(0, (1 << 63) - 1).map(str), st.uuids().map(str))),
                       min_size=1, max_size=5))
def test_trades_are_json_and_float(trades):
    dec, _, events = _decoder()
    data = [{"T": 1700000000000 + i, "s": "ETHUSDT", "S": s, "v": q, "p": p, "L": "PlusTick", "i": i_, "BT": False}
            for i, (p, q, s, i_) in enumerate(trades)]
    assert dec.feed(json.dumps({"topic": "publicTrade.ETHUSDT", "type": "snapshot", "ts": 1, "data": data}), 5) == 1
    assert len(events) == len(trades) and all(isinstance(e, Trade) for e in events)
    for ev, d in zip(events, data):
        tid = int(d["i"]) if d["i"].isdigit() else -1
        assert (ev.symbol, ev.price, ev.qty, ev.side, ev.trade_id, ev.trade_id_str, ev.exchange_ts_ns) == (
            "ETHUSDT", float(d["p"]), float(d["v"]), Side.BUY if d["S"] == "Buy" else Side.SELL, tid,
            "" if tid >= 0 else d["i"], d["T"] * 10**6)


def test_book_rule_gap_snapshot_restart_and_u_1():
    dec, books, events = _decoder()
    asked = []
    books.request_snapshot = asked.append
    dec.feed(_book("delta", 5, [["10", "1"]], []), 1)          # a delta before any snapshot: buffered, ask
    assert not books["BTCUSDT"].is_valid and len(asked) == 1
    dec.feed(_book("snapshot", 5, [["10", "1"]], [["11", "1"]]), 2)
    dec.feed(_book("delta", 6, [["10", "2"]], []), 3)
    assert books["BTCUSDT"].book.best_bid == (10.0, 2.0)
    dec.feed(_book("delta", 8, [["10", "3"]], []), 4)          # u 7 lost: invalid, a recovery is asked for
    assert not books["BTCUSDT"].is_valid and len(asked) == 2
    assert [e.reason for e in events if isinstance(e, BookStatus) and not e.valid] == [
        "gap: expected update 7, got 8..8"]
    dec.feed(_book("snapshot", 1, [["9", "4"]], [["12", "1"]]), 5)   # u == 1: the service restarted
    assert books["BTCUSDT"].is_valid and books["BTCUSDT"].book.to_dict()["bids"] == [(9.0, 4.0)]
    dec.feed(_book("delta", 2, [], [["12", "0"], ["13", "2"]]), 6)
    assert books["BTCUSDT"].book.to_dict()["asks"] == [(13.0, 2.0)]
    dec.feed(_book("delta", 2, [], [["13", "5"]]), 7)          # a duplicate: skipped
    assert books["BTCUSDT"].book.to_dict()["asks"] == [(13.0, 2.0)] and books["BTCUSDT"].stats()["skipped"] == 1


@pytest.mark.parametrize("frame, field", [
    (_book("delta", 2, [["1", "x"]], []), "'b'"),
    (_book("delta", 2, [], [["-1", "1"]]), "'a'"),
    (_book("delta", 2, [], [["1"]]), "'a'"),
    (_book("delta", "x", [], []), "'u'"),
    (_book("update", 2, [], []), "'type'"),
    (_book("delta", 2, [], [], sym="ETHUSDT"), "'s'"),
    (json.dumps({"topic": TOPIC, "type": "delta", "data": {"s": "BTCUSDT", "b": [], "a": []}}), "'u'"),
    (json.dumps({"topic": TOPIC, "type": "delta", "data": [1]}), "'data'"),
    (json.dumps({"topic": "publicTrade.BTCUSDT", "data": [{"T": 1, "S": "Hold", "v": "1", "p": "1"}]}), "'S'"),
    (json.dumps({"topic": "publicTrade.BTCUSDT", "data": [{"T": 1, "S": "Buy", "v": "1"}]}), "'p'"),
    (json.dumps({"topic": "kline.1.BTCUSDT", "data": [{"start": 1, "end": 2, "interval": "1"}]}), "'open'"),
    (json.dumps({"topic": "tickers.BTCUSDT", "type": "delta", "data": {"bid1Price": "1.2.3"}}), "'bid1Price'"),
    (b'{"topic":"orderbook.200.BTCUSDT","data":{"b":[["1","1"]],', "byte"),
])
def test_malformed_frames_name_the_field_and_change_nothing(frame, field):
    dec, books, events = _decoder()
    dec.feed(SNAP, 0)
    before, n = books["BTCUSDT"].book.to_dict(), len(events)
    with pytest.raises(ParseError) as err:
        dec.feed(frame, 1)
    assert field in str(err.value) and "at byte" in str(err.value), err.value
    assert books["BTCUSDT"].book.to_dict() == before and len(events) == n and books["BTCUSDT"].is_valid


def test_error_offsets_point_at_the_bad_value():
    dec, _, _ = _decoder()
    frame = _book("delta", 2, [["1", "1"], ["2", "oops"]], [])
    with pytest.raises(ParseError, match=r"field 'b'.* at byte (\d+)") as err:
        dec.feed(frame, 0)
    offset = int(str(err.value).rsplit(" ", 1)[1])
    assert frame[offset:offset + 1] == b"["   # the levels array holding the bad size
    assert offset == frame.index(b'[["1"')


def test_control_frames():
    dec, _, _ = _decoder()
    ack = b'{"success":true,"ret_msg":"","conn_id":"c1","req_id":"17","op":"subscribe"}'
    assert dec.feed(ack, 0) == MessageType.SUBSCRIPTION_ACK and dec.control_id == 17 and dec.control_code == 0
    bad = b'{"success":false,"ret_msg":"error:handler not found,topic:x","conn_id":"c","req_id":"3","op":"subscribe"}'
    assert dec.feed(bad, 0) == MessageType.ERROR and dec.control_code == 1 and "handler not found" in dec.control_text
    assert dec.feed(b'{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}', 0) == MessageType.PONG
    assert dec.feed(b'{"req_id":"","op":"pong","args":["1675418560633"],"conn_id":"c"}', 0) == MessageType.PONG
    assert dec.classify(ack) == MessageType.SUBSCRIPTION_ACK
    assert dec.feed(b'{"topic":"liquidation.BTCUSDT","data":{}}', 0) == MessageType.UNKNOWN
    pdec, _, _ = _decoder(private=True)
    errors = []
    pdec.dispatcher.error_handler = errors.append
    assert pdec.feed(b'{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}', 0) == MessageType.AUTH_ACK
    assert pdec.feed(b'{"success":false,"ret_msg":"Invalid apikey","op":"auth","conn_id":"c"}', 0) == MessageType.RECONNECT
    assert len(errors) == 1 and "Invalid apikey" in str(errors[0])


def test_subscription_strategy_batches_and_maps_acks():
    sub = BybitPublicSubscriptionStrategy(depth=50)
    syms = [f"S{i}USDT" for i in range(12)]
    msgs = [json.loads(m) for m in sub.create_subscription_messages(syms, [ChannelType.ORDERBOOK, ChannelType.TRADES,
                                                                           ChannelType.BOOK_TICKER,
                                                                           ChannelType.TICKER], True)]
    assert all(len(m["args"]) <= 10 for m in msgs) and sum(len(m["args"]) for m in msgs) == 36
    assert msgs[0]["args"][0] == "orderbook.50.S0USDT"
    ack = sub.parse_ack(json.dumps({"success": False, "ret_msg": "no", "req_id": msgs[1]["req_id"], "op": "subscribe"}))
    assert ack.failed == msgs[1]["args"] and ack.reason == "no" and not ack.confirmed
    ack = sub.parse_ack(json.dumps({"success": True, "ret_msg": "", "req_id": msgs[0]["req_id"], "op": "subscribe"}))
    assert ack.confirmed == msgs[0]["args"]


async def test_auth_signature_and_secret_hiding():
    assert sign("s3cret", 1700000000000) == hmac.new(b"s3cret", b"GET/realtime1700000000000",
                                                     hashlib.sha256).hexdigest()
    sent = []

    async def send(m):
        sent.append(m)

    conn = BybitPrivateConnectionStrategy(ws_url="ws://127.0.0.1:1/v5/public/spot", api_key="k", secret_key="s3cret",
                                          clock_ms=lambda: 1000)
    ctx = await conn.create_connection_context()
    assert ctx.url == "ws://127.0.0.1:1/v5/private"
    assert await conn.authenticate(send, ctx)
    msg = json.loads(sent[0])
    assert msg["op"] == "auth" and msg["args"][:2] == ["k", 11000] and msg["args"][2] == sign("s3cret", 11000)
    for text in (repr(conn), str(ctx), repr(BybitCredentials("k", "s3cret"))):
        assert "s3cret" not in text
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(BybitCredentials("k", "s3cret"))
    assert not await BybitPrivateConnectionStrategy(api_key="k").authenticate(send, await BybitPrivateConnectionStrategy(
        api_key="k").create_connection_context())
