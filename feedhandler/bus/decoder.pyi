from typing import Any, Callable

from feedhandler.book.orderbook import OrderBook
from feedhandler.core.dispatch import EventDispatcher

class FollowedStream:
    exchange: str
    symbol: str
    channel: int
    session: int
    last_seq: int
    valid: bool
    book: OrderBook | None
    gaps: int
    records: int

class BusDecoder:
    depth: int
    messages: int
    records: int
    parse_errors: int
    gaps: int
    duplicates: int
    dispatcher: EventDispatcher
    def __init__(self, handler: Callable[[Any], Any] | None = ...,
                 error_handler: Callable[[BaseException], Any] | None = ..., depth: int = ...) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview) -> None: ...
    def streams(self) -> list[FollowedStream]: ...
    def book(self, symbol: str, exchange: str | None = ...) -> OrderBook | None: ...
    def is_valid(self, symbol: str, exchange: str | None = ...) -> bool: ...
    def invalidate_all(self, reason: str) -> None: ...
