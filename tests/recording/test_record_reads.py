"""Recording a picows connection by its socket reads (``WireTap``), end to end on 127.0.0.1.

The oracle is the list of messages the parser was handed live: the recording must read back exactly those, in
order, whatever the reads were (a local server writes its frames in pieces of random sizes, with pings and a
fragmented message among them), across rotations (each segment alone holds whole frames), a stop or a snapshot
in the middle of a read, a protocol violation, and over TLS.
"""
from __future__ import annotations

import asyncio
import random
import ssl
import sys
from pathlib import Path

import pytest

pytest.importorskip("zstandard")

sys.path.insert(0, str(Path(__file__).parents[1] / "transport"))

from feedhandler.core.errors import ConnectionFailedError  # noqa: E402
from feedhandler.core.sink import FrameSink  # noqa: E402
from feedhandler.core.types import MessageType  # noqa: E402
from feedhandler.recording import (KIND_SNAPSHOT, RecordingTransport, RotatingRecordingWriter,  # noqa: E402
                                   open_recording, read_recording)
from feedhandler.transport.picows_transport import PicowsTransport  # noqa: E402
from raw_ws_server import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Peer, RawWsServer,  # noqa: E402
                           close_payload, encode_frame, encode_frame_bits)
from test_transport_picows import self_signed  # noqa: E402,F401  (the fixture)

_DATA = int(MessageType.DATA)


def _messages(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [b'{"i":%d,"x":"%s"}' % (i, bytes(rng.choice(b"0123456789abcdef") for _ in range(rng.randint(0, 300))))
            for i in range(n)]


def _wire(messages: list[bytes]) -> bytes:
    """The frames of the messages, with a ping every 50 and message 7 fragmented around a ping."""
    out = bytearray()
    for i, m in enumerate(messages):
        if i % 50 == 0:
            out += encode_frame(OP_PING, b"hb")
        if i == 7:
            out += encode_frame(OP_BINARY, m[:5], fin=False) + encode_frame(OP_PING, b"x")
            out += encode_frame(OP_CONT, m[5:])
        else:
            out += encode_frame(OP_TEXT, m)
    return bytes(out)


def _pieces_script(data: bytes, seed: int, tail: bytes = b""):
    """Writes ``data`` in pieces of random sizes, each drained (so that reads end anywhere in a frame)."""
    async def script(peer: Peer):
        rng = random.Random(seed)
        await peer.read_frame()  # the client's "go"
        pos = 0
        while pos < len(data):
            k = rng.choice([1, 7, 100, 1000, 5000, 20000])
            peer.write(data[pos:pos + k])
            pos += k
            await peer.writer.drain()
            await asyncio.sleep(0)
        peer.write(tail + encode_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_until(OP_CLOSE)
        peer.writer.close()
    return script


async def _run(tmp_path, script, hook=None, writer_options=None, tls=None, expect_failure=False):
    """(messages delivered live, the writer, the read taps, the recording transport)."""
    writer = RotatingRecordingWriter(tmp_path / "r.fhrec.zst", {"exchange": "test"}, **(writer_options or {}))
    taps: list = []
    make = writer.read_tap
    writer.read_tap = lambda *a: taps.append(make(*a)) or taps[-1]
    recorder = RecordingTransport(PicowsTransport(ssl_context=tls[1] if tls else None), writer)
    seen: list[bytes] = []
    errors: list = []

    def feed(raw, recv_ns):
        seen.append(bytes(raw))
        if hook is not None:
            hook(len(seen) - 1, recorder, writer)
        return _DATA

    sink = FrameSink(feed, lambda kind, raw: errors.append(kind), errors.append)
    async with asyncio.timeout(30), RawWsServer(script, ssl_context=tls[0] if tls else None) as server:
        conn = await recorder.connect(server.url)
        await conn.send("go")
        if expect_failure:
            with pytest.raises(ConnectionFailedError, match="reserved bit"):
                await conn.run(sink)
        else:
            await conn.run(sink)
        await conn.close()
    writer.close()
    assert errors == []
    return seen, writer, taps


def _recorded(writer) -> list[bytes]:
    return [r.payload for r in open_recording(writer.segments).records() if r.kind != KIND_SNAPSHOT]


async def test_reads_in_pieces_of_any_size_record_exactly_the_frames_delivered(tmp_path):
    messages = _messages(3000, 1)
    seen, writer, taps = await _run(tmp_path, _pieces_script(_wire(messages), 2))
    assert seen == messages
    assert _recorded(writer) == seen
    (tap,) = taps
    assert tap.starts == 1 and tap.reads > 10  # recorded by its reads after the first one that ended cleanly
    assert writer.frames == len(seen) and writer.bytes == sum(map(len, seen))


async def test_rotations_leave_every_segment_with_whole_frames(tmp_path):
    messages = _messages(3000, 3)
    seen, writer, taps = await _run(tmp_path, _pieces_script(_wire(messages), 4),
                                    writer_options={"flush_bytes": 4096, "max_bytes": 6000})
    assert seen == messages and len(writer.segments) >= 4
    assert taps[0].starts >= 3  # each rotation: frame by frame again, then the reads from the next whole frame
    alone = []
    for path in writer.segments:  # each segment read on its own
        _, records = read_recording(path)
        alone += [r.payload for r in records if r.kind != KIND_SNAPSHOT]
    assert alone == seen


@pytest.mark.parametrize("how", ["stop", "close"])
async def test_a_stop_in_the_middle_of_a_read_keeps_the_frames_up_to_the_one_being_delivered(tmp_path, how):
    """``RecordingTransport.stop()`` or ``writer.close()`` from the handler of frame 1400 (a read being parsed)."""
    messages = _messages(2000, 5 if how == "stop" else 13)

    def stop_at_1400(i, recorder, writer):
        if i == 1400:
            recorder.stop() if how == "stop" else writer.close()

    seen, writer, taps = await _run(tmp_path, _pieces_script(_wire(messages), 6 if how == "stop" else 14),
                                    hook=stop_at_1400)
    assert seen == messages
    assert taps[0].cuts == 1  # frame 1400 came from a recorded read: that read was cut after it
    assert _recorded(writer) == seen[:1401]


async def test_a_snapshot_written_during_a_read_stays_between_the_frames_around_it(tmp_path):
    messages = _messages(2000, 7)

    def snapshot_at_1200(i, recorder, writer):
        if i == 1200:
            writer.snapshot("BTCUSDT", 42, [[1.0, 2.0]], [[3.0, 4.0]], 0)

    seen, writer, taps = await _run(tmp_path, _pieces_script(_wire(messages), 8), hook=snapshot_at_1200)
    records = list(open_recording(writer.segments).records())
    kinds = [r.kind == KIND_SNAPSHOT for r in records]
    assert kinds.index(True) == 1201 and kinds.count(True) == 1
    assert [r.payload for r in records if r.kind != KIND_SNAPSHOT] == seen == messages
    assert taps[0].cuts == 1 and taps[0].starts >= 2


async def test_a_protocol_violation_ends_the_recording_where_delivery_ended(tmp_path):
    messages = _messages(1500, 9)
    bad = encode_frame_bits(OP_TEXT, b"reserved bit", rsv=4) + encode_frame(OP_TEXT, b'{"never":1}')
    seen, writer, _ = await _run(tmp_path, _pieces_script(_wire(messages), 10, tail=bad), expect_failure=True)
    assert seen == messages
    assert _recorded(writer) == seen


async def test_reads_over_tls_are_recorded_as_the_plain_bytes(tmp_path, self_signed):
    cert, key = self_signed
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    messages = _messages(1500, 11)
    seen, writer, taps = await _run(tmp_path, _pieces_script(_wire(messages), 12), tls=(server_ctx, client_ctx))
    assert seen == messages and taps[0].reads > 0
    assert _recorded(writer) == seen
