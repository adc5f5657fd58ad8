"""Type stub of the compiled Gate.io decoder (see decoder.pyx)."""
from typing import Any, Callable

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.kernel.event_decoder import EventDecoder
from feedhandler.sync.book_sync import BookSyncGroup


class GateioDecoder(EventDecoder):
    """Gate.io spot v4 and USDT futures frames -> events and book updates (compiled)."""

    market: int
    obu_books: BookSyncGroup | None
    partial_books: BookSyncGroup | None
    on_obu_gap: Callable[[str, str], Any] | None
    obu_resubscribe: set[str]

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
    def take_obu_resubscribe(self) -> list[str]: ...
