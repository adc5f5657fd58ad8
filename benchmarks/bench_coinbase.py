"""Coinbase Advanced Trade on the real 2026 recording (BTC-USD, ETH-USD: level2, market_trades, ticker, candles).

Group ``coinbase-book`` (book frame decode + apply: the recording's 775 ``l2_data`` frames, the two snapshots
of 46k and 23k levels included):
- ``coinbase_decoder``: the compiled decoder (sequence_num check) -> BookSync -> OrderBook, a handler call per update;
- ``msgspec_struct``: msgspec typed Struct decode + float() + SortedDict per side;
- ``orjson``: orjson.loads + float() + SortedDict per side;
- ``cryptofeed``: cryptofeed's own Coinbase handler (``Coinbase.message_handler``: json + Decimal + its order
  book, a callback per update), its symbol table loaded from the recording's REST answer (no network); skipped
  when cryptofeed is not installed (``pip install 'feedhandler[bench]'``).

Group ``coinbase-replay``: all 1,030 frames through the public parser beside orjson + float() + SortedDict doing
the same work (books applied; trade, ticker and candle numbers converted and handed on).
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import sys

import msgspec
import orjson
import pytest
from sortedcontainers import SortedDict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "exchanges"))
from cryptofeed_capture import SHARED_DATA, frames_by_connection, read_capture  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.exchanges.coinbase import CoinbasePublicMessageParser  # noqa: E402
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder  # noqa: E402
from feedhandler.exchanges.coinbase.rules import COINBASE_BOOK_RULE  # noqa: E402
from feedhandler.sync.book_sync import BookSyncGroup  # noqa: E402

CAPTURE = SHARED_DATA / "coinbase" / "cryptofeed_v3_2026-08-09" / "COINBASE.jsonl.zst"
pytestmark = pytest.mark.skipif(not CAPTURE.is_file(), reason=f"recording not available at {CAPTURE}")


def _frames() -> tuple[list[bytes], list[bytes]]:
    if not CAPTURE.is_file():
        return [], []
    [texts] = frames_by_connection(read_capture(CAPTURE)).values()
    data = [t.encode() for t in texts]
    # the book frames alone, numbered 0, 1, ... (as if the connection carried only level2): no gap to recover
    books = [re.sub(rb'"sequence_num":\d+', b'"sequence_num":%d' % i, f, count=1)
             for i, f in enumerate(f for f in data if f.startswith(b'{"channel":"l2_data"'))]
    return books, data


BOOK_FRAMES, ALL_FRAMES = _frames()


class Level(msgspec.Struct):
    side: str
    price_level: str
    new_quantity: str
    event_time: str = ""


class Event(msgspec.Struct):
    type: str
    product_id: str
    updates: list[Level]


class Envelope(msgspec.Struct):
    channel: str
    sequence_num: int
    events: list[Event]
    timestamp: str = ""
    client_id: str = ""


class PyBooks:
    """The baseline's books: a SortedDict per side per product, snapshot then updates, sequence_num checked."""

    def __init__(self) -> None:
        self.books: dict[str, tuple[SortedDict, SortedDict]] = {}
        self.seq = -1

    def sequence(self, seq: int) -> None:
        if self.seq >= 0 and seq != self.seq + 1:
            raise RuntimeError("gap")
        self.seq = seq

    def apply(self, kind: str, product: str, levels) -> None:
        if kind == "snapshot":
            self.books[product] = (SortedDict(), SortedDict())
        bids, asks = self.books[product]
        for side, p, q in levels:
            book = bids if side == "bid" else asks
            px, qty = float(p), float(q)
            if qty == 0.0:
                book.pop(px, None)
            else:
                book[px] = qty


def _round_decoder(decoder: CoinbaseDecoder) -> None:
    decoder.reset_sequence()
    feed = decoder.feed
    for f in BOOK_FRAMES:
        feed(f, 0)


_msgspec_decoder = msgspec.json.Decoder(Envelope)


def _round_msgspec(books: PyBooks) -> None:
    books.seq = -1
    for raw in BOOK_FRAMES:
        env = _msgspec_decoder.decode(raw)
        for ev in env.events:
            books.apply(ev.type, ev.product_id, [(u.side, u.price_level, u.new_quantity) for u in ev.updates])


def _round_orjson(books: PyBooks) -> None:
    for raw in BOOK_FRAMES:
        m = orjson.loads(raw)
        for ev in m["events"]:
            books.apply(ev["type"], ev["product_id"],
                        [(u["side"], u["price_level"], u["new_quantity"]) for u in ev["updates"]])


GROUP = f"coinbase-book (real recording, x{len(BOOK_FRAMES)} frames)"


@pytest.mark.benchmark(group=GROUP)
def test_coinbase_decoder(benchmark):
    d = EventDispatcher()
    books = BookSyncGroup("coinbase", COINBASE_BOOK_RULE, d, 100_000)
    decoder = CoinbaseDecoder(d, books)
    d.handler = lambda ev: None
    benchmark.pedantic(_round_decoder, args=(decoder,), rounds=30, iterations=1, warmup_rounds=2)
    assert all(books[s].is_valid for s in books.symbols()) and len(books) == 2 and decoder.parse_errors == 0


@pytest.mark.benchmark(group=GROUP)
def test_msgspec_struct_sorteddict(benchmark):
    books = PyBooks()
    benchmark.pedantic(_round_msgspec, args=(books,), rounds=5, iterations=1, warmup_rounds=1)
    assert len(books.books) == 2


@pytest.mark.benchmark(group=GROUP)
def test_orjson_sorteddict(benchmark):
    books = PyBooks()
    benchmark.pedantic(_round_orjson, args=(books,), rounds=5, iterations=1, warmup_rounds=1)
    assert len(books.books) == 2


class _Connection:
    """What cryptofeed's handler reads of its connection: an id for its logs."""
    address = "wss://advanced-trade-ws.coinbase.com"
    uuid = "bench"


@pytest.mark.benchmark(group=GROUP)
def test_cryptofeed_handler(benchmark):
    coinbase = pytest.importorskip("cryptofeed.exchanges.coinbase", reason="cryptofeed is not installed (bench extra)")
    from cryptofeed.defines import L2_BOOK
    from cryptofeed.symbols import Symbols

    http = [json.loads(r["data"]) for r in read_capture(CAPTURE) if r["t"] == "http"]
    Symbols.set(coinbase.Coinbase.id, *coinbase.Coinbase._parse_symbol_data(http[0]))
    updates = [0]

    async def on_book(book, ts):
        updates[0] += 1

    feed = coinbase.Coinbase(symbols=["BTC-USD", "ETH-USD"], channels=[L2_BOOK], callbacks={L2_BOOK: on_book})
    texts = [f.decode() for f in BOOK_FRAMES]
    conn = _Connection()
    loop = asyncio.new_event_loop()

    async def replay():
        handler = feed.message_handler
        for t in texts:
            await handler(t, conn, 0.0)

    try:
        benchmark.pedantic(lambda: loop.run_until_complete(replay()), rounds=5, iterations=1, warmup_rounds=1)
    finally:
        loop.close()
    assert updates[0] >= 6 * (len(BOOK_FRAMES) - 2)


def _round_parser(parser: CoinbasePublicMessageParser) -> None:
    parser.decoder.reset_sequence()
    feed = parser.feed
    for f in ALL_FRAMES:
        feed(f, 0)


def _round_orjson_all(state: tuple[PyBooks, list]) -> None:
    books, sink = state
    books.seq = -1
    for raw in ALL_FRAMES:
        m = orjson.loads(raw)
        books.sequence(m["sequence_num"])
        ch = m["channel"]
        for ev in m["events"]:
            if ch == "l2_data":
                books.apply(ev["type"], ev["product_id"],
                            [(u["side"], u["price_level"], u["new_quantity"]) for u in ev["updates"]])
            elif ch == "market_trades" and ev["type"] == "update":
                sink.extend((t["product_id"], float(t["price"]), float(t["size"]), t["side"], t["time"])
                            for t in ev["trades"])
            elif ch == "ticker":
                sink.extend(tuple(float(t[k]) for k in ("best_bid", "best_bid_quantity", "best_ask",
                                                         "best_ask_quantity", "price")) for t in ev["tickers"])
            elif ch == "candles" and ev["type"] == "update":
                sink.extend(tuple(float(c[k]) for k in ("open", "high", "low", "close", "volume")) for c in ev["candles"])
        if len(sink) > 64:
            sink.clear()


REPLAY = f"coinbase-replay (real recording, x{len(ALL_FRAMES)} frames)"


@pytest.mark.benchmark(group=REPLAY)
def test_coinbase_parser_replay(benchmark):
    parser = CoinbasePublicMessageParser()
    events = []
    parser.bind(lambda ev: events.append(1) if len(events) < 64 else events.clear())
    benchmark.pedantic(_round_parser, args=(parser,), rounds=30, iterations=1, warmup_rounds=2)
    assert parser.decoder.parse_errors == 0 and parser.decoder.sequence_gaps == 0


@pytest.mark.benchmark(group=REPLAY)
def test_orjson_sorteddict_replay(benchmark):
    state = (PyBooks(), [])
    benchmark.pedantic(_round_orjson_all, args=(state,), rounds=5, iterations=1, warmup_rounds=1)
    assert len(state[0].books) == 2
