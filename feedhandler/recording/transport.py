"""A transport wrapper that writes every received frame to a recording (``RecordingWriter`` or
``RotatingRecordingWriter``) before the parser sees it.

A picows connection run with a :class:`~feedhandler.core.sink.FrameSink` (the manager's, the benchmarks') records
its socket reads (:class:`~feedhandler.recording.tap.WireTap`: one copy per read, not per frame), and frame by
frame through the sink's compiled ``recorder`` hook (:class:`~feedhandler.recording.tap.SinkTap`) until the first
read that ends at a known frame boundary, and after each rotation. Any other connection run with a
``FrameSink`` records through that hook only; any other frame callable is wrapped in a
:class:`~feedhandler.recording.tap.FrameTap`."""
from __future__ import annotations

import itertools
from typing import Any

from ..core.sink import FrameSink
from ..transport.base import FrameCallback, Transport, TransportConnection
from .format import RecordingWriter


class _RecordingConnection(TransportConnection):
    def __init__(self, inner: TransportConnection, owner: "RecordingTransport", connection_id: int):
        self._inner, self._owner, self._id = inner, owner, connection_id

    async def send(self, data: str | bytes) -> None:
        await self._inner.send(data)

    async def run(self, on_frame: FrameCallback) -> None:
        owner = self._owner
        sink_tap = getattr(owner.writer, "sink_tap", None)
        if sink_tap is not None and isinstance(on_frame, FrameSink):
            # the compiled frame path stays compiled: the sink records each frame (C) before its parser, or
            # the socket reads are recorded as they come
            tap = sink_tap(self._id)
            on_frame.recorder = tap
            read_tap = None
            install = getattr(self._inner, "install_read_tap", None)
            make_read_tap = getattr(owner.writer, "read_tap", None)
            if owner.record_reads and install is not None and make_read_tap is not None:
                read_tap = install(lambda protocol: make_read_tap(protocol, self._id, on_frame))
            try:
                await self._inner.run(on_frame)
            finally:
                if read_tap is not None:
                    self._inner.remove_read_tap(read_tap)
                    owner.writer.release_read_tap(read_tap)
                on_frame.recorder = None
            return
        tap = getattr(owner.writer, "tap", None)
        if tap is not None:  # the compiled path: record + parse in one C call per frame
            await self._inner.run(tap(on_frame, self._id))
            return
        write = owner.writer.frame
        cid = self._id

        def record_then_parse(payload: str | bytes, recv_ns: int) -> object:
            if owner.recording:
                write(payload, recv_ns, cid)
            return on_frame(payload, recv_ns)

        await self._inner.run(record_then_parse)

    async def close(self) -> None:
        await self._inner.close()

    @property
    def close_reason(self) -> str:
        return self._inner.close_reason


class RecordingTransport(Transport):
    """Wraps another transport; each connection gets its own id in the recording.

    ``record_reads``: record a picows connection's socket reads (the default) rather than its frames one by one;
    the file reads back the same frames either way.
    """

    name = "recording"

    def __init__(self, inner: Transport, writer: RecordingWriter | Any, record_reads: bool = True):
        self._inner, self.writer = inner, writer
        self._ids = itertools.count(1)
        self.record_reads = record_reads
        #: False after :meth:`stop`: frames still go to the parser, no longer to the file
        self.recording = True

    def stop(self) -> None:
        """Stop writing frames (synchronously: the frame after this call is not recorded)."""
        self.recording = False
        buffer = getattr(self.writer, "buffer", None)
        if buffer is not None:
            buffer.recording = False
        stop_reads = getattr(self.writer, "stop_reads", None)
        if stop_reads is not None:  # the buffer is the writer's: every read tap on it stops, a read being
            stop_reads()            # parsed cut after the frame being delivered

    connect_errors = ()  # the inner transport's connect already raised ConnectionFailedError

    async def _open(self, url: str, headers: dict[str, str], max_frame_size: int,
                    connect_timeout: float) -> TransportConnection:
        conn = await self._inner.connect(url, headers=headers, max_frame_size=max_frame_size,
                                         connect_timeout=connect_timeout)
        return _RecordingConnection(conn, self, next(self._ids))
