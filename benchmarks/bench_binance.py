"""Binance decoder + books against Python baselines, in the same run.

1. Replay of the spot BTCUSDT recording (hftbacktest 2024-08-08 + 08-09: every depth, trade and bookTicker
   frame, preloaded as bytes; the REST snapshot loaded where the recording has it, through the compiled
   snapshot decoder): BinanceDecoder + BookSyncGroup (frames through ``feed_many``, the C batch loop, as frames
   arrive live through the compiled listener; ``python_loop``: one Python ``feed`` call per frame instead;
   every event to a Python handler) vs orjson + float() + sortedcontainers.SortedDict books
   (same sync rule, same events), and vs cryptofeed 2.4's own Binance handler and book where cryptofeed is
   installed (the ``bench`` extra; skipped with the reason otherwise).
2. One 10-level depthUpdate (5 bids + 5 asks) decode + apply: 2,000 distinct frames with contiguous ids per
   round vs msgspec + float() + SortedDict; plus the decode alone (``classify``: validated and decoded,
   nothing applied) to show the split between the decoder and the book.

Run: ``python -m pytest benchmarks/bench_binance.py --benchmark-only -q``. Time per frame = round / frames.
"""
from __future__ import annotations

import gc
import gzip
import random
from pathlib import Path

import msgspec
import orjson
import pytest
from sortedcontainers import SortedDict

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.binance.rest import parse_depth_snapshot
from feedhandler.exchanges.binance.rules import SPOT_RULE
from feedhandler.sync.book_sync import BookSyncGroup

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "binance" / "hftbacktest_2024-08-08"


def _load_recording():
    if not DATA.is_dir():
        pytest.skip(f"recordings not found at {DATA}")
    items = []  # (is_snapshot, bytes)
    for name in ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"):
        with gzip.open(DATA / name, "rb") as fh:
            for line in fh:
                raw = line.split(b" ", 1)[1].rstrip(b"\n")
                items.append((raw.startswith(b'{"lastUpdateId"'), raw))
    return items


# ---- the Python baseline ---------------------------------------------------------------------
class PyBook:
    def __init__(self):
        self.bids = SortedDict()
        self.asks = SortedDict()
        self.last = 0
        self.live = False
        self.first_pending = False
        self.buffer = []

    def load(self, last, bids, asks):
        self.bids = SortedDict({float(p): float(q) for p, q in bids})
        self.asks = SortedDict({float(p): float(q) for p, q in asks})
        self.last = last
        self.live = True
        self.first_pending = True
        buf, self.buffer = self.buffer, []
        for d in buf:
            self.delta(d)

    def delta(self, d):
        if not self.live:
            self.buffer.append(d)
            return False
        U, u = d["U"], d["u"]
        if self.first_pending:
            if u < self.last + 1:
                return False
            self.first_pending = False
        elif U != self.last + 1:
            if u <= self.last:
                return False
            raise RuntimeError("gap")
        for side, lv in ((self.bids, d["b"]), (self.asks, d["a"])):
            for p, q in lv:
                price, qty = float(p), float(q)
                if qty == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.last = u
        return True


def python_replay(items, loads=orjson.loads):
    books: dict[str, PyBook] = {}
    sink = []
    for is_snap, raw in items:
        msg = loads(raw)
        if is_snap:
            books.setdefault("BTCUSDT", PyBook()).load(msg["lastUpdateId"], msg["bids"], msg["asks"])
            continue
        d = msg["data"]
        e = d.get("e")
        if e == "depthUpdate":
            if books.setdefault(d["s"], PyBook()).delta(d):
                b = books[d["s"]]
                sink.append((b.bids.peekitem(-1), b.asks.peekitem(0)))
        elif e == "trade":
            sink.append((d["s"], float(d["p"]), float(d["q"]), d["t"], d["m"]))
        else:
            sink.append((d["s"], float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]), d["u"]))
        if len(sink) > 256:
            sink.clear()
    return books


def _replay_setup():
    disp = EventDispatcher()
    books = BookSyncGroup("binance", SPOT_RULE, disp, 6000)
    dec = BinanceDecoder(books, disp)
    disp.handler = _noop
    return books, dec


def segments(items):
    """The items as [(snapshot body or None, [stream frames after it])] (prepared once, outside the timing)."""
    out = [(None, [])]
    for is_snap, raw in items:
        if is_snap:
            out.append((raw, []))
        else:
            out[-1][1].append(raw)
    return out


def compiled_replay(segs):
    """The frames through the decoder's C batch loop (``feed_many``: no Python call per frame, as frames
    arrive live through the compiled picows listener); every event to a Python handler."""
    books, dec = _replay_setup()
    for snap, frames in segs:
        if snap is not None:
            # the REST body through the compiled snapshot decoder, as BinanceSnapshotFetcher does
            books.get("BTCUSDT").load_snapshot(*parse_depth_snapshot(snap))
        dec.feed_many(frames)
    return books


def compiled_replay_python_loop(items):
    """The same, with one Python ``feed(raw, 0)`` call per frame (a replay loop written in Python)."""
    books, dec = _replay_setup()
    feed = dec.feed
    for is_snap, raw in items:
        if is_snap:
            books.get("BTCUSDT").load_snapshot(*parse_depth_snapshot(raw))
        else:
            feed(raw, 0)
    return books


def cryptofeed_replay(items):
    """The same frames through cryptofeed's own Binance handler and book (``Binance.message_handler``).

    Its path: ``json.loads(parse_float=Decimal)`` (yapic), ``Decimal`` prices, the ``order_book`` C
    library's sorted dicts, the update-id check, one awaited callback per book update and per ticker.
    Differences, stated: cryptofeed subscribes ``aggTrade``, not ``trade``, so the recording's ``trade``
    frames are only JSON-decoded the way its handler decodes every frame; the REST snapshot is loaded as
    its ``_snapshot`` does (same parse, same ``OrderBook`` call) without the HTTP request; depth frames
    that arrive before the snapshot are queued and handled after it, as cryptofeed queues them while it
    fetches the snapshot.
    """
    import asyncio
    from decimal import Decimal

    import yapic.json as yjson
    from cryptofeed.defines import L2_BOOK, TICKER
    from cryptofeed.exchanges import Binance
    from cryptofeed.symbols import Symbols
    from order_book import OrderBook as CfOrderBook  # what cryptofeed's types.OrderBook wraps

    from cryptofeed.types import OrderBook as CfBook

    if not Symbols.populated(Binance.id):
        Symbols.set(Binance.id, {"BTC-USDT": "BTCUSDT"}, {"tick_size": {}, "instrument_type": {"BTC-USDT": "spot"}})
    state = {"books": 0, "tickers": 0}

    async def on_book(book, ts):
        state["books"] += 1

    async def on_ticker(t, ts):
        state["tickers"] += 1

    feed = Binance(symbols=["BTC-USDT"], channels=[L2_BOOK, TICKER], callbacks={L2_BOOK: on_book, TICKER: on_ticker})
    assert CfOrderBook is not None

    async def run():
        handler = feed.message_handler
        queued: list[bytes] | None = []   # depth frames before the snapshot, queued as cryptofeed does
        for is_snap, raw in items:
            if is_snap:
                resp = yjson.loads(raw, parse_float=Decimal)
                feed.last_update_id["BTC-USDT"] = resp["lastUpdateId"]
                feed._l2_book["BTC-USDT"] = CfBook(feed.id, "BTC-USDT", max_depth=feed.max_depth,
                                                   bids={Decimal(u[0]): Decimal(u[1]) for u in resp["bids"]},
                                                   asks={Decimal(u[0]): Decimal(u[1]) for u in resp["asks"]})
                for q in queued or ():
                    await handler(q, None, 0.0)
                queued = None
            elif b'"e":"trade"' in raw[:120]:
                yjson.loads(raw, parse_float=Decimal)
            elif queued is not None and b"depthUpdate" in raw[:120]:
                queued.append(raw)
            else:
                await handler(raw, None, 0.0)

    asyncio.run(run())
    return feed, state


def _noop(ev):
    return None


@pytest.fixture(scope="module")
def recording():
    return _load_recording()


def _pedantic(benchmark, fn, *args, rounds=5):
    gc.disable()
    try:
        return benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1, warmup_rounds=1)
    finally:
        gc.enable()


@pytest.mark.benchmark(group="binance-replay-btcusdt")
def test_replay_feedhandler(benchmark, recording):
    benchmark.extra_info["frames"] = len(recording)
    books = _pedantic(benchmark, compiled_replay, segments(recording))
    assert books["BTCUSDT"].is_valid


@pytest.mark.benchmark(group="binance-replay-btcusdt")
def test_replay_feedhandler_python_loop(benchmark, recording):
    benchmark.extra_info["frames"] = len(recording)
    books = _pedantic(benchmark, compiled_replay_python_loop, recording)
    assert books["BTCUSDT"].is_valid


@pytest.mark.benchmark(group="binance-replay-btcusdt")
def test_replay_orjson_float_sorteddict(benchmark, recording):
    benchmark.extra_info["frames"] = len(recording)
    books = _pedantic(benchmark, python_replay, recording, rounds=3)
    assert books["BTCUSDT"].live


@pytest.mark.benchmark(group="binance-replay-btcusdt")
def test_replay_cryptofeed(benchmark, recording):
    """cryptofeed 2.4's own Binance book path on the same frames (``pip install 'feedhandler[bench]'``)."""
    pytest.importorskip("cryptofeed", reason="cryptofeed not installed (bench extra: pip install 'feedhandler[bench]')")
    benchmark.extra_info["frames"] = len(recording)
    feed, state = _pedantic(benchmark, cryptofeed_replay, recording, rounds=3)
    book = feed._l2_book["BTC-USDT"].book
    assert state["books"] > 6000 and state["tickers"] > 70_000
    # it ends in the same book as the Python baseline (else the comparison is unfair)
    py = python_replay(recording)["BTCUSDT"]
    assert [(float(p), float(q)) for p, q in book.bids.to_list()[:50]] == list(reversed(py.bids.items()[-50:]))


# ---- one 10-level depthUpdate ----------------------------------------------------------------
N_FRAMES = 2000


def _depth_frames():
    rng = random.Random(1)
    frames = []
    uid = 1001
    for _ in range(N_FRAMES):
        bids = [[f"{60000 - rng.randrange(1, 500) * 0.01:.8f}", f"{rng.randrange(0, 300) * 0.001:.8f}"] for _ in range(5)]
        asks = [[f"{60001 + rng.randrange(1, 500) * 0.01:.8f}", f"{rng.randrange(0, 300) * 0.001:.8f}"] for _ in range(5)]
        data = {"e": "depthUpdate", "E": 1723161255208, "s": "BTCUSDT", "U": uid, "u": uid + 3, "b": bids, "a": asks}
        uid += 4
        frames.append(orjson.dumps({"stream": "btcusdt@depth@100ms", "data": data}))
    snap_b = [(60000 - i * 0.01, 1.0) for i in range(1, 600)]
    snap_a = [(60001 + i * 0.01, 1.0) for i in range(1, 600)]
    return frames, snap_b, snap_a


@pytest.fixture(scope="module")
def depth_frames():
    return _depth_frames()


@pytest.mark.benchmark(group="binance-depth10")
def test_depth10_feedhandler(benchmark, depth_frames):
    frames, sb, sa = depth_frames
    disp = EventDispatcher()
    books = BookSyncGroup("binance", SPOT_RULE, disp, 1000)
    dec = BinanceDecoder(books, disp)
    disp.handler = _noop
    sync = books.get("BTCUSDT")

    def setup():
        sync.invalidate("bench round")
        sync.load_snapshot(1000, sb, sa)

    def run():
        feed = dec.feed
        for f in frames:
            feed(f, 0)

    benchmark.extra_info["frames_per_round"] = N_FRAMES
    gc.disable()
    try:
        benchmark.pedantic(run, setup=setup, rounds=50, iterations=1, warmup_rounds=2)
    finally:
        gc.enable()
    assert sync.is_valid and sync.book.last_update_id == 1000 + 4 * N_FRAMES


@pytest.mark.benchmark(group="binance-depth10")
def test_depth10_feedhandler_decode_only(benchmark, depth_frames):
    """The same frames through ``classify``: fully validated and decoded into scratch, nothing applied.

    Shows how the decode + apply time above splits (the rest is BookSync/OrderBook and the handler).
    """
    frames, _, _ = depth_frames
    dec = BinanceDecoder(None, EventDispatcher())

    def run():
        classify = dec.classify
        for f in frames:
            classify(f)

    benchmark.extra_info["frames_per_round"] = N_FRAMES
    gc.disable()
    try:
        benchmark.pedantic(run, rounds=50, iterations=1, warmup_rounds=2)
    finally:
        gc.enable()
    assert dec.classify(frames[0]) == 1  # MessageType.DATA: the frame decodes


class _Data(msgspec.Struct):
    e: str
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class _Env(msgspec.Struct):
    stream: str
    data: _Data


@pytest.mark.benchmark(group="binance-depth10")
def test_depth10_msgspec_float_sorteddict(benchmark, depth_frames):
    frames, sb, sa = depth_frames
    dec = msgspec.json.Decoder(_Env)
    state = {}

    def setup():
        state["bids"] = SortedDict(dict(sb))
        state["asks"] = SortedDict(dict(sa))
        state["last"] = 1000

    def run():
        bids, asks = state["bids"], state["asks"]
        for f in frames:
            d = dec.decode(f).data
            if d.U != state["last"] + 1:
                raise RuntimeError("gap")
            for side, lv in ((bids, d.b), (asks, d.a)):
                for p, q in lv:
                    price, qty = float(p), float(q)
                    if qty == 0.0:
                        side.pop(price, None)
                    else:
                        side[price] = qty
            state["last"] = d.u

    benchmark.extra_info["frames_per_round"] = N_FRAMES
    gc.disable()
    try:
        benchmark.pedantic(run, setup=setup, rounds=20, iterations=1, warmup_rounds=1)
    finally:
        gc.enable()
