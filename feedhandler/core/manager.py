"""``WebSocketManager``: the exchange-agnostic connection life cycle.

The manager owns connections, never exchange knowledge. For each connection
it runs one task that connects (with a fresh ``ConnectionContext``),
authenticates, subscribes and then receives frames until the connection ends,
after which it reconnects with capped exponential backoff and resubscribes.
Beside the receive loop, per connection: a writer that paces outgoing
messages under the exchange's rate limit, the application ping, the strategy's
keep-alive, and a watchdog that reconnects a silent (stale) connection.

The data path is synchronous: the transport calls the connection's compiled
``FrameSink`` for each frame, which calls the parser's ``feed`` once; compiled
parsers deliver events to the handler from C.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .errors import (
    AuthenticationError,
    ConnectionFailedError,
    FeedError,
    ParseError,
    StaleConnectionError,
    SubscriptionError,
)
from .sink import FrameSink
from .strategies import ConnectionStrategy, MessageParser, SubscriptionAck, SubscriptionStrategy
from .types import (
    ChannelType,
    ConnectionContext,
    ConnectionState,
    MessageType,
    SubscriptionState,
    WebSocketManagerConfig,
)
from ..transport.base import Transport, TransportConnection, create_transport

log = logging.getLogger("feedhandler.manager")

_SEND_QUEUE_SIZE = 4096
_RECOVERY_POLL = 0.05  # s between checks of whether a resubscribed book got its snapshot


@dataclass(slots=True)
class ConnectionMetrics:
    """Counters and state of one connection (a snapshot)."""

    connection_id: int
    state: str
    symbols: list[str]
    frames: int
    bytes: int
    parse_errors: int
    reconnects: int
    last_frame_ns: int
    subscriptions: dict[str, str]
    last_error: str | None


@dataclass(slots=True)
class ManagerMetrics:
    """Counters of a manager (a snapshot), summed over its connections."""

    frames: int = 0
    bytes: int = 0
    events: int = 0
    parse_errors: int = 0
    handler_errors: int = 0
    reconnects: int = 0
    book_recoveries: int = 0
    connections: list[ConnectionMetrics] = field(default_factory=list)


class _Connection:
    """One shard of the subscriptions and the task that keeps it connected."""

    def __init__(self, manager: "WebSocketManager", connection_id: int, symbols: Iterable[str],
                 endpoint: str = "", channels: Sequence[ChannelType] | None = None):
        self.manager = manager
        self.id = connection_id
        # the endpoint ("": the connection strategy's URL) and the channels this connection carries
        self.endpoint = endpoint
        self.channels = list(manager.config.channel_types if channels is None else channels)
        self.symbols: dict[str, None] = dict.fromkeys(symbols)  # ordered set
        self.state = ConnectionState.DISCONNECTED
        self.subscriptions: dict[str, SubscriptionState] = {}
        self.ws: TransportConnection | None = None
        self.context: ConnectionContext | None = None
        self.reconnects = 0
        self.last_error: str | None = None
        self.end_error: FeedError | None = None  # why the manager itself ended the connection
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.send_queue: asyncio.Queue[str | bytes] | None = None
        self.timers: list[asyncio.TimerHandle] = []
        self.retry_after: float | None = None  # seconds a refused upgrade asked to wait before the next attempt
        # The data path: the transport calls this compiled sink for every frame (counts, parse, route).
        self.sink = FrameSink(manager.message_parser.feed, self._on_control, self._on_error)

    def _on_control(self, message_type: int, raw: str | bytes) -> None:
        self.manager._on_control(self, message_type, raw)

    def _on_error(self, error: BaseException) -> None:
        if isinstance(error, ParseError) and not self.endpoint:
            # the rejected frame may have been an update of any book on this connection
            self.manager.message_parser.on_frame_rejected(self.symbols, time.monotonic_ns())
        self.manager._report(error)

    def send_nowait(self, message: str | bytes) -> None:
        """Queue a message for the writer (dropped with an error if the queue is full)."""
        queue = self.send_queue
        if queue is None:
            return
        try:
            queue.put_nowait(message)
        except asyncio.QueueFull:
            self.manager._report(FeedError(f"connection {self.id}: send queue full, message dropped"))

    def metrics(self) -> ConnectionMetrics:
        return ConnectionMetrics(
            connection_id=self.id,
            state=self.state.value,
            symbols=list(self.symbols),
            frames=self.sink.frames,   # the counters live in the compiled sink
            bytes=self.sink.bytes,
            parse_errors=self.sink.parse_errors,
            reconnects=self.reconnects,
            last_frame_ns=self.sink.last_frame_ns,
            subscriptions={k: v.value for k, v in self.subscriptions.items()},
            last_error=self.last_error,
        )


class WebSocketManager:
    """Keeps an exchange feed connected, subscribed and flowing into the handler.

    Parameters
    ----------
    config:
        The manager's configuration (exchange, channels, timeouts, backoff, transport).
    connection_strategy, subscription_strategy, message_parser:
        The exchange's strategies, e.g. from ``WebSocketStrategyFactory.create_strategies``.
    message_handler:
        Called with every event (from pools: valid until the handler returns;
        ``event.copy()`` keeps one). Exceptions it raises are reported to
        ``error_handler`` and the feed goes on.
    error_handler:
        Called with every error (parse errors, handler errors, connection
        losses, rejected subscriptions). Without one, errors are logged.
    transport:
        A ``Transport`` instance overriding ``config.transport``.

    Examples
    --------
    >>> async with WebSocketManager(config, conn, sub, parser, message_handler=print) as manager:
    ...     await manager.initialize(["BTCUSDT"])
    ...     await asyncio.sleep(10)
    """

    def __init__(
        self,
        config: WebSocketManagerConfig,
        connection_strategy: ConnectionStrategy,
        subscription_strategy: SubscriptionStrategy,
        message_parser: MessageParser,
        message_handler: Callable[[Any], Any] | None = None,
        error_handler: Callable[[BaseException], Any] | None = None,
        transport: Transport | None = None,
    ):
        self.config = config
        self.connection_strategy = connection_strategy
        self.subscription_strategy = subscription_strategy
        self.message_parser = message_parser
        self.message_handler = message_handler
        self.error_handler = error_handler
        self.transport = transport or create_transport(config.transport)
        self._connections: list[_Connection] = []
        self._ids = itertools.count(1)
        self._closing = False
        self._closed = False
        self._rand = random.Random()
        self._errors_reported = 0
        self._reconnects_total = 0
        # in-band book recovery: symbol -> its task, and (attempt, loop time it ended) for the backoff
        self._recoveries: dict[str, asyncio.Task[None]] = {}
        self._recovery_backoff: dict[str, tuple[int, float]] = {}
        self._recovery_again: set[str] = set()  # asked again while its task was waiting for the snapshot
        self.book_recoveries = 0  # resubscriptions sent to get a fresh in-band snapshot
        message_parser.bind(message_handler, self._report)
        message_parser.configure(config)
        message_parser.set_book_recovery(self._recover_book)

    # --- public API ------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """True when every connection is up and subscribed (and there is at least one)."""
        return bool(self._connections) and all(c.state is ConnectionState.CONNECTED for c in self._connections)

    @property
    def active_symbols(self) -> set[str]:
        """Symbols currently subscribed (or being resubscribed after a reconnect)."""
        return {s for c in self._connections for s in c.symbols}

    @property
    def connection_count(self) -> int:
        """Number of connections the subscriptions are spread over."""
        return len(self._connections)

    @property
    def metrics(self) -> ManagerMetrics:
        """A snapshot of the counters: frames, bytes, events, errors, reconnects, per connection."""
        conns = [c.metrics() for c in self._connections]
        s = self.message_parser.stats()
        events, handler_errors = s.get("events", 0), s.get("handler_errors", 0)
        return ManagerMetrics(
            frames=sum(c.frames for c in conns),
            bytes=sum(c.bytes for c in conns),
            events=events,
            parse_errors=sum(c.parse_errors for c in conns),
            handler_errors=handler_errors,
            reconnects=self._reconnects_total,
            book_recoveries=self.book_recoveries,
            connections=conns,
        )

    async def initialize(self, symbols: Sequence[str]) -> None:
        """Connect, authenticate and subscribe ``symbols``; return once every connection is up.

        Raises
        ------
        ConnectionFailedError
            A connection was not up within ``config.initialize_timeout``; the
            manager is closed again.
        """
        await self.subscribe(symbols)

    async def subscribe(self, symbols: Sequence[str]) -> None:
        """Add ``symbols`` at run time, opening connections beyond the per-connection limit."""
        self._check_open()
        wanted = [s for s in dict.fromkeys(symbols) if s not in self.active_symbols]
        if not wanted:
            return
        # before any subscription goes out: frames for names outside the subscribed set create nothing
        self.message_parser.on_subscribed(wanted)
        new_conns: list[_Connection] = []
        for endpoint, channels in self._endpoints().items():
            limit = self._streams_per_connection(channels)
            for symbol in wanted:
                cost = self._stream_cost(symbol, channels)
                target = next((c for c in self._connections + new_conns
                               if c.endpoint == endpoint and self._load(c) + cost <= limit), None)
                if target is None:
                    target = _Connection(self, next(self._ids), (), endpoint, channels)
                    new_conns.append(target)
                target.symbols[symbol] = None
                if target not in new_conns and target.state is ConnectionState.CONNECTED:
                    self._send_subscriptions(target, [symbol], True)
        for conn in new_conns:
            self._connections.append(conn)
            conn.task = asyncio.create_task(self._run_connection(conn), name=f"feedhandler-conn-{conn.id}")
        if new_conns:
            await self._wait_ready(new_conns)

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        """Remove ``symbols`` at run time; connections left empty are closed."""
        self._check_open()
        gone = set(symbols)
        emptied = []
        for conn in self._connections:
            mine = [s for s in conn.symbols if s in gone]
            if not mine:
                continue
            if conn.state is ConnectionState.CONNECTED:
                self._send_subscriptions(conn, mine, False)
            for s in mine:
                del conn.symbols[s]
            for key in self.subscription_strategy.subscription_keys(mine, conn.channels):
                conn.subscriptions.pop(key, None)
            if not conn.symbols:
                emptied.append(conn)
        self.message_parser.on_unsubscribed(gone)
        for conn in emptied:
            self._connections.remove(conn)
            await self._stop_connection(conn)

    def swap_parser(self, new_parser: MessageParser) -> MessageParser:
        """Replace the message parser while running; returns the old one (the caller closes it).

        Connections stay open: frames are handed over synchronously, so the frame after this call
        goes to ``new_parser`` and none is lost or parsed twice. ``new_parser`` starts with its own
        state (its books sync from their own snapshots).
        """
        new_parser.bind(self.message_handler, self._report)
        new_parser.set_book_recovery(self._recover_book)
        new_parser.on_subscribed(sorted(self.active_symbols))
        old, self.message_parser = self.message_parser, new_parser
        old.set_book_recovery(None)
        for conn in self._connections:
            conn.sink.feed = new_parser.feed
        return old

    def swap_subscription_strategy(self, new_strategy: SubscriptionStrategy, *, resubscribe: bool = False
                                   ) -> SubscriptionStrategy:
        """Replace the subscription strategy while running; returns the old one.

        With ``resubscribe`` the open connections unsubscribe their symbols with the old strategy's
        messages and subscribe them with the new one's, without reconnecting; otherwise the new
        strategy is used from the next (re)subscription on.
        """
        old = self.subscription_strategy
        live = [c for c in self._connections if c.state is ConnectionState.CONNECTED] if resubscribe else []
        for conn in live:
            self._send_subscriptions(conn, list(conn.symbols), False)
        self.subscription_strategy = new_strategy
        for conn in live:
            conn.subscriptions.clear()
            self._send_subscriptions(conn, list(conn.symbols), True)
        return old

    def swap_connection_strategy(self, new_strategy: ConnectionStrategy) -> ConnectionStrategy:
        """Replace the connection strategy; it is used from the next connection attempt on. Returns the old one."""
        old, self.connection_strategy = self.connection_strategy, new_strategy
        return old

    async def close(self) -> None:
        """Stop every task and socket the manager started; returns when they are gone."""
        if self._closed:
            return
        self._closing = True
        conns, self._connections = self._connections, []
        recoveries = list(self._recoveries.values())
        for task in recoveries:
            task.cancel()
        await asyncio.gather(*recoveries, return_exceptions=True)
        await asyncio.gather(*(self._stop_connection(c) for c in conns), return_exceptions=True)
        for closer in (self.message_parser.close, self.connection_strategy.close):
            try:
                await closer()
            except Exception as exc:
                self._report(exc)
        self._closed = True

    async def __aenter__(self) -> "WebSocketManager":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- internals -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closing:
            raise FeedError("this WebSocketManager is closed; create a new one")

    def _endpoints(self) -> dict[str, list[ChannelType]]:
        """The configured channels by the endpoint serving them (``""`` first: the connection strategy's URL)."""
        groups: dict[str, list[ChannelType]] = {}
        for channel in self.config.channel_types or [None]:
            endpoint = self.subscription_strategy.endpoint(ChannelType.parse(channel)) if channel is not None else ""
            groups.setdefault(endpoint, [])
            if channel is not None:
                groups[endpoint].append(channel)
        return dict(sorted(groups.items(), key=lambda kv: kv[0] != ""))

    def _streams_per_connection(self, channels: Sequence[ChannelType]) -> int:
        limit = self.subscription_strategy.max_subscriptions_per_connection
        if self.config.max_symbols_per_connection is not None:
            per_symbol = max(1, len(channels))
            limit = min(limit, self.config.max_symbols_per_connection * per_symbol)
        return max(1, limit)

    def _stream_cost(self, symbol: str, channels: Sequence[ChannelType]) -> int:
        return max(1, len(self.subscription_strategy.subscription_keys([symbol], channels)))

    def _load(self, conn: _Connection) -> int:
        return sum(self._stream_cost(s, conn.channels) for s in conn.symbols)

    async def _wait_ready(self, conns: list[_Connection]) -> None:
        try:
            async with asyncio.timeout(self.config.initialize_timeout):
                await asyncio.gather(*(c.ready.wait() for c in conns))
        except TimeoutError:
            errors = "; ".join(f"connection {c.id}: {c.last_error}" for c in conns if c.last_error)
            await self.close()
            raise ConnectionFailedError(
                f"{self.config.exchange_name}: not connected within {self.config.initialize_timeout:g}s"
                + (f" ({errors})" if errors else "")
                + "; check the URL and the network, or raise initialize_timeout"
            ) from None

    def _report(self, error: BaseException) -> None:
        self._errors_reported += 1
        if self.error_handler is None:
            log.warning("%s: %s: %s", self.config.exchange_name, type(error).__name__, error)
            return
        try:
            self.error_handler(error)
        except Exception:
            log.exception("error handler raised while handling %r", error)

    def _send_subscriptions(self, conn: _Connection, symbols: list[str], is_subscribe: bool,
                            channels: Sequence[ChannelType] | None = None) -> None:
        channels = conn.channels if channels is None else channels
        for message in self.subscription_strategy.create_subscription_messages(symbols, channels, is_subscribe):
            conn.send_nowait(message)
        if is_subscribe:
            keys = self.subscription_strategy.subscription_keys(symbols, channels)
            for key in keys:
                conn.subscriptions[key] = SubscriptionState.PENDING
            if self.subscription_strategy.acks_subscriptions and self.config.subscribe_timeout > 0:
                handle = asyncio.get_running_loop().call_later(
                    self.config.subscribe_timeout, self._check_acks, conn, keys, conn.ws)
                now = asyncio.get_running_loop().time()
                conn.timers = [h for h in conn.timers if not h.cancelled() and h.when() > now]
                conn.timers.append(handle)

    def _check_acks(self, conn: _Connection, keys: list[str], ws: TransportConnection | None) -> None:
        """Report subscriptions the exchange did not acknowledge in time (on the same connection)."""
        if self._closing or conn.ws is not ws or ws is None:
            return
        pending = [k for k in keys if conn.subscriptions.get(k) is SubscriptionState.PENDING]
        if pending:
            shown = ", ".join(pending[:5]) + (f" and {len(pending) - 5} more" if len(pending) > 5 else "")
            self._report(SubscriptionError(
                f"{self.config.exchange_name}: no acknowledgement within {self.config.subscribe_timeout:g}s for "
                f"{shown}; check the symbol and channel names"))

    def _on_control(self, conn: _Connection, message_type: int, raw: str | bytes) -> None:
        if message_type == MessageType.AUTH_ACK or message_type == MessageType.ERROR:
            self.connection_strategy.on_control(message_type, raw, conn.context)
        if message_type == MessageType.SUBSCRIPTION_ACK or message_type == MessageType.ERROR:
            ack = self._ack(conn, message_type, raw)
            if ack is not None:
                for key in ack.confirmed:
                    if key in conn.subscriptions:
                        conn.subscriptions[key] = SubscriptionState.CONFIRMED
                for key in ack.failed:
                    if key in conn.subscriptions:
                        conn.subscriptions[key] = SubscriptionState.FAILED
                if ack.failed:
                    self._report(SubscriptionError(f"subscription rejected: {', '.join(ack.failed)}: {ack.reason}"))
                    return
            if message_type == MessageType.ERROR:
                text = raw if isinstance(raw, str) else bytes(raw[:300]).decode("utf-8", "replace")
                self._report(FeedError(f"{self.config.exchange_name} sent an error: {text[:300]}"))
        elif message_type == MessageType.PING:
            pong = self.connection_strategy.create_pong_message(raw)
            if pong is not None:
                conn.send_nowait(pong)
        elif message_type == MessageType.RECONNECT:
            conn.end_error = ConnectionFailedError(
                f"connection {conn.id}: the feed asked for a new connection (server shutdown or stream ended), reconnecting")
            if conn.ws is not None:
                asyncio.get_running_loop().create_task(conn.ws.close())

    def _ack(self, conn: _Connection, message_type: int, raw: str | bytes) -> SubscriptionAck | None:
        """What an ack/error frame said, decoded once: from the compiled decoder's ``control_*`` fields
        (read right after it returned this frame's type), else by the strategy parsing the frame."""
        decoder = conn.sink.decoder
        if decoder is not None:
            ack = self.subscription_strategy.ack_from_control(
                message_type, decoder.control_id, decoder.control_code, decoder.control_text)
            if ack is not NotImplemented:
                return ack
        return self.subscription_strategy.parse_ack(raw)

    # --- in-band book recovery ---------------------------------------------------------------
    def _recover_book(self, symbol: str) -> None:
        """The parser asks for a fresh in-band snapshot of ``symbol``'s book (called from the data path)."""
        if self._closing:
            return
        task = self._recoveries.get(symbol)
        if task is not None and not task.done():
            self._recovery_again.add(symbol)  # the book got a snapshot and broke again: the task goes on
            return
        task = asyncio.get_running_loop().create_task(self._run_recovery(symbol), name=f"feedhandler-recover-{symbol}")
        self._recoveries[symbol] = task
        task.add_done_callback(lambda t, s=symbol: self._recoveries.pop(s, None) if self._recoveries.get(s) is t else None)

    async def _run_recovery(self, symbol: str) -> None:
        """Unsubscribe and subscribe ``symbol``'s book channel until its book has a snapshot again.

        Backoff as for reconnects (``config.reconnect``): the first resubscription is immediate,
        later ones (the snapshot did not come within ``subscribe_timeout``, or the book broke again
        soon after recovering) wait longer, capped. The attempt count is forgotten once the book
        stayed good for ``max_delay``.
        """
        loop = asyncio.get_running_loop()
        policy = self.config.reconnect
        attempt, ended = self._recovery_backoff.get(symbol, (0, 0.0))
        if loop.time() - ended > max(policy.max_delay, self.config.subscribe_timeout):
            attempt = 0
        try:
            while not self._closing:
                attempt += 1
                await asyncio.sleep(policy.delay(attempt, self._rand.random()))
                conn = next((c for c in self._connections if symbol in c.symbols and not c.endpoint), None)
                if conn is None or not self.message_parser.awaits_snapshot(symbol):
                    return  # unsubscribed meanwhile, or the snapshot came anyway
                self._recovery_again.discard(symbol)
                if conn.state is ConnectionState.CONNECTED:
                    # a reconnect resubscribes everything by itself; otherwise only this book channel
                    book = [ChannelType.ORDERBOOK]
                    self.book_recoveries += 1
                    self._send_subscriptions(conn, [symbol], False, book)
                    self._send_subscriptions(conn, [symbol], True, book)
                deadline = loop.time() + max(self.config.subscribe_timeout, 0.5)
                while loop.time() < deadline:
                    await asyncio.sleep(_RECOVERY_POLL)
                    if symbol in self._recovery_again:
                        break  # recovered, then broke again: the next attempt, after its backoff
                    if not self.message_parser.awaits_snapshot(symbol):
                        return
        finally:
            self._recovery_backoff[symbol] = (attempt, loop.time())
            self._recovery_again.discard(symbol)

    async def _stop_connection(self, conn: _Connection) -> None:
        conn.state = ConnectionState.CLOSED
        for handle in conn.timers:
            handle.cancel()
        conn.timers.clear()
        task = conn.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn.ready.set()  # nobody waits forever on a closed connection

    async def _run_connection(self, conn: _Connection) -> None:
        """Connect, subscribe, receive; on any failure back off and do it again."""
        attempt = 0
        policy = self.config.reconnect
        while not self._closing and conn.symbols:
            attempt += 1
            if attempt > 1:
                if policy.max_attempts is not None and attempt - 1 > policy.max_attempts:
                    conn.state = ConnectionState.CLOSED
                    self._report(ConnectionFailedError(
                        f"connection {conn.id}: giving up after {policy.max_attempts} reconnect attempts"
                        f" (last error: {conn.last_error})"))
                    conn.ready.set()
                    return
                conn.state = ConnectionState.RECONNECTING
                conn.reconnects += 1
                self._reconnects_total += 1
                delay = policy.delay(attempt - 1, self._rand.random())
                if conn.retry_after is not None:
                    # the server refused the upgrade (429/503) and said how long to wait: wait as told
                    delay = max(delay, min(conn.retry_after, self.config.max_retry_after))
                    conn.retry_after = None
                await asyncio.sleep(delay)
            try:
                await self._connect_once(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                conn.last_error = f"{type(exc).__name__}: {exc}"
                conn.retry_after = getattr(exc, "retry_after", None)
                self._report(exc)
            finally:
                await self._teardown(conn)
            if conn.sink.data_seen:
                attempt = 1  # the connection worked: the next retry is immediate again
            if not self._closing and not conn.endpoint:   # other endpoints carry no books
                self.message_parser.on_connection_lost(list(conn.symbols))
        conn.state = ConnectionState.CLOSED

    async def _connect_once(self, conn: _Connection) -> None:
        cfg = self.config
        conn.state = ConnectionState.CONNECTING
        conn.sink.data_seen = False
        conn.end_error = None
        ctx = await self.connection_strategy.create_connection_context(cfg.is_private, cfg.api_key, cfg.secret_key)
        if conn.endpoint:
            ctx.url = self.connection_strategy.endpoint_url(ctx.url, conn.endpoint)
        conn.context = ctx
        ws = await self.transport.connect(
            ctx.url, headers=ctx.headers, max_frame_size=cfg.max_frame_size, connect_timeout=cfg.connect_timeout
        )
        conn.ws = ws
        conn.send_queue = asyncio.Queue(_SEND_QUEUE_SIZE)
        conn.sink.last_frame_ns = time.monotonic_ns()
        helpers = [asyncio.create_task(self._writer(conn, ws), name=f"feedhandler-writer-{conn.id}")]
        receiver = asyncio.create_task(ws.run(conn.sink), name=f"feedhandler-recv-{conn.id}")
        try:
            conn.state = ConnectionState.AUTHENTICATING
            if not await self.connection_strategy.authenticate(ws.send, ctx):
                raise AuthenticationError(
                    f"{cfg.exchange_name} rejected authentication; check the API key, secret and permissions"
                )
            ctx.is_authenticated = True
            conn.state = ConnectionState.SUBSCRIBING
            conn.subscriptions.clear()
            self._send_subscriptions(conn, list(conn.symbols), True)
            if ctx.ping_interval > 0:
                helpers.append(asyncio.create_task(self._pinger(conn, ctx.ping_interval)))
            if ctx.keep_alive_interval > 0:
                helpers.append(asyncio.create_task(self._keep_alive(conn, ws, ctx)))
            if cfg.stale_timeout > 0 or ctx.max_lifetime > 0:
                helpers.append(asyncio.create_task(self._watchdog(conn, ws, ctx)))
            if cfg.book_stale_after > 0:
                helpers.append(asyncio.create_task(self._book_freshness(conn), name=f"feedhandler-fresh-{conn.id}"))
            conn.state = ConnectionState.CONNECTED
            conn.last_error = None
            conn.ready.set()
            await receiver
            if conn.end_error is not None:
                raise conn.end_error
            if not self._closing and conn.state is not ConnectionState.CLOSED:
                raise ConnectionFailedError(f"connection {conn.id} ended: {ws.close_reason}")
        finally:
            for task in helpers + [receiver]:
                task.cancel()
            for task in helpers + [receiver]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _teardown(self, conn: _Connection) -> None:
        ws, conn.ws = conn.ws, None
        conn.send_queue = None
        if conn.state is not ConnectionState.CLOSED:
            conn.state = ConnectionState.DISCONNECTED
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5.0)

    async def _writer(self, conn: _Connection, ws: TransportConnection) -> None:
        """Send queued messages, paced under the exchange's per-connection message rate."""
        queue = conn.send_queue
        assert queue is not None
        rate = self.subscription_strategy.max_messages_per_second
        interval = 1.0 / rate if rate > 0 else 0.0
        next_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            message = await queue.get()
            now = loop.time()
            if now < next_at:
                await asyncio.sleep(next_at - now)
            await ws.send(message)
            next_at = max(now, next_at) + interval

    async def _pinger(self, conn: _Connection, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            ping = self.connection_strategy.create_ping_message()
            if ping is not None:
                conn.send_nowait(ping)

    async def _keep_alive(self, conn: _Connection, ws: TransportConnection, ctx: ConnectionContext) -> None:
        while True:
            await asyncio.sleep(ctx.keep_alive_interval)
            try:
                await self.connection_strategy.handle_keep_alive(ws.send, ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._report(exc)

    async def _book_freshness(self, conn: _Connection) -> None:
        """While the connection is up: BookStatus(valid=False, reason="stale") for books idle too long."""
        seconds = self.config.book_stale_after
        while True:
            await asyncio.sleep(max(0.01, seconds / 4))
            self.message_parser.check_stale(list(conn.symbols), seconds)

    async def _watchdog(self, conn: _Connection, ws: TransportConnection, ctx: ConnectionContext) -> None:
        """Reconnect a connection that went silent, or that reached its maximum lifetime."""
        stale_ns = int(self.config.stale_timeout * 1e9)
        started = time.monotonic()
        period = min(x for x in (self.config.stale_timeout / 4, ctx.max_lifetime or 1e9, 1.0) if x > 0)
        while True:
            await asyncio.sleep(period)
            if stale_ns and time.monotonic_ns() - conn.sink.last_frame_ns > stale_ns:
                conn.end_error = StaleConnectionError(
                    f"connection {conn.id}: no frame for {self.config.stale_timeout:g}s, reconnecting")
                await ws.close()
                return
            if ctx.max_lifetime and time.monotonic() - started > ctx.max_lifetime:
                conn.end_error = ConnectionFailedError(
                    f"connection {conn.id}: maximum lifetime of {ctx.max_lifetime:g}s reached, reconnecting")
                await ws.close()
                return
