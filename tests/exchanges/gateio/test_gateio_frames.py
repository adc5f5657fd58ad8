"""Gate.io decoder: hypothesis-built frames (numbers == float()), mutated frames, control frames, obu, private."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ParseError
from feedhandler.core.types import MessageType
from feedhandler.events.events import BalanceUpdate, BookStatus, BookTicker, Fill, OrderUpdate, Side
from feedhandler.exchanges.gateio import GateioPrivateMessageParser, GateioPublicMessageParser, sign
from feedhandler.exchanges.gateio.decoder import GateioDecoder
from feedhandler.exchanges.gateio.rules import GATEIO_OBU_RULE, GATEIO_SPOT_RULE
from feedhandler.sync.book_sync import BookSyncGroup

decimals = st.decimals(min_value="0.00000001", max_value="99999999", places=8, allow_nan=False).map(
    lambda d: format(d.normalize(), "f"))
qtys = st.one_of(st.just("0"), decimals)
levels = st.lists(st.tuples(decimals, qtys), max_size=25)


def _decoder():
    events = []
    d = EventDispatcher()
    d.handler = lambda e: events.append(e.copy())
    books = BookSyncGroup("gateio", GATEIO_SPOT_RULE, d, 1000)
    obu = BookSyncGroup("gateio", GATEIO_OBU_RULE, d, 1000)
    return GateioDecoder(d, books, obu, None), books, obu, events


def _frame(result, channel="spot.order_book_update"):
    return json.dumps({"time": 1, "time_ms": 1000, "channel": channel, "event": "update", "result": result}).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bids=levels, asks=levels, data=st.data())
def test_valid_then_mutated_frames(bids, asks, data):
    dec, books, _, events = _decoder()
    base = 1 << 40
    full = _frame({"t": 5, "full": True, "s": "BTC_USDT", "U": base, "u": base, "b": [["1", "1"]], "a": [["100000000", "1"]]})
    dec.feed(full, 1)
    frame = _frame({"t": 6, "s": "BTC_USDT", "U": base + 1, "u": base + 2, "b": [list(x) for x in bids],
                    "a": [list(x) for x in asks]})
    # mutate: truncate and flip bytes; a mutated frame either parses like json does or is refused without change
    raw = bytearray(frame)
    cut = data.draw(st.integers(1, len(raw)))
    raw = raw[:cut]
    for _ in range(data.draw(st.integers(0, 3))):
        if raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    before = books["BTC_USDT"].book.to_dict()
    try:
        dec.feed(bytes(raw), 2)
    except ParseError:
        assert books["BTC_USDT"].book.to_dict() == before
        assert dec.parse_errors >= 1
    # the intact frame, on the full snapshot again (the mutated one may have been the intact frame itself
    # and already moved or invalidated the book): every number is float() of its text
    books["BTC_USDT"].invalidate("test")
    dec.feed(full, 3)
    n = len(events)
    dec.feed(frame, 4)
    book = books["BTC_USDT"].book
    if books["BTC_USDT"].is_valid:
        expect_b = {1.0: 1.0}
        expect_a = {100000000.0: 1.0}
        for p, q in bids:
            expect_b.pop(float(p), None) if float(q) == 0 else expect_b.__setitem__(float(p), float(q))
        for p, q in asks:
            expect_a.pop(float(p), None) if float(q) == 0 else expect_a.__setitem__(float(p), float(q))
        d = book.to_dict()
        assert d["bids"] == sorted(expect_b.items(), reverse=True)
        assert d["asks"] == sorted(expect_a.items())
        assert d["last_update_id"] == base + 2
    else:  # the random levels crossed the book: it was invalidated, and said so
        assert any(isinstance(e, BookStatus) and not e.valid for e in events[n:])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(blob):
    dec, books, _, _ = _decoder()
    try:
        t = dec.feed(blob, 0)
    except ParseError:
        return
    assert t in (0, 1, 2, 3, 4)


@settings(max_examples=200, deadline=None)
@given(p=decimals, q=decimals, u=st.integers(0, (1 << 63) - 1))
def test_book_ticker_numbers_are_float(p, q, u):
    dec, _, _, events = _decoder()
    dec.feed(_frame({"t": 1, "u": u, "s": "ETH_USDT", "b": p, "B": q, "a": q, "A": p}, "spot.book_ticker"), 9)
    (ev,) = events
    assert isinstance(ev, BookTicker)
    assert (ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty, ev.update_id) == (float(p), float(q), float(q), float(p), u)


def test_control_frames_and_errors():
    dec, *_ = _decoder()
    ok = b'{"time":1,"id":7,"channel":"spot.trades","event":"subscribe","error":null,"result":{"status":"success"}}'
    fail = b'{"time":1,"channel":"spot.obu","event":"subscribe","error":{"code":2,"message":"Alert sub ob.BTC_USDT.400"},"result":{"status":"fail"}}'
    pong = b'{"time":1,"time_ms":1000,"channel":"spot.pong","event":"","error":null,"result":null}'
    err = b'{"time":1,"channel":"spot.trades","event":"update","error":{"code":1,"message":"bad"},"result":null}'
    assert dec.feed(ok, 0) == MessageType.SUBSCRIPTION_ACK
    assert dec.classify(fail) == MessageType.ERROR
    assert dec.feed(pong, 0) == MessageType.PONG
    assert dec.feed(err, 0) == MessageType.ERROR
    assert dec.feed(b'{"channel":"spot.unknown","event":"update","result":{}}', 0) == MessageType.UNKNOWN
    for bad in (b"", b"[]", b'{"channel":"spot.trades","event":"update"}', b'{"a":1}',
                _frame({"s": "X", "U": 5, "u": 4, "b": [], "a": []}),
                _frame({"s": "X", "U": 1, "u": 2, "b": [["-1", "1"]], "a": []}),
                _frame({"s": "X", "U": 1, "u": 2, "b": [["1e400", "1"]], "a": []}),
                _frame({"s": "X", "U": 1, "u": 99999999999999999999, "b": [], "a": []})):
        with pytest.raises(ParseError):
            dec.feed(bad, 0)
    # str, bytearray and memoryview are accepted like bytes
    assert dec.feed(ok.decode(), 0) == dec.feed(bytearray(ok), 0) == dec.feed(memoryview(ok), 0) == 2


def test_obu_full_then_gap_asks_for_resubscribe():
    dec, _, obu, events = _decoder()
    gaps = []
    dec.on_obu_gap = lambda pair, stream: gaps.append((pair, stream))
    full = _frame({"t": 1, "full": True, "s": "ob.BTC_USDT.400", "u": 10, "b": [["10", "1"]], "a": [["11", "1"]]}, "spot.obu")
    inc = lambda U, u, px: _frame({"t": 2, "s": "ob.BTC_USDT.400", "U": U, "u": u, "b": [[px, "2"]], "a": []}, "spot.obu")
    dec.feed(full, 0)
    dec.feed(inc(11, 12, "9"), 0)
    assert obu["BTC_USDT"].is_valid and obu["BTC_USDT"].book.to_dict()["bids"] == [(10.0, 1.0), (9.0, 2.0)]
    dec.feed(inc(14, 15, "8"), 0)  # 13 lost
    assert not obu["BTC_USDT"].is_valid
    assert gaps == [("BTC_USDT", "ob.BTC_USDT.400")] and dec.take_obu_resubscribe() == ["BTC_USDT"]
    dec.feed(inc(16, 16, "7"), 0)
    assert len(gaps) == 1  # asked once per gap
    dec.feed(full.replace(b'"u": 10', b'"u": 20'), 0)
    assert obu["BTC_USDT"].is_valid and obu["BTC_USDT"].book.last_update_id == 20


def test_private_frames():
    parser = GateioPrivateMessageParser()
    got = []
    parser.bind(lambda e: got.append(e.copy()))
    orders = {"time": 1, "channel": "spot.orders", "event": "update", "result": [
        {"id": "12", "text": "t-1", "update_time_ms": "1700000000123", "event": "finish", "currency_pair": "BTC_USDT",
         "type": "limit", "side": "sell", "amount": "2", "price": "100.5", "left": "0", "filled_amount": "2",
         "avg_deal_price": "100.5", "finish_as": "filled"},
        {"id": "13", "event": "put", "currency_pair": "ETH_USDT", "side": "buy", "amount": "1", "price": "3", "left": "1"}]}
    parser.feed(json.dumps(orders).encode(), 5)
    a, b = got
    assert isinstance(a, OrderUpdate) and a.order_id == "12" and a.status == "filled" and a.side == Side.SELL
    assert (a.price, a.qty, a.filled_qty, a.avg_price, a.exchange_ts_ns) == (100.5, 2.0, 2.0, 100.5, 1700000000123000000)
    assert b.status == "put" and b.filled_qty == 0.0 and b.client_order_id == ""
    trades = {"time": 1, "channel": "spot.usertrades", "event": "update", "result": [
        {"id": 5, "order_id": "12", "currency_pair": "BTC_USDT", "create_time_ms": "1.5", "side": "buy",
         "amount": "0.1", "role": "maker", "price": "7", "fee": "0.01", "fee_currency": "USDT"}]}
    parser.feed(json.dumps(trades), 5)
    f = got[-1]
    assert isinstance(f, Fill) and (f.trade_id, f.order_id, f.is_maker, f.fee, f.fee_asset) == ("5", "12", True, 0.01, "USDT")
    bal = {"time": 1, "channel": "spot.balances", "event": "update", "result": [
        {"timestamp_ms": "2", "currency": "USDT", "available": "9.5", "freeze": "0.5", "total": "10"}]}
    parser.feed(json.dumps(bal), 5)
    assert isinstance(got[-1], BalanceUpdate) and (got[-1].asset, got[-1].free, got[-1].locked) == ("USDT", 9.5, 0.5)
    # one bad element: nothing of the frame is emitted
    n = len(got)
    bad = {"time": 1, "channel": "spot.balances", "event": "update", "result": [
        {"currency": "USDT", "available": "1"}, {"currency": "BTC", "available": "x"}]}
    with pytest.raises(ParseError):
        parser.feed(json.dumps(bal | bad), 5)
    assert len(got) == n


def test_signature_and_secret_hiding():
    import hashlib
    import hmac
    expect = hmac.new(b"s3cr3t-value", b"channel=spot.orders&event=subscribe&time=1611541000", hashlib.sha512).hexdigest()
    assert sign("s3cr3t-value", "spot.orders", "subscribe", 1611541000) == expect
    from feedhandler.core.factory import WebSocketStrategyFactory
    conn, sub, parser = WebSocketStrategyFactory.create_strategies("gateio", True, api_key="key-abcdef", secret_key="s3cr3t-value")
    assert "s3cr3t" not in repr(conn) + repr(sub) and "key-abcdef" not in repr(conn) + repr(sub)
    assert isinstance(parser, GateioPrivateMessageParser)
    conn2, sub2, parser2 = WebSocketStrategyFactory.create_strategies("gateio", False)
    assert isinstance(parser2, GateioPublicMessageParser)
