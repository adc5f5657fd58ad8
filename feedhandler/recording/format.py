"""The recording file: raw frames with receive timestamps, and the REST snapshots the feed used.

Layout (little endian)::

    b"FHREC1\\n"                           magic
    u32 length + JSON header               {"exchange", "symbols", "channels", "started_unix_ns", ...}
    records, each:  i64 recv_ns | u32 connection id | u8 kind | u32 length | payload

``kind``: 0 text frame, 1 binary frame, 2 REST snapshot (payload: JSON
``{"symbol", "last_update_id", "bids", "asks"}``). Frames are stored verbatim,
so a replay feeds the parser the very bytes the transport handed over.

A picows connection is recorded by its socket reads instead (:class:`~feedhandler.recording.tap.WireTap`):
4 ``KIND_WIRE_START`` (the connection's stream starts at a frame boundary with these bytes), 5 ``KIND_WIRE``
(the bytes of one read, as the socket gave them), 6 ``KIND_WIRE_CUT`` (payload: i64 stream offset; the stream
ends after the frame that ends there, written right after the read it cuts). Reading turns them back into
text/binary frame records (:class:`~feedhandler.recording.wire.WireStream`), each with the receive time of the
read that completed it, so every reader sees frames only.
"""
from __future__ import annotations

import io
import json
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Self

MAGIC = b"FHREC1\n"
_RECORD = struct.Struct("<qIBI")
_U32 = struct.Struct("<I")
KIND_TEXT, KIND_BINARY, KIND_SNAPSHOT = 0, 1, 2
KIND_WIRE_START, KIND_WIRE, KIND_WIRE_CUT = 4, 5, 6
_I64 = struct.Struct("<q")
_MAX_HEADER = 1 << 20
_MAX_PAYLOAD = 64 << 20


class RecordingError(ValueError):
    """The file is not a recording or is corrupt; the message says where."""


@dataclass(slots=True)
class Record:
    recv_ns: int
    connection_id: int
    kind: int
    payload: bytes

    def snapshot(self) -> dict[str, Any]:
        """The decoded snapshot of a ``KIND_SNAPSHOT`` record."""
        return json.loads(self.payload)


def snapshot_payload(symbol: str, last_update_id: int, bids: Any, asks: Any) -> bytes:
    """The payload of a ``KIND_SNAPSHOT`` record (levels as ``[[price, qty], ...]``; arrays or lists)."""
    def levels(x: Any) -> list[list[float]]:
        return [[float(p), float(q)] for p, q in (x.tolist() if hasattr(x, "tolist") else x)]

    return json.dumps({"symbol": symbol, "last_update_id": int(last_update_id),
                       "bids": levels(bids), "asks": levels(asks)}).encode()


def file_start(header: dict[str, Any]) -> bytes:
    """The bytes a recording starts with: the magic and the length-prefixed JSON ``header``."""
    head = json.dumps(header).encode()
    return MAGIC + _U32.pack(len(head)) + head


class BufferedRecordWriter:
    """What every recording writer shares: records collect in ``self.buffer`` (a
    :class:`~feedhandler.recording.tap.RecordBuffer`), the compiled taps append to it, ``on_due`` writes it out.

    Subclasses set ``buffer``, and define :meth:`flush`, :meth:`close` and :meth:`_make_room` (what to do
    before a record of ``n`` bytes is appended from Python: flush a full buffer, rotate a segment).
    """

    buffer: Any
    snapshots: int = 0

    @property
    def frames(self) -> int:
        """Frames recorded."""
        return self.buffer.frames

    @property
    def bytes(self) -> int:
        """Payload bytes of the frames recorded."""
        return self.buffer.payload_bytes

    def flush(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _make_room(self, n: int) -> None:
        raise NotImplementedError

    def on_due(self) -> None:
        """The compiled tap's call before a record that finds the buffer full or its deadline passed."""
        self.flush()

    def tap(self, on_frame: Callable[[Any, int], Any], connection_id: int) -> Any:
        """The compiled transport callback recording each frame of one connection, then calling ``on_frame``."""
        from .tap import FrameTap

        return FrameTap(self.buffer, self.on_due, on_frame, connection_id)

    def sink_tap(self, connection_id: int) -> Any:
        """The compiled record step for a ``FrameSink.recorder`` (no Python call per frame)."""
        from .tap import SinkTap

        return SinkTap(self.buffer, self.on_due, connection_id)

    @property
    def _read_taps(self) -> list[Any]:
        """The read taps writing to this recording now (a subclass's ``__init__`` need not make the list)."""
        return self.__dict__.setdefault("_read_tap_list", [])

    def read_tap(self, protocol: Any, connection_id: int, sink: Any) -> Any:
        """A :class:`~feedhandler.recording.tap.WireTap` recording the socket reads of one picows connection
        (``protocol``: picows' own) whose frames go to ``sink``; :meth:`release_read_tap` when it ends."""
        from .tap import WireTap

        tap = WireTap(protocol, self.buffer, self.on_due, connection_id, sink, self.sink_tap(connection_id))
        self._read_taps.append(tap)
        return tap

    def release_read_tap(self, tap: Any) -> None:
        if tap in self._read_taps:
            self._read_taps.remove(tap)

    def _restart_reads(self, only_in_read: bool = False) -> None:
        """Every read tap back to frame by frame until its next whole frame (a rotation), or only those in the
        middle of a read (a record from Python comes next: that read is cut so the record stays in order)."""
        for tap in self._read_taps:
            if tap.in_read or not only_in_read:
                tap.restart()

    def stop_reads(self) -> None:
        """No more records from the socket reads (the recording stops or the writer closes): a read being parsed
        is cut after the frame being delivered."""
        for tap in self._read_taps:
            tap.stop()

    def snapshot(self, symbol: str, last_update_id: int, bids: Any, asks: Any, recv_ns: int) -> None:
        """Record a REST snapshot the feed used (a ``KIND_SNAPSHOT`` record)."""
        data = snapshot_payload(symbol, last_update_id, bids, asks)
        self._restart_reads(only_in_read=True)
        self._make_room(len(data))
        self.buffer.append(data, recv_ns, 0, KIND_SNAPSHOT)
        self.snapshots += 1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordingWriter(BufferedRecordWriter):
    """Appends records to a file; use as a context manager.

    Records collect in a preallocated buffer (:class:`~feedhandler.recording.tap.RecordBuffer`) written out when it
    is full and at least every ``flush_interval`` seconds, so a transport can record through the compiled
    :meth:`tap` (two ``memcpy`` per frame) and a crash loses at most that interval.
    """

    def __init__(self, path: str | Path, header: dict[str, Any], flush_interval: float = 1.0,
                 buffer_bytes: int = 1 << 20):
        from .tap import RecordBuffer

        self.path = Path(path)
        self._f: BinaryIO = open(self.path, "wb")
        self._f.write(file_start(header))
        self._f.flush()
        self.flush_interval = float(flush_interval)
        self.buffer = RecordBuffer(buffer_bytes)
        self.snapshots = 0
        self._set_deadline()

    def _set_deadline(self) -> None:
        self.buffer.deadline_ns = time.monotonic_ns() + int(self.flush_interval * 1e9)

    def _make_room(self, n: int) -> None:
        if self.buffer.due(n, time.monotonic_ns()):
            self.flush()

    def flush(self) -> None:
        """Write the buffered records to the file and hand them to the OS."""
        if self.buffer.size:
            self._f.write(self.buffer.take())
            self._f.flush()
        self._set_deadline()

    def frame(self, payload: bytes | str, recv_ns: int, connection_id: int) -> None:
        # the transport hands text frames over as bytes too: JSON text starts with { or [ (the buffer's rule)
        self._restart_reads(only_in_read=True)
        self._make_room(len(payload))
        self.buffer.append(payload, recv_ns, connection_id)

    def close(self) -> None:
        if not self._f.closed:
            self.stop_reads()
            self.flush()
            self._f.close()


def read_recording(path: str | Path, opener: Callable[[Path], BinaryIO] | None = None
                   ) -> tuple[dict[str, Any], Iterator[Record]]:
    """The header and an iterator over the records; raises RecordingError on a bad file.

    ``opener(path)`` returns the (decompressed) byte stream; the default opens plain and
    zstd-compressed (``.fhrec.zst``) files alike.
    """
    f = (opener or _open_plain_or_zstd)(Path(path))
    try:
        magic = f.read(len(MAGIC))
        if magic != MAGIC:
            raise RecordingError(f"{path}: not a feedhandler recording (bad magic)")
        raw = f.read(4)
        if len(raw) < 4:
            raise RecordingError(f"{path}: truncated header")
        (n,) = _U32.unpack(raw)
        if n > _MAX_HEADER:
            raise RecordingError(f"{path}: header length {n} is implausible")
        head = f.read(n)
        try:
            header = json.loads(head)
        except ValueError:
            raise RecordingError(f"{path}: header is not JSON") from None
    except BaseException:
        f.close()
        raise
    return header, _records(f, path, len(MAGIC) + 4 + n)


def _open_plain_or_zstd(path: Path) -> BinaryIO:
    f = open(path, "rb")
    if f.peek(4)[:4] == b"\x28\xb5\x2f\xfd":  # zstd frame magic
        from .compressed import zstd_reader

        return zstd_reader(f)
    return f


def _records(f: io.BufferedReader | BinaryIO, path: str | Path, offset: int) -> Iterator[Record]:
    """``offset``: where the records start in the (decompressed) stream, for the error messages.

    Recorded reads become frame records here. The frames of the latest read are held back until the next
    record, since a ``KIND_WIRE_CUT`` right after it may drop some of them.
    """
    from .wire import WireStream

    streams: dict[int, WireStream] = {}
    held: list[tuple[int, bytes, int]] = []  # (kind, payload, end offset) of the latest read's frames
    held_conn = held_ns = -1
    with f:
        while True:
            raw = f.read(_RECORD.size)
            if not raw:
                break
            if len(raw) < _RECORD.size:
                raise RecordingError(f"{path}: truncated record header at byte {offset}")
            recv_ns, conn, kind, n = _RECORD.unpack(raw)
            if kind not in _KINDS or n > _MAX_PAYLOAD:
                raise RecordingError(f"{path}: corrupt record at byte {offset} (kind {kind}, length {n})")
            payload = f.read(n)
            if len(payload) < n:
                raise RecordingError(f"{path}: truncated record at byte {offset}")
            offset += _RECORD.size + n
            if kind <= KIND_SNAPSHOT:  # a frame or a snapshot: the usual record, kept short
                if held:
                    for k, p, _ in held:
                        yield Record(held_ns, held_conn, k, p)
                    held = []
                yield Record(recv_ns, conn, kind, payload)
            elif kind == KIND_WIRE_CUT:
                if n != _I64.size:
                    raise RecordingError(f"{path}: corrupt cut record at byte {offset - n - _RECORD.size} "
                                         f"(length {n})")
                (end,) = _I64.unpack(payload)
                if conn == held_conn:
                    held = [h for h in held if h[2] <= end]
                if (stream := streams.get(conn)) is not None:
                    stream.end()
            else:
                for k, p, _ in held:
                    yield Record(held_ns, held_conn, k, p)
                if kind == KIND_WIRE_START:
                    stream = streams[conn] = WireStream(_MAX_PAYLOAD)
                    messages = stream.start(payload)
                elif (stream := streams.get(conn)) is None:
                    raise RecordingError(f"{path}: socket bytes of connection {conn} at byte "
                                         f"{offset - n - _RECORD.size} without the record that starts them")
                else:
                    messages = stream.feed(payload)
                held, held_conn, held_ns = messages, conn, recv_ns
    for k, p, _ in held:
        yield Record(held_ns, held_conn, k, p)


_KINDS = frozenset((KIND_TEXT, KIND_BINARY, KIND_SNAPSHOT, KIND_WIRE_START, KIND_WIRE, KIND_WIRE_CUT))
