"""Gate.io USDT futures: the ``futures.*`` channels (object levels, array trades/candles), strategies, REST.

Oracle: ``json.loads`` + ``float()`` of the same frame (the decoder's numbers must be those bits), and the real
capture ``shared/data/gateio/cryptofeed_usdt_futures_2023-05-24`` (its REST snapshot bodies decoded both ways).
"""
from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ConfigurationError, ParseError, RestError
from feedhandler.core.types import ChannelType, MessageType
from feedhandler.events.events import BookTicker, Kline, Side, Trade
from feedhandler.exchanges.gateio import (
    GateioPrivateSubscriptionStrategy, GateioPublicConnectionStrategy, GateioPublicMessageParser,
    GateioPublicSubscriptionStrategy,
)
from feedhandler.exchanges.gateio.decoder import GateioDecoder
from feedhandler.exchanges.gateio.rest import GateioSnapshotFetcher, decode_futures_order_book
from feedhandler.exchanges.gateio.rules import GATEIO_FUTURES_RULE, GATEIO_SPOT_RULE
from feedhandler.sync.book_sync import BookSyncGroup

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "gateio" / "cryptofeed_usdt_futures_2023-05-24"

prices = st.decimals(min_value="0.0001", max_value="999999", places=4, allow_nan=False).map(
    lambda d: format(d.normalize(), "f"))
sizes = st.integers(0, 10**9)
levels = st.lists(st.tuples(prices, sizes), max_size=20)


def _decoder(futures: bool = True):
    events: list = []
    d = EventDispatcher()
    d.handler = lambda e: events.append(e.copy())
    books = BookSyncGroup("gateio", GATEIO_FUTURES_RULE if futures else GATEIO_SPOT_RULE, d, 1000)
    return GateioDecoder(d, books, None, None, futures=futures), books, events


def _frame(channel: str, result, **extra) -> bytes:
    return json.dumps({"time": 1684930165, "time_ms": 1684930165254, "channel": channel, "event": "update",
                       "result": result, **extra}).encode()


def _levels(pairs):
    return [{"p": p, "s": s} for p, s in pairs]


def _load(books, symbol="RDNT_USDT", uid=100, bids=((0.29, 5.0),), asks=((0.31, 7.0),)):
    sync = books.get(symbol)
    assert sync.load_snapshot(uid, np.array(bids, dtype=np.float64), np.array(asks, dtype=np.float64), 1)
    return sync


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bids=levels, asks=levels)
def test_order_book_update_levels_are_float_of_the_text(bids, asks):
    dec, books, _ = _decoder()
    sync = _load(books)
    frame = _frame("futures.order_book_update", {"t": 1684930165217, "s": "RDNT_USDT", "U": 101, "u": 103,
                                                 "b": _levels(bids), "a": _levels(asks)})
    assert dec.feed(frame, 2) == MessageType.DATA
    oracle = {0.29: 5.0}
    for p, s in bids:
        oracle[float(p)] = float(s)
    want_bids = sorted(((p, q) for p, q in oracle.items() if q > 0), reverse=True)
    got = sync.book.to_dict()
    assert [tuple(x) for x in got["bids"]] == want_bids
    assert got["last_update_id"] == 103


def test_order_book_update_follows_the_u_rule_and_refuses_array_levels():
    dec, books, _ = _decoder()
    sync = _load(books, uid=203083177)
    stale = _frame("futures.order_book_update", {"t": 1, "s": "RDNT_USDT", "U": 203083177, "u": 203083177,
                                                 "a": [{"p": "0.2983", "s": 0}], "b": []})
    dec.feed(stale, 2)  # u < id + 1: dropped
    assert sync.book.last_update_id == 203083177 and sync.is_valid
    ok = _frame("futures.order_book_update", {"t": 1, "s": "RDNT_USDT", "U": 203083178, "u": 203083178,
                                              "a": [{"p": "0.3047", "s": 8393}], "b": []})
    dec.feed(ok, 3)
    assert sync.book.last_update_id == 203083178 and (0.3047, 8393.0) in [tuple(x) for x in sync.book.to_dict()["asks"]]
    before = sync.book.to_dict()
    for bad in ({"p": "0.3", "s": -1}, {"p": "0", "s": 1}, {"p": "0.3"}, ["0.3", 1], {"p": "x", "s": 1}):
        frame = _frame("futures.order_book_update", {"t": 1, "s": "RDNT_USDT", "U": 203083179, "u": 203083179,
                                                     "a": [bad], "b": []})
        with pytest.raises(ParseError):
            dec.feed(frame, 4)
        assert sync.book.to_dict() == before
    gap = _frame("futures.order_book_update", {"t": 1, "s": "RDNT_USDT", "U": 203083190, "u": 203083190,
                                               "a": [], "b": []})
    dec.feed(gap, 5)
    assert not sync.is_valid


def test_trades_candles_book_ticker_and_pong():
    dec, _, events = _decoder()
    trades = _frame("futures.trades", [
        {"size": -108, "id": 27753479, "create_time": 1545136464, "create_time_ms": 1545136464123, "price": "96.4",
         "contract": "BTC_USDT"},
        {"size": 3, "id": 27753480, "create_time": 1545136465, "price": "96.5", "contract": "BTC_USDT"}])
    assert dec.feed(trades, 7) == MessageType.DATA
    t1, t2 = events[-2:]
    assert isinstance(t1, Trade) and (t1.symbol, t1.price, t1.qty, t1.side, t1.trade_id, t1.exchange_ts_ns) == (
        "BTC_USDT", 96.4, 108.0, Side.SELL, 27753479, 1545136464123 * 10**6)
    assert (t2.qty, t2.side, t2.exchange_ts_ns, t2.recv_ns) == (3.0, Side.BUY, 1545136465 * 10**9, 7)
    candle = _frame("futures.candlesticks", [{"t": 1684930140, "v": 12, "c": "0.1701", "h": "0.1702", "l": "0.17",
                                              "o": "0.1700", "n": "1m_FRONT_USDT", "sum": "2.04"}])
    dec.feed(candle, 8)
    k = events[-1]
    assert isinstance(k, Kline) and (k.symbol, k.interval, k.open, k.high, k.low, k.close, k.volume, k.quote_volume) \
        == ("FRONT_USDT", "1m", 0.17, 0.1702, 0.17, 0.1701, 12.0, 2.04)
    assert (k.open_time_ns, k.close_time_ns) == (1684930140 * 10**9, 1684930200 * 10**9)
    bbo = _frame("futures.book_ticker", {"t": 1684930165621, "u": 6159967, "s": "PHB_USDT", "b": "0.7379", "B": 814,
                                         "a": "0.739", "A": 677})
    dec.feed(bbo, 9)
    b = events[-1]
    assert isinstance(b, BookTicker) and (b.symbol, b.bid_price, b.bid_qty, b.ask_price, b.ask_qty, b.update_id) == (
        "PHB_USDT", 0.7379, 814.0, 0.739, 677.0, 6159967)
    n = len(events)
    assert dec.feed(b'{"time":1,"time_ms":1,"channel":"futures.pong","event":"","error":null,"result":null}', 1) \
        == MessageType.PONG
    for bad in ([{"size": 0, "id": 1, "price": "1", "contract": "X"}], [{"size": 1, "id": 1, "contract": "X"}],
                {"size": 1, "id": 1, "price": "1", "contract": "X"}):
        with pytest.raises(ParseError):
            dec.feed(_frame("futures.trades", bad), 1)
    assert len(events) == n  # nothing of a refused frame was emitted


def test_spot_and_futures_decoders_do_not_read_each_others_channels():
    fut, _, fut_events = _decoder(True)
    spot, _, spot_events = _decoder(False)
    spot_frame = _frame("spot.book_ticker", {"t": 1, "u": 1, "s": "BTC_USDT", "b": "1", "B": "1", "a": "2", "A": "1"})
    fut_frame = _frame("futures.book_ticker", {"t": 1, "u": 1, "s": "BTC_USDT", "b": "1", "B": 1, "a": "2", "A": 1})
    assert fut.feed(spot_frame, 1) == MessageType.UNKNOWN and spot.feed(fut_frame, 1) == MessageType.UNKNOWN
    assert not fut_events and not spot_events
    ack = b'{"time":1,"id":3,"channel":"futures.order_book_update","event":"subscribe","error":null,' \
          b'"result":{"status":"success"}}'
    assert fut.feed(ack, 1) == MessageType.SUBSCRIPTION_ACK and fut.control_id == 3
    with pytest.raises(ValueError):
        GateioDecoder(EventDispatcher(), None, None, None, True, futures=True)


def test_strategies_speak_the_futures_endpoint():
    conn = GateioPublicConnectionStrategy(market="usdt", clock=lambda: 1684930165.5)
    ctx = asyncio.run(conn.create_connection_context())
    assert ctx.url == "wss://fx-ws.gateio.ws/v4/ws/usdt"
    assert json.loads(conn.create_ping_message()) == {"time": 1684930165, "channel": "futures.ping"}
    sub = GateioPublicSubscriptionStrategy(market="usdt", clock=lambda: 1684930165.0)
    msgs = [json.loads(m) for m in sub.create_subscription_messages(
        ["DIA_USDT", "RDNT_USDT"], [ChannelType.ORDERBOOK, ChannelType.TRADES, ChannelType.BOOK_TICKER,
                                    ChannelType.KLINE], True)]
    assert [(m["channel"], m["payload"]) for m in msgs] == [
        ("futures.order_book_update", ["DIA_USDT", "100ms"]), ("futures.order_book_update", ["RDNT_USDT", "100ms"]),
        ("futures.trades", ["DIA_USDT", "RDNT_USDT"]), ("futures.book_ticker", ["DIA_USDT", "RDNT_USDT"]),
        ("futures.candlesticks", ["1m", "DIA_USDT"]), ("futures.candlesticks", ["1m", "RDNT_USDT"])]
    assert all(m["event"] == "subscribe" for m in msgs)
    fast = GateioPublicSubscriptionStrategy(market="usdt", speed="20ms")
    assert json.loads(fast.create_subscription_messages(["BTC_USDT"], [ChannelType.ORDERBOOK], True)[0])["payload"] \
        == ["BTC_USDT", "20ms", "20"]
    with pytest.raises(ConfigurationError):
        sub.create_subscription_messages(["BTC_USDT"], [ChannelType.TICKER], True)
    with pytest.raises(ConfigurationError):
        GateioPublicSubscriptionStrategy(market="usdt", book_channel="obu")
    with pytest.raises(ConfigurationError):
        GateioPublicSubscriptionStrategy(market="coinm")
    with pytest.raises(ConfigurationError):
        GateioPrivateSubscriptionStrategy(market="usdt")
    spot = GateioPublicConnectionStrategy()
    assert spot.url == "wss://api.gateio.ws/ws/v4/" and "spot.ping" in spot.create_ping_message()


def _rest_bodies():
    if not DATA.is_dir():
        pytest.skip(f"shared recordings not found at {DATA}")
    out = []
    for line in (DATA / "GATEIO_FUTURES.http.0.0").read_text().splitlines():
        head, sep, body = line.partition(": ")
        if sep and " -> " in head:
            out.append(body)
    return out


def test_rest_snapshot_bodies_of_the_capture_decode_like_json():
    bodies = _rest_bodies()
    assert len(bodies) == 10
    for body in bodies:
        doc = json.loads(body)
        uid, bids, asks, truncated = decode_futures_order_book(body.encode(), 100)
        assert uid == doc["id"] and truncated == 0
        for side, got in (("bids", bids), ("asks", asks)):
            want = [(float(x["p"]), float(x["s"])) for x in doc[side]]
            assert [tuple(r) for r in got.tolist()] == want and all(math.isfinite(p) for p, _ in want)
        _, b5, _, cut = decode_futures_order_book(body, 5)
        assert len(b5) == min(5, len(doc["bids"])) and cut == len(doc["bids"]) + len(doc["asks"]) \
            - len(b5) - min(5, len(doc["asks"]))
    for bad in (b"[]", b"{}", b'{"id": 1, "bids": [{"p": "1"}], "asks": []}', b'{"id":1,"bids":[],"asks":[{"p":"-1","s":1}]}',
                b'{"id": "1", "bids": [], "asks": []}', b"not json"):
        with pytest.raises(RestError):
            decode_futures_order_book(bad)


def test_futures_fetcher_asks_the_futures_path():
    asked = []

    class Client:
        async def get_bytes(self, path, params):
            asked.append((path, params))
            return b'{"id": 7, "current": 1, "update": 1, "bids": [{"p": "1.5", "s": 3}], "asks": [{"p": "2", "s": 4}]}'

    fetcher = GateioSnapshotFetcher(client=Client(), market="usdt")  # type: ignore[arg-type]
    uid, bids, asks = asyncio.run(fetcher("BTC_USDT"))
    assert (uid, bids.tolist(), asks.tolist()) == (7, [[1.5, 3.0]], [[2.0, 4.0]])
    assert asked == [("/api/v4/futures/usdt/order_book", [("contract", "BTC_USDT"), ("limit", 100), ("with_id", True)])]
    parser = GateioPublicMessageParser(market="usdt", snapshot_fetcher=fetcher)
    assert parser.books.rule.name == "gateio-futures"
