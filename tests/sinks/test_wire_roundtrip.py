"""The bus wire format: encoder -> decoder differential tests against a dict reference book.

The oracle is a plain dict book fed the same random updates as the publisher's ``OrderBook``; the
follower's book, rebuilt only from the encoded messages, must equal its top ``depth`` after every
event, and a lost message must make the follower say invalid until the next snapshot.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as hst

from feedhandler.book import OrderBook
from feedhandler.bus.decoder import BusDecoder
from feedhandler.core.errors import ParseError
from feedhandler.events import BookStatus, BookTicker, BookUpdate, Trade
from feedhandler.sinks.encoder import BusEncoder, SinkTap


def top(levels: dict[float, float], side: int, depth: int) -> list[tuple[float, float]]:
    keys = sorted(levels, reverse=(side == 0))[:depth]
    return [(p, levels[p]) for p in keys]


def follower_top(book, side: int, depth: int) -> list[tuple[float, float]]:
    px, qty = (book.top_bids(depth) if side == 0 else book.top_asks(depth))
    return list(zip(px.tolist(), qty.tolist()))


class Publisher:
    """An OrderBook driven by random updates, each announced as a BookUpdate through the encoder."""

    def __init__(self, encoder: BusEncoder, seed: int, symbol: str = "BTCUSDT"):
        self.rng = random.Random(seed)
        self.book = OrderBook(symbol, 4096)
        self.ref: list[dict[float, float]] = [{}, {}]
        self.encoder = encoder
        self.symbol = symbol
        self.uid = 1000
        self.clock = 0

    def step(self, n_levels: int = 3, snapshot: bool = False) -> None:
        for _ in range(n_levels):
            side = self.rng.randrange(2)
            # bids 1..100, asks 101..200 ticks: never crossed
            tick = self.rng.randrange(1, 101) + (100 if side else 0)
            price = tick * 0.5
            qty = 0.0 if self.rng.random() < 0.35 else self.rng.randrange(1, 50) / 8
            self.book.apply_level(side, price, qty)
            if qty == 0:
                self.ref[side].pop(price, None)
            else:
                self.ref[side][price] = qty
        self.uid += 1
        self.clock += 1_000_000
        self.encoder.deliver(BookUpdate(exchange="sim", symbol=self.symbol, book=self.book,
                                        first_update_id=self.uid, last_update_id=self.uid,
                                        recv_ns=self.clock, exchange_ts_ns=self.clock * 3, is_snapshot=snapshot))


def drain(encoder: BusEncoder, decoder: BusDecoder, drop: bool = False) -> int:
    batches = encoder.take()
    if not drop:
        for _subject, payload in batches:
            decoder.feed(payload)
    return len(batches)


@settings(max_examples=40, deadline=None)
@given(seed=hst.integers(0, 2**32), depth=hst.sampled_from([1, 3, 10, 200]), levels=hst.integers(1, 12))
def test_follower_equals_publisher_top_after_every_update(seed, depth, levels):
    events = []
    enc = BusEncoder("sim", depth=depth, snapshot_interval=0.05)
    dec = BusDecoder(events.append, depth=depth)
    pub = Publisher(enc, seed)
    for i in range(120):
        pub.step(levels)
        drain(enc, dec)
        book = dec.book("BTCUSDT")
        assert dec.is_valid("BTCUSDT")
        for side in (0, 1):
            assert follower_top(book, side, depth) == top(pub.ref[side], side, depth)
        assert book.last_update_id == pub.uid
    assert enc.snapshots >= 2  # the periodic ones (1 per 50 updates at 1 ms per update)
    updates = [e for e in events if isinstance(e, BookUpdate)]
    assert len(updates) == 120  # the same events as the publisher's handler got


def test_batched_records_and_other_channels():
    events = []
    enc = BusEncoder("sim", depth=20)
    dec = BusDecoder(lambda e: events.append(e.copy()), depth=20)
    pub = Publisher(enc, 7)
    for i in range(50):
        pub.step()
        enc.deliver(Trade(exchange="sim", symbol="BTCUSDT", price=10.5 + i, qty=0.25, side=1 + i % 2,
                          trade_id=-1 if i % 5 == 0 else 900 + i, trade_id_str=f"t{i}" if i % 5 == 0 else "",
                          exchange_ts_ns=i, recv_ns=i + 1))
        enc.deliver(BookTicker(exchange="sim", symbol="BTCUSDT", bid_price=1.0, bid_qty=2.0, ask_price=3.0,
                               ask_qty=float(i), update_id=i))
    batches = enc.take()
    assert sorted(s for s, _ in batches) == ["md.sim.BTCUSDT.book", "md.sim.BTCUSDT.book_ticker", "md.sim.BTCUSDT.trades"]
    for _s, payload in batches:
        dec.feed(payload)
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.price, t.side, t.trade_id, t.trade_id_str) for t in trades] == [
        (10.5 + i, 1 + i % 2, -1 if i % 5 == 0 else 900 + i, f"t{i}" if i % 5 == 0 else "") for i in range(50)]
    tickers = [e for e in events if isinstance(e, BookTicker)]
    assert [t.ask_qty for t in tickers] == [float(i) for i in range(50)]
    assert sum(isinstance(e, BookUpdate) for e in events) == 50
    assert dec.gaps == 0


def test_lost_batch_invalidates_until_snapshot_and_never_delivers_wrong_book():
    events = []
    depth = 10
    enc = BusEncoder("sim", depth=depth, snapshot_interval=1.0)  # 1000 updates between periodic snapshots

    def check(e):
        if isinstance(e, BookUpdate):
            assert dec.is_valid("BTCUSDT")
            for side in (0, 1):
                assert follower_top(e.book, side, depth) == top(pub.ref[side], side, depth)
        events.append(e.copy())

    dec = BusDecoder(check, depth=depth)
    pub = Publisher(enc, 3)
    for _ in range(5):
        pub.step()
        drain(enc, dec)
    pub.step()
    drain(enc, dec, drop=True)          # a lost message
    enc.lose(1)                          # what NatsSink does when a publish fails: the next one is a snapshot
    for _ in range(3):
        pub.step()
        drain(enc, dec)
    statuses = [(e.valid, e.reason) for e in events if isinstance(e, BookStatus)]
    assert statuses[0] == (True, "")
    assert statuses[1][0] is False and "gap" in statuses[1][1]
    assert statuses[2] == (True, "")
    assert dec.is_valid("BTCUSDT")

    # without the publisher knowing (a subscriber-side loss): invalid until the periodic snapshot
    events.clear()
    pub.step()
    drain(enc, dec, drop=True)
    for _ in range(20):
        pub.step()
        drain(enc, dec)
    assert not dec.is_valid("BTCUSDT")
    assert not any(isinstance(e, BookUpdate) for e in events)
    pub.clock += 2_000_000_000          # past the snapshot interval
    pub.step()
    drain(enc, dec)
    assert dec.is_valid("BTCUSDT")


def test_publisher_restart_is_detected():
    events = []
    dec = BusDecoder(events.append, depth=5)
    enc1 = BusEncoder("sim", depth=5, session=1)
    pub = Publisher(enc1, 1)
    pub.step()
    drain(enc1, dec)
    assert dec.is_valid("BTCUSDT")
    enc2 = BusEncoder("sim", depth=5, session=2)
    pub.encoder = enc2
    pub.step()
    drain(enc2, dec)  # a fresh publisher starts with a snapshot: valid again, after one invalid status
    kinds = [(type(e).__name__, getattr(e, "valid", None)) for e in events]
    assert ("BookStatus", False) in kinds
    assert dec.is_valid("BTCUSDT")


def test_publisher_invalid_status_is_forwarded():
    events = []
    enc = BusEncoder("sim", depth=5)
    dec = BusDecoder(lambda e: events.append(e.copy()), depth=5)
    pub = Publisher(enc, 2)
    pub.step()
    enc.deliver(BookStatus(exchange="sim", symbol="BTCUSDT", valid=False, reason="gap 5 -> 9", update_id=9))
    pub.step()  # the publisher's own next update is a snapshot (it re-primes after an invalid status)
    drain(enc, dec)
    st = [e for e in events if isinstance(e, BookStatus)]
    assert [(s.valid, s.reason) for s in st] == [(True, ""), (False, "publisher: gap 5 -> 9"), (True, "")]


def test_sink_tap_calls_sinks_then_handler():
    seen = []
    enc = BusEncoder("sim", depth=5)
    tap = SinkTap([enc], seen.append)
    ev = Trade(exchange="sim", symbol="X", price=1.0, qty=1.0, side=1, trade_id=1)
    tap(ev)
    assert seen == [ev] and enc.records == 1
    with pytest.raises(TypeError):
        SinkTap([object()])


def test_sink_tap_is_a_compiled_consumer_of_the_dispatcher():
    """The feed's dispatcher reaches the tap by a C call; a compiled handler behind it too; errors reported."""
    from feedhandler.core.dispatch import EventDispatcher

    enc, inner = BusEncoder("sim", depth=5), BusEncoder("sim", depth=5)
    tap = SinkTap([enc], inner)          # a compiled Consumer as the user's handler: chained from C
    errors = []
    disp = EventDispatcher(tap, errors.append)
    assert disp.consumer is tap
    pub = Publisher(BusEncoder("sim", depth=5), 3)
    for i in range(50):
        pub.step()
        disp.deliver(BookUpdate(exchange="sim", symbol="X", book=pub.book, first_update_id=i + 1,
                                last_update_id=i + 1, recv_ns=i, exchange_ts_ns=i, is_snapshot=False))
        disp.deliver(Trade(exchange="sim", symbol="X", price=1.0, qty=1.0, side=1, trade_id=i))
    assert enc.records == inner.records == 100 and disp.events == 100
    assert enc.take() and [p for _, p in inner.take()]    # both encoded the same events
    # a raising Python handler behind the sinks: the sink still got the event, the error is reported
    boom = SinkTap([enc], lambda ev: 1 / 0)
    disp.handler = boom
    disp.deliver(Trade(exchange="sim", symbol="X", price=1.0, qty=1.0, side=1, trade_id=999))
    assert enc.records == 101 and disp.handler_errors == 1 and len(errors) == 1


def test_slow_transport_drops_with_a_counter_and_bounded_memory():
    enc = BusEncoder("sim", depth=5, batch_bytes=1024, max_pending_batches=2)
    pub = Publisher(enc, 4)
    for _ in range(2000):
        pub.step()
    assert enc.pending_batches == 2            # never more than the bound
    assert enc.dropped_batches > 0 and enc.dropped_records > 0
    assert enc.records == 2000


@settings(max_examples=300, deadline=None)
@given(data=hst.binary(max_size=400), cut=hst.integers(0, 600), flip=hst.integers(0, 600))
def test_hostile_messages_raise_parse_error_or_decode(data, cut, flip):
    enc = BusEncoder("sim", depth=5, session=5)
    pub = Publisher(enc, 9)
    pub.step()
    good = enc.take()[0][1]
    dec = BusDecoder(None, depth=5)
    for payload in (data, good[:cut], good[:flip] + bytes([good[flip] ^ 0x5A]) + good[flip + 1:] if flip < len(good) else good,
                    b"FHB1" + data):
        try:
            dec.feed(payload)
        except ParseError as exc:
            assert "byte" in str(exc)
        book = dec.book("BTCUSDT")
        if book is not None and dec.is_valid("BTCUSDT"):
            assert not book.is_crossed()


def test_ticker_and_kline_roundtrip():
    from feedhandler.events import Kline, Ticker

    events = []
    enc = BusEncoder("sim", depth=5)
    dec = BusDecoder(lambda e: events.append(e.copy()), depth=5)
    tk = Ticker(exchange="sim", symbol="X", last=1.5, high=2.5, low=0.5, volume=10.25, quote_volume=15.5,
                change_pct=-3.25, exchange_ts_ns=7, recv_ns=8)
    kl = Kline(exchange="sim", symbol="X", interval="1m", open_time_ns=60, close_time_ns=119, open=1.0, high=2.0,
               low=0.5, close=1.5, volume=3.0, quote_volume=4.5, closed=True, exchange_ts_ns=9, recv_ns=10)
    enc.deliver(tk)
    enc.deliver(kl)
    batches = enc.take()
    assert sorted(s for s, _ in batches) == ["md.sim.X.kline", "md.sim.X.ticker"]
    for _s, payload in batches:
        dec.feed(payload)
    got = {type(e).__name__: e.to_dict() for e in events}
    assert got["Ticker"] == tk.to_dict()
    assert got["Kline"] == kl.to_dict()
