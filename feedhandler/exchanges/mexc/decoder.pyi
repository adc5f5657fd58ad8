"""Stub of the compiled MEXC spot v3 decoder (see decoder.pxd for the contract)."""
from typing import Any

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.sync.book_sync import BookSyncGroup

class MexcDecoder:
    dispatcher: EventDispatcher
    books: BookSyncGroup | None
    partial_books: BookSyncGroup | None
    exchange: str
    max_levels: int
    frames: int
    depth_updates: int
    limit_depths: int
    trades: int
    book_tickers: int
    klines: int
    tickers: int
    orders: int
    fills: int
    balances: int
    acks: int
    pongs: int
    exchange_errors: int
    empty: int
    unsupported: int
    err_wire: int
    err_number: int
    err_levels: int
    err_symbol: int
    err_text: int
    def __init__(self, dispatcher: EventDispatcher | None = None, books: BookSyncGroup | None = None,
                 partial_books: BookSyncGroup | None = None, max_levels: int = 10000, exchange: str = "mexc") -> None: ...
    def feed(self, raw: bytes | str | bytearray | memoryview, recv_ns: int) -> int: ...
    def classify(self, raw: bytes | str | bytearray | memoryview) -> int: ...
    def last_depth(self) -> dict[str, Any]: ...
    def stats(self) -> dict[str, Any]: ...
