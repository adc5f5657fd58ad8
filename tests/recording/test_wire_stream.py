"""Recorded socket bytes back into messages: ``WireStream`` and the fhrec reader's wire records.

The oracle is the list of messages an independent encoder (``raw_ws_server.encode_frame``, written from RFC 6455)
put on the wire: whatever the bytes are split into (reads), the stream gives back exactly those data messages,
fragmented ones joined, control frames skipped, each with the offset where it ends.
"""
from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "transport"))

from feedhandler.recording.format import (KIND_BINARY, KIND_SNAPSHOT, KIND_TEXT, KIND_WIRE,  # noqa: E402
                                          KIND_WIRE_CUT, KIND_WIRE_START, MAGIC, RecordingError, _records)
from feedhandler.recording.wire import WireStream  # noqa: E402
from raw_ws_server import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402
                           close_payload, encode_frame, encode_frame_bits)

# a message: (kind 0 text / 1 binary, payload, how many fragments, pings between its fragments)
_sizes = st.one_of(st.integers(0, 130), st.sampled_from([125, 126, 127, 65535, 65536, 70000]))
_message = st.tuples(st.integers(0, 1), _sizes, st.integers(1, 4), st.booleans())


def _encode(messages) -> tuple[bytes, list[tuple[int, bytes, int]]]:
    """The wire bytes of the messages (with pings/pongs around them) and the expected (kind, payload, end)."""
    out, expected = bytearray(), []
    for i, (kind, size, parts, pings) in enumerate(messages):
        payload = bytes((i + j) % 251 for j in range(size))
        if i % 3 == 0:
            out += encode_frame(OP_PONG, b"p")
        cuts = sorted({0, size, *[size * k // parts for k in range(1, parts)]})
        pieces = [payload[a:b] for a, b in zip(cuts, cuts[1:])] or [b""]
        for j, piece in enumerate(pieces):
            op = (OP_TEXT if kind == 0 else OP_BINARY) if j == 0 else OP_CONT
            out += encode_frame(op, piece, fin=j == len(pieces) - 1)
            if pings and j < len(pieces) - 1:
                out += encode_frame(OP_PING, b"between fragments")
        expected.append((kind, payload, len(out)))
    return bytes(out), expected


def _split(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in zip(cuts, cuts[1:])]


@settings(max_examples=150, deadline=None)
@given(st.lists(_message, max_size=12), st.lists(st.integers(0, 1 << 20), max_size=20))
def test_any_split_of_the_bytes_gives_back_the_messages(messages, points):
    data, expected = _encode(messages)
    reads = _split(data, points)
    s = WireStream()
    got = s.start(reads[0] if reads else b"")
    for r in reads[1:]:
        got += s.feed(r)
    assert got == expected and s.live and s.error is None


def test_a_close_frame_ends_the_stream():
    s = WireStream()
    assert s.start(encode_frame(OP_TEXT, b"a") + encode_frame(OP_CLOSE, close_payload(1000))
                   + encode_frame(OP_TEXT, b"after")) == [(0, b"a", 3)]
    assert not s.live and s.error is None and s.feed(encode_frame(OP_TEXT, b"more")) == []


@pytest.mark.parametrize("bad, why", [
    (encode_frame_bits(OP_TEXT, b"x", rsv=4), "reserved bit"),
    (encode_frame_bits(OP_TEXT, b"x", mask=b"abcd"), "masked"),
    (encode_frame_bits(0x3, b"x"), "reserved data opcode"),
    (encode_frame_bits(0xB, b"x"), "reserved control opcode"),
    (encode_frame(OP_PING, b"x", fin=False), "fragmented or oversized control"),
    (encode_frame(OP_PING, b"x" * 126), "fragmented or oversized control"),
    (encode_frame(OP_CONT, b"x"), "continuation frame without"),
    (encode_frame(OP_TEXT, b"x", fin=False) + encode_frame(OP_TEXT, b"y"), "before the fragmented one ended"),
])
def test_what_picows_refuses_ends_the_stream_and_keeps_what_came_before(bad, why):
    s = WireStream()
    got = s.start(encode_frame(OP_BINARY, b"ok"))
    got += s.feed(bad + encode_frame(OP_TEXT, b"never"))
    assert got == [(1, b"ok", 4)]
    assert not s.live and why in s.error


def test_a_frame_over_the_limit_ends_the_stream_before_its_payload_arrives():
    s = WireStream(max_message=1000)
    head = struct.pack("!BBQ", 0x82, 127, 1 << 40)  # a hostile length: nothing is allocated for it
    assert s.start(head) == [] and not s.live and "over the limit" in s.error
    s = WireStream(max_message=100)
    s.start(encode_frame(OP_TEXT, b"x" * 60, fin=False) + encode_frame(OP_CONT, b"x" * 60))
    assert not s.live and "fragmented message over the limit" in s.error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=6))
def test_random_bytes_never_crash_the_stream(data, points):
    s = WireStream(max_message=1 << 16)
    out = []
    for i, r in enumerate(_split(data, points)):
        out += s.start(r) if i == 0 else s.feed(r)
    ends = [e for _, _, e in out]
    assert ends == sorted(ends) and all(0 < e <= len(data) for e in ends)
    assert all(k in (0, 1) and type(p) is bytes for k, p, _ in out)


# -- the reader: wire records become frame records --------------------------------------------------------------

def _record(kind: int, payload: bytes, recv_ns: int = 1, conn: int = 1) -> bytes:
    return struct.pack("<qIBI", recv_ns, conn, kind, len(payload)) + payload


def _read(*records: bytes) -> list[tuple[int, int, int, bytes]]:
    return [(r.recv_ns, r.connection_id, r.kind, r.payload)
            for r in _records(io.BytesIO(b"".join(records)), "test", len(MAGIC))]


def test_reads_become_frames_with_the_receive_time_of_the_read_that_completed_them():
    data = encode_frame(OP_TEXT, b"one") + encode_frame(OP_BINARY, b"two") + encode_frame(OP_TEXT, b"three")
    got = _read(_record(KIND_TEXT, b"[0]", 5),
                _record(KIND_WIRE_START, data[:3], 6),
                _record(KIND_WIRE, data[3:9], 7),
                _record(KIND_SNAPSHOT, b"{}", 8, conn=0),
                _record(KIND_WIRE, data[9:], 9))
    assert got == [(5, 1, KIND_TEXT, b"[0]"), (7, 1, KIND_TEXT, b"one"), (8, 0, KIND_SNAPSHOT, b"{}"),
                   (9, 1, KIND_BINARY, b"two"), (9, 1, KIND_TEXT, b"three")]


def test_a_cut_drops_the_frames_of_the_read_after_its_offset():
    frames = [encode_frame(OP_TEXT, b"f%d" % i) for i in range(4)]
    data = b"".join(frames)
    cut = struct.pack("<q", len(frames[0]) * 2)  # the stream ends after the second frame
    got = _read(_record(KIND_WIRE_START, b""), _record(KIND_WIRE, data, 3), _record(KIND_WIRE_CUT, cut),
                _record(KIND_TEXT, b"f2", 4), _record(KIND_TEXT, b"f3", 5))
    assert [p for *_, p in got] == [b"f0", b"f1", b"f2", b"f3"]
    # a cut of another connection does not touch this one's frames, and a later read of an ended stream is dropped
    got = _read(_record(KIND_WIRE_START, b""), _record(KIND_WIRE, data, 3), _record(KIND_WIRE_CUT, cut, conn=2))
    assert [p for *_, p in got] == [b"f0", b"f1", b"f2", b"f3"]
    got = _read(_record(KIND_WIRE_START, b""), _record(KIND_WIRE, data[:6], 3), _record(KIND_WIRE_CUT, cut),
                _record(KIND_WIRE, data[6:], 4))
    assert [p for *_, p in got] == [b"f0"]


def test_bad_wire_records_are_clear_errors():
    with pytest.raises(RecordingError, match="without the record that starts them"):
        _read(_record(KIND_WIRE, encode_frame(OP_TEXT, b"x")))
    with pytest.raises(RecordingError, match="corrupt cut record"):
        _read(_record(KIND_WIRE_START, b""), _record(KIND_WIRE_CUT, b"\x00"))


# -- the writer: a read bigger than a record ----------------------------------------------------------------------

class _Protocol:
    """picows' side of a read, as the tap sees it: a buffer to read into, then the count."""

    def __init__(self) -> None:
        self.buffer = bytearray(1 << 16)
        self.updated: list[int] = []

    def get_buffer(self, size_hint: int) -> memoryview:
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.updated.append(nbytes)


def _wire_tap(max_record: int):
    from feedhandler.core.sink import FrameSink
    from feedhandler.recording.tap import RecordBuffer, SinkTap, WireTap

    errors: list = []
    buf = RecordBuffer(1 << 20)
    sink = FrameSink(lambda raw, ns: 1, lambda *a: None, errors.append)
    inner = _Protocol()
    tap = WireTap(inner, buf, lambda: None, 1, sink, SinkTap(buf, lambda: None, 1), max_record=max_record)
    return tap, inner, buf, sink, errors


def test_a_read_bigger_than_a_record_is_written_as_several_and_reads_back_whole():
    frames = [encode_frame(OP_TEXT, b"m%04d" % i) for i in range(400)]
    data = b"".join(frames)
    tap, inner, buf, _, errors = _wire_tap(max_record=1000)
    buf.append(b"", 1, 1, KIND_WIRE_START)  # what the listener's start would have written
    tap.wire = True
    view = tap.get_buffer(-1)
    view[:len(data)] = data
    tap.buffer_updated(len(data))
    assert inner.updated == [len(data)] and errors == []
    raw = buf.take()
    sizes = []
    pos = 0
    while pos < len(raw):
        _, _, kind, n = struct.unpack_from("<qIBI", raw, pos)
        sizes.append((kind, n))
        pos += 17 + n
    assert sizes == [(KIND_WIRE_START, 0)] + [(KIND_WIRE, 1000)] * (len(data) // 1000) + [(KIND_WIRE, len(data) % 1000)]
    assert [p for *_, p in _read(raw)] == [b"m%04d" % i for i in range(400)]


def test_a_read_reported_without_a_buffer_is_an_error_and_the_read_still_goes_on():
    tap, inner, buf, sink, errors = _wire_tap(max_record=1000)
    tap.wire = True
    tap.buffer_updated(10)  # no get_buffer before: nothing to copy from
    assert inner.updated == [10] and not tap.wire and sink.recorder is not None
    assert len(errors) == 1 and "without asking for a buffer" in str(errors[0]) and buf.size == 0
    with pytest.raises(ValueError, match="max_record"):
        _wire_tap(max_record=0)
