"""The simulated exchange: real WebSocket and HTTP servers on 127.0.0.1 around a :class:`MarketModel`.

Data path: the market driver (or a test calling :meth:`SimExchange.step`) steps the model; each event
is encoded once per distinct :class:`~feedhandler.sim.protocol.Subscription` by the protocol and put on
the bounded queue of every connection that holds it; one sender task per connection writes its queue
to the socket, applying the per-frame faults on the way. A connection whose queue overflows is closed
as a slow consumer (as real exchanges do) rather than growing memory without bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from feedhandler.sim.faults import FaultConfig, FrameKind, plan_frame
from feedhandler.sim.market import BookSnapshot, Delta, MarketModel
from feedhandler.sim.protocol import (
    Channel,
    ExchangeContext,
    Frame,
    Reply,
    SimConnection,
    SimProtocol,
    Subscription,
    create_protocol,
)

__all__ = ["ExchangeStats", "SimExchange"]

log = logging.getLogger("feedhandler.sim")

_DEFAULT_CREDENTIALS = {"sim-api-key": "sim-api-secret"}
_MISSING = object()


@dataclass(slots=True)
class ExchangeStats:
    """Exchange-wide counters, for tests to assert on."""

    connections_accepted: int = 0
    connections_refused: int = 0
    """WebSocket handshakes answered 503 by the refuse fault."""
    connections_dropped: int = 0
    """Connections cut by the drop-after-N fault."""
    slow_consumers: int = 0
    """Connections closed because their send queue overflowed."""
    messages_received: int = 0
    rest_requests: Counter[str] = field(default_factory=Counter)
    """REST requests per path (refused ones included)."""
    rest_refused: int = 0
    snapshots_served: Counter[str] = field(default_factory=Counter)
    auth_accepted: int = 0
    auth_rejected: int = 0
    deltas_published: Counter[str] = field(default_factory=Counter)
    gaps: Counter[str] = field(default_factory=Counter)
    """Deltas withheld from every client by the gap fault, per symbol."""
    gap_ids: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """The (first_id, last_id) ranges withheld, per symbol (the last 1000)."""
    last_update_id_sent: dict[str, int] = field(default_factory=dict)
    """``last_id`` of the latest delta published (not withheld) per symbol."""
    unknown_frames_sent: int = 0
    """Frames for fabricated, never-subscribed symbols (the unknown-symbol flood fault)."""
    silenced_frames: Counter[str] = field(default_factory=Counter)
    """Frames of a symbol discarded by the silent-symbols fault."""
    id_restarts: Counter[str] = field(default_factory=Counter)
    """How many times a symbol's wire ids restarted from 1."""


@dataclass(slots=True)
class _Outgoing:
    frame: Frame | None
    kind: FrameKind
    symbol: str = ""
    last_id: int = 0
    close: tuple[int, str] | None = None


class _LiveConnection(SimConnection):
    """A SimConnection plus the server's private plumbing."""

    def __init__(
        self,
        conn_id: int,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        ws: ServerConnection,
        max_pending: int,
        rng: random.Random,
    ) -> None:
        super().__init__(conn_id, path, query, headers)
        self.ws = ws
        self.queue: asyncio.Queue[_Outgoing] = asyncio.Queue(max_pending)
        self.rng = rng
        self.active = True
        # (channel, symbol) -> subscriptions, rebuilt when subscriptions change: the fan-out index.
        self.topics: dict[tuple[Channel, str], list[Subscription]] = {}

    def reindex(self) -> None:
        topics: dict[tuple[Channel, str], list[Subscription]] = {}
        for sub in self.subscriptions.values():
            topics.setdefault((sub.channel, sub.symbol), []).append(sub)
        self.topics = topics


class SimExchange(ExchangeContext):
    """A local exchange serving one wire protocol over real sockets, with fault injection.

    Parameters
    ----------
    protocol : str or SimProtocol
        Registered protocol name (``"simjson"``) or an unbound protocol instance.
    symbols : iterable of str
        Model symbols to simulate.
    seed : int
        Market seed (faults have their own seed in ``faults``).
    rate : float or None
        Steps per second per symbol driven by a background task; None for manual stepping only
        (:meth:`step` / :meth:`pump`), which is what deterministic tests use.
    faults : FaultConfig, optional
        Live fault switches (also reachable as :attr:`faults`).
    levels, tick, step, history_ids :
        Passed to :class:`MarketModel`.
    host : str
        Bind address (loopback by default).
    ws_port, rest_port : int
        Ports; 0 picks free ephemeral ports.
    wall_clock : bool
        Stamp events with the wall clock (demo, latency) rather than the model's reproducible virtual
        clock. Determinism tests set it to False.
    full_snapshot_every : int
        Push a whole-book snapshot on DEPTH streams every N steps of a symbol (Gate.io ``full: true``),
        if the protocol encodes one; 0 never.
    credentials : mapping of str to str, optional
        Accepted API key -> secret pairs (default ``{"sim-api-key": "sim-api-secret"}``).
    max_pending_frames : int
        Per-connection send queue bound; overflowing it closes the connection (1008 slow consumer).
    ping_interval : float or None
        WebSocket keep-alive ping interval of the server (``websockets`` semantics).
    max_message_size : int
        Largest client message accepted.

    Examples
    --------
    >>> async with SimExchange("simjson", ["BTCUSDT"], seed=1) as ex:   # doctest: +SKIP
    ...     print(ex.ws_url, ex.rest_url)
    ...     await ex.pump(10)
    """

    def __init__(
        self,
        protocol: str | SimProtocol = "simjson",
        symbols: Iterable[str] = ("BTCUSDT",),
        *,
        seed: int = 0,
        rate: float | None = None,
        faults: FaultConfig | None = None,
        levels: int = 50,
        tick: str | Decimal | Mapping[str, str | Decimal] | None = None,
        step: str | Decimal | Mapping[str, str | Decimal] | None = None,
        history_ids: int = 20_000,
        host: str = "127.0.0.1",
        ws_port: int = 0,
        rest_port: int = 0,
        wall_clock: bool = True,
        full_snapshot_every: int = 0,
        credentials: Mapping[str, str] | None = None,
        max_pending_frames: int = 100_000,
        ping_interval: float | None = 20.0,
        max_message_size: int = 1 << 20,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"rate must be > 0 steps per second, or None for manual stepping; got {rate!r}")
        if full_snapshot_every < 0:
            raise ValueError(f"full_snapshot_every must be >= 0, got {full_snapshot_every}")
        if max_pending_frames < 1:
            raise ValueError(f"max_pending_frames must be >= 1, got {max_pending_frames}")
        self._protocol = create_protocol(protocol) if isinstance(protocol, str) else protocol
        self._protocol.bind(self)
        clock: Callable[[], int] | None = (lambda: time.time_ns() // 1_000_000) if wall_clock else None
        self._model = MarketModel(
            symbols, seed, levels=levels, tick=tick, step=step, history_ids=history_ids, clock_ms=clock,
            max_ids_per_step=self._protocol.max_ids_per_step,
        )
        self._faults = faults if faults is not None else FaultConfig(seed=seed)
        self._credentials = dict(_DEFAULT_CREDENTIALS if credentials is None else credentials)
        self.rate = rate
        self.host = host
        self._ws_port_requested = ws_port
        self._rest_port_requested = rest_port
        self.full_snapshot_every = full_snapshot_every
        self._max_pending = max_pending_frames
        self._ping_interval = ping_interval
        self._max_message_size = max_message_size
        self.stats = ExchangeStats()
        self._gap_rng = random.Random(f"gap:{self._faults.seed}")
        self._token_rng = random.Random(f"token:{seed}")
        self._steps: Counter[str] = Counter()
        # id-restart fault: per symbol, the model id that wire id 0 stands for, newest last (wire = model - offset)
        self._id_epochs: dict[str, list[list[int]]] = {}   # [offset, last model id in this epoch or -1 = open]
        self._lingering: dict[tuple[int, str], Subscription] = {}
        self._unknown_cursor = 0
        self._paused = False
        self._last_top: dict[str, tuple[str, str, str, str]] = {}
        self._active: dict[int, _LiveConnection] = {}
        self._history: deque[SimConnection] = deque(maxlen=10_000)
        self._next_conn_id = 0
        self._ws_server: Server | None = None
        self._runner: web.AppRunner | None = None
        self._driver: asyncio.Task[None] | None = None
        self._ws_port = 0
        self._rest_port = 0
        self._started = False

    # ------------------------------------------------------------------ ExchangeContext

    @property
    def model(self) -> MarketModel:
        """The market model: the truth (``true_book``, ``snapshot``, ``last_update_id``)."""
        return self._model

    @property
    def faults(self) -> FaultConfig:
        """Live fault switches."""
        return self._faults

    @property
    def credentials(self) -> Mapping[str, str]:
        """Accepted API key -> secret pairs."""
        return self._credentials

    async def depth_snapshot(self, symbol: str, limit: int | None) -> BookSnapshot:
        """REST depth snapshot with the slow (``rest_delay``) and stale (``stale_snapshot_ids``) faults."""
        model = self._model
        model.last_update_id(symbol)  # KeyError for an unknown symbol before any delay
        if self._faults.rest_delay:
            await asyncio.sleep(self._faults.rest_delay)
        stale = self._faults.stale_snapshot_ids
        if stale:
            uid = max(model.oldest_update_id(symbol), model.last_update_id(symbol) - stale)
            snapshot = model.snapshot_at(symbol, uid, limit)
        else:
            snapshot = model.snapshot(symbol, limit)
        self.stats.snapshots_served[symbol] += 1
        # snapshot-ahead fault: the current book labelled with an id the stream has not reached
        return self.wire_snapshot(symbol, snapshot, self._faults.snapshot_ahead_ids)

    def wire_snapshot(self, symbol: str, snapshot: BookSnapshot, ahead: int = 0) -> BookSnapshot:
        """The snapshot as the wire numbers it (id-restart fault), ``ahead`` ids further."""
        uid = self._wire_id(symbol, snapshot.last_update_id) + ahead
        return snapshot._replace(last_update_id=uid) if uid != snapshot.last_update_id else snapshot

    def _wire_id(self, symbol: str, model_id: int) -> int:
        epochs = self._id_epochs.get(symbol)
        if epochs and epochs[-1][1] < 0:
            return model_id - epochs[-1][0]
        return model_id

    def model_update_id(self, symbol: str, wire_id: int) -> int:
        """The model update id a wire id stands for (differs only while/after the id-restart fault)."""
        for offset, last in reversed(self._id_epochs.get(symbol, ())):
            end = self._model.last_update_id(symbol) if last < 0 else last
            if 0 <= wire_id <= end - offset:
                return wire_id + offset
        return wire_id

    def check_auth(self, valid: bool) -> bool:
        """Final auth decision; the reject-auth fault turns every check into a failure."""
        ok = valid and not self._faults.reject_auth
        if ok:
            self.stats.auth_accepted += 1
        else:
            self.stats.auth_rejected += 1
        return ok

    def verify_hmac(self, api_key: str, payload: str | bytes, signature: str, algorithm: str = "sha256") -> bool:
        """Check a hex HMAC of ``payload`` under ``api_key``'s secret (constant-time), then the auth fault."""
        secret = self._credentials.get(api_key)
        valid = False
        if secret is not None and isinstance(signature, str):
            data = payload.encode() if isinstance(payload, str) else payload
            try:
                expected = hmac.new(secret.encode(), data, getattr(hashlib, algorithm)).hexdigest()
            except AttributeError:
                raise ValueError(f"unknown HMAC algorithm {algorithm!r}") from None
            valid = hmac.compare_digest(expected, signature.lower())
        return self.check_auth(valid)

    def new_token(self) -> str:
        """A fresh 64-hex-digit token (listen keys); seeded, so runs are reproducible."""
        return f"{self._token_rng.getrandbits(256):064x}"

    # ------------------------------------------------------------------ public API

    @property
    def protocol(self) -> SimProtocol:
        """The wire protocol served."""
        return self._protocol

    @property
    def symbols(self) -> tuple[str, ...]:
        """Simulated symbols."""
        return self._model.symbols

    @property
    def ws_port(self) -> int:
        """Bound WebSocket port (after :meth:`start`)."""
        self._require_started()
        return self._ws_port

    @property
    def rest_port(self) -> int:
        """Bound HTTP port (after :meth:`start`)."""
        self._require_started()
        return self._rest_port

    @property
    def ws_url(self) -> str:
        """WebSocket URL of the protocol's first path, e.g. ``ws://127.0.0.1:40123/ws``."""
        return f"ws://{self.host}:{self.ws_port}{self._protocol.ws_paths[0]}"

    @property
    def ws_base_url(self) -> str:
        """WebSocket URL without a path, for protocols with several paths."""
        return f"ws://{self.host}:{self.ws_port}"

    @property
    def rest_url(self) -> str:
        """Base URL of the REST server, e.g. ``http://127.0.0.1:40124``."""
        return f"http://{self.host}:{self.rest_port}"

    @property
    def connections(self) -> list[SimConnection]:
        """Every connection accepted so far (the last 10000), open or closed, in order."""
        return list(self._history)

    @property
    def active_connections(self) -> list[SimConnection]:
        """Connections currently open."""
        return list(self._active.values())

    async def start(self) -> None:
        """Bind the HTTP and WebSocket servers and start the market driver (if ``rate`` is set)."""
        if self._started:
            raise RuntimeError("SimExchange is already started")
        app = web.Application(middlewares=[self._rest_middleware])
        self._protocol.add_routes(app)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, self.host, self._rest_port_requested)
            await site.start()
            self._rest_port = runner.addresses[0][1]
            self._ws_server = await serve(
                self._handle_connection,
                self.host,
                self._ws_port_requested,
                process_request=self._process_request,
                compression=None,
                ping_interval=self._ping_interval,
                max_size=self._max_message_size,
                close_timeout=2.0,
                server_header="feedhandler-sim",
            )
            self._ws_port = self._ws_server.sockets[0].getsockname()[1]
        except BaseException:
            await self._close_servers()
            raise
        self._started = True
        if self.rate is not None:
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="feedhandler-sim-driver")
        log.info("sim exchange %s serving %s and %s", self._protocol.name, self.ws_url, self.rest_url)

    async def stop(self) -> None:
        """Stop the driver, close every connection (1001) and both servers; idempotent."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)
        await self._close_servers()
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def step(self, n: int = 1, symbols: Iterable[str] | None = None) -> list[Delta]:
        """Step each symbol ``n`` times and queue the resulting frames; returns the deltas in order.

        The frames are written by the per-connection sender tasks; ``await pump(...)`` or
        ``await flush()`` waits for that.
        """
        chosen = self._model.symbols if symbols is None else tuple(symbols)
        deltas: list[Delta] = []
        for _ in range(n):
            for symbol in chosen:
                deltas.append(self._step_symbol(symbol))
        return deltas

    async def pump(self, n: int = 1, symbols: Iterable[str] | None = None) -> list[Delta]:
        """:meth:`step` then :meth:`flush`: after it returns, every frame is written to the sockets."""
        deltas = self.step(n, symbols)
        await self.flush()
        return deltas

    async def flush(self) -> None:
        """Wait until every open connection's send queue is written to its socket."""
        await asyncio.gather(*(conn.queue.join() for conn in list(self._active.values())))

    def pause(self) -> None:
        """Stop the market driver (the model stands still) until :meth:`resume`; frames queued still go out."""
        self._paused = True

    def resume(self) -> None:
        """Restart the market driver after :meth:`pause`."""
        self._paused = False

    def push_snapshot(self, symbol: str) -> None:
        """Push the current whole book on ``symbol``'s DEPTH streams now (if the protocol encodes it)."""
        self._publish_snapshot(Channel.DEPTH, symbol)

    # ------------------------------------------------------------------ market -> frames

    def _step_symbol(self, symbol: str) -> Delta:
        model = self._model
        delta = model.step(symbol)
        self._steps[symbol] += 1
        gap = self._faults.gap_probability
        if gap and self._gap_rng.random() < gap:
            self.stats.gaps[symbol] += 1
            for conn, _subs in self._subscribers(Channel.DEPTH, symbol):
                self._protocol.on_skipped(conn)
            ranges = self.stats.gap_ids.setdefault(symbol, [])
            ranges.append((delta.first_id, delta.last_id))
            del ranges[:-1000]
        else:
            self.stats.deltas_published[symbol] += 1
            self.stats.last_update_id_sent[symbol] = delta.last_id
            wire = self._wire_delta(delta)
            self._publish(Channel.DEPTH, symbol, self._protocol.encode_delta, wire, delta.last_id)
            if self._faults.unknown_symbols:
                self._publish_unknown(Channel.DEPTH, symbol,
                                      lambda fake, sub: self._protocol.encode_delta(replace(wire, symbol=fake), sub))
        encode_trade = self._protocol.encode_trade
        for trade in delta.trades:
            self._publish(Channel.TRADE, symbol, encode_trade, trade)
        if self._subscribers(Channel.BOOK_TICKER, symbol):
            ticker = model.best_bid_ask(symbol)
            top = (ticker.bid_price, ticker.bid_qty, ticker.ask_price, ticker.ask_qty)
            if self._last_top.get(symbol) != top:  # pushed only when the top changed
                self._last_top[symbol] = top
                self._publish(Channel.BOOK_TICKER, symbol, self._protocol.encode_book_ticker, ticker)
        else:
            self._last_top.pop(symbol, None)  # a later subscriber gets the next top at once
        if self.full_snapshot_every and self._steps[symbol] % self.full_snapshot_every == 0:
            self._publish_snapshot(Channel.DEPTH, symbol)
        self._publish_snapshot(Channel.PARTIAL_DEPTH, symbol)
        if self._faults.unknown_symbols and self._subscribers(Channel.PARTIAL_DEPTH, symbol):
            # the flood on top-N streams too: the current book under fabricated names
            snap = self.wire_snapshot(symbol, self._model.snapshot(symbol))
            ts = self._model.best_bid_ask(symbol).ts_ms
            self._publish_unknown(Channel.PARTIAL_DEPTH, symbol,
                                  lambda fake, sub: self._protocol.encode_snapshot(fake, snap, ts, sub))
        return delta

    def _wire_delta(self, delta: Delta) -> Delta:
        """The delta as the wire numbers it under the id faults (restart from 1, past int64)."""
        faults, symbol = self._faults, delta.symbol
        epochs = self._id_epochs.setdefault(symbol, [])
        if faults.id_restart and not (epochs and epochs[-1][1] < 0):
            epochs.append([delta.first_id - 1, -1])   # this delta is wire id 1
            del epochs[:-100]
            self.stats.id_restarts[symbol] += 1
        elif not faults.id_restart and epochs and epochs[-1][1] < 0:
            epochs[-1][1] = delta.first_id - 1        # back to the model's ids: a jump forward
        first, last = self._wire_id(symbol, delta.first_id), self._wire_id(symbol, delta.last_id)
        if faults.ids_past_int64:
            first, last = first + (1 << 63), last + (1 << 63)
        if first == delta.first_id and last == delta.last_id:
            return delta
        return replace(delta, first_id=first, last_id=last)

    def _publish_unknown(self, channel: Channel, symbol: str, encode: Callable[[str, Subscription], Frame | None]) -> None:
        """Unknown-symbol flood: ``symbol``'s frame of ``channel`` re-addressed to fabricated names on every
        connection holding it (``encode(fake_name, fake_subscription)`` builds one)."""
        faults = self._faults
        if symbol in faults.silent_symbols:
            return
        for conn, subs in self._subscribers(channel, symbol):
            for _ in range(faults.unknown_frames_per_delta):
                fake = f"X{self._unknown_cursor % faults.unknown_symbols}{symbol}"
                self._unknown_cursor += 1
                for sub in subs:
                    fake_sub = replace(sub, symbol=fake, name=sub.name.replace(symbol, fake).replace(
                        symbol.lower(), fake.lower()))
                    frame = encode(fake, fake_sub)
                    if frame is not None:
                        self.stats.unknown_frames_sent += 1
                        self._enqueue(conn, _Outgoing(frame, FrameKind.DATA, fake, 0))

    def _subscribers(self, channel: Channel, symbol: str) -> list[tuple[_LiveConnection, list[Subscription]]]:
        key = (channel, symbol)
        return [(c, subs) for c in self._active.values() if (subs := c.topics.get(key))]

    def _publish(
        self, channel: Channel, symbol: str, encode: Callable[[Any, Subscription], Frame | None], event: Any, last_id: int = 0
    ) -> None:
        # One encode per distinct subscription, shared by all connections holding it.
        targets = self._subscribers(channel, symbol)
        if targets and symbol in self._faults.silent_symbols:
            self.stats.silenced_frames[symbol] += sum(len(subs) for _, subs in targets)
            return
        cache: dict[Subscription, Any] = {}
        for conn, subs in targets:
            for sub in subs:
                frame = cache.get(sub, _MISSING)
                if frame is _MISSING:
                    frame = cache[sub] = encode(event, sub)
                if frame is not None:
                    self._enqueue(conn, _Outgoing(frame, FrameKind.DATA, symbol, last_id))

    def _publish_snapshot(self, channel: Channel, symbol: str) -> None:
        targets = self._subscribers(channel, symbol)
        if not targets:
            return  # formatting a whole book costs: only when someone listens
        snapshot = self._model.snapshot(symbol)
        ts = self._model.best_bid_ask(symbol).ts_ms
        self._publish(
            channel,
            symbol,
            lambda snap, sub: self._protocol.encode_snapshot(symbol, snap, ts, sub),
            self.wire_snapshot(symbol, snapshot),
            snapshot.last_update_id,
        )

    def _enqueue(self, conn: _LiveConnection, item: _Outgoing) -> None:
        if not conn.active:
            return
        if item.frame is not None:
            # per-connection numbering (a frame sequence) is given in order here, even to frames the
            # faults will then suppress: those are lost frames, and the numbers show the hole
            item.frame = self._protocol.on_enqueue(conn, item.frame, item.last_id)
        if self._faults.is_silent and item.close is None:
            conn.stats.suppressed += 1
            return
        try:
            conn.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Real exchanges cut consumers that fall behind; so do we, instead of buffering forever.
            self.stats.slow_consumers += 1
            conn.active = False
            conn.stats.close_reason = "slow consumer"
            conn.ws.transport.abort()

    # ------------------------------------------------------------------ WebSocket side

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self._faults.is_refusing:
            self.stats.connections_refused += 1
            response = connection.respond(HTTPStatus(self._faults.refuse_status), "refused by fault injection\n")
            if self._faults.refuse_retry_after is not None:
                response.headers["Retry-After"] = f"{self._faults.refuse_retry_after:g}"
            return response
        path = urlsplit(request.path).path
        if not self._protocol.accepts_path(path):
            return connection.respond(HTTPStatus.NOT_FOUND, f"no WebSocket endpoint at {path}\n")
        return None

    async def _handle_connection(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path if ws.request is not None else "/")
        headers: Headers = ws.request.headers if ws.request is not None else Headers()
        conn_id = self._next_conn_id
        self._next_conn_id += 1
        conn = _LiveConnection(
            conn_id,
            parts.path,
            dict(parse_qsl(parts.query)),
            headers,
            ws,
            self._max_pending,
            self._faults.connection_rng(conn_id),
        )
        self.stats.connections_accepted += 1
        self._active[conn_id] = conn
        self._history.append(conn)
        sender = asyncio.get_running_loop().create_task(self._send_loop(conn), name=f"feedhandler-sim-send-{conn_id}")
        try:
            self._apply(conn, self._call_protocol(conn, None))
            async for message in ws:
                conn.stats.messages_received.append(message)
                self.stats.messages_received += 1
                self._apply(conn, self._call_protocol(conn, message))
        except ConnectionClosed:
            pass
        finally:
            conn.active = False
            self._active.pop(conn_id, None)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            # Release flush() waiters for frames that will never be written.
            while not conn.queue.empty():
                conn.queue.get_nowait()
                conn.queue.task_done()

    def _call_protocol(self, conn: _LiveConnection, message: str | bytes | None) -> Reply:
        try:
            if message is None:
                return self._protocol.on_connect(conn)
            return self._protocol.handle_message(conn, message)
        except Exception:
            # A protocol bug must not take the exchange down: close this connection like a server error.
            log.exception("protocol %s failed on connection %d", self._protocol.name, conn.id)
            return Reply(close=(1011, "internal error"))

    def _apply(self, conn: _LiveConnection, reply: Reply) -> None:
        for frame in reply.frames:
            self._enqueue(conn, _Outgoing(frame, FrameKind.CONTROL))
        if reply.subscribe or reply.unsubscribe:
            linger = self._faults.linger_after_unsubscribe
            for name in reply.unsubscribe:
                if linger and name in conn.subscriptions:
                    # frames in flight after the unsubscribe: the stream goes on for a while
                    asyncio.get_running_loop().call_later(linger, self._end_linger, conn, name,
                                                          conn.subscriptions[name])
                    continue
                conn.subscriptions.pop(name, None)
            for sub in reply.subscribe:
                conn.subscriptions[sub.name] = sub
            conn.reindex()
            if self._protocol.snapshot_on_subscribe:
                for sub in reply.subscribe:
                    if sub.channel is Channel.DEPTH:
                        snapshot = self._model.snapshot(sub.symbol)
                        ts = self._model.best_bid_ask(sub.symbol).ts_ms
                        frame = self._protocol.encode_snapshot(sub.symbol, self.wire_snapshot(sub.symbol, snapshot),
                                                               ts, sub)
                        if frame is not None:
                            self._enqueue(conn, _Outgoing(frame, FrameKind.DATA, sub.symbol, snapshot.last_update_id))
        if reply.close is not None:
            self._enqueue(conn, _Outgoing(None, FrameKind.CONTROL, close=reply.close))

    def _end_linger(self, conn: _LiveConnection, name: str, sub: Subscription) -> None:
        if conn.subscriptions.get(name) is sub:
            conn.subscriptions.pop(name, None)
            conn.reindex()

    async def _send_loop(self, conn: _LiveConnection) -> None:
        queue = conn.queue
        faults = self._faults
        while True:
            item = await queue.get()
            batch = [item]
            try:
                p = faults.reorder_probability
                if p and item.kind is FrameKind.DATA and conn.rng.random() < p:
                    # hold this frame back until the next one is sent (waiting briefly for it to exist)
                    try:
                        following = queue.get_nowait() if not queue.empty() else await asyncio.wait_for(queue.get(), 0.5)
                    except TimeoutError:
                        following = None
                    if following is not None:
                        batch.insert(0, following)
                        conn.stats.reordered += 1
                for out in batch:
                    if not await self._send_item(conn, out):
                        return
            except ConnectionClosed:
                return
            finally:
                for _ in batch:
                    queue.task_done()

    async def _send_item(self, conn: _LiveConnection, out: _Outgoing) -> bool:
        """Write one queued item with its faults; False once the connection is finished."""
        ws, stats, faults = conn.ws, conn.stats, self._faults
        if not conn.active:
            return False
        if out.close is not None:
            conn.stats.close_reason = out.close[1]
            await ws.close(*out.close)
            return False
        if out.kind is FrameKind.CONTROL:
            assert out.frame is not None
            await ws.send(out.frame)
            stats.frames_sent += 1
            stats.control_frames_sent += 1
            return True
        assert out.frame is not None
        for kind, frame in plan_frame(faults, conn.rng, out.frame, self._protocol.garbage_frame):
            if kind is FrameKind.OVERSIZED:
                frame = self._protocol.oversized_frame(faults.oversize_bytes)
            assert frame is not None
            await ws.send(frame)
            stats.frames_sent += 1
            if kind is FrameKind.GARBAGE:
                stats.garbage_sent += 1
            elif kind is FrameKind.TRUNCATED:
                stats.truncated_sent += 1
            elif kind is FrameKind.OVERSIZED:
                stats.oversized_sent += 1
            else:
                if kind is FrameKind.DUPLICATE:
                    stats.duplicated += 1
                stats.data_frames_sent += 1
                stats.frames_by_symbol[out.symbol] += 1
                if out.last_id > stats.last_update_id.get(out.symbol, 0):
                    stats.last_update_id[out.symbol] = out.last_id
                limit = faults.drop_after_frames
                if limit is not None and stats.data_frames_sent >= limit:
                    # Close TCP without a close frame: what a dropped connection looks like. close()
                    # (not abort()) so the frames already written still reach the client.
                    conn.active = False
                    stats.dropped = True
                    stats.close_reason = "dropped by fault injection"
                    self.stats.connections_dropped += 1
                    ws.transport.close()
                    return False
        return True

    # ------------------------------------------------------------------ REST side

    @web.middleware
    async def _rest_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        self.stats.rest_requests[request.path] += 1
        if self._faults.is_refusing:
            self.stats.rest_refused += 1
            headers = ({"Retry-After": f"{self._faults.refuse_retry_after:g}"}
                       if self._faults.refuse_retry_after is not None else None)
            return web.Response(status=self._faults.refuse_status, text="refused by fault injection\n",
                                headers=headers)
        response: web.StreamResponse = await handler(request)
        return response

    # ------------------------------------------------------------------ driver and shutdown

    async def _drive(self) -> None:
        """Step every symbol ``rate`` times per second, catching up in bounded batches if late."""
        assert self.rate is not None
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        max_batch = max(1, int(self.rate // 10))  # at most 100 ms worth of steps per wake-up
        next_t = loop.time()
        while True:
            now = loop.time()
            if self._paused:
                next_t = now + interval
            elif now >= next_t:
                due = min(int((now - next_t) / interval) + 1, max_batch)
                self.step(due)
                next_t += due * interval
                if now - next_t > 1.0:
                    next_t = now  # more than a second behind (overloaded): skip, do not burst
            await asyncio.sleep(max(0.0, next_t - loop.time()))

    async def _close_servers(self) -> None:
        server, self._ws_server = self._ws_server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("SimExchange is not started: use 'await start()' or 'async with'")
