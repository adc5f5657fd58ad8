"""End-to-end transport throughput and latency on 127.0.0.1: ``websockets`` beside ``picows``.

A raw asyncio server in a subprocess writes pre-encoded WebSocket frames as
fast as the socket takes them (so the client is the bottleneck, and the
client's ``time.process_time`` is the client's CPU alone). Each frame goes
transport -> parser -> a handler that counts. Parsers: ``count`` (a minimal
parser that only counts frames) and ``binance`` (the real Binance parser from
``WebSocketStrategyFactory.create_strategies("binance")[2]`` decoding trade
frames into ``Trade`` events), when it is importable.

Frame consumer: what the manager passes, a ``FrameSink`` over the parser's ``feed``; on ``picows`` the
compiled listener hands it the payload pointer (and the sink hands it to the decoder's ``c_feed`` when the
parser is a compiled ``FrameDecoder``). ``picows-callable`` is the baseline beside it: the same transport
delivering ``bytes`` to the parser's ``feed`` as a Python callable (one ``bytes`` per frame);
``picows-memoryview`` the same with a ``memoryview``; ``picows-python-listener`` picows with a Python
``WSListener`` (a Python call, a ``bytes`` copy and a call into the sink per frame), the data path before the
compiled listener.

Latency: the server sends a paced stream (10k frames/s) whose frames carry the
server's ``CLOCK_MONOTONIC`` send time; the handler records ``monotonic_ns() -
sent``. The clock is shared by processes on one machine.

Run as pytest-benchmark (``python -m pytest benchmarks/bench_transport.py
--benchmark-only -q``: figures in ``extra_info``) or as a script for a table
(``python benchmarks/bench_transport.py [--uvloop] [--frames N]``).
"""
from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedhandler.core.sink import FrameSink  # noqa: E402
from feedhandler.core.strategies import MessageParser  # noqa: E402
from feedhandler.core.types import MessageType  # noqa: E402
from feedhandler.transport.base import create_transport  # noqa: E402
from feedhandler.transport.picows_transport import PicowsTransport  # noqa: E402
from picows import WSCloseCode, WSListener, WSMsgType, ws_connect  # noqa: E402

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: A Binance combined-stream trade frame (153 bytes): small, like most market-data frames.
TRADE_FRAME = (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000000,"s":"BTCUSDT","t":12345,'
               b'"p":"43000.10","q":"0.0100","T":1700000000000,"m":true,"M":true}}')
_DATA = int(MessageType.DATA)


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


# --- the server (runs in a subprocess) ----------------------------------------------------------

async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``GET /flood/<n>`` or ``GET /paced/<rate>/<ms>``; starts on the client's first frame."""
    try:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ", 2)[1].decode().strip("/").split("/")
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await reader.read(64)  # the client's "go" frame (masked; content unused)
        if path[0] == "flood":
            n = int(path[1])
            per_chunk = 1000
            chunk = _frame(0x1, TRADE_FRAME) * per_chunk
            for _ in range(n // per_chunk):
                writer.write(chunk)
                await writer.drain()
            writer.write(_frame(0x1, TRADE_FRAME) * (n % per_chunk))
        else:
            rate, ms = int(path[1]), int(path[2])
            start = time.monotonic_ns()
            end = start + ms * 1_000_000
            sent = 0
            while True:
                now = time.monotonic_ns()
                if now >= end:
                    break
                due = (now - start) * rate // 1_000_000_000 - sent
                for _ in range(due):
                    writer.write(_frame(0x1, b'{"t":%019d,"s":"BTCUSDT","p":"43000.10","q":"0.0100"}'
                                        % time.monotonic_ns()))
                sent += max(due, 0)
                await asyncio.sleep(0.0005)
        writer.write(_frame(0x8, struct.pack("!H", 1000)))
        await writer.drain()
        # The client's close frame (or its EOF): then the server drops TCP first, as RFC 6455 asks
        # (websockets' client otherwise waits close_timeout for it, and that would count as receive time).
        await asyncio.wait_for(reader.read(64), 5)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def _server_main() -> None:
    server = await asyncio.start_server(_serve_one, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


class ServerProcess:
    """The frame server in its own process, so the client's CPU time is its own."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{path}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --- the client -------------------------------------------------------------------------------

class CountingParser(MessageParser):
    """The least a parser can do: count the frame and hand one event to the handler."""

    def __init__(self) -> None:
        self.frames = 0

    def get_message_type(self, raw):
        return MessageType.DATA

    def feed(self, raw, recv_ns):
        self.frames += 1
        self._handler(raw)
        return _DATA

    def bind(self, handler, error_handler) -> None:
        self._handler = handler


#: ``count-compiled``: the least a compiled ``FrameDecoder`` can do (count the frame in C), so that the
#: flood measures the frame path itself (socket -> picows -> listener -> sink -> ``c_feed``).
_COUNT_DECODER = r"""
from libc.stdint cimport int64_t
from feedhandler.kernel.decoder cimport FrameDecoder

cdef class CountingDecoder(FrameDecoder):
    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        self.frames += 1
        return 1
"""
_compiled: dict[str, object] = {}


class _DecoderFrames:
    """``counter[0]``: the frames the compiled decoder counted."""

    def __init__(self, decoder) -> None:
        self.decoder = decoder

    def __getitem__(self, index: int) -> int:
        return self.decoder.frames


def _counting_decoder_parser():
    if "module" not in _compiled:
        import tempfile

        from cython_build import build_module  # tests/ is on sys.path (benchmarks/conftest.py)

        _compiled["module"] = build_module(Path(tempfile.mkdtemp()), "bench_counting_decoder", _COUNT_DECODER)
    decoder = _compiled["module"].CountingDecoder()
    return type("CountingDecoderParser", (), {"feed": decoder.feed})(), _DecoderFrames(decoder)


def make_parser(kind: str):
    """(parser, counter list) for ``count``, ``count-compiled`` or ``binance``; raises if unusable."""
    if kind == "count-compiled":
        return _counting_decoder_parser()
    counter = [0]

    def handler(event) -> None:
        counter[0] += 1

    if kind == "count":
        parser = CountingParser()
    else:
        from feedhandler import WebSocketStrategyFactory

        parser = WebSocketStrategyFactory.create_strategies(kind)[2]
    errors: list[BaseException] = []
    parser.bind(handler, errors.append)
    parser.feed(TRADE_FRAME, 0)
    if counter[0] != 1 or errors:
        raise RuntimeError(f"{kind} parser did not decode the trade frame: {errors}")
    counter[0] = 0
    return parser, counter


class _PythonListener(WSListener):
    """The baseline: a Python ``WSListener`` as the transport had before the compiled one (a Python call, a
    ``bytes`` copy and a call into the consumer per frame)."""

    def __init__(self, on_frame) -> None:
        self.on_frame = on_frame

    def on_ws_frame(self, transport, frame, _now=time.monotonic_ns):
        recv_ns = _now()
        if frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
            return
        self.on_frame(frame.get_payload_as_bytes(), recv_ns)


async def _python_listener_receive(url: str, consumer):
    """Connect now; returns the coroutine that starts the flood and waits until it ended."""
    transport, _ = await ws_connect(lambda: _PythonListener(consumer), url, max_frame_size=1 << 20)

    async def receive() -> None:
        transport.send(WSMsgType.TEXT, b"go")
        await transport.wait_disconnected()

    return receive()


def transport_for(name: str):
    if name == "picows-memoryview":
        return PicowsTransport("memoryview")
    if name == "picows-callable":
        return PicowsTransport("bytes")
    return create_transport(name)


def _raise(exc: BaseException) -> None:
    raise exc


def frame_consumer(transport: str, parser):
    """The manager's FrameSink, or for the ``-callable``/``-memoryview`` baselines the bare ``feed``."""
    if transport in ("picows-callable", "picows-memoryview"):
        return parser.feed
    # Every frame of the flood is data: a control frame or a parse error is a benchmark failure.
    return FrameSink(parser.feed, lambda kind, raw: _raise(RuntimeError(f"control frame {kind}")), _raise)


class OpenFlood:
    """A connection made and waiting for its flood (the server starts on the client's first frame)."""

    def __init__(self, receive, counter: list[int], n: int, transport: str, conn=None) -> None:
        self.receive, self.counter, self.n, self.transport, self.conn = receive, counter, n, transport, conn


async def open_flood(server: ServerProcess, transport: str, n: int, parser_kind: str,
                     record_to: Path | None = None, record_reads: bool = True) -> OpenFlood:
    """Connect (and make the recording's writer): everything before the flood, which is not timed.

    ``record_to``: a folder; every frame is also recorded there (``RecordingTransport`` + zstd segments, as
    ``feedhandler record --out X.fhrec.zst`` does), the writer closed (flushed) inside the timed part;
    ``record_reads=False``: frame by frame (``SinkTap``) instead of by socket reads (``WireTap``).
    """
    parser, counter = make_parser(parser_kind)
    feed = frame_consumer(transport, parser)
    if transport == "picows-python-listener":
        return OpenFlood(await _python_listener_receive(server.url(f"flood/{n}"), feed), counter, n, transport)
    writer = None
    tr = transport_for(transport)
    if record_to is not None:
        from feedhandler.recording import RecordingTransport, RotatingRecordingWriter

        writer = RotatingRecordingWriter(record_to / f"flood{time.monotonic_ns()}.fhrec.zst",
                                         {"exchange": parser_kind})
        tr = RecordingTransport(tr, writer, record_reads=record_reads)
    conn = await tr.connect(server.url(f"flood/{n}"), max_frame_size=1 << 20)

    async def receive() -> None:
        await conn.send("go")
        await conn.run(feed)
        if writer is not None:
            writer.close()

    return OpenFlood(receive(), counter, n, transport, conn)


async def run_flood(f: OpenFlood) -> tuple[float, float, float]:
    """Receive the flood through transport and parser; returns (wall seconds, client CPU seconds, CPU seconds
    of the feed's own thread: the event loop's, without the recorder's compressing thread)."""
    try:
        return await _timed(f.receive, f.counter, f.n, f.transport)
    finally:
        if f.conn is not None:
            await f.conn.close()


async def flood(server: ServerProcess, transport: str, n: int, parser_kind: str,
                record_to: Path | None = None) -> tuple[float, float, float]:
    """Connect, then receive ``n`` frames (see :func:`open_flood` and :func:`run_flood`)."""
    return await run_flood(await open_flood(server, transport, n, parser_kind, record_to))


async def _timed(receive, counter: list[int], n: int, transport: str) -> tuple[float, float, float]:
    gc_was = gc.isenabled()
    gc.disable()
    try:
        wall0, cpu0, feed0 = time.perf_counter(), time.process_time(), time.thread_time()
        await receive
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        feed = time.thread_time() - feed0
    finally:
        if gc_was:
            gc.enable()
    if counter[0] != n:
        raise RuntimeError(f"{transport}: {counter[0]} events for {n} frames")
    return wall, cpu, feed


class _PacedParser:
    """Only a ``feed``: the latency stream is read by the handler itself."""

    def __init__(self, feed) -> None:
        self.feed = feed


async def paced(server: ServerProcess, transport: str, rate: int = 10_000, ms: int = 1500) -> list[int]:
    """Latencies (ns) from the server's send to the handler, for a paced stream."""
    lat: list[int] = []
    now = time.monotonic_ns

    def on_frame(raw, recv_ns) -> int:
        lat.append(now() - int(raw[5:24]))
        return _DATA

    consumer = frame_consumer(transport, _PacedParser(on_frame))
    if transport == "picows-python-listener":   # the frame path before the compiled listener
        await (await _python_listener_receive(server.url(f"paced/{rate}/{ms}"), consumer))
        return lat
    conn = await transport_for(transport).connect(server.url(f"paced/{rate}/{ms}"))
    await conn.send("go")
    await conn.run(consumer)
    await conn.close()
    return lat


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- pytest-benchmark -------------------------------------------------------------------------

TRANSPORTS = ["websockets", "picows", "picows-callable", "picows-memoryview", "picows-python-listener"]
N_FRAMES = 100_000


@pytest.fixture(scope="module")
def server():
    s = ServerProcess()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _bench_flood(benchmark, server, loop, transport, parser_kind, record_to=None, record_reads=True):
    try:
        make_parser(parser_kind)
    except Exception as exc:  # the exchange parser is optional here
        pytest.skip(f"{parser_kind} parser unusable: {exc}")
    cpus: list[float] = []
    feeds: list[float] = []

    def connect():
        # not timed: the connection and, when recording, the writer (its ring is allocated and touched once,
        # at the start of a recording of hours) are made before the round
        return (loop.run_until_complete(open_flood(server, transport, N_FRAMES, parser_kind, record_to,
                                                   record_reads)),), {}

    def one_round(open_flood_):
        wall, cpu, feed = loop.run_until_complete(run_flood(open_flood_))
        cpus.append(cpu)
        feeds.append(feed)

    benchmark.pedantic(one_round, setup=connect, rounds=15, warmup_rounds=2, iterations=1)
    median_wall = benchmark.stats.stats.median
    benchmark.extra_info["frames"] = N_FRAMES
    benchmark.extra_info["frames_per_s"] = round(N_FRAMES / median_wall)
    benchmark.extra_info["client_cpu_ns_per_frame"] = round(statistics.median(cpus) / N_FRAMES * 1e9)
    # the feed's own thread (the event loop): what recording costs the feed itself, the compressing thread excluded
    benchmark.extra_info["feed_thread_cpu_ns_per_frame"] = round(statistics.median(feeds) / N_FRAMES * 1e9)


@pytest.mark.benchmark(group="transport-flood-count")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_flood_counting_parser(benchmark, server, loop, transport):
    _bench_flood(benchmark, server, loop, transport, "count")


@pytest.mark.benchmark(group="transport-flood-count-compiled")
@pytest.mark.parametrize("transport", ["picows", "picows-callable", "picows-python-listener"])
def test_flood_counting_compiled_decoder(benchmark, server, loop, transport):
    _bench_flood(benchmark, server, loop, transport, "count-compiled")


@pytest.mark.benchmark(group="transport-flood-binance")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_flood_binance_parser(benchmark, server, loop, transport):
    _bench_flood(benchmark, server, loop, transport, "binance")


@pytest.mark.benchmark(group="transport-flood-binance")
def test_flood_binance_parser_recording(benchmark, server, loop, tmp_path):
    """picows + Binance parser with every frame recorded (zstd segments, by socket reads): beside the same case
    without."""
    pytest.importorskip("zstandard")
    _bench_flood(benchmark, server, loop, "picows", "binance", record_to=tmp_path)


@pytest.mark.benchmark(group="transport-flood-binance")
def test_flood_binance_parser_recording_frames(benchmark, server, loop, tmp_path):
    """The same recording made frame by frame (SinkTap: a copy per frame), as before socket reads were recorded."""
    pytest.importorskip("zstandard")
    _bench_flood(benchmark, server, loop, "picows", "binance", record_to=tmp_path, record_reads=False)


# ---- recording's cost, paired: each round floods without and with recording, back to back ----------------
# (the machine is shared: the cases of the group above run one after the other, a few seconds apart, and drift
# with the host's load; this ratio is taken within each round, the order alternating, then its median)

@pytest.mark.benchmark(group="transport-flood-binance-paired")
@pytest.mark.parametrize("record_reads", [True, False], ids=["reads", "frames"])
def test_flood_binance_recording_paired(benchmark, server, loop, tmp_path, record_reads):
    """picows + Binance parser, recording off then on (by socket reads, or frame by frame), in every round."""
    pytest.importorskip("zstandard")
    walls: list[float] = []
    feeds: list[float] = []

    def connect():
        off = loop.run_until_complete(open_flood(server, "picows", N_FRAMES, "binance"))
        on = loop.run_until_complete(open_flood(server, "picows", N_FRAMES, "binance", tmp_path, record_reads))
        return (off, on), {}

    def one_round(off, on):
        first, second = (off, on) if len(walls) % 2 == 0 else (on, off)
        timed = {id(f): loop.run_until_complete(run_flood(f)) for f in (first, second)}
        (wall_off, _, feed_off), (wall_on, _, feed_on) = timed[id(off)], timed[id(on)]
        walls.append(wall_on / wall_off)
        feeds.append(feed_on / feed_off)

    warmup = 2
    benchmark.pedantic(one_round, setup=connect, rounds=15, warmup_rounds=warmup, iterations=1)
    benchmark.extra_info["wall_ratio_median"] = round(statistics.median(walls[warmup:]), 3)
    benchmark.extra_info["feed_thread_ratio_median"] = round(statistics.median(feeds[warmup:]), 3)


@pytest.mark.benchmark(group="transport-paced-latency")
@pytest.mark.parametrize("transport", TRANSPORTS[:3] + ["picows-python-listener"])
def test_paced_latency(benchmark, server, loop, transport):
    lats: list[int] = []

    def one_round():
        lats.extend(loop.run_until_complete(paced(server, transport)))

    benchmark.pedantic(one_round, rounds=1, iterations=1)
    benchmark.extra_info["frames"] = len(lats)
    benchmark.extra_info["p50_us"] = round(percentile(lats, 0.50) / 1e3, 1)
    benchmark.extra_info["p99_us"] = round(percentile(lats, 0.99) / 1e3, 1)


# --- script mode: a table ---------------------------------------------------------------------

def main(argv: list[str]) -> None:
    if "--serve" in argv:
        asyncio.run(_server_main())
        return
    n = int(argv[argv.index("--frames") + 1]) if "--frames" in argv else 200_000
    rounds = 5
    loops = {"asyncio": asyncio.new_event_loop}
    if "--uvloop" in argv:
        import uvloop

        loops["uvloop"] = uvloop.new_event_loop
    server = ServerProcess()
    try:
        for loop_name, new_loop in loops.items():
            loop = new_loop()
            for parser_kind in ("count", "binance"):
                try:
                    make_parser(parser_kind)
                except Exception as exc:
                    print(f"{parser_kind}: skipped ({exc})")
                    continue
                for transport in TRANSPORTS:
                    loop.run_until_complete(flood(server, transport, n // 10, parser_kind))  # warm-up
                    runs = [loop.run_until_complete(flood(server, transport, n, parser_kind)) for _ in range(rounds)]
                    wall = statistics.median(r[0] for r in runs)
                    cpu = statistics.median(r[1] for r in runs)
                    print(f"{loop_name:8s} {parser_kind:8s} {transport:18s} {n / wall:>10,.0f} frames/s "
                          f"{cpu / n * 1e9:7.0f} ns CPU/frame", flush=True)
            for transport in TRANSPORTS[:3]:
                lat = loop.run_until_complete(paced(server, transport))
                print(f"{loop_name:8s} paced 10k/s {transport:18s} n={len(lat)} p50={percentile(lat, .5) / 1e3:.1f}us "
                      f"p99={percentile(lat, .99) / 1e3:.1f}us max={max(lat) / 1e3:.1f}us", flush=True)
            loop.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
