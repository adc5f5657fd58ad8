"""Core value types shared by the manager and every exchange's strategies."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

# The one definition lives in the decoder kernel (a cpdef enum the compiled decoders cimport).
from ..kernel.message_type import MessageType


class ChannelType(enum.Enum):
    """A kind of data stream, independent of any exchange's channel names."""

    ORDERBOOK = "orderbook"
    TRADES = "trades"
    BOOK_TICKER = "book_ticker"
    KLINE = "kline"
    TICKER = "ticker"
    # private (authenticated) channels
    ORDERS = "orders"
    FILLS = "fills"
    BALANCES = "balances"

    @property
    def is_private(self) -> bool:
        """True for channels that need an authenticated connection."""
        return self in _PRIVATE_CHANNELS

    @classmethod
    def parse(cls, name: "str | ChannelType") -> "ChannelType":
        """Accept ``ChannelType.TRADES``, ``"trades"`` or ``"TRADES"``."""
        if isinstance(name, cls):
            return name
        try:
            return cls(str(name).lower())
        except ValueError:
            known = ", ".join(c.value for c in cls)
            raise ValueError(f"unknown channel type {name!r}; known: {known}") from None


_PRIVATE_CHANNELS = frozenset({ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES})


class ConnectionState(enum.Enum):
    """Life-cycle state of one WebSocket connection owned by the manager."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    SUBSCRIBING = "subscribing"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class SubscriptionState(enum.Enum):
    """State of one subscription request sent to the exchange."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(slots=True)
class ConnectionContext:
    """Everything needed to open (and keep open) one connection.

    Created afresh by ``ConnectionStrategy.create_connection_context`` for
    every connection attempt, so a new listen key or signature is used on each
    reconnect.

    Attributes
    ----------
    url:
        WebSocket URL to connect to.
    headers:
        Extra HTTP headers for the handshake.
    auth_params:
        Strategy-private authentication data (listen key, ...). Never logged:
        the repr hides its values.
    keep_alive_interval:
        Seconds between ``handle_keep_alive`` calls (0 = never), e.g. the
        30-minute MEXC listen-key extension.
    ping_interval:
        Seconds between application-level pings (0 = none).
    is_authenticated:
        Set once ``authenticate`` succeeded (or when the URL itself carries the
        credentials).
    max_lifetime:
        Seconds after which the manager reconnects proactively (0 = never), for
        exchanges that cut connections after 24 h.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    auth_params: dict[str, Any] = field(default_factory=dict)
    keep_alive_interval: float = 0.0
    ping_interval: float = 0.0
    is_authenticated: bool = False
    max_lifetime: float = 0.0

    def __repr__(self) -> str:
        # Secrets (listen keys, signatures) must never reach logs: show only key names.
        url = self.url.split("?", 1)[0] + ("?<redacted>" if "?" in self.url else "")
        return (
            f"ConnectionContext(url={url!r}, headers={sorted(self.headers)!r}, "
            f"auth_params={sorted(self.auth_params)!r}, keep_alive_interval={self.keep_alive_interval}, "
            f"ping_interval={self.ping_interval}, is_authenticated={self.is_authenticated})"
        )


@dataclass(slots=True, frozen=True)
class ReconnectPolicy:
    """Capped exponential backoff with jitter.

    The first retry is immediate (``first_delay=0``); after that the delay is
    ``min(max_delay, base_delay * factor**(attempt-1))`` scaled by a random
    factor in ``[1 - jitter, 1]``. ``max_attempts=None`` retries forever.
    """

    base_delay: float = 0.25
    max_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    first_delay: float = 0.0
    max_attempts: int | None = None

    def delay(self, attempt: int, rand: float) -> float:
        """Delay before retry number ``attempt`` (1-based), ``rand`` in [0, 1)."""
        if attempt <= 1:
            return self.first_delay
        raw = min(self.max_delay, self.base_delay * self.factor ** (attempt - 2))
        return raw * (1.0 - self.jitter * rand)


@dataclass(slots=True)
class WebSocketManagerConfig:
    """Configuration of one ``WebSocketManager``.

    Attributes
    ----------
    exchange_name:
        Registered exchange name (``"mexc"``, ``"gateio"``, ``"binance"``, ...).
    is_private:
        Whether this manager serves authenticated (user data) channels.
    channel_types:
        Channels to subscribe for every symbol.
    reconnect:
        Backoff policy for reconnects and rejected authentication.
    stale_timeout:
        Seconds without any received frame after which a connection is
        considered dead and reconnected (0 disables the watchdog).
    connect_timeout:
        Seconds allowed for the TCP/TLS/WebSocket handshake.
    initialize_timeout:
        Seconds ``initialize``/``subscribe`` wait for every new connection to
        be up and subscribed before giving up with ``ConnectionFailedError``.
    subscribe_timeout:
        Seconds to wait for subscription acks before marking them failed.
    book_depth:
        Capacity (levels per side) of each order book.
    book_discard_limit, book_discard_timeout:
        A book whose updates are all being discarded (older than the book, e.g. ids restarted by
        the exchange) or whose connection's frames are all rejected turns invalid after this many
        frames or seconds of them, whichever comes first, and resyncs; a REST snapshot ahead of the
        stream is given up after the same bound and another is fetched.
    book_stale_after:
        Seconds without an applied update after which a LIVE book of a connected symbol is reported
        ``BookStatus(valid=False, reason="stale")`` (0, the default, disables it: a quiet market is
        normal on many exchanges).
    max_retry_after:
        Cap in seconds on a ``Retry-After`` that a refused WebSocket upgrade (429/503) asks for.
    transport:
        ``"picows"`` (default: frames handed to the parser from picows' C
        callback, about 7x the frame rate of websockets on loopback) or
        ``"websockets"`` (the reference implementation). Both pass the same
        manager and sync test suites.
    max_frame_size:
        Largest accepted frame in bytes; bigger frames close the connection.
    max_symbols_per_connection:
        Overrides the subscription strategy's own per-connection limit when set
        lower (``None`` uses the strategy's limit).
    api_key, secret_key:
        Credentials for private managers; hidden from ``repr``.
    options:
        Exchange-specific extras (e.g. ``{"speed": "10ms"}``).
    """

    exchange_name: str
    is_private: bool = False
    channel_types: list[ChannelType] = field(default_factory=lambda: [ChannelType.ORDERBOOK])
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    stale_timeout: float = 30.0
    connect_timeout: float = 10.0
    initialize_timeout: float = 30.0
    subscribe_timeout: float = 10.0
    book_depth: int = 1000
    book_discard_limit: int = 100
    book_discard_timeout: float = 2.0
    book_stale_after: float = 0.0
    max_retry_after: float = 60.0
    transport: str = "picows"
    max_frame_size: int = 16 * 1024 * 1024
    max_symbols_per_connection: int | None = None
    api_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.channel_types = [ChannelType.parse(c) for c in self.channel_types]
        if self.stale_timeout < 0 or self.connect_timeout <= 0:
            raise ValueError("stale_timeout must be >= 0 and connect_timeout > 0")
        if self.book_depth < 1:
            raise ValueError("book_depth must be at least 1")
        if self.book_discard_limit < 1 or not self.book_discard_timeout >= 0:
            raise ValueError("book_discard_limit must be >= 1 and book_discard_timeout >= 0")
        if not self.book_stale_after >= 0 or not self.max_retry_after >= 0:
            raise ValueError("book_stale_after and max_retry_after must be >= 0")
