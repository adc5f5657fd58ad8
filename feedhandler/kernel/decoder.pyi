"""Type stub of the compiled decoder base class (see decoder.pxd)."""
from collections.abc import Callable, Iterable, Sequence
from typing import Any

class FrameDecoder:
    """Base of the compiled decoders: one C entry, one Python entry, shared counters."""

    exchange: str
    frames: int
    parse_errors: int
    control_id: int
    control_code: int
    control_text: str | None
    levels_capacity: int
    def __init__(self, exchange: str = "", *args: Any, **kwargs: Any) -> None: ...
    def feed(self, raw: bytes | str | memoryview | bytearray, recv_ns: int) -> int: ...
    def feed_many(
        self,
        frames: Sequence[bytes | str | memoryview | bytearray] | Iterable[bytes],
        recv_ns: int | Sequence[int] = 0,
        on_error: Callable[[Exception], None] | None = None,
    ) -> int: ...
    def classify(self, raw: bytes | str | memoryview | bytearray) -> int: ...
