from typing import Any, Callable

from feedhandler.kernel.decoder import FrameDecoder

class FrameRecorder:
    """A C-level tap on ``FrameSink``: sees every frame before the parser (base: records nothing)."""

    def record(self, raw: bytes | str, recv_ns: int) -> None: ...

class FrameSink:
    feed: Callable[[Any, int], int]
    decoder: FrameDecoder | None
    on_control: Callable[[int, Any], Any]
    on_error: Callable[[BaseException], Any]
    frames: int
    bytes: int
    parse_errors: int
    last_frame_ns: int
    data_seen: bool
    recorder: FrameRecorder | None
    recorder_errors: int
    def __init__(self, feed: Callable[[Any, int], int], on_control: Callable[[int, Any], Any],
                 on_error: Callable[[BaseException], Any]) -> None: ...
    def __call__(self, raw: Any, recv_ns: int) -> None: ...
