"""Recording for days: zstd-compressed ``.fhrec.zst`` segments, rotated by size and time.

Each segment is a complete fhrec stream (magic, header, records; :mod:`.format`) compressed as a
sequence of zstd *frames*. The writer ends a zstd frame at least every ``flush_interval`` seconds
(and whenever ``flush_bytes`` of records are pending), always between two records, and hands it to
the OS, so a crash loses at most the last ``flush_interval`` of frames, and a reader of the file while
it is being written sees only complete zstd frames and therefore only complete records
(:func:`zstd_reader` holds back a frame until it is complete). The feed's thread only copies each frame
into a preallocated chunk (:class:`~feedhandler.recording.ring.ChunkRing`); a C thread with no GIL compresses
full chunks as they come and writes them. Memory is bounded: ``chunks * chunk_bytes`` (32 x 256 KiB) plus
zstd's state, all allocated and touched when the writer opens; a feed faster than the disk waits for a chunk.

Rotation (``max_bytes`` compressed bytes or ``max_seconds``) happens between two records: the
current segment is flushed and closed, the next one opened, and the record that triggered it goes
into the new one, so across a rotation no frame is lost or written twice. Segments are named
``<stem>.<UTC start>.<seq>.fhrec.zst`` and sort in recording order; a folder of them replays as one
recording (``open_recording(folder)``). ``on_rotate(writer)`` runs first thing in each new segment
(``feedhandler record`` writes the live books there as snapshots, so every segment replays alone).
"""
from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable

from .format import BufferedRecordWriter, RecordingError, file_start

__all__ = ["RotatingRecordingWriter", "zstd_reader", "segment_paths", "zstd_functions"]

RING_CHUNKS = 32  # chunks of the ring (the memory bound with chunk_bytes)


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise RecordingError("compressed recordings need zstandard: pip install 'feedhandler[parquet]'") from None
    return zstandard


class _CompleteFramesReader(io.RawIOBase):
    """Decompresses a sequence of zstd frames, releasing each frame's bytes only once it is complete.

    A file being written ends in a partial frame: it is held back (not an error), so the stream ends on
    the last complete frame, i.e. on a record boundary.
    """

    def __init__(self, f: BinaryIO, chunk: int = 1 << 16):
        self._f, self._chunk = f, chunk
        self._dctx = _zstandard().ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._frame = bytearray()  # output of the frame being decoded
        self._ready = bytearray()  # output of complete frames, not read yet
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._ready and not self._eof:
            data = self._f.read(self._chunk)
            if not data:
                self._eof = True
                return
            while data:
                self._frame += self._obj.decompress(data)
                if not self._obj.eof:
                    break
                self._ready += self._frame
                self._frame.clear()
                data = self._obj.unused_data
                self._obj = self._dctx.decompressobj()

    def readinto(self, b: Any) -> int:
        self._fill()
        n = min(len(b), len(self._ready))
        b[:n] = self._ready[:n]
        del self._ready[:n]
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


def zstd_reader(f: BinaryIO) -> BinaryIO:
    """A buffered byte stream of the complete zstd frames of ``f`` (see :class:`_CompleteFramesReader`)."""
    return io.BufferedReader(_CompleteFramesReader(f), 1 << 16)  # type: ignore[return-value]


def segment_paths(folder: str | Path, stem: str | None = None) -> list[Path]:
    """The segments in ``folder`` (optionally of one ``stem``), in recording order."""
    pattern = f"{stem}.*.fhrec.zst" if stem else "*.fhrec.zst"
    return sorted(Path(folder).glob(pattern))


def zstd_functions() -> dict[str, int]:
    """Addresses of libzstd's streaming functions for :class:`~feedhandler.recording.ring.ChunkRing`.

    From the ``zstandard`` package's own libzstd (its cffi module; ``cffi`` comes with the ``parquet`` and
    ``test`` extras), else from the system's ``libzstd.so.1``.
    """
    names = ("ZSTD_createCCtx", "ZSTD_freeCCtx", "ZSTD_CCtx_setParameter", "ZSTD_compressStream2",
             "ZSTD_isError", "ZSTD_getErrorName")
    try:
        from zstandard import _cffi  # type: ignore[attr-defined]

        ffi, lib = _cffi.ffi, _cffi.lib
        return {name: int(ffi.cast("uintptr_t", ffi.addressof(lib, name))) for name in names}
    except (ImportError, AttributeError):
        pass
    import ctypes
    import ctypes.util

    for candidate in ("libzstd.so.1", ctypes.util.find_library("zstd")):
        if not candidate:
            continue
        try:
            lib = ctypes.CDLL(candidate)
        except OSError:
            continue
        return {name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0 for name in names}
    raise RecordingError("compressed recordings need libzstd: pip install 'feedhandler[parquet]' (zstandard, cffi)")


class RotatingRecordingWriter(BufferedRecordWriter):
    """Writes zstd-compressed fhrec segments with rotation by size and time (same methods as ``RecordingWriter``).

    Parameters
    ----------
    out:
        A folder (segments ``recording.<start>.<seq>.fhrec.zst`` in it) or a path ``DIR/STEM`` /
        ``DIR/STEM.fhrec.zst`` (segments ``STEM.<start>.<seq>.fhrec.zst`` beside it).
    header:
        The fhrec header; each segment's header adds ``segment`` (its number) and ``started_unix_ns``.
    max_bytes, max_seconds:
        Rotate when the segment's compressed size or age reaches this (None: never).
    flush_interval:
        Longest time a written record stays only in memory (default 1 s); checked on every record and by
        :meth:`tick`, which a caller with an event loop should run periodically (``feedhandler record`` does).
    flush_bytes:
        Also end a zstd frame when this many uncompressed bytes are pending.
    level:
        zstd level (1, the default: on market-data JSON as small as level 3 (~10x) at twice the speed).
    on_rotate:
        ``callable(writer)`` run at the start of each segment after the first.
    background:
        True (default): a flush returns once its bytes are handed to the compressing thread; False: once
        they are on disk (the caller waits for the thread).
    clock:
        Monotonic seconds (tests pass a fake one; the compiled tap then uses the frames' ``recv_ns``).
    chunk_bytes, chunks:
        The ring's chunks (``chunk_bytes`` a multiple of 4096).
    """

    def __init__(self, out: str | Path, header: dict[str, Any], *, max_bytes: int | None = 256 << 20,
                 max_seconds: float | None = 3600.0, flush_interval: float = 1.0, flush_bytes: int = 4 << 20,
                 level: int = 1, on_rotate: Callable[["RotatingRecordingWriter"], None] | None = None,
                 background: bool = True, clock: Callable[[], float] = time.monotonic,
                 chunk_bytes: int = 256 << 10, chunks: int = RING_CHUNKS):
        from .ring import ChunkRing
        from .tap import RecordBuffer

        out = Path(out)
        if out.is_dir() or str(out).endswith(os.sep):
            self.folder, self.stem = out, "recording"
        else:
            self.folder, self.stem = out.parent, out.name.removesuffix(".zst").removesuffix(".fhrec")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.header = dict(header)
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self.flush_interval, self.flush_bytes = float(flush_interval), int(flush_bytes)
        self.on_rotate = on_rotate
        self._clock = clock
        self._background = background
        self.snapshots = 0
        self.segments: list[Path] = []
        # every byte of memory the writer uses is allocated and touched now: the ring's chunks (the records
        # stream into them; its C thread compresses and writes each full one) and zstd's state
        self._ring = ChunkRing(zstd_functions(), level, chunk_bytes, chunks)
        self.buffer = RecordBuffer(max(self.flush_bytes, 64), self._ring)
        self._open = False
        self._opened_at = self._flushed_at = 0.0
        self._rotating = False
        self._open_segment()

    @property
    def _compressed(self) -> int:
        """Compressed bytes of the current segment on disk."""
        return self._ring.segment_bytes(len(self.segments) - 1)

    # -- segments -----------------------------------------------------------------------------------------------
    def _open_segment(self) -> None:
        seq = len(self.segments)
        started = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started / 1e9))
        path = self.folder / f"{self.stem}.{stamp}.{seq:06d}.fhrec.zst"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        self._ring.set_file(fd, seq)  # the ring's thread writes it and closes it after the segment's last frame
        self._open = True
        self.segments.append(path)
        self._opened_at = self._clock()
        self.buffer.raw(file_start({**self.header, "segment": seq, "started_unix_ns": started}))
        self._end_frame()  # on disk at once: a valid (empty) recording from the start
        self._flushed_at = self._opened_at
        self._set_deadline()
        if seq and self.on_rotate is not None:
            self._rotating = True
            try:
                self.on_rotate(self)
            finally:
                self._rotating = False

    def _end_frame(self, close_fd: bool = False) -> None:
        self.buffer.end_frame(close_fd)
        if not self._background:
            self._ring.wait_idle()
        if (error := self._ring.error) is not None:
            raise RecordingError(f"{self.path}: writing failed: {error}")

    def _set_deadline(self) -> None:
        """The compiled tap's deadline (monotonic ns): the next flush or time rotation."""
        if self._clock is not time.monotonic:
            self.buffer.deadline_ns = 1 << 62  # a fake clock: only the Python path (frame/tick) keeps time
            return
        due = self._flushed_at + self.flush_interval
        if self.max_seconds is not None:
            due = min(due, self._opened_at + self.max_seconds)
        self.buffer.deadline_ns = int(due * 1e9)

    def rotate(self) -> None:
        """Close the current segment and start the next one."""
        self._restart_reads()  # a segment starts with whole frames: the reads are recorded again from the next one
        self.flush()
        self._end_frame(close_fd=True)
        self._open = False
        self._open_segment()

    def _due(self, now: float) -> None:
        if self._rotating:
            return
        if (self.max_bytes is not None and self._compressed + self.buffer.size // 4 >= self.max_bytes) or (
                self.max_seconds is not None and now - self._opened_at >= self.max_seconds):
            self.rotate()

    def on_due(self) -> None:
        """The compiled tap's call before a record that finds the buffer full or its deadline passed."""
        self.flush()
        self._due(self._clock())

    # -- records ------------------------------------------------------------------------------------------------
    def frame(self, payload: bytes | str, recv_ns: int, connection_id: int) -> None:
        self._restart_reads(only_in_read=True)
        now = self._clock()
        self._due(now)  # rotate *before* writing: this record goes whole into the new segment
        n = len(payload)
        if self.buffer.due(n, 0) or now - self._flushed_at >= self.flush_interval:
            self.flush()
        self.buffer.append(payload, recv_ns, connection_id)
        if self.buffer.size >= self.flush_bytes:
            self.flush()

    def _make_room(self, n: int) -> None:
        # a snapshot: rotate first (it goes whole into the new segment), flush a full buffer
        self._due(self._clock())
        if self.buffer.due(n, 0):
            self.flush()

    def tick(self) -> None:
        """Flush if records have waited ``flush_interval``; rotate if the segment is due. Call periodically."""
        now = self._clock()
        if self.buffer.size and now - self._flushed_at >= self.flush_interval:
            self.flush()
        self._due(now)

    def flush(self) -> None:
        """End a zstd frame with every pending record and hand it to the compressing thread (on disk when this
        returns with ``background=False``)."""
        self._flushed_at = self._clock()
        if self.buffer.size and self._open:
            self._end_frame()
        self._set_deadline()

    def drain(self) -> None:
        """Wait until everything flushed so far is on disk."""
        self._ring.wait_idle()

    @property
    def path(self) -> Path:
        """The segment being written."""
        return self.segments[-1]

    def close(self) -> None:
        try:
            if self._open:
                self.stop_reads()
                self.flush()
                self.buffer.recording = False  # a frame after close is passed on, not recorded
                self._open = False
                self._end_frame(close_fd=True)
                self._ring.wait_idle()
                if (error := self._ring.error) is not None:
                    raise RecordingError(f"{self.path}: writing failed: {error}")
        finally:
            self.buffer.recording = False
            self._ring.close()
