from typing import Any, Final

from feedhandler.core.dispatch import EventDispatcher

BP_UNKNOWN: int
BP_EXECUTION_REPORT: int
BP_ACCOUNT_POSITION: int
BP_BALANCE_UPDATE: int
BP_TERMINATED: int
BP_IGNORED_EVENT: int
BP_ACK: int
BP_PONG: int
BP_ERROR: int
BP_REJECTED: int

class BinancePrivateDecoder:
    """Compiled decoder of the Binance user-data stream (WebSocket API subscription)."""
    dispatcher: EventDispatcher
    books: None
    want_mask: int
    reconnect_on_reject: bool
    exchange: Final[str]
    subscription_id: Final[int]
    last_reject: Final[str]
    frames: int
    execution_reports: int
    order_updates: int
    fills: int
    account_positions: int
    balance_updates: int
    balance_deltas: int
    terminations: int
    ignored_events: int
    filtered: int
    acks: int
    pongs: int
    exchange_errors: int
    rejects: int
    unknown: int
    err_json: int
    err_field: int
    def __init__(self, dispatcher: EventDispatcher | None = None, books: None = None, exchange: str = "binance",
                 want_mask: int = 7, reconnect_on_reject: bool = True) -> None: ...
    def feed(self, raw: bytes | str | bytearray | memoryview, recv_ns: int) -> int: ...
    def classify(self, raw: bytes | str | bytearray | memoryview) -> int: ...
    def reset_session(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
