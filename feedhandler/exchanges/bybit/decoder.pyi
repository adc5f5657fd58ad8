"""Type stub of the compiled Bybit v5 decoder (see decoder.pyx)."""
from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.kernel.decoder import FrameDecoder
from feedhandler.sync.book_sync import BookSyncGroup

class BybitDecoder(FrameDecoder):
    """Bybit v5 frames -> events and book updates (compiled, on the kernel's FrameDecoder)."""

    private: bool
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    ticker_mask: int
    capacity: int
    data_frames: int
    acks: int
    pongs: int
    error_frames: int
    unknown_frames: int

    def __init__(self, dispatcher: EventDispatcher | None = ..., books: BookSyncGroup | None = ...,
                 private: bool = ..., capacity: int = ..., exchange: str = ...) -> None: ...
    def stats(self) -> dict[str, Any]: ...
