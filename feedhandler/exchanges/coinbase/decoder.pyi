"""Type stub of the compiled Coinbase Advanced Trade decoder (see decoder.pyx)."""
from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup

class CoinbaseDecoder:
    """Coinbase Advanced Trade frames -> events and book updates (compiled, on the kernel's FrameDecoder)."""

    exchange: str
    private: bool
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    ticker_mask: int
    capacity: int
    frames: int
    data_frames: int
    acks: int
    error_frames: int
    unknown_frames: int
    sequence_gaps: int
    stale_frames: int
    expected_sequence: int
    parse_errors: int
    control_id: int
    control_code: int
    control_text: str | None

    def __init__(self, dispatcher: EventDispatcher | None = ..., books: BookSyncGroup | None = ...,
                 private: bool = ..., capacity: int = ..., exchange: str = ...) -> None: ...
    def feed(self, raw: bytes | str | bytearray | memoryview, recv_ns: int) -> int: ...
    def classify(self, raw: bytes | str | bytearray | memoryview) -> int: ...
    def reset_sequence(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
