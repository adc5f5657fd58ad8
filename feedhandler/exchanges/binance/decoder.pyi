from typing import Any, Final

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup

BK_UNKNOWN: int
BK_DEPTH_UPDATE: int
BK_PARTIAL_DEPTH: int
BK_TRADE: int
BK_AGG_TRADE: int
BK_BOOK_TICKER: int
BK_KLINE: int
BK_SHUTDOWN: int
BK_ACK: int
BK_ERROR: int

class BinanceDecoder:
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    partial_books: BookSyncGroup | None
    raw_stream: str
    exchange: Final[str]
    ts_scale: Final[int]
    max_levels: Final[int]
    frames: int
    depth_updates: int
    partial_depths: int
    trades: int
    book_tickers: int
    klines: int
    acks: int
    exchange_errors: int
    shutdowns: int
    ignored: int
    def __init__(self, books: BookSyncGroup | None = None, dispatcher: EventDispatcher | None = None,
                 partial_books: BookSyncGroup | None = None, exchange: str = "binance", max_levels: int = 20000,
                 time_unit: str = "ms", raw_stream: str = "") -> None: ...
    def feed(self, raw: bytes | str | bytearray | memoryview, recv_ns: int) -> int: ...
    def classify(self, raw: bytes | str | bytearray | memoryview) -> int: ...
    def partial_book_key(self, stream: str) -> str: ...
    def stats(self) -> dict[str, Any]: ...
