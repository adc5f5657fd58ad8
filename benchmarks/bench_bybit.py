"""Bybit v5 on the real 2026 recording (linear connection: the 1,598 orderbook.200 frames of 4 symbols, trades, tickers, klines).

Group ``bybit-book`` (book frame decode + apply: the connection's orderbook frames, snapshots and deltas):
- ``bybit_decoder``: the compiled decoder -> BookSync (``u`` + 1 check) -> OrderBook, one handler call per update;
- ``msgspec_struct``: msgspec typed Struct decode + float() + sequence check + SortedDict per side;
- ``orjson``: orjson.loads + float() + sequence check + SortedDict per side;
- ``bybit_decoder_decode_only``: ``classify`` (validated and decoded, nothing applied): the decoder's share;
- ``cryptofeed``: cryptofeed's own Bybit handler (``Bybit.message_handler``: json + Decimal + its order book,
  a callback per update), its symbol table loaded from the recording's REST answers (no network); skipped
  when cryptofeed is not installed (``pip install 'feedhandler[bench]'``).

Group ``bybit-replay`` (the recording end to end: its 2,529 data frames): the public parser
(books, trades, tickers, klines, events to a handler) beside orjson + float() + SortedDict doing the same work
(books applied; trade, ticker and kline numbers converted and handed to the handler).
"""
from __future__ import annotations

import asyncio
import json
import os
import sys

import msgspec
import orjson
import pytest
from sortedcontainers import SortedDict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "exchanges"))
from cryptofeed_capture import SHARED_DATA, frames_by_connection, read_capture  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.exchanges.bybit import BybitPublicMessageParser  # noqa: E402
from feedhandler.exchanges.bybit.decoder import BybitDecoder  # noqa: E402
from feedhandler.exchanges.bybit.rules import BYBIT_BOOK_RULE  # noqa: E402
from feedhandler.sync.book_sync import BookSyncGroup  # noqa: E402

CAPTURE = SHARED_DATA / "bybit" / "cryptofeed_v3_2026-08-09" / "BYBIT.jsonl.zst"
pytestmark = pytest.mark.skipif(not CAPTURE.is_file(), reason=f"recording not available at {CAPTURE}")


def _frames() -> tuple[list[bytes], list[bytes]]:
    if not CAPTURE.is_file():
        return [], []
    texts = frames_by_connection(read_capture(CAPTURE))["BYBIT.ws.2"]
    data = [t.encode() for t in texts if '"topic"' in t]
    return [f for f in data if f.startswith(b'{"topic":"orderbook')], data


BOOK_FRAMES, DATA_FRAMES = _frames()


class Data(msgspec.Struct):
    s: str
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class Envelope(msgspec.Struct):
    topic: str
    type: str
    data: Data
    ts: int = 0


class PyBooks:
    """The baseline's books: a SortedDict per side per topic, snapshot / ``u`` + 1 rule, and (as the decoder
    does with its BookUpdate) one handler call per applied update."""

    def __init__(self) -> None:
        self.books: dict[str, tuple[SortedDict, SortedDict]] = {}
        self.last: dict[str, int] = {}
        self.handler = lambda topic, books: None

    def apply(self, topic: str, kind: str, u: int, b, a) -> None:
        if kind == "snapshot":
            self.books[topic] = (SortedDict(), SortedDict())
        elif u != self.last[topic] + 1:
            raise RuntimeError("gap")
        bids, asks = self.books[topic]
        for book, levels in ((bids, b), (asks, a)):
            for p, q in levels:
                px, qty = float(p), float(q)
                if qty == 0.0:
                    book.pop(px, None)
                else:
                    book[px] = qty
        self.last[topic] = u
        self.handler(topic, (bids, asks))


def _round_decoder(decoder: BybitDecoder) -> None:
    feed = decoder.feed
    for f in BOOK_FRAMES:
        feed(f, 0)


def _round_classify(decoder: BybitDecoder) -> None:
    classify = decoder.classify
    for f in BOOK_FRAMES:
        classify(f)


_msgspec_decoder = msgspec.json.Decoder(Envelope)


def _round_msgspec(books: PyBooks) -> None:
    for raw in BOOK_FRAMES:
        env = _msgspec_decoder.decode(raw)
        d = env.data
        books.apply(env.topic, env.type, d.u, d.b, d.a)


def _round_orjson(books: PyBooks) -> None:
    for raw in BOOK_FRAMES:
        m = orjson.loads(raw)
        d = m["data"]
        books.apply(m["topic"], m["type"], d["u"], d["b"], d["a"])


GROUP = f"bybit-book (real recording, x{len(BOOK_FRAMES)} frames)"


@pytest.mark.benchmark(group=GROUP)
def test_bybit_decoder(benchmark):
    d = EventDispatcher()
    books = BookSyncGroup("bybit", BYBIT_BOOK_RULE, d, 1000)
    decoder = BybitDecoder(d, books)
    d.handler = lambda ev: None   # one Python call per BookUpdate, as in production
    benchmark.pedantic(_round_decoder, args=(decoder,), rounds=100, iterations=1, warmup_rounds=3)
    assert all(books[s].is_valid and books[s].gaps == 0 for s in books.symbols()) and len(books) == 4


@pytest.mark.benchmark(group=GROUP)
def test_bybit_decoder_decode_only(benchmark):
    decoder = BybitDecoder(EventDispatcher(), BookSyncGroup("bybit", BYBIT_BOOK_RULE, None, 1000))
    benchmark.pedantic(_round_classify, args=(decoder,), rounds=100, iterations=1, warmup_rounds=3)
    assert decoder.classify(BOOK_FRAMES[1]) == 1


@pytest.mark.benchmark(group=GROUP)
def test_msgspec_struct_sorteddict(benchmark):
    books = PyBooks()
    benchmark.pedantic(_round_msgspec, args=(books,), rounds=20, iterations=1, warmup_rounds=1)
    assert len(books.books) == 4


@pytest.mark.benchmark(group=GROUP)
def test_orjson_sorteddict(benchmark):
    books = PyBooks()
    benchmark.pedantic(_round_orjson, args=(books,), rounds=20, iterations=1, warmup_rounds=1)
    assert len(books.books) == 4


def _cryptofeed_feed():
    """cryptofeed's Bybit feed for the recorded linear symbols, offline (symbols from the recorded REST)."""
    bybit = pytest.importorskip("cryptofeed.exchanges.bybit", reason="cryptofeed is not installed (bench extra)")
    from cryptofeed.defines import L2_BOOK
    from cryptofeed.symbols import Symbols

    http = [json.loads(r["data"]) for r in read_capture(CAPTURE) if r["t"] == "http"]
    Symbols.set(bybit.Bybit.id, *bybit.Bybit._parse_symbol_data(http))
    updates = [0]

    async def on_book(book, ts):
        updates[0] += 1

    feed = bybit.Bybit(symbols=[f"{s}-USDT-PERP" for s in ("BTC", "ETH", "SOL", "DOGE")], channels=[L2_BOOK],
                       callbacks={L2_BOOK: on_book})
    return feed, updates


class _Connection:
    """What cryptofeed's handler reads of its connection: the address (the market) and an id for logs."""
    address = "wss://stream.bybit.com/v5/public/linear"
    uuid = "bench"


@pytest.mark.benchmark(group=GROUP)
def test_cryptofeed_handler(benchmark):
    feed, updates = _cryptofeed_feed()
    texts = [f.decode() for f in BOOK_FRAMES]
    conn = _Connection()
    loop = asyncio.new_event_loop()

    async def replay():
        handler = feed.message_handler
        for t in texts:
            await handler(t, conn, 0.0)

    try:
        benchmark.pedantic(lambda: loop.run_until_complete(replay()), rounds=10, iterations=1, warmup_rounds=1)
    finally:
        loop.close()
    assert updates[0] == 11 * len(BOOK_FRAMES)


# ---- the recording end to end ----------------------------------------------------------------------
def _round_parser(parser: BybitPublicMessageParser) -> None:
    feed = parser.feed
    for f in DATA_FRAMES:
        feed(f, 0)


def _round_orjson_all(state: tuple[PyBooks, dict, list]) -> None:
    books, tickers, sink = state
    for raw in DATA_FRAMES:
        m = orjson.loads(raw)
        topic = m["topic"]
        d = m["data"]
        if topic.startswith("orderbook"):
            books.apply(topic, m["type"], d["u"], d["b"], d["a"])
            sink.append(books.books[topic])
        elif topic.startswith("publicTrade"):
            for t in d:
                sink.append((t["s"], float(t["p"]), float(t["v"]), t["S"], t["T"], t["i"]))
        elif topic.startswith("tickers"):
            st = tickers.setdefault(topic, {})
            if m["type"] == "snapshot":
                st.clear()
            st.update({k: float(v) for k, v in d.items() if k.endswith(("Price", "Size", "24h", "Pcnt")) and v})
            sink.append(st)
        else:
            for k in d:
                sink.append(tuple(float(k[x]) for x in ("open", "high", "low", "close", "volume", "turnover")))
        if len(sink) > 64:
            sink.clear()


REPLAY = f"bybit-replay (real recording, x{len(DATA_FRAMES)} frames)"


@pytest.mark.benchmark(group=REPLAY)
def test_bybit_parser_replay(benchmark):
    parser = BybitPublicMessageParser(book_depth=1000)
    events = []
    parser.bind(lambda ev: events.append(1) if len(events) < 64 else events.clear())
    benchmark.pedantic(_round_parser, args=(parser,), rounds=50, iterations=1, warmup_rounds=2)
    assert parser.decoder.parse_errors == 0


@pytest.mark.benchmark(group=REPLAY)
def test_orjson_sorteddict_replay(benchmark):
    state = (PyBooks(), {}, [])
    benchmark.pedantic(_round_orjson_all, args=(state,), rounds=10, iterations=1, warmup_rounds=1)
    assert len(state[0].books) == 4

