"""Recording on the compiled frame path: a ``FrameSink``'s ``recorder`` (``SinkTap``) records every frame in C,
before the parser, so a recorded picows connection still hands the payload pointer to the decoder's ``c_feed``;
a picows connection's socket reads are recorded instead (``WireTap``) once a read ends at a known frame boundary.

The oracle is the list of frames the local server sent: the recording must hold exactly those, in order, with
increasing receive times (the parser's recv_ns frame by frame, the read's when recorded by reads), and the parser
must have decoded each of them once.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest.importorskip("zstandard")

sys.path.insert(0, str(Path(__file__).parents[1] / "transport"))

from feedhandler import WebSocketStrategyFactory  # noqa: E402
from feedhandler.core.sink import FrameSink  # noqa: E402
from feedhandler.events import Trade  # noqa: E402
from feedhandler.recording import (KIND_TEXT, RecordingTransport, RecordingWriter,  # noqa: E402
                                   RotatingRecordingWriter, open_recording)
from feedhandler.recording.tap import RecordBuffer, SinkTap  # noqa: E402
from feedhandler.transport.base import create_transport  # noqa: E402
from raw_ws_server import OP_CLOSE, OP_TEXT, Peer, RawWsServer, close_payload, encode_frame  # noqa: E402

N = 2000
FRAMES = [b'{"stream":"btcusdt@trade","data":{"e":"trade","E":%d,"s":"BTCUSDT","t":%d,"p":"43000.%02d",'
          b'"q":"0.0100","T":%d,"m":true}}' % (1700000000000 + i, i, i % 100, 1700000000000 + i) for i in range(N)]


def _script(frames: list[bytes]):
    async def script(peer: Peer):
        await peer.read_frame()  # the client's "go"
        peer.write(b"".join(encode_frame(OP_TEXT, f) for f in frames))
        peer.write(encode_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_until(OP_CLOSE)
        peer.writer.close()
    return script


def _binance_sink(events: list, errors: list) -> FrameSink:
    parser = WebSocketStrategyFactory.create_strategies("binance")[2]
    sink = FrameSink(parser.feed, lambda kind, raw: errors.append((kind, raw)), errors.append)

    def on_event(e) -> None:  # events come from a pool (reused objects): keep what is checked now
        if type(e) is Trade:
            # (trade id, recorded through the sink's own hook or the socket reads, not a Python wrapper)
            events.append((e.trade_id, "frame" if isinstance(sink.recorder, SinkTap)
                           else "reads" if sink.recorder is None else "other"))

    parser.bind(on_event, errors.append)
    return sink


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["picows", "picows-frames", "websockets"])
@pytest.mark.parametrize("writer_kind", ["rotating", "plain"])
async def test_recorded_connection_keeps_the_compiled_path_and_records_every_frame(tmp_path, transport, writer_kind):
    events: list = []
    errors: list = []
    sink = _binance_sink(events, errors)
    assert sink.decoder is not None  # the Binance parser's feed is a compiled FrameDecoder's: c_frame -> c_feed
    if writer_kind == "rotating":
        writer = RotatingRecordingWriter(tmp_path / "t.fhrec.zst", {"exchange": "binance"})
    else:
        writer = RecordingWriter(tmp_path / "t.fhrec", {"exchange": "binance"})
    recorder = RecordingTransport(create_transport(transport.removesuffix("-frames")), writer,
                                  record_reads=transport == "picows")
    async with asyncio.timeout(20), RawWsServer(_script(FRAMES)) as server:
        conn = await recorder.connect(server.url)
        await conn.send("go")
        await conn.run(sink)
        await conn.close()
    writer.close()
    assert server.errors == [] and errors == []
    assert sink.recorder is None  # the tap is the connection's: removed when it ends
    assert [trade_id for trade_id, _ in events] == list(range(N))
    how = [path for _, path in events]
    if transport == "picows":  # frame by frame until a read ends at a known frame boundary, then by reads
        assert "reads" in how and set(how) <= {"frame", "reads"}
        assert how == sorted(how)  # no rotation here: once by reads, always by reads
    else:
        assert set(how) == {"frame"}
    paths = writer.segments if writer_kind == "rotating" else [writer.path]
    recs = list(open_recording(paths).records())
    assert [r.payload for r in recs] == FRAMES
    assert {r.kind for r in recs} == {KIND_TEXT} and {r.connection_id for r in recs} == {1}
    assert [r.recv_ns for r in recs] == sorted(r.recv_ns for r in recs) and recs[0].recv_ns > 0
    assert writer.frames == N and sink.frames == N


def test_stopped_recording_passes_frames_on_without_recording():
    buf = RecordBuffer(1024)
    seen: list = []
    sink = FrameSink(lambda raw, ns: seen.append(raw) or 1, lambda *a: None, lambda e: None)
    sink.recorder = SinkTap(buf, lambda: None, 5)
    sink(b'{"a":1}', 10)
    sink("[2]", 11)  # a text frame as str (the websockets transport): recorded as its UTF-8 bytes
    buf.recording = False
    sink(b'{"a":3}', 12)
    assert seen == [b'{"a":1}', "[2]", b'{"a":3}'] and buf.frames == 2
    assert buf.take() == (b"\x0a" + b"\x00" * 7 + b"\x05\x00\x00\x00" + b"\x00" + b"\x07\x00\x00\x00" + b'{"a":1}'
                          + b"\x0b" + b"\x00" * 7 + b"\x05\x00\x00\x00" + b"\x00" + b"\x03\x00\x00\x00" + b"[2]")


def test_a_due_buffer_is_flushed_before_the_record_that_would_not_fit():
    buf = RecordBuffer(64)
    flushed: list[bytes] = []
    tap = SinkTap(buf, lambda: flushed.append(buf.take()), 1)
    sink = FrameSink(lambda raw, ns: 1, lambda *a: None, lambda e: None)
    sink.recorder = tap
    for i in range(10):
        sink(b"{%d}" % (10 ** 20 + i), 100 + i)  # 23 bytes + 17 of header: one record per 64-byte buffer
    assert len(flushed) == 9 and all(len(f) == 17 + 23 for f in flushed) and buf.size == 40
