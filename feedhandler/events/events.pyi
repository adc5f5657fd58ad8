"""Normalized events handed to the engine, and the pools they come from (stubs).

An event taken from an ``EventPool`` is valid until the handler returns: after
``size`` more acquisitions from that pool it is overwritten. Keep one with ``copy()``.
"""
import enum
from typing import Any, Final, final

__all__ = [
    "Side",
    "Event",
    "Trade",
    "BookTicker",
    "Kline",
    "Ticker",
    "BookUpdate",
    "BookStatus",
    "OrderUpdate",
    "Fill",
    "BalanceUpdate",
    "EventPool",
    "EVENT_CLASSES",
]

class Side(enum.IntEnum):
    """Trade or order side (the ``SIDE_*`` constants of ``events.pxd``)."""

    UNKNOWN = 0
    BUY = 1
    SELL = 2

class Event:
    """Base of every event."""

    @property
    def exchange(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def exchange_ts_ns(self) -> int: ...
    @property
    def recv_ns(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Trade(Event):
    """A public trade."""

    @property
    def price(self) -> float: ...
    @property
    def qty(self) -> float: ...
    @property
    def side(self) -> int: ...
    @property
    def trade_id(self) -> int: ...
    @property
    def trade_id_str(self) -> str: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        price: float = 0.0,
        qty: float = 0.0,
        side: int = 0,
        trade_id: int = -1,
        trade_id_str: str = '',
    ) -> None: ...
    def copy(self) -> Trade: ...

@final
class BookTicker(Event):
    """Best bid and ask."""

    @property
    def bid_price(self) -> float: ...
    @property
    def bid_qty(self) -> float: ...
    @property
    def ask_price(self) -> float: ...
    @property
    def ask_qty(self) -> float: ...
    @property
    def update_id(self) -> int: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        bid_price: float = 0.0,
        bid_qty: float = 0.0,
        ask_price: float = 0.0,
        ask_qty: float = 0.0,
        update_id: int = 0,
    ) -> None: ...
    def copy(self) -> BookTicker: ...

@final
class Kline(Event):
    """A candlestick."""

    @property
    def interval(self) -> str: ...
    @property
    def open_time_ns(self) -> int: ...
    @property
    def close_time_ns(self) -> int: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...
    @property
    def quote_volume(self) -> float: ...
    @property
    def closed(self) -> bool: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        interval: str = '',
        open_time_ns: int = 0,
        close_time_ns: int = 0,
        open: float = 0.0,
        high: float = 0.0,
        low: float = 0.0,
        close: float = 0.0,
        volume: float = 0.0,
        quote_volume: float = 0.0,
        closed: bool = False,
    ) -> None: ...
    def copy(self) -> Kline: ...

@final
class Ticker(Event):
    """A 24h / mini ticker."""

    @property
    def last(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def volume(self) -> float: ...
    @property
    def quote_volume(self) -> float: ...
    @property
    def change_pct(self) -> float: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        last: float = 0.0,
        high: float = 0.0,
        low: float = 0.0,
        volume: float = 0.0,
        quote_volume: float = 0.0,
        change_pct: float = 0.0,
    ) -> None: ...
    def copy(self) -> Ticker: ...

@final
class BookUpdate(Event):
    """The local order book changed."""

    @property
    def book(self) -> Any: ...
    @property
    def first_update_id(self) -> int: ...
    @property
    def last_update_id(self) -> int: ...
    @property
    def is_snapshot(self) -> bool: ...
    @property
    def parsed_ns(self) -> int: ...
    @property
    def applied_ns(self) -> int: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        book: Any = None,
        first_update_id: int = 0,
        last_update_id: int = 0,
        is_snapshot: bool = False,
        parsed_ns: int = 0,
        applied_ns: int = 0,
    ) -> None: ...
    def copy(self) -> BookUpdate: ...

@final
class BookStatus(Event):
    """A book became valid, invalid, or valid again."""

    @property
    def valid(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def update_id(self) -> int: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        valid: bool = False,
        reason: str = '',
        update_id: int = 0,
    ) -> None: ...
    def copy(self) -> BookStatus: ...

@final
class OrderUpdate(Event):
    """A private order changed (new, partially filled, filled, cancelled...)."""

    @property
    def order_id(self) -> str: ...
    @property
    def client_order_id(self) -> str: ...
    @property
    def side(self) -> int: ...
    @property
    def order_type(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def qty(self) -> float: ...
    @property
    def filled_qty(self) -> float: ...
    @property
    def avg_price(self) -> float: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        order_id: str = '',
        client_order_id: str = '',
        side: int = 0,
        order_type: str = '',
        status: str = '',
        price: float = 0.0,
        qty: float = 0.0,
        filled_qty: float = 0.0,
        avg_price: float = 0.0,
    ) -> None: ...
    def copy(self) -> OrderUpdate: ...

@final
class Fill(Event):
    """A private execution of one of our orders."""

    @property
    def order_id(self) -> str: ...
    @property
    def trade_id(self) -> str: ...
    @property
    def side(self) -> int: ...
    @property
    def price(self) -> float: ...
    @property
    def qty(self) -> float: ...
    @property
    def fee(self) -> float: ...
    @property
    def fee_asset(self) -> str: ...
    @property
    def is_maker(self) -> bool: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        order_id: str = '',
        trade_id: str = '',
        side: int = 0,
        price: float = 0.0,
        qty: float = 0.0,
        fee: float = 0.0,
        fee_asset: str = '',
        is_maker: bool = False,
    ) -> None: ...
    def copy(self) -> Fill: ...

@final
class BalanceUpdate(Event):
    """A private balance changed."""

    @property
    def asset(self) -> str: ...
    @property
    def free(self) -> float: ...
    @property
    def locked(self) -> float: ...
    def __init__(
        self,
        *,
        exchange: str = '',
        symbol: str = '',
        exchange_ts_ns: int = 0,
        recv_ns: int = 0,
        asset: str = '',
        free: float = 0.0,
        locked: float = 0.0,
    ) -> None: ...
    def copy(self) -> BalanceUpdate: ...

EVENT_CLASSES: Final[tuple[type[Event], ...]]

@final
class EventPool:
    """A ring of ``size`` preallocated events of one class, handed out in turn."""

    @property
    def cls(self) -> type[Event]: ...
    @property
    def size(self) -> int: ...
    def __init__(self, cls: type[Event], size: int = 256) -> None: ...
    def acquire(self) -> Any:
        """The next event of the ring (reused after ``size`` more acquisitions)."""
    def __len__(self) -> int: ...
