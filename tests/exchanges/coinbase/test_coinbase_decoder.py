"""Coinbase decoder: hypothesis-built frames against json.loads + float() and a dict book, mutated and random
frames (ParseError, nothing applied), field errors naming the field and byte offset, the connection's
``sequence_num`` (a gap invalidates every book, a duplicate is dropped), ISO-8601 times against datetime,
and the CDP JWT of the private subscription."""
from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings, strategies as st

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ConfigurationError, ParseError
from feedhandler.core.types import ChannelType, MessageType
from feedhandler.events.events import BookStatus, Trade
from feedhandler.exchanges.coinbase import (
    CoinbaseCredentials, CoinbasePrivateSubscriptionStrategy, CoinbasePublicSubscriptionStrategy,
)
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder
from feedhandler.exchanges.coinbase.rules import COINBASE_BOOK_RULE
from feedhandler.sync.book_sync import BookSyncGroup

decimals = st.decimals(min_value="0.00000001", max_value="99999999", places=8, allow_nan=False).map(
    lambda d: format(d.normalize(), "f"))
qtys = st.one_of(st.just("0"), decimals)
levels = st.lists(st.tuples(st.sampled_from(["bid", "offer"]), decimals, qtys), max_size=25)
TS = "2026-08-09T21:05:48.483587501Z"


def _decoder():
    events = []
    d = EventDispatcher()
    d.handler = lambda e: events.append(e.copy())
    books = BookSyncGroup("coinbase", COINBASE_BOOK_RULE, d, 1000)
    return CoinbaseDecoder(d, books, False), books, events


def _l2(seq, kind, updates, product="BTC-USD"):
    return json.dumps({"channel": "l2_data", "client_id": "", "timestamp": TS, "sequence_num": seq, "events": [
        {"type": kind, "product_id": product, "updates": [
            {"side": s, "event_time": TS, "price_level": p, "new_quantity": q} for s, p, q in updates]}]}).encode()


SNAP = [("bid", "1", "1"), ("offer", "100000000", "1")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ups=levels, data=st.data())
def test_valid_then_mutated_frames(ups, data):
    dec, books, events = _decoder()
    dec.feed(_l2(0, "snapshot", SNAP), 1)
    frame = _l2(1, "update", ups)
    raw = bytearray(frame[:data.draw(st.integers(1, len(frame)))])
    for _ in range(data.draw(st.integers(0, 3))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    before = books["BTC-USD"].book.to_dict()
    try:
        dec.feed(bytes(raw), 2)
    except ParseError:
        # a book frame that cannot be read is a lost update: the book says so, its levels are untouched
        assert books["BTC-USD"].book.to_dict()["bids"] == before["bids"]
    dec.reset_sequence()
    dec.feed(_l2(0, "snapshot", SNAP), 3)
    n = len(events)
    dec.feed(frame, 4)
    if books["BTC-USD"].is_valid:
        want = ({1.0: 1.0}, {100000000.0: 1.0})
        for s, p, q in ups:
            side = want[0 if s == "bid" else 1]
            side.pop(float(p), None) if float(q) == 0 else side.__setitem__(float(p), float(q))
        d = books["BTC-USD"].book.to_dict()
        assert d["bids"] == sorted(want[0].items(), reverse=True) and d["asks"] == sorted(want[1].items())
        assert d["last_update_id"] == 1
    else:
        assert any(isinstance(e, BookStatus) and not e.valid for e in events[n:])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(blob):
    dec, _, _ = _decoder()
    try:
        assert dec.feed(blob, 0) in (0, 1, 2, 4)
    except ParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2261, 12, 31)),
       st.integers(0, 999_999_999), st.integers(1, 9))
def test_iso_times_are_exact(when, ns, digits):
    frac = f"{ns:09d}"[:digits]
    text = when.strftime("%Y-%m-%dT%H:%M:%S") + "." + frac + "Z"
    dec, _, events = _decoder()
    dec.feed(json.dumps({"channel": "market_trades", "sequence_num": 0, "events": [{"type": "update", "trades": [
        {"product_id": "ETH-USD", "trade_id": "7", "price": "1.5", "size": "2", "time": text, "side": "SELL"}]}]}), 0)
    [t] = events
    sec = int(when.replace(tzinfo=timezone.utc).timestamp())
    assert isinstance(t, Trade) and t.exchange_ts_ns == sec * 10**9 + int(frac.ljust(9, "0"))
    assert (t.price, t.qty, t.trade_id, t.symbol) == (1.5, 2.0, 7, "ETH-USD")


def test_sequence_gap_invalidates_every_book_and_duplicates_are_dropped():
    dec, books, events = _decoder()
    asked = []
    books.request_snapshot = lambda sync: asked.append(sync.symbol)
    dec.feed(_l2(0, "snapshot", SNAP, "BTC-USD"), 0)
    dec.feed(_l2(1, "snapshot", [("bid", "5", "1"), ("offer", "6", "1")], "ETH-USD"), 0)
    dec.feed(b'{"channel":"heartbeats","sequence_num":2,"events":[{"current_time":"x","heartbeat_counter":1}]}', 0)
    dec.feed(_l2(3, "update", [("bid", "2", "3")]), 0)
    assert books["BTC-USD"].book.best_bid == (2.0, 3.0) and books["BTC-USD"].book.last_update_id == 3
    dec.feed(_l2(3, "update", [("bid", "2", "9")]), 0)            # a duplicate: dropped
    assert books["BTC-USD"].book.best_bid == (2.0, 3.0) and dec.stale_frames == 1
    dec.feed(b'{"channel":"heartbeats","sequence_num":5,"events":[]}', 0)   # 4 lost
    assert not books["BTC-USD"].is_valid and not books["ETH-USD"].is_valid and sorted(asked) == ["BTC-USD", "ETH-USD"]
    assert dec.sequence_gaps == 1
    assert {e.reason for e in events if isinstance(e, BookStatus) and not e.valid} == {
        "gap: sequence_num 4 expected, got 5"}
    dec.feed(_l2(6, "snapshot", [("bid", "3", "1"), ("offer", "4", "1")]), 0)   # the recovery's snapshot
    assert books["BTC-USD"].is_valid and books["BTC-USD"].book.to_dict()["bids"] == [(3.0, 1.0)]
    dec.reset_sequence()         # a new connection numbers from 0 again: its snapshot, then its updates
    dec.feed(_l2(0, "snapshot", [("bid", "3", "1"), ("offer", "4", "1")]), 0)
    dec.feed(_l2(1, "update", [("offer", "4", "0"), ("offer", "4.5", "2")]), 0)
    assert books["BTC-USD"].is_valid and books["BTC-USD"].book.best_ask == (4.5, 2.0)
    assert books["BTC-USD"].book.last_update_id == 1 and dec.sequence_gaps == 1


@pytest.mark.parametrize("frame, field", [
    (_l2(1, "update", [("bid", "1", "x")]), "'new_quantity'"),
    (_l2(1, "update", [("bid", "-1", "1")]), "'price_level'"),
    (_l2(1, "update", [("middle", "1", "1")]), "'side'"),
    (_l2(1, "change", []), "'type'"),
    (json.dumps({"channel": "l2_data", "sequence_num": 1, "events": [{"type": "update", "updates": []}]}),
     "'product_id'"),
    (json.dumps({"channel": "l2_data", "sequence_num": 1, "events": {}}), "'events'"),
    (json.dumps({"channel": "market_trades", "sequence_num": 1, "events": [{"type": "update", "trades": [
        {"product_id": "BTC-USD", "trade_id": "1", "price": "1", "size": "1", "time": "yesterday", "side": "BUY"}]}]}),
     "'time'"),
    (json.dumps({"channel": "ticker", "sequence_num": 1, "events": [{"type": "update", "tickers": [
        {"product_id": "BTC-USD", "best_bid": "1.2.3"}]}]}), "'best_bid'"),
    (json.dumps({"channel": "l2_data", "sequence_num": "x", "events": []}), "'sequence_num'"),
])
def test_malformed_frames_name_the_field_and_change_nothing(frame, field):
    dec, books, events = _decoder()
    dec.feed(_l2(0, "snapshot", SNAP), 0)
    before = books["BTC-USD"].book.to_dict()
    with pytest.raises(ParseError) as err:
        dec.feed(frame, 1)
    assert field in str(err.value) and "at byte" in str(err.value), err.value
    assert books["BTC-USD"].book.to_dict()["asks"] == before["asks"]
    assert books["BTC-USD"].book.to_dict()["bids"] == before["bids"]


def test_control_frames_and_acks():
    dec, _, _ = _decoder()
    sub = b'{"channel":"subscriptions","sequence_num":0,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}'
    assert dec.feed(sub, 0) == MessageType.SUBSCRIPTION_ACK
    assert dec.feed(b'{"type":"error","message":"Failed to subscribe"}', 0) == MessageType.ERROR
    assert dec.control_text == "Failed to subscribe"
    strategy = CoinbasePublicSubscriptionStrategy()
    msgs = [json.loads(m) for m in strategy.create_subscription_messages(
        ["BTC-USD", "ETH-USD"], [ChannelType.ORDERBOOK, ChannelType.BOOK_TICKER, ChannelType.TICKER], True)]
    assert [m["channel"] for m in msgs] == ["level2", "ticker", "heartbeats"]
    assert [m["channel"] for m in (json.loads(x) for x in strategy.create_subscription_messages(
        ["BTC-USD"], [ChannelType.ORDERBOOK], False))] == ["level2"]
    assert strategy.parse_ack(sub).confirmed == ["level2:BTC-USD"]
    assert strategy.parse_ack(b'{"type":"error","message":"nope"}').reason == "nope"
    with pytest.raises(ConfigurationError):
        CoinbasePrivateSubscriptionStrategy(api_key="k", secret_key="s").subscription_keys(["BTC-USD"], [ChannelType.FILLS])


def test_user_subscription_carries_a_verifiable_es256_jwt_and_hides_the_key():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    name = "organizations/org/apiKeys/key-1"
    strategy = CoinbasePrivateSubscriptionStrategy(api_key=name, secret_key=pem, clock=lambda: 1_900_000_000)
    [user, beats] = [json.loads(m) for m in strategy.create_subscription_messages(["BTC-USD"], [ChannelType.ORDERS], True)]
    assert user["channel"] == "user" and beats["channel"] == "heartbeats"
    header = jwt.get_unverified_header(user["jwt"])
    claims = jwt.decode(user["jwt"], key.public_key(), algorithms=["ES256"], options={"verify_exp": False,
                                                                                      "verify_nbf": False})
    assert header["alg"] == "ES256" and header["kid"] == name and len(header["nonce"]) == 32
    assert claims == {"iss": "cdp", "nbf": 1_900_000_000, "exp": 1_900_000_120, "sub": name}
    assert user["jwt"] != json.loads(strategy.create_subscription_messages(["BTC-USD"], [ChannelType.ORDERS], True)[0])["jwt"]
    for text in (repr(strategy), str(CoinbaseCredentials(name, pem))):
        assert "PRIVATE KEY" not in text and pem[40:80] not in text
    with pytest.raises(TypeError):
        pickle.dumps(CoinbaseCredentials(name, pem))
    with pytest.raises(ConfigurationError) as err:
        CoinbaseCredentials(name, "-----BEGIN EC PRIVATE KEY-----\nnot a key\n").jwt(0)
    assert "not a key" not in str(err.value) and err.value.__cause__ is None
