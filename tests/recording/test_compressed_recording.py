"""zstd segments with rotation: nothing lost or duplicated across rotations, at most one flush interval lost on a
crash, readable while being written, bounded memory."""
from __future__ import annotations

import random

import pytest

pytest.importorskip("zstandard")

from feedhandler.recording import (KIND_SNAPSHOT, KIND_TEXT, RecordingError, RotatingRecordingWriter,
                                   open_recording, read_recording, segment_paths)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _frames(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    return [b'{"e":"depthUpdate","u":%d,"p":"%0.8f","pad":"%s"}' % (i, rng.random() * 1e5, b"x" * rng.randrange(80))
            for i in range(n)]


def _payloads(paths) -> list[bytes]:
    return [r.payload for r in open_recording(paths).records() if r.kind != KIND_SNAPSHOT]


def test_rotation_by_size_and_time_loses_and_duplicates_nothing(tmp_path):
    clock = FakeClock()
    frames = _frames(20_000)
    rotated_at = []
    w = RotatingRecordingWriter(tmp_path / "feed.fhrec.zst", {"exchange": "binance"}, max_bytes=40_000,
                                max_seconds=5.0, flush_interval=1.0, clock=clock,
                                on_rotate=lambda wr: rotated_at.append(wr.frames))
    for i, f in enumerate(frames):
        clock.t += 0.001 if i % 1000 else 2.5  # a time rotation now and then, size rotations in between
        w.frame(f, i, 1)
    w.close()
    segments = segment_paths(tmp_path, "feed")
    assert segments == w.segments and len(segments) >= 5
    assert rotated_at == sorted(rotated_at) and len(rotated_at) == len(segments) - 1
    # the whole set, in order, is exactly what was written
    assert _payloads(tmp_path) == frames
    # each segment is a complete recording on its own, and the segments partition the frames
    per_segment = [_payloads(p) for p in segments]
    assert sum(per_segment, []) == frames
    assert all(per_segment)
    for p in segments:
        header, records = read_recording(p)
        assert header["exchange"] == "binance" and header["segment"] == segments.index(p)
        assert [r.recv_ns for r in records] == sorted(r.recv_ns for r in read_recording(p)[1])


def test_a_crash_loses_at_most_the_last_flush_interval_and_the_file_reads_while_written(tmp_path):
    clock = FakeClock()
    w = RotatingRecordingWriter(tmp_path, {"exchange": "binance"}, max_bytes=None, max_seconds=None,
                                flush_interval=1.0, flush_bytes=16 << 20, clock=clock, background=False)
    frames = _frames(3000, seed=3)
    written_at = []
    for i, f in enumerate(frames):
        clock.t += 0.01
        w.frame(f, i, 1)
        written_at.append(clock.t)
        if i % 700 == 0:
            # read the file as it is now (no close): only complete records, a prefix of what was written
            seen = _payloads(w.path)
            assert seen == frames[:len(seen)]
            assert all(t > clock.t - 1.0 for t in written_at[len(seen):])  # what is missing is < 1 s old
    # "crash": the process dies without close(); whatever was flushed is on disk
    seen = _payloads(w.path)
    assert seen == frames[:len(seen)]
    assert all(t > clock.t - 1.0 for t in written_at[len(seen):])
    assert len(seen) >= len(frames) - 100
    # a tick after a second of silence flushes the rest without a new frame
    clock.t += 1.0
    w.tick()
    assert _payloads(w.path) == frames
    # a half-written zstd frame at the end (the writer died mid-write) is held back, not an error
    with open(w.path, "ab") as f:
        f.write(b"\x28\xb5\x2f\xfd\x00\x48\x11")
    assert _payloads(w.path) == frames
    w._ring.close()  # the crash: the ring's thread and its open file go with the process


def test_memory_stays_bounded(tmp_path):
    clock = FakeClock()
    w = RotatingRecordingWriter(tmp_path, {"exchange": "x"}, flush_interval=1000.0, flush_bytes=64 << 10,
                                clock=clock)
    big = b"{" + b"y" * 1000 + b"}"
    for i in range(5000):
        w.frame(big, i, 1)
        assert w.buffer.size <= 64 << 10 and w.buffer.capacity == 64 << 10  # never grown
        assert w._ring.pending <= w._ring.chunks  # at most the ring's preallocated chunks wait for zstd
    w.close()
    recs = list(open_recording(w.segments).records())
    assert len(recs) == 5000 and all(r.kind == KIND_TEXT and r.payload == big for r in recs)


def test_compiled_tap_records_then_parses_and_flushes_on_time(tmp_path):
    """The transport callback path: frames stamped with the monotonic clock, flushed by deadline, in order."""
    import time

    w = RotatingRecordingWriter(tmp_path, {"exchange": "binance"}, flush_interval=0.05)
    seen = []
    tap = w.tap(lambda payload, recv_ns: seen.append((payload, recv_ns)) or 7, 3)
    frames = _frames(3000, seed=11)
    deadline = time.monotonic() + 10
    for i, f in enumerate(frames):
        assert tap(f, time.monotonic_ns()) == 7  # the parser's return value is passed through
        if i == 1000:
            time.sleep(0.06)  # past the flush deadline: the next frame flushes first
        assert time.monotonic() < deadline
    assert [p for p, _ in seen] == frames
    w.drain()
    on_disk = _payloads(w.segments)
    assert on_disk[:1001] == frames[:1001]  # flushed by the deadline, before the rest
    w.close()
    recs = [r for r in open_recording(w.segments).records()]
    assert [r.payload for r in recs] == frames and {r.connection_id for r in recs} == {3}
    assert [r.recv_ns for r in recs] == [ns for _, ns in seen]


def test_a_full_disk_is_a_recording_error_at_the_next_flush_and_close_does_not_hang(tmp_path, monkeypatch):
    """Every segment's writes fail (ENOSPC): the writer says so with a RecordingError, the frames keep coming."""
    import os as os_module

    from feedhandler.recording import compressed

    real_open = os_module.open
    monkeypatch.setattr(compressed.os, "open", lambda path, flags, mode=0o777: real_open("/dev/full", os_module.O_WRONLY))
    w = RotatingRecordingWriter(tmp_path, {"exchange": "binance"}, flush_interval=1000.0, flush_bytes=64 << 10)
    w.drain()  # the segment's header frame was written (and failed)
    with pytest.raises(RecordingError, match="No space left"):
        for i, f in enumerate(_frames(5000, seed=5)):  # more than the ring holds: nothing blocks
            w.frame(f, i, 1)
        w.flush()
    with pytest.raises(RecordingError, match="No space left"):
        w.close()
    w.close()  # closed: nothing left to report
