"""Stub of the compiled per-frame recording path (see tap.pyx)."""
import asyncio
from typing import Any, Callable, Final

from feedhandler.core.sink import FrameRecorder, FrameSink
from feedhandler.transport.read_tap import ReadTap
from feedhandler.recording.ring import ChunkRing

def touched_buffer(n: int) -> bytearray: ...

class RecordBuffer:
    """Pending records in one preallocated buffer."""

    deadline_ns: int
    recording: bool
    size: Final[int]
    capacity: Final[int]
    frames: Final[int]
    payload_bytes: Final[int]
    def __init__(self, capacity: int = 4 << 20, ring: ChunkRing | None = None) -> None: ...
    def append(self, payload: bytes | str | memoryview, recv_ns: int, connection_id: int, kind: int = -1) -> None: ...
    def due(self, n: int, now_ns: int) -> bool: ...
    def raw(self, data: bytes) -> None: ...
    def end_frame(self, close_fd: bool = False) -> None: ...
    def take(self) -> bytes: ...

class SinkTap(FrameRecorder):
    """The record step of one connection on the compiled frame path (a ``FrameSink.recorder``)."""

    def __init__(self, buffer: RecordBuffer, on_due: Callable[[], Any], connection_id: int) -> None: ...

class FrameTap(SinkTap):
    """Transport callback of a recorded connection: record, then ``on_frame(payload, recv_ns)``."""

    def __init__(self, buffer: RecordBuffer, on_due: Callable[[], Any], on_frame: Callable[[Any, int], Any],
                 connection_id: int) -> None: ...
    def __call__(self, payload: Any, recv_ns: int) -> Any: ...

class WireTap(ReadTap, asyncio.BufferedProtocol):
    """Records a picows connection's socket reads, one record per read, instead of one per frame."""

    inner: Final[Any]
    reads: Final[int]
    starts: Final[int]
    cuts: Final[int]
    max_record: Final[int]
    def __init__(self, inner: Any, buffer: RecordBuffer, on_due: Callable[[], Any], connection_id: int,
                 sink: FrameSink, sink_tap: SinkTap, max_record: int = 16 << 20) -> None: ...
    def get_buffer(self, size_hint: int) -> memoryview: ...
    def buffer_updated(self, nbytes: int) -> None: ...
    def restart(self) -> None: ...
    def stop(self) -> None: ...
