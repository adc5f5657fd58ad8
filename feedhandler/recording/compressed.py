"""Recording for days: zstd-compressed ``.fhrec.zst`` segments, rotated by size and time.

Each segment is a complete fhrec stream (magic, header, records; :mod:`.format`) compressed as a
sequence of zstd *frames*. The writer ends a zstd frame at least every ``flush_interval`` seconds
(and whenever ``flush_bytes`` of records are pending), always between two records, and hands it to
the OS, so a crash loses at most the last ``flush_interval`` of frames, and a reader of the file while
it is being written sees only complete zstd frames and therefore only complete records
(:func:`zstd_reader` holds back a frame until it is complete). Memory is bounded: the records pending
and those waiting for the compressing thread sit in at most ``4 + 2`` preallocated buffers of ``flush_bytes``
(reused, so a flush allocates nothing on the feed's thread), plus zstd's own state.

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
import queue
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable

from .format import BufferedRecordWriter, RecordingError, file_start

__all__ = ["RotatingRecordingWriter", "zstd_reader", "segment_paths"]

_DEPTH = 4  # flushed chunks that may wait for the compressing thread


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


def _write_frame(cctx: Any, f: BinaryIO, data: bytes | bytearray, n: int) -> int:
    """``data[:n]`` as one complete zstd frame (readable on its own) handed to the OS; returns its size.

    One C call compresses (the GIL released throughout) and one ``write`` stores it: the compressing thread
    takes the GIL back only a few times per chunk, so the feed's thread hardly ever waits for it.
    """
    with memoryview(data) as whole, whole[:n] as chunk:
        out = cctx.compress(chunk)
    f.write(out)
    f.flush()
    return len(out)


class _Compressor(threading.Thread):
    """Compresses and writes flushed chunks off the feed's thread (zstd releases the GIL while it works).

    The queue is bounded (``depth`` chunks): a feed faster than the disk blocks on ``put`` rather than grow memory.
    Items: ``(file, data, n, done)`` to write ``data[:n]`` as one zstd frame, then ``done(data)`` (the buffer goes
    back to the writer's pool); ``(file, None, 0, None)`` to close a finished segment.
    """

    def __init__(self, cctx: Any, on_written: Callable[[BinaryIO, int], None], depth: int = 4):
        super().__init__(name="feedhandler-recording-zstd", daemon=True)
        self._cctx, self._on_written = cctx, on_written
        self.queue: queue.Queue[tuple[BinaryIO, Any, int, Any] | None] = queue.Queue(depth)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            f, data, n, done = item
            try:
                if data is None:
                    f.close()
                else:
                    self._on_written(f, _write_frame(self._cctx, f, data, n))
            except BaseException as exc:  # reported by the writer on its next call
                self.error = exc
            finally:
                if done is not None:
                    done(data)
                self.queue.task_done()
        self.queue.task_done()


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
        Also end a zstd frame when this many uncompressed bytes are pending (the preallocated buffer's size).
    level:
        zstd level (1, the default: on market-data JSON as small as level 3 (~10x) at twice the speed).
    on_rotate:
        ``callable(writer)`` run at the start of each segment after the first.
    background:
        Compress and write on a worker thread (default), so the feed's thread only copies frames into the
        buffer; False: in the caller's thread (each :meth:`flush` is on disk when it returns).
    clock:
        Monotonic seconds (tests pass a fake one; the compiled tap then uses the frames' ``recv_ns``).
    """

    def __init__(self, out: str | Path, header: dict[str, Any], *, max_bytes: int | None = 256 << 20,
                 max_seconds: float | None = 3600.0, flush_interval: float = 1.0, flush_bytes: int = 4 << 20,
                 level: int = 1, on_rotate: Callable[["RotatingRecordingWriter"], None] | None = None,
                 background: bool = True, clock: Callable[[], float] = time.monotonic):
        from .tap import RecordBuffer, touched_buffer

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
        self._cctx = _zstandard().ZstdCompressor(level=level)
        self.snapshots = 0
        self.segments: list[Path] = []
        self.buffer = RecordBuffer(max(self.flush_bytes, 64))
        # Flushed buffers come back here once written; at most depth + 2 exist (one filling, one being
        # compressed, `depth` queued), each preallocated once: no allocation per flush.
        self._spares: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._buffers = 1
        self._file: BinaryIO | None = None
        self._compressed = 0
        self._opened_at = self._flushed_at = 0.0
        self._rotating = False
        self._thread: _Compressor | None = None
        if background:
            self._thread = _Compressor(self._cctx, self._count_written, _DEPTH)
            self._thread.start()
        # every buffer the writer may use is allocated and touched now (``_DEPTH + 1`` spares beside the filling
        # one; 1 without the thread): a flush never allocates or page-faults on the feed's thread, and a slow
        # compressing thread makes the feed wait for a buffer back instead (the memory bound)
        for _ in range(_DEPTH + 1 if background else 1):
            self._spares.put(touched_buffer(self.buffer.capacity))
            self._buffers += 1
        self._open_segment()

    @property
    def _pending(self) -> int:
        return self.buffer.size

    def _count_written(self, f: BinaryIO, n: int) -> None:
        if f is self._file:  # a late report of a closed segment does not count for the next one
            self._compressed += n

    def _spare(self) -> bytearray:
        """An empty buffer for the next records: a written one back from the pool, else a new one while fewer
        than ``_DEPTH + 2`` exist, else wait for the compressing thread to give one back."""
        try:
            return self._spares.get_nowait()
        except queue.Empty:
            if self._thread is None or self._buffers < _DEPTH + 2:
                self._buffers += 1
                return touched_buffer(self.buffer.capacity)
            return self._spares.get()

    def _give_back(self, data: bytearray) -> None:
        if len(data) == self.flush_bytes:  # a buffer grown for one huge record is not kept
            self._spares.put(data)
        else:
            self._buffers -= 1

    # -- segments -----------------------------------------------------------------------------------------------
    def _open_segment(self) -> None:
        seq = len(self.segments)
        started = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started / 1e9))
        path = self.folder / f"{self.stem}.{stamp}.{seq:06d}.fhrec.zst"
        self._file = open(path, "wb")
        self.segments.append(path)
        self._compressed = 0
        self._opened_at = self._clock()
        start = file_start({**self.header, "segment": seq, "started_unix_ns": started})
        self._emit(start, len(start))  # on disk at once: a valid (empty) recording from the start
        self._flushed_at = self._opened_at
        self._set_deadline()
        if seq and self.on_rotate is not None:
            self._rotating = True
            try:
                self.on_rotate(self)
            finally:
                self._rotating = False

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
        self.flush()
        assert self._file is not None
        self._close_file(self._file)
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
        """End a zstd frame with every pending record and hand it to the OS (or to the compressing thread)."""
        self._flushed_at = self._clock()
        if self.buffer.size and self._file is not None:
            data, n = self.buffer.swap(self._spare())
            self._emit(data, n, self._give_back)
        self._set_deadline()

    def _emit(self, data: bytes | bytearray, n: int, done: Callable[[Any], None] | None = None) -> None:
        """Write ``data[:n]`` as one complete zstd frame (readable on its own), then ``done(data)``."""
        assert self._file is not None
        if self._thread is not None:
            if self._thread.error is not None:
                raise RecordingError(f"{self.path}: writing failed: {self._thread.error}")
            self._thread.queue.put((self._file, data, n, done))
            return
        try:
            self._compressed += _write_frame(self._cctx, self._file, data, n)
        finally:
            if done is not None:
                done(data)

    def _close_file(self, f: BinaryIO) -> None:
        if self._thread is not None:
            self._thread.queue.put((f, None, 0, None))
        else:
            f.close()

    def drain(self) -> None:
        """Wait until everything flushed so far is on disk (a no-op without the background thread)."""
        if self._thread is not None:
            self._thread.queue.join()

    @property
    def path(self) -> Path:
        """The segment being written."""
        return self.segments[-1]

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._close_file(self._file)
            self._file = None
        if self._thread is not None:
            self._thread.queue.put(None)
            self._thread.join()
            error, self._thread = self._thread.error, None
            if error is not None:
                raise RecordingError(f"{self.path}: writing failed: {error}")
