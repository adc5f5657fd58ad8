"""Recording for days: zstd-compressed ``.fhrec.zst`` segments, rotated by size and time.

Each segment is a complete fhrec stream (magic, header, records; :mod:`.format`) compressed as a
sequence of zstd *frames*. The writer ends a zstd frame at least every ``flush_interval`` seconds
(and whenever ``flush_bytes`` of records are pending), always between two records, and hands it to
the OS, so a crash loses at most the last ``flush_interval`` of frames, and a reader of the file while
it is being written sees only complete zstd frames and therefore only complete records
(:func:`zstd_reader` holds back a frame until it is complete). Memory is bounded by the pending
records (at most ``flush_bytes``) and zstd's own window.

Rotation (``max_bytes`` compressed bytes or ``max_seconds``) happens between two records: the
current segment is flushed and closed, the next one opened, and the record that triggered it goes
into the new one, so across a rotation no frame is lost or written twice. Segments are named
``<stem>.<UTC start>.<seq>.fhrec.zst`` and sort in recording order; a folder of them replays as one
recording (``open_recording(folder)``). ``on_rotate(writer)`` runs first thing in each new segment
(``feedhandler record`` writes the live books there as snapshots, so every segment replays alone).
"""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable

from .format import _RECORD, _U32, KIND_BINARY, KIND_SNAPSHOT, KIND_TEXT, MAGIC, RecordingError, snapshot_payload

__all__ = ["RotatingRecordingWriter", "zstd_reader", "segment_paths"]


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


class RotatingRecordingWriter:
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
        zstd level (3: the library's default; ~5x smaller than raw JSON frames).
    on_rotate:
        ``callable(writer)`` run at the start of each segment after the first.
    """

    def __init__(self, out: str | Path, header: dict[str, Any], *, max_bytes: int | None = 256 << 20,
                 max_seconds: float | None = 3600.0, flush_interval: float = 1.0, flush_bytes: int = 4 << 20,
                 level: int = 3, on_rotate: Callable[["RotatingRecordingWriter"], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
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
        self.frames = self.snapshots = self.bytes = 0
        self.segments: list[Path] = []
        self._pending = bytearray()
        self._file: BinaryIO | None = None
        self._compressed = 0
        self._opened_at = self._flushed_at = 0.0
        self._rotating = False
        self._open_segment()

    # -- segments -----------------------------------------------------------------------------------------------
    def _open_segment(self) -> None:
        seq = len(self.segments)
        started = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started / 1e9))
        path = self.folder / f"{self.stem}.{stamp}.{seq:06d}.fhrec.zst"
        self._file = open(path, "wb")
        self.segments.append(path)
        self._compressed = 0
        self._opened_at = self._flushed_at = self._clock()
        head = json.dumps({**self.header, "segment": seq, "started_unix_ns": started}).encode()
        self._pending += MAGIC + _U32.pack(len(head)) + head
        self.flush()  # the header is on disk at once: the file is a valid (empty) recording from the start
        if seq and self.on_rotate is not None:
            self._rotating = True
            try:
                self.on_rotate(self)
            finally:
                self._rotating = False

    def rotate(self) -> None:
        """Close the current segment and start the next one."""
        self.flush()
        assert self._file is not None
        self._file.close()
        self._open_segment()

    def _due(self, now: float) -> None:
        if self._rotating:
            return
        if (self.max_bytes is not None and self._compressed + len(self._pending) // 4 >= self.max_bytes) or (
                self.max_seconds is not None and now - self._opened_at >= self.max_seconds):
            self.rotate()

    # -- records ------------------------------------------------------------------------------------------------
    def frame(self, payload: bytes | str, recv_ns: int, connection_id: int) -> None:
        now = self._clock()
        self._due(now)  # rotate *before* writing: this record goes whole into the new segment
        if isinstance(payload, str):
            data, kind = payload.encode(), KIND_TEXT
        else:
            data = payload if isinstance(payload, bytes) else bytes(payload)
            kind = KIND_TEXT if data[:1] in (b"{", b"[") else KIND_BINARY
        self._pending += _RECORD.pack(recv_ns, connection_id, kind, len(data))
        self._pending += data
        self.frames += 1
        self.bytes += len(data)
        if len(self._pending) >= self.flush_bytes or now - self._flushed_at >= self.flush_interval:
            self.flush()

    def snapshot(self, symbol: str, last_update_id: int, bids: Any, asks: Any, recv_ns: int) -> None:
        data = snapshot_payload(symbol, last_update_id, bids, asks)
        self._due(self._clock())
        self._pending += _RECORD.pack(recv_ns, 0, KIND_SNAPSHOT, len(data)) + data
        self.snapshots += 1

    def tick(self) -> None:
        """Flush if records have waited ``flush_interval``; rotate if the segment is due. Call periodically."""
        now = self._clock()
        if self._pending and now - self._flushed_at >= self.flush_interval:
            self.flush()
        self._due(now)

    def flush(self) -> None:
        """End a zstd frame with every pending record and hand it to the OS."""
        self._flushed_at = self._clock()
        if not self._pending or self._file is None:
            return
        out = self._cctx.compress(bytes(self._pending))  # one complete frame: readable on its own
        self._pending.clear()
        self._file.write(out)
        self._file.flush()
        self._compressed += len(out)

    @property
    def path(self) -> Path:
        """The segment being written."""
        return self.segments[-1]

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None

    def __enter__(self) -> "RotatingRecordingWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
