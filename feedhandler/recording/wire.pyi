"""Stub of the compiled reader of recorded socket bytes (see wire.pyx)."""
from typing import Final


class WireStream:
    """One connection's stream of recorded socket bytes, cut back into its data messages."""

    max_message: Final[int]
    live: Final[bool]
    error: Final[str | None]
    def __init__(self, max_message: int = 64 << 20) -> None: ...
    def start(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes, int]]: ...
    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes, int]]: ...
    def end(self) -> None: ...
