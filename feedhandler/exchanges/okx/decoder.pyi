from typing import Any

from feedhandler.book.orderbook import OrderBook
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookIntegrity, BookSyncGroup

def okx_format(v: float) -> str | None: ...
def okx_crc32(data: bytes) -> int: ...

class OkxChecksum(BookIntegrity):
    unformattable: int
    def __init__(self) -> None: ...
    def checksum(self, book: OrderBook) -> int | None: ...

class OkxDecoder:
    exchange: str
    frames: int
    parse_errors: int
    control_id: int
    control_code: int
    control_text: str | None
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    checksum_unverifiable: int
    heartbeats: int
    resets: int
    def __init__(self, dispatcher: EventDispatcher | None = ..., books: BookSyncGroup | None = ...,
                 level_capacity: int = ...) -> None: ...
    def feed(self, raw: Any, recv_ns: int) -> int: ...
    def classify(self, raw: Any) -> int: ...
    def stats(self) -> dict[str, Any]: ...
