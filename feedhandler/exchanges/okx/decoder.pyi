from typing import Any

from feedhandler.book.orderbook import OrderBook
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.kernel.decoder import FrameDecoder
from feedhandler.sync.book_sync import BookIntegrity, BookSyncGroup

def okx_format(v: float) -> str | None: ...
def okx_crc32(data: bytes) -> int: ...

class OkxChecksum(BookIntegrity):
    unformattable: int
    def __init__(self) -> None: ...
    def checksum(self, book: OrderBook) -> int | None: ...

class OkxDecoder(FrameDecoder):
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    checksum_unverifiable: int
    heartbeats: int
    resets: int
    def __init__(self, dispatcher: EventDispatcher | None = ..., books: BookSyncGroup | None = ...,
                 level_capacity: int = ...) -> None: ...
    def stats(self) -> dict[str, Any]: ...
