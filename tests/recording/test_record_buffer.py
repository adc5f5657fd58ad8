"""RecordBuffer against a plain Python reference of the fhrec record layout (``<qIBI`` header + payload).

The buffer gathers records in a 4 KiB stage inside the object and moves whole stages to its array with
non-temporal stores; records straddle stages, a record bigger than the array grows it, and ``take`` must hand
over every byte in order. In ring mode the stages stream into a :class:`ChunkRing`'s chunks, whose C thread
compresses and writes them: the file, decompressed by the ``zstandard`` library, must hold every byte in order,
each ``end_frame`` a complete zstd frame. Hypothesis drives sizes around those boundaries."""
from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st

import os

import pytest
import zstandard

from feedhandler.recording.compressed import zstd_functions, zstd_reader
from feedhandler.recording.ring import ChunkRing
from feedhandler.recording.tap import FrameTap, RecordBuffer

HEADER = struct.Struct("<qIBI")

sizes = st.one_of(st.integers(0, 40), st.integers(4000, 4200), st.integers(0, 9000))
ops = st.lists(st.one_of(st.tuples(st.just("append"), sizes, st.integers(0, 1)),
                         st.tuples(st.just("take"), st.just(0), st.just(0))), min_size=1, max_size=60)


def _payload(i: int, n: int) -> bytes:
    return bytes((i * 31 + j) & 0xFF for j in range(n))


@settings(max_examples=150, deadline=None)
@given(ops=ops, capacity=st.sampled_from([64, 4096, 5000, 16384, 1 << 16]))
def test_every_byte_in_order_across_stages_takes_and_growth(ops, capacity):
    buf = RecordBuffer(capacity)
    expected = bytearray()
    got = bytearray()
    for i, (op, n, kind) in enumerate(ops):
        if op == "append":
            data = _payload(i, n)
            buf.append(data, 1_000 + i, 7 + i, kind)
            expected += HEADER.pack(1_000 + i, 7 + i, kind, n) + data
            assert buf.size == len(expected) - len(got)
        else:
            got += buf.take()
        assert bytes(got) == bytes(expected[:len(got)])
    got += buf.take()
    assert bytes(got) == bytes(expected)
    assert buf.size == 0


def test_records_filling_the_stage_exactly_and_one_byte_over():
    for first in (4096 - 17 - 17, 4096 - 17 - 16, 4096 - 17 - 18):
        buf = RecordBuffer(1 << 16)
        expected = bytearray()
        for i, n in enumerate((first, 0, 1, 4096, 4079, 3)):
            data = _payload(i, n)
            buf.append(data, i, i, 1)
            expected += HEADER.pack(i, i, 1, n) + data
        assert buf.take() == bytes(expected)


ring_ops = st.lists(st.one_of(st.tuples(st.just("append"), sizes, st.integers(0, 1)),
                              st.tuples(st.just("tap"), sizes, st.just(0)),
                              st.tuples(st.just("end_frame"), st.just(0), st.just(0))), min_size=1, max_size=60)


def _complete_frames(path) -> bytes:
    with zstd_reader(open(path, "rb")) as f:
        return f.read()


@settings(max_examples=60, deadline=None)
@given(ops=ring_ops, chunk_stages=st.sampled_from([1, 2, 3]), chunks=st.sampled_from([2, 3, 8]),
       capacity=st.sampled_from([64, 5000, 1 << 16]))
def test_ring_mode_writes_every_byte_in_order_as_complete_zstd_frames(tmp_path_factory, ops, chunk_stages, chunks,
                                                                       capacity):
    path = tmp_path_factory.mktemp("ring") / "out.zst"
    ring = ChunkRing(zstd_functions(), 1, 4096 * chunk_stages, chunks)
    buf = RecordBuffer(capacity, ring)
    ring.set_file(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 0)
    expected = bytearray()
    frames_end = 0  # bytes of `expected` ended as zstd frames

    def end_frame():
        nonlocal frames_end
        buf.end_frame()
        frames_end = len(expected)

    # the compiled tap (its fast path into the stage, its slow path through on_due and c_append)
    tap = FrameTap(buf, end_frame, lambda payload, recv_ns: None, 9)
    try:
        buf.raw(b"HEAD")
        expected += b"HEAD"
        for i, (op, n, kind) in enumerate(ops):
            data = _payload(i, n)
            if op == "append":
                buf.append(data, 1_000 + i, 7 + i, kind)
                expected += HEADER.pack(1_000 + i, 7 + i, kind, n) + data
            elif op == "tap":
                tap(data, 1_000 + i)  # kind by the first byte: these payloads start with a byte < "{"
                expected += HEADER.pack(1_000 + i, 9, 0 if data[:1] in (b"{", b"[") else 1, n) + data
            else:
                end_frame()
                ring.wait_idle()
                assert _complete_frames(path) == bytes(expected)  # every frame ended so far, complete
            assert buf.size == len(expected) - frames_end
        buf.end_frame(close_fd=True)
        ring.wait_idle()
        assert ring.error is None
        assert _complete_frames(path) == bytes(expected)
        with open(path, "rb") as f:  # the library's own multi-frame decoder agrees
            assert zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(f.read()) \
                == bytes(expected)
        assert ring.totals[0] == len(expected)
    finally:
        ring.close()


def test_ring_reports_a_failed_write_drops_the_rest_and_never_blocks_the_feed():
    ring = ChunkRing(zstd_functions(), 1, 4096, 2)
    buf = RecordBuffer(1 << 16, ring)
    ring.set_file(os.open("/dev/full", os.O_WRONLY), 0)  # every write fails with ENOSPC
    try:
        payload = b"{" + b"x" * 3000 + b"}"
        for i in range(2000):  # far more than the ring holds: the feed must not wait on a broken disk
            buf.append(payload, i, 1)
            if i % 100 == 99:
                buf.end_frame()
        buf.end_frame(close_fd=True)
        ring.wait_idle()
        assert "No space left" in ring.error
        assert ring.totals[1] == 0  # nothing counted as written
    finally:
        ring.close()


def test_a_closed_ring_refuses_records_instead_of_writing_freed_memory():
    ring = ChunkRing(zstd_functions(), 1, 4096, 2)
    buf = RecordBuffer(1 << 16, ring)
    ring.close()
    ring.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        for i in range(10):  # the first stage spill (4 KiB) finds the ring closed
            buf.append(b"x" * 1000, i, 1)
    with pytest.raises(ValueError, match="closed"):
        buf.end_frame()
    with pytest.raises(TypeError):
        buf.take()


def test_ring_rejects_bad_parameters():
    with pytest.raises(ValueError):
        ChunkRing(zstd_functions(), 1, 5000, 4)
    with pytest.raises(ValueError):
        ChunkRing(zstd_functions(), 1, 4096, 1)
    with pytest.raises(ValueError, match="level"):
        ChunkRing(zstd_functions(), 1000, 4096, 2)
    ring = ChunkRing(zstd_functions(), 1, 4096, 2)
    buf = RecordBuffer(1 << 16, ring)
    try:
        buf.raw(b"abc")
        with pytest.raises(ValueError, match="no file"):
            buf.end_frame()
    finally:
        ring.close()


def test_a_forked_child_gets_an_error_not_a_hang():
    """The ring's thread is not carried into a forked child: publishing there must fail, not wait forever."""
    import multiprocessing

    ring = ChunkRing(zstd_functions(), 1, 4096, 2)
    buf = RecordBuffer(1 << 16, ring)
    ring.set_file(os.open(os.devnull, os.O_WRONLY), 0)
    ctx = multiprocessing.get_context("fork")
    result = ctx.Queue()

    def child():
        try:
            for i in range(20):  # 20 KiB through 4 KiB chunks: publishes on the way
                buf.append(b"x" * 1000, i, 1)
            result.put("no error")
        except ValueError as exc:
            result.put(str(exc))
        ring.close()  # must not join the parent's thread

    p = ctx.Process(target=child)
    p.start()
    p.join(30)
    try:
        assert p.exitcode == 0
        assert "forked" in result.get(timeout=5)
    finally:
        if p.is_alive():
            p.kill()
        buf.end_frame(close_fd=True)
        ring.close()
