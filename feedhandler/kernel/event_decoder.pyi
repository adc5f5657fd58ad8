"""Type stub of the compiled EventDecoder base class (see event_decoder.pxd)."""
from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.kernel.decoder import FrameDecoder
from feedhandler.kernel.symbols import SymbolTable
from feedhandler.sync.book_sync import BookSyncGroup

class EventDecoder(FrameDecoder):
    """Base of the compiled decoders of one exchange's public or private side."""

    private: bool
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    symbols: SymbolTable
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
