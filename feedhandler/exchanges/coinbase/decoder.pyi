"""Type stub of the compiled Coinbase Advanced Trade decoder (see decoder.pyx)."""
from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.kernel.decoder import FrameDecoder
from feedhandler.sync.book_sync import BookSyncGroup

class CoinbaseDecoder(FrameDecoder):
    """Coinbase Advanced Trade frames -> events and book updates (compiled, on the kernel's FrameDecoder)."""

    private: bool
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    ticker_mask: int
    capacity: int
    data_frames: int
    acks: int
    error_frames: int
    unknown_frames: int
    sequence_gaps: int
    stale_frames: int
    expected_sequence: int

    def __init__(self, dispatcher: EventDispatcher | None = ..., books: BookSyncGroup | None = ...,
                 private: bool = ..., capacity: int = ..., exchange: str = ...) -> None: ...
    def reset_sequence(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
