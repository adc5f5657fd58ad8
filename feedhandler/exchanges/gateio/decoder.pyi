"""Type stub of the compiled Gate.io decoder (see decoder.pyx)."""
from typing import Any, Callable

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup


class GateioDecoder:
    """Gate.io spot v4 and USDT futures frames -> events and book updates (compiled)."""

    exchange: str
    private: bool
    market: int
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    obu_books: BookSyncGroup | None
    partial_books: BookSyncGroup | None
    on_obu_gap: Callable[[str, str], Any] | None
    obu_resubscribe: set[str]
    capacity: int
    frames: int
    data_frames: int
    acks: int
    pongs: int
    error_frames: int
    unknown_frames: int
    parse_errors: int

    def __init__(
        self,
        dispatcher: EventDispatcher | None = ...,
        books: BookSyncGroup | None = ...,
        obu_books: BookSyncGroup | None = ...,
        partial_books: BookSyncGroup | None = ...,
        private: bool = ...,
        capacity: int = ...,
        exchange: str = ...,
        futures: bool = ...,
    ) -> None: ...
    def feed(self, raw: bytes | str | bytearray | memoryview, recv_ns: int) -> int: ...
    def classify(self, raw: bytes | str | bytearray | memoryview) -> int: ...
    def take_obu_resubscribe(self) -> list[str]: ...
    def stats(self) -> dict[str, Any]: ...
