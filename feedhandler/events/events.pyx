"""Normalized events handed to the engine, and the pools they come from.

Every event is a typed ``cdef class`` with read-only attributes, a keyword
``__init__`` (every field has a default), ``copy()``, ``to_dict()`` and a
readable ``repr``. On the hot path, parsers take events from an
:class:`EventPool` and fill the fields from Cython (see ``events.pxd``); such an
event is valid until the handler returns: after ``size`` more acquisitions from
the same pool it is overwritten. Call ``event.copy()`` to keep one.
"""
import enum

cimport cython
from libc.stdint cimport int64_t

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

    UNKNOWN = SIDE_UNKNOWN
    BUY = SIDE_BUY
    SELL = SIDE_SELL


cdef int _check_side(int side) except -1:
    if side != SIDE_UNKNOWN and side != SIDE_BUY and side != SIDE_SELL:
        raise ValueError(f"side must be 0 (UNKNOWN), 1 (BUY) or 2 (SELL), got {side}")
    return side


cdef class Event:
    """Base of every event: ``exchange``, ``symbol``, ``exchange_ts_ns``, ``recv_ns``.

    Not instantiated itself; see the concrete classes. Events compare by
    identity; compare ``to_dict()`` for equal contents.
    """

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        raise NotImplementedError

    def __repr__(self) -> str:
        parts = []
        for name, value in self.to_dict().items():
            if name == "side":
                value = Side(value).name if 0 <= value <= 2 else value
                parts.append(f"side={value}")
            elif name == "book" and value is not None:
                parts.append(f"book=<{type(value).__name__}>")  # a book's repr may be huge
            else:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


@cython.final
cdef class Trade(Event):
    """A public trade.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    price : float
        Trade price.
    qty : float
        Traded quantity.
    side : int
        Taker side (``Side``).
    trade_id : int
        Exchange trade id, or -1 if the exchange id is not an integer.
    trade_id_str : str
        The exchange trade id as text when it is not an integer, else ``''``.
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        double price=0.0,
        double qty=0.0,
        int side=SIDE_UNKNOWN,
        int64_t trade_id=-1,
        str trade_id_str not None='',
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.price = price
        self.qty = qty
        self.side = _check_side(side)
        self.trade_id = trade_id
        self.trade_id_str = trade_id_str

    cpdef Trade copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef Trade c = Trade.__new__(Trade)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.price = self.price
        c.qty = self.qty
        c.side = self.side
        c.trade_id = self.trade_id
        c.trade_id_str = self.trade_id_str
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "price": self.price,
            "qty": self.qty,
            "side": self.side,
            "trade_id": self.trade_id,
            "trade_id_str": self.trade_id_str,
        }


@cython.final
cdef class BookTicker(Event):
    """Best bid and ask.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    bid_price : float
        Best bid price.
    bid_qty : float
        Quantity at the best bid.
    ask_price : float
        Best ask price.
    ask_qty : float
        Quantity at the best ask.
    update_id : int
        Exchange update id / book version (0 if none).
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        double bid_price=0.0,
        double bid_qty=0.0,
        double ask_price=0.0,
        double ask_qty=0.0,
        int64_t update_id=0,
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.bid_price = bid_price
        self.bid_qty = bid_qty
        self.ask_price = ask_price
        self.ask_qty = ask_qty
        self.update_id = update_id

    cpdef BookTicker copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef BookTicker c = BookTicker.__new__(BookTicker)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.bid_price = self.bid_price
        c.bid_qty = self.bid_qty
        c.ask_price = self.ask_price
        c.ask_qty = self.ask_qty
        c.update_id = self.update_id
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "bid_price": self.bid_price,
            "bid_qty": self.bid_qty,
            "ask_price": self.ask_price,
            "ask_qty": self.ask_qty,
            "update_id": self.update_id,
        }


@cython.final
cdef class Kline(Event):
    """A candlestick.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    interval : str
        Interval as the exchange names it, e.g. ``'Min1'``, ``'1m'``.
    open_time_ns : int
        Start of the interval, ns since the epoch.
    close_time_ns : int
        End of the interval, ns since the epoch.
    open : float
        Open price.
    high : float
        High price.
    low : float
        Low price.
    close : float
        Close (last) price.
    volume : float
        Base-asset volume.
    quote_volume : float
        Quote-asset volume.
    closed : bool
        True when the interval is final.
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        str interval not None='',
        int64_t open_time_ns=0,
        int64_t close_time_ns=0,
        double open=0.0,
        double high=0.0,
        double low=0.0,
        double close=0.0,
        double volume=0.0,
        double quote_volume=0.0,
        bint closed=False,
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.interval = interval
        self.open_time_ns = open_time_ns
        self.close_time_ns = close_time_ns
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.quote_volume = quote_volume
        self.closed = closed

    cpdef Kline copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef Kline c = Kline.__new__(Kline)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.interval = self.interval
        c.open_time_ns = self.open_time_ns
        c.close_time_ns = self.close_time_ns
        c.open = self.open
        c.high = self.high
        c.low = self.low
        c.close = self.close
        c.volume = self.volume
        c.quote_volume = self.quote_volume
        c.closed = self.closed
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "interval": self.interval,
            "open_time_ns": self.open_time_ns,
            "close_time_ns": self.close_time_ns,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "quote_volume": self.quote_volume,
            "closed": self.closed,
        }


@cython.final
cdef class Ticker(Event):
    """A 24h / mini ticker.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    last : float
        Last price.
    high : float
        24h high.
    low : float
        24h low.
    volume : float
        24h base-asset volume.
    quote_volume : float
        24h quote-asset volume.
    change_pct : float
        24h price change in percent.
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        double last=0.0,
        double high=0.0,
        double low=0.0,
        double volume=0.0,
        double quote_volume=0.0,
        double change_pct=0.0,
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.last = last
        self.high = high
        self.low = low
        self.volume = volume
        self.quote_volume = quote_volume
        self.change_pct = change_pct

    cpdef Ticker copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef Ticker c = Ticker.__new__(Ticker)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.last = self.last
        c.high = self.high
        c.low = self.low
        c.volume = self.volume
        c.quote_volume = self.quote_volume
        c.change_pct = self.change_pct
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "last": self.last,
            "high": self.high,
            "low": self.low,
            "volume": self.volume,
            "quote_volume": self.quote_volume,
            "change_pct": self.change_pct,
        }


@cython.final
cdef class BookUpdate(Event):
    """The local order book changed.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    book : object
        The live ``OrderBook``, owned by the feed: valid until the handler returns.
    first_update_id : int
        First exchange update id applied by this update.
    last_update_id : int
        Last exchange update id applied (the book's sequence now).
    is_snapshot : bool
        True when the book was (re)loaded from a snapshot.
    parsed_ns, applied_ns : int
        Monotonic ns when the delta was decoded and when it was applied to the
        book; set only when the feed is profiled (``BookSyncGroup.profiling``), 0 otherwise.
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        object book=None,
        int64_t first_update_id=0,
        int64_t last_update_id=0,
        bint is_snapshot=False,
        int64_t parsed_ns=0,
        int64_t applied_ns=0,
    ):
        self.parsed_ns = parsed_ns
        self.applied_ns = applied_ns
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.book = book
        self.first_update_id = first_update_id
        self.last_update_id = last_update_id
        self.is_snapshot = is_snapshot

    cpdef BookUpdate copy(self):
        """An independent copy; the book is copied with ``book.copy()`` (None stays None)."""
        cdef BookUpdate c = BookUpdate.__new__(BookUpdate)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.book = None if self.book is None else self.book.copy()
        c.first_update_id = self.first_update_id
        c.last_update_id = self.last_update_id
        c.is_snapshot = self.is_snapshot
        c.parsed_ns = self.parsed_ns
        c.applied_ns = self.applied_ns
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "book": self.book,
            "first_update_id": self.first_update_id,
            "last_update_id": self.last_update_id,
            "is_snapshot": self.is_snapshot,
            "parsed_ns": self.parsed_ns,
            "applied_ns": self.applied_ns,
        }


@cython.final
cdef class BookStatus(Event):
    """A book became valid, invalid, or valid again.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    valid : bool
        True when the book is in sync with the exchange.
    reason : str
        Why the status changed (e.g. ``'gap'``, ``'snapshot loaded'``).
    update_id : int
        The book's last update id at the change.
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        bint valid=False,
        str reason not None='',
        int64_t update_id=0,
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.valid = valid
        self.reason = reason
        self.update_id = update_id

    cpdef BookStatus copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef BookStatus c = BookStatus.__new__(BookStatus)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.valid = self.valid
        c.reason = self.reason
        c.update_id = self.update_id
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "valid": self.valid,
            "reason": self.reason,
            "update_id": self.update_id,
        }


@cython.final
cdef class OrderUpdate(Event):
    """A private order changed (new, partially filled, filled, cancelled...).

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    order_id : str
        Exchange order id.
    client_order_id : str
        Client order id (``''`` if none).
    side : int
        Order side (``Side``).
    order_type : str
        Order type as the exchange names it.
    status : str
        Order status as the exchange names it.
    price : float
        Limit price (0 for market orders).
    qty : float
        Order quantity.
    filled_qty : float
        Cumulative filled quantity.
    avg_price : float
        Average fill price (0 before the first fill).
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        str order_id not None='',
        str client_order_id not None='',
        int side=SIDE_UNKNOWN,
        str order_type not None='',
        str status not None='',
        double price=0.0,
        double qty=0.0,
        double filled_qty=0.0,
        double avg_price=0.0,
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.side = _check_side(side)
        self.order_type = order_type
        self.status = status
        self.price = price
        self.qty = qty
        self.filled_qty = filled_qty
        self.avg_price = avg_price

    cpdef OrderUpdate copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef OrderUpdate c = OrderUpdate.__new__(OrderUpdate)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.order_id = self.order_id
        c.client_order_id = self.client_order_id
        c.side = self.side
        c.order_type = self.order_type
        c.status = self.status
        c.price = self.price
        c.qty = self.qty
        c.filled_qty = self.filled_qty
        c.avg_price = self.avg_price
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "side": self.side,
            "order_type": self.order_type,
            "status": self.status,
            "price": self.price,
            "qty": self.qty,
            "filled_qty": self.filled_qty,
            "avg_price": self.avg_price,
        }


@cython.final
cdef class Fill(Event):
    """A private execution of one of our orders.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    order_id : str
        Exchange order id.
    trade_id : str
        Exchange trade id.
    side : int
        Our side (``Side``).
    price : float
        Fill price.
    qty : float
        Fill quantity.
    fee : float
        Fee charged.
    fee_asset : str
        Asset the fee was charged in.
    is_maker : bool
        True when our order was the maker.
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        str order_id not None='',
        str trade_id not None='',
        int side=SIDE_UNKNOWN,
        double price=0.0,
        double qty=0.0,
        double fee=0.0,
        str fee_asset not None='',
        bint is_maker=False,
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.order_id = order_id
        self.trade_id = trade_id
        self.side = _check_side(side)
        self.price = price
        self.qty = qty
        self.fee = fee
        self.fee_asset = fee_asset
        self.is_maker = is_maker

    cpdef Fill copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef Fill c = Fill.__new__(Fill)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.order_id = self.order_id
        c.trade_id = self.trade_id
        c.side = self.side
        c.price = self.price
        c.qty = self.qty
        c.fee = self.fee
        c.fee_asset = self.fee_asset
        c.is_maker = self.is_maker
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "order_id": self.order_id,
            "trade_id": self.trade_id,
            "side": self.side,
            "price": self.price,
            "qty": self.qty,
            "fee": self.fee,
            "fee_asset": self.fee_asset,
            "is_maker": self.is_maker,
        }


@cython.final
cdef class BalanceUpdate(Event):
    """A private balance changed.

    Taken from an :class:`EventPool` it is valid until the handler returns;
    call :meth:`copy` to keep it.

    Attributes
    ----------
    exchange : str
        Exchange name, e.g. ``'mexc'``.
    symbol : str
        Exchange symbol, e.g. ``'BTCUSDT'``.
    exchange_ts_ns : int
        The exchange's own timestamp in ns since the epoch (0 if unknown).
    recv_ns : int
        Monotonic ns when the frame carrying the event was received.
    asset : str
        Asset, e.g. ``'USDT'``.
    free : float
        Available amount.
    locked : float
        Amount locked in orders.
    """

    def __init__(
        self,
        *,
        str exchange not None='',
        str symbol not None='',
        int64_t exchange_ts_ns=0,
        int64_t recv_ns=0,
        str asset not None='',
        double free=0.0,
        double locked=0.0,
    ):
        self.exchange = exchange
        self.symbol = symbol
        self.exchange_ts_ns = exchange_ts_ns
        self.recv_ns = recv_ns
        self.asset = asset
        self.free = free
        self.locked = locked

    cpdef BalanceUpdate copy(self):
        """An independent copy (for keeping a pooled event past the handler)."""
        cdef BalanceUpdate c = BalanceUpdate.__new__(BalanceUpdate)
        c.exchange = self.exchange
        c.symbol = self.symbol
        c.exchange_ts_ns = self.exchange_ts_ns
        c.recv_ns = self.recv_ns
        c.asset = self.asset
        c.free = self.free
        c.locked = self.locked
        return c

    def to_dict(self) -> dict:
        """The fields as a dict; ``type(self)(**d)`` rebuilds an equal event."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "exchange_ts_ns": self.exchange_ts_ns,
            "recv_ns": self.recv_ns,
            "asset": self.asset,
            "free": self.free,
            "locked": self.locked,
        }


#: The concrete event classes (what :class:`EventPool` accepts).
EVENT_CLASSES = (Trade, BookTicker, Kline, Ticker, BookUpdate, BookStatus, OrderUpdate, Fill, BalanceUpdate)


@cython.final
cdef class EventPool:
    """A ring of preallocated events of one class, handed out in turn.

    ``acquire()`` returns the next object of the ring without allocating. The
    object is the caller's until the handler that receives it returns: after
    ``size`` more acquisitions the same object is handed out (and overwritten)
    again. The fields still hold the previous event's values: set every field.
    Use ``event.copy()`` to keep an event. Not thread-safe: one pool per feed.

    Parameters
    ----------
    cls : type
        A concrete event class, e.g. :class:`Trade`.
    size : int
        Number of objects in the ring (at least 1).
    """

    def __cinit__(self, type cls not None, Py_ssize_t size=256):
        # __cinit__, not __init__: the ring exists even if __init__ is skipped,
        # so acquire() can never index a missing list.
        if cls not in EVENT_CLASSES:
            raise TypeError(f"cls must be one of {[c.__name__ for c in EVENT_CLASSES]}, got {cls!r}")
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.cls = cls
        self.size = size
        self._ring = [cls() for _ in range(size)]
        self._next = 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cpdef object acquire(self):
        """The next event of the ring (reused: valid for the next ``size - 1`` acquisitions)."""
        # Bound: _ring holds exactly `size` items (built in __cinit__, never
        # resized) and _next stays in [0, size), so the index is in range.
        item = self._ring[self._next]
        self._next += 1
        if self._next == self.size:
            self._next = 0
        return item

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"EventPool({self.cls.__name__}, size={self.size})"
