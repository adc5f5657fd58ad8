"""``BaseExchangeWebsocketInterface``: the old inheritance-style client API, run by the new manager.

Before the migration an exchange client was one subclass that mixed everything::

    class MexcWebsocketPublic(BaseExchangeWebsocketInterface):
        async def get_connect_url(self): ...
        def _create_subscriptions(self, symbol, action): ...
        async def _on_message(self, raw_message): ...

    ws_client = MexcWebsocketPublic(config, message_handler=handle)
    await ws_client.initialize(symbols)

Such a subclass keeps working unchanged: :func:`legacy_strategies` turns it into the three strategies
of the new architecture (:class:`LegacyConnectionStrategy` wraps ``get_connect_url``,
:class:`LegacySubscriptionStrategy` wraps ``_create_subscriptions``, :class:`LegacyMessageParser`
calls ``_on_message``) and :meth:`BaseExchangeWebsocketInterface.initialize` runs them in a
:class:`~feedhandler.core.manager.WebSocketManager`, so the old client gains the manager's
reconnects with backoff, stale-connection watchdog, application pings and keep-alive.
"""
from __future__ import annotations

import asyncio
import enum
import inspect
from abc import ABC, abstractmethod
from collections import deque
from typing import Any, Awaitable, Callable, Iterable, Sequence

from ..core.errors import FeedError, HandlerError, ParseError
from ..core.manager import WebSocketManager
from ..core.strategies import (
    ConnectionStrategy, ErrorHandler, EventHandler, Frame, MessageParser, SendFunc, SubscriptionAck,
    SubscriptionStrategy,
)
from ..core.types import ChannelType, ConnectionContext, MessageType, WebSocketManagerConfig
from ..transport.base import Transport

__all__ = [
    "BaseExchangeWebsocketInterface", "LegacyConnectionStrategy", "LegacyMessageParser",
    "LegacySubscriptionStrategy", "SubscriptionAction", "legacy_strategies",
]

_DATA = int(MessageType.DATA)


class SubscriptionAction(str, enum.Enum):
    """The ``action`` argument of ``_create_subscriptions``."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


class BaseExchangeWebsocketInterface(ABC):
    """The legacy base class. Subclasses implement the three abstract methods; the rest has defaults.

    Parameters
    ----------
    config:
        A :class:`WebSocketManagerConfig` (exchange name, channels, timeouts, transport...). The legacy
        client reads its channels from ``config.channel_types``.
    message_handler:
        Receives every event (the same ``feedhandler.events`` types the new parsers deliver).
    error_handler:
        Receives every error (parse errors, connection losses, handler exceptions).
    transport:
        Optional transport instance for the manager (tests, recordings).

    Overridable hooks (all optional)
    --------------------------------
    ``_get_message_type(raw)`` (default: DATA for every frame), ``_subscription_keys(symbol)``,
    ``_parse_ack(raw)``, ``_create_ping_message()``, ``_create_pong_message(raw)``,
    ``async _keep_alive(context)``, ``async _authenticate(send)``, ``_on_connection_lost(symbols)``,
    ``_on_unsubscribed(symbols)``, ``async _close_client()``; class attributes ``ping_interval``,
    ``keep_alive_interval``, ``max_lifetime``, ``max_subscriptions_per_connection``,
    ``max_messages_per_second``.
    """

    exchange_name: str = "legacy"
    ping_interval: float = 0.0
    keep_alive_interval: float = 0.0
    max_lifetime: float = 0.0
    max_subscriptions_per_connection: int = 100
    max_messages_per_second: float = 50.0

    def __init__(self, config: WebSocketManagerConfig | None = None, *,
                 message_handler: EventHandler | None = None, error_handler: ErrorHandler | None = None,
                 transport: Transport | None = None):
        self.config = config if config is not None else WebSocketManagerConfig(self.exchange_name)
        self.message_handler = message_handler
        self.error_handler = error_handler
        self.transport = transport
        self.events = 0
        self.handler_errors = 0
        self.recv_ns = 0  # receive time of the frame being handled (set before each _on_message)
        self._manager: WebSocketManager | None = None

    # ---- what a legacy subclass implements --------------------------------------------------------
    @abstractmethod
    async def get_connect_url(self) -> str:
        """The URL of the next connection attempt (called before every reconnect)."""

    @abstractmethod
    def _create_subscriptions(self, symbol: str, action: SubscriptionAction) -> list[str | bytes]:
        """The messages that (un)subscribe the client's channels for one symbol."""

    @abstractmethod
    async def _on_message(self, raw_message: Frame) -> None:
        """Handle one received frame; deliver events with :meth:`_publish` (or the ``_handle_*`` helpers)."""

    # ---- optional hooks ---------------------------------------------------------------------------
    @property
    def channels(self) -> list[ChannelType]:
        return list(self.config.channel_types)

    def _get_message_type(self, raw_message: Frame) -> MessageType:
        return MessageType.DATA

    def _subscription_keys(self, symbol: str) -> list[str]:
        return [f"{symbol}:{c.value}" for c in self.channels]

    def _parse_ack(self, raw_message: Frame) -> SubscriptionAck | None:
        return None

    def _create_ping_message(self) -> str | bytes | None:
        return None

    def _create_pong_message(self, raw_message: Frame) -> str | bytes | None:
        return None

    async def _keep_alive(self, context: ConnectionContext) -> None:
        return None

    async def _authenticate(self, send: SendFunc) -> bool:
        return True

    def _on_connection_lost(self, symbols: list[str]) -> None:
        return None

    def _on_unsubscribed(self, symbols: list[str]) -> None:
        return None

    async def _close_client(self) -> None:
        return None

    # ---- event delivery, the legacy handler style -------------------------------------------------
    def _publish(self, event: Any) -> None:
        """Deliver one event to the handler; a handler exception is reported, never propagated."""
        self.events += 1
        handler = self.message_handler
        if handler is None:
            return
        try:
            handler(event)
        except Exception as exc:
            self.handler_errors += 1
            err = HandlerError(f"message handler raised {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self._handle_error(err)

    _handle_orderbook = _publish
    _handle_ticker = _publish
    _handle_event = _publish

    def _handle_trades(self, trades: Iterable[Any]) -> None:
        for trade in trades:
            self._publish(trade)

    def _handle_error(self, error: BaseException) -> None:
        if self.error_handler is not None:
            self.error_handler(error)

    # ---- public API, as before the migration ------------------------------------------------------
    @property
    def manager(self) -> WebSocketManager | None:
        """The manager running this client (None before ``initialize``)."""
        return self._manager

    @property
    def is_connected(self) -> bool:
        return self._manager is not None and self._manager.is_connected

    @property
    def active_symbols(self) -> set[str]:
        return set() if self._manager is None else self._manager.active_symbols

    def create_manager(self) -> WebSocketManager:
        """A manager running this client's strategies (not started)."""
        conn, sub, parser = legacy_strategies(self)
        return WebSocketManager(self.config, conn, sub, parser, message_handler=self.message_handler,
                                error_handler=self.error_handler, transport=self.transport)

    async def initialize(self, symbols: Sequence[str]) -> None:
        """Connect and subscribe ``symbols`` (the old entry point); returns once connected."""
        if self._manager is None:
            self._manager = self.create_manager()
        await self._manager.initialize(symbols)

    async def subscribe(self, symbols: Sequence[str]) -> None:
        if self._manager is None:
            await self.initialize(symbols)
        else:
            await self._manager.subscribe(symbols)

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        if self._manager is not None:
            await self._manager.unsubscribe(symbols)

    async def close(self) -> None:
        """Close the connection(s) and release everything the client holds."""
        if self._manager is not None:
            await self._manager.close()  # calls the parser's and connection strategy's close
        else:
            await self._close_client()

    async def __aenter__(self) -> "BaseExchangeWebsocketInterface":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# ---- the adapter -----------------------------------------------------------------------------------

class LegacyConnectionStrategy(ConnectionStrategy):
    """``get_connect_url`` (sync or async) and the client's ping/keep-alive hooks as a ConnectionStrategy."""

    def __init__(self, client: BaseExchangeWebsocketInterface):
        self.client = client

    async def create_connection_context(self, is_private: bool = False, api_key: str | None = None,
                                        secret_key: str | None = None) -> ConnectionContext:
        url = self.client.get_connect_url()
        if inspect.isawaitable(url):
            url = await url
        c = self.client
        return ConnectionContext(url=str(url), ping_interval=float(c.ping_interval),
                                 keep_alive_interval=float(c.keep_alive_interval), max_lifetime=float(c.max_lifetime))

    async def authenticate(self, send_func: SendFunc, context: ConnectionContext) -> bool:
        return bool(await self.client._authenticate(send_func))

    async def handle_keep_alive(self, send_func: SendFunc, context: ConnectionContext) -> None:
        await self.client._keep_alive(context)

    def create_ping_message(self) -> str | bytes | None:
        return self.client._create_ping_message()

    def create_pong_message(self, ping_frame: Frame) -> str | bytes | None:
        return self.client._create_pong_message(ping_frame)

    async def close(self) -> None:
        await self.client._close_client()


class LegacySubscriptionStrategy(SubscriptionStrategy):
    """``_create_subscriptions(symbol, action)`` per symbol as a SubscriptionStrategy.

    The legacy client subscribes its own channels (from its config), so ``channels`` is not passed on.
    """

    def __init__(self, client: BaseExchangeWebsocketInterface):
        self.client = client
        self.max_subscriptions_per_connection = client.max_subscriptions_per_connection
        self.max_messages_per_second = client.max_messages_per_second

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        action = SubscriptionAction.SUBSCRIBE if is_subscribe else SubscriptionAction.UNSUBSCRIBE
        out: list[str | bytes] = []
        for symbol in symbols:
            out.extend(self.client._create_subscriptions(symbol, action))
        return out

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        return [k for s in symbols for k in self.client._subscription_keys(s)]

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        return self.client._parse_ack(frame)

    @property
    def acks_subscriptions(self) -> bool:  # type: ignore[override]
        # a legacy client that never parses acks cannot have them checked
        return type(self.client)._parse_ack is not BaseExchangeWebsocketInterface._parse_ack


class LegacyMessageParser(MessageParser):
    """Calls the client's ``async _on_message`` for every frame, in order.

    A legacy ``_on_message`` that never really suspends (the usual case: it decodes and calls the
    handler) is run to completion inside :meth:`feed`, so its events reach the handler before ``feed``
    returns, exactly like a compiled parser's. One that does suspend (awaits I/O) is finished by a
    task, and frames arriving meanwhile wait in a queue so that the order of frames is kept.
    """

    def __init__(self, client: BaseExchangeWebsocketInterface):
        self.client = client
        self.frames = 0
        self.errors = 0
        self.suspended = 0
        self._backlog: deque[tuple[Frame, int]] = deque()
        self._worker: asyncio.Task[None] | None = None

    def bind(self, handler: EventHandler | None, error_handler: ErrorHandler | None = None) -> None:
        super().bind(handler, error_handler)
        self.client.message_handler = handler
        self.client.error_handler = error_handler

    def get_message_type(self, raw_message: Frame) -> MessageType:
        return MessageType(self.client._get_message_type(raw_message))

    def feed(self, raw_message: Frame, recv_ns: int) -> int:
        self.frames += 1
        message_type = int(self.client._get_message_type(raw_message))
        if self._backlog or (self._worker is not None and not self._worker.done()):
            self._backlog.append((raw_message, recv_ns))
            return message_type
        self._run(raw_message, recv_ns)
        return message_type

    def _run(self, raw: Frame, recv_ns: int) -> None:
        self.client.recv_ns = recv_ns
        coro = self.client._on_message(raw)
        try:
            awaited = coro.send(None)
        except StopIteration:
            return
        except FeedError:
            self.errors += 1
            raise
        except Exception as exc:
            self.errors += 1
            raise ParseError(f"{self.client.exchange_name}: _on_message raised {type(exc).__name__}: {exc}") from exc
        # It awaited something real: finish it in a task; later frames queue behind it.
        self.suspended += 1
        self._worker = asyncio.get_running_loop().create_task(self._finish(coro, awaited))

    async def _finish(self, coro: Any, awaited: Any) -> None:
        try:
            while True:
                if awaited is None:
                    await asyncio.sleep(0)
                else:
                    await asyncio.wait([awaited])  # wait for the future the coroutine is blocked on
                try:
                    awaited = coro.send(None)
                except StopIteration:
                    break
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception as exc:
            self.errors += 1
            self.client._handle_error(exc if isinstance(exc, FeedError) else ParseError(
                f"{self.client.exchange_name}: _on_message raised {type(exc).__name__}: {exc}"))
        # drain frames that arrived meanwhile, in order, until one suspends again
        while self._backlog:
            raw, recv_ns = self._backlog.popleft()
            try:
                self._run(raw, recv_ns)
            except Exception as exc:
                self.client._handle_error(exc)
            if self._worker is not None and not self._worker.done() and self._worker is not asyncio.current_task():
                return

    def on_connection_lost(self, symbols: Iterable[str]) -> None:
        self.client._on_connection_lost(list(symbols))

    def on_unsubscribed(self, symbols: Iterable[str]) -> None:
        self.client._on_unsubscribed(list(symbols))

    def stats(self) -> dict[str, Any]:
        return {"events": self.client.events, "handler_errors": self.client.handler_errors,
                "frames": self.frames, "errors": self.errors, "suspended": self.suspended}

    async def close(self) -> None:
        worker = self._worker
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        self._backlog.clear()


def legacy_strategies(client: BaseExchangeWebsocketInterface
                      ) -> tuple[LegacyConnectionStrategy, LegacySubscriptionStrategy, LegacyMessageParser]:
    """The three strategies that run ``client`` in a :class:`WebSocketManager`."""
    return LegacyConnectionStrategy(client), LegacySubscriptionStrategy(client), LegacyMessageParser(client)
