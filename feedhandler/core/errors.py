"""The error hierarchy. Each error says what failed and what to do about it."""
from __future__ import annotations


class FeedError(Exception):
    """Base class of every error raised by feedhandler."""


class ConfigurationError(FeedError, ValueError):
    """A configuration value is invalid; the message names it and the accepted values."""


class UnknownExchangeError(ConfigurationError, KeyError):
    """No strategies are registered under the requested exchange name."""

    def __init__(self, exchange: str, known: list[str]):
        self.exchange = exchange
        self.known = known
        super().__init__(
            f"unknown exchange {exchange!r}; registered exchanges: {', '.join(known) or '(none)'}. "
            "Register one with WebSocketStrategyFactory.register()."
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConnectionFailedError(FeedError, ConnectionError):
    """Connecting to the exchange failed; the manager retries with backoff.

    ``status`` is the HTTP status of a refused WebSocket upgrade (None otherwise) and ``retry_after``
    the seconds its ``Retry-After`` header asked to wait (None when absent): the manager waits at
    least that long before the next attempt.
    """

    def __init__(self, message: str = "", status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class AuthenticationError(FeedError):
    """The exchange rejected the credentials; check the API key, secret and permissions."""


class SubscriptionError(FeedError):
    """The exchange rejected a subscription; the message carries the exchange's reason."""


class ParseError(FeedError, ValueError):
    """A frame could not be decoded. It is counted and reported; the feed goes on.

    Decoders built on the kernel set ``field`` (the JSON key or protobuf field the error is in,
    ``None`` for the frame's syntax itself) and ``offset`` (the byte offset in the frame, -1 when
    not known); the message names both.
    """

    field: "str | None" = None
    offset: int = -1


class UnsubscribedSymbolError(FeedError):
    """Frames arrived for a symbol the connection did not subscribe (reported once per name; ignored)."""


class StaleConnectionError(FeedError):
    """No frame arrived within ``stale_timeout``; the manager reconnects."""


class BookSyncError(FeedError):
    """A local order book lost continuity (gap, crossed book); it is being resynchronised."""


class RestError(FeedError):
    """A REST request failed (HTTP status, timeout or unreachable host)."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


class HandlerError(FeedError):
    """The user's message handler raised; the original exception is the ``__cause__``."""
