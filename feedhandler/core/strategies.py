"""The three strategy interfaces a ``WebSocketManager`` is composed of.

An exchange is one implementation of each (plus its REST helper), registered
with :class:`~feedhandler.core.factory.WebSocketStrategyFactory`. The manager
never knows which exchange it talks to.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Sequence

from .errors import HandlerError
from .types import ChannelType, ConnectionContext, MessageType

SendFunc = Callable[[str | bytes], Awaitable[None]]
Frame = str | bytes | bytearray | memoryview


class ConnectionStrategy(ABC):
    """How to reach an exchange: URL, authentication and keep-alive.

    ``create_connection_context`` is called before *every* connection attempt,
    so credentials that expire (listen keys, signed URLs) are renewed on each
    reconnect.
    """

    @abstractmethod
    async def create_connection_context(
        self, is_private: bool = False, api_key: str | None = None, secret_key: str | None = None
    ) -> ConnectionContext:
        """Return the URL, headers and timers for the next connection attempt."""

    async def authenticate(self, send_func: SendFunc, context: ConnectionContext) -> bool:
        """Authenticate an open connection; return False if the exchange refused.

        The default does nothing (public feeds, or credentials in the URL).
        """
        return True

    async def handle_keep_alive(self, send_func: SendFunc, context: ConnectionContext) -> None:
        """Called every ``context.keep_alive_interval`` seconds (e.g. extend a listen key)."""

    def endpoint_url(self, url: str, endpoint: str) -> str:
        """The URL of a connection for the non-default ``endpoint`` a subscription strategy names
        (:meth:`SubscriptionStrategy.endpoint`), from the context's ``url``. Default: ``url`` unchanged."""
        return url

    def create_ping_message(self) -> str | bytes | None:
        """The application-level ping sent every ``context.ping_interval`` seconds, or None."""
        return None

    def create_pong_message(self, ping_frame: Frame) -> str | bytes | None:
        """The reply to an application-level ping from the server, or None."""
        return None

    def on_control(self, message_type: int, raw: Frame, context: ConnectionContext | None) -> None:
        """An ``AUTH_ACK`` or ``ERROR`` frame arrived on the connection of ``context`` (e.g. the answer to a
        login sent by :meth:`authenticate`, which may be waiting for it). Default: nothing."""

    async def close(self) -> None:
        """Release what the strategy holds (delete a listen key, close a REST session)."""


class UrlConnectionStrategy(ConnectionStrategy):
    """A connection to ``self.url`` with an application ping every ``self.ping_interval`` seconds (0: none).

    The shape of most exchanges: a public side that passes ``url`` (and ``ping_interval``) to this
    ``__init__``, and a private side that also sets ``_credentials`` (a
    :class:`~feedhandler.core.credentials.Credentials`), handed to :meth:`authenticate` in
    ``context.auth_params["credentials"]`` (overridden by the call's keys) and shown by the repr only as the
    credentials' own redacted repr.

    Parameters
    ----------
    url:
        The WebSocket URL: an exchange's strategy passes its ``ws_url`` argument (the simulator's URL) or
        its default.
    ping_interval:
        Seconds between application pings (0: none).
    """

    url: str = ""
    ping_interval: float = 0.0
    _credentials: Any = None

    def __init__(self, url: str, ping_interval: float = 0.0) -> None:
        self.url = url
        self.ping_interval = float(ping_interval)

    async def create_connection_context(self, is_private: bool = False, api_key: str | None = None,
                                        secret_key: str | None = None) -> ConnectionContext:
        if self._credentials is None:
            return ConnectionContext(url=self.url, ping_interval=self.ping_interval)
        creds = self._credentials.overridden(api_key, secret_key)
        return ConnectionContext(url=self.url, ping_interval=self.ping_interval, auth_params={"credentials": creds})

    def __repr__(self) -> str:
        shown = f"credentials={self._credentials!r}" if self._credentials is not None else \
            f"ping_interval={self.ping_interval}"
        return f"{type(self).__name__}(url={self.url!r}, {shown})"


@dataclass(slots=True)
class SubscriptionAck:
    """What a control frame said about subscriptions.

    ``confirmed``/``failed`` hold subscription keys as returned by
    :meth:`SubscriptionStrategy.subscription_keys`.
    """

    confirmed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reason: str | None = None


class SubscriptionStrategy(ABC):
    """How to ask an exchange for channels: message format and limits.

    Attributes
    ----------
    max_subscriptions_per_connection:
        Streams (symbol x channel) one connection may carry; the manager opens
        more connections beyond it.
    max_messages_per_second:
        Outgoing message rate limit of one connection (pings included); the
        manager paces its writes to stay under it.
    acks_subscriptions:
        False for feeds that never acknowledge (no timeout check then).
    """

    max_subscriptions_per_connection: int = 100
    max_messages_per_second: float = 50.0
    #: Whether the exchange acknowledges subscriptions; the manager then reports keys left
    #: unacknowledged after ``WebSocketManagerConfig.subscribe_timeout``.
    acks_subscriptions: bool = True

    @abstractmethod
    def create_subscription_messages(
        self, symbols: Sequence[str], channels: Sequence[ChannelType], is_subscribe: bool
    ) -> list[str | bytes]:
        """The messages that (un)subscribe ``channels`` for ``symbols``."""

    @abstractmethod
    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        """One key per stream (the exchange's channel name), used to count and track acks."""

    def endpoint(self, channel: ChannelType) -> str:
        """The endpoint ``channel`` is served on: ``""`` (default) for the connection strategy's URL, else a
        name that :meth:`ConnectionStrategy.endpoint_url` maps to another URL (OKX candles: ``"business"``).
        The manager keeps each endpoint's channels on connections of their own; a non-default endpoint must
        not carry book channels (its connection losses and rejected frames leave the books alone)."""
        return ""

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        """Interpret a control frame (ack or error) the parser classified; None if not about subscriptions.

        The fallback for parsers that are not compiled decoders: with one, the manager calls
        :meth:`ack_from_control` with what the decoder already read from the frame instead.
        """
        return None

    def ack_from_control(self, message_type: int, control_id: int, control_code: int,
                         control_text: str | None) -> Any:
        """Interpret a control frame from its decoded classification; the frame is not parsed again.

        Parameters
        ----------
        message_type : int
            ``MessageType.SUBSCRIPTION_ACK`` or ``MessageType.ERROR``.
        control_id : int
            The request id the frame answers (-1: none), as the compiled decoder read it.
        control_code : int
            The exchange's error code (0: none).
        control_text : str or None
            The channel/topic, or the error message.

        Returns
        -------
        SubscriptionAck, None or NotImplemented
            As :meth:`parse_ack`; ``NotImplemented`` (the default, and what a strategy returns when the
            decoder left the fields empty) makes the manager call :meth:`parse_ack` with the frame.
        """
        return NotImplemented

    def channel_name(self, symbol: str, channel: ChannelType) -> str:
        """The exchange's stream name for one symbol and channel (default: first key)."""
        return self.subscription_keys([symbol], [channel])[0]


EventHandler = Callable[[Any], Any]
ErrorHandler = Callable[[BaseException], Any]


class MessageParser(ABC):
    """Turns received frames into events delivered to a handler.

    The manager calls the synchronous :meth:`feed` once per frame; compiled
    parsers deliver each event straight from C to the bound handler (one
    Python-level call per event). Events may come from pools: they are valid
    until the handler returns; call ``event.copy()`` to keep one.
    :meth:`parse_message` is the migration guide's async-generator form, kept
    for compatibility (it yields copies and is slower).
    """

    handler: EventHandler | None = None
    error_handler: ErrorHandler | None = None

    def bind(self, handler: EventHandler | None, error_handler: ErrorHandler | None = None) -> None:
        """Set where events (and errors raised by the handler) go."""
        self.handler = handler
        self.error_handler = error_handler

    @abstractmethod
    def get_message_type(self, raw_message: Frame) -> MessageType:
        """Classify a frame by quick inspection, without fully parsing it."""

    @abstractmethod
    def feed(self, raw_message: Frame, recv_ns: int) -> int:
        """Parse one frame, deliver its events to the handler and return its ``MessageType``.

        Raises
        ------
        ParseError
            The frame is malformed; nothing of it was applied.
        """

    def emit(self, event: Any) -> None:
        """Deliver one event; an exception in the handler is reported, never propagated."""
        handler = self.handler
        if handler is None:
            return
        try:
            handler(event)
        except Exception as exc:  # the feed must go on whatever the handler does
            if self.error_handler is not None:
                err = HandlerError(f"message handler raised {type(exc).__name__}: {exc}")
                err.__cause__ = exc
                self.error_handler(err)

    def on_connection_lost(self, symbols: Iterable[str]) -> None:
        """The connection carrying ``symbols`` dropped: books for them are no longer trustworthy."""

    def on_unsubscribed(self, symbols: Iterable[str]) -> None:
        """``symbols`` were unsubscribed: release their state."""

    def set_book_recovery(self, recover: Callable[[str], None] | None) -> None:
        """The manager hands over ``recover(symbol)``, its in-band book recovery.

        A parser whose book stream carries its own snapshots (no REST snapshot) calls it when a book
        of ``symbol`` needs a fresh one (a gap, a checksum mismatch): the manager unsubscribes and
        subscribes that symbol's book channel again, with backoff, until :meth:`awaits_snapshot`
        says the book is back. The default parser has no such books and ignores it.
        """

    def awaits_snapshot(self, symbol: str) -> bool:
        """True while an in-band book of ``symbol`` waits for the snapshot a recovery asked for."""
        return False
    def on_subscribed(self, symbols: Iterable[str]) -> None:
        """``symbols`` are about to be subscribed (before any message goes out); state for others is refused."""

    def on_frame_rejected(self, symbols: Iterable[str], now_ns: int) -> None:
        """A frame on the connection carrying ``symbols`` failed to decode (a ``ParseError``)."""

    def check_stale(self, symbols: Iterable[str], seconds: float) -> list[str]:
        """Report the books of ``symbols`` without an update for ``seconds`` as stale; returns them."""
        return []

    def configure(self, config: Any) -> None:
        """Take settings from the manager's ``WebSocketManagerConfig`` (e.g. ``book_depth``) before the first frame."""

    def stats(self) -> dict[str, Any]:
        """Counters (at least ``events`` and ``handler_errors`` when the parser tracks them)."""
        return {}

    async def close(self) -> None:
        """Stop background work (snapshot fetches); the manager calls it from ``close()``."""

    async def parse_message(self, raw_message: Frame, channel: str | None = None) -> AsyncIterator[Any]:
        """Compatibility form from the migration guide: yield the frame's events (as copies)."""
        collected: list[Any] = []
        saved = self.handler, self.error_handler

        def collect(event: Any) -> None:
            collected.append(event.copy() if hasattr(event, "copy") else event)

        self.bind(collect, saved[1])
        try:
            self.feed(raw_message, 0)
        finally:
            self.bind(*saved)
        for event in collected:
            yield event
