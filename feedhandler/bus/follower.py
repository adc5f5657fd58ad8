"""``BookFollower``: books and events rebuilt from the bus, with the manager's guarantees.

It subscribes to ``<prefix>.<exchange>.<symbol>.<channel>`` (wildcards when no exchange or symbols
are given), decodes each message with :class:`~feedhandler.bus.decoder.BusDecoder` and hands the
same events as the manager (``BookUpdate``, ``BookStatus``, ``Trade``, ``BookTicker``, ``Ticker``,
``Kline``) to the handler.
A book is valid only from a snapshot on; a hole in a stream's sequence numbers, a publisher restart,
or a lost bus connection makes it invalid (``BookStatus(valid=False)``) until the next snapshot.

With ``jetstream=True`` it reads through an ordered JetStream consumer that starts ``replay_seconds``
in the past, so it gets the last periodic snapshot at once instead of waiting for the next one.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from typing import Any, Callable, Iterable

from ..core.errors import ParseError
from .connection import NatsConnection
from .decoder import BusDecoder

log = logging.getLogger(__name__)

CHANNELS = ("book", "trades", "book_ticker", "ticker", "kline")


class BookFollower(NatsConnection):
    """Follow books and events published by ``NatsSink``.

    Parameters
    ----------
    servers : str or list of str
        NATS URLs.
    handler : callable, optional
        Receives the events (pooled: valid until the handler returns).
    exchange : str, optional
        Only this exchange (default: every exchange).
    symbols : iterable of str, optional
        Only these symbols (default: every symbol).
    channels : iterable of str
        Any of ``book``, ``trades``, ``book_ticker``, ``ticker``, ``kline``.
    depth : int
        At least the levels per side the publisher sends (``NatsSink(depth=...)``, 20 by default); a
        record with more than ``2 * depth`` levels per side is refused as a ``ParseError``.
    jetstream : bool
        Read through JetStream (``stream_name``), replaying ``replay_seconds`` on join.
    error_handler : callable, optional
        Receives ``ParseError`` for a malformed message and ``HandlerError`` when the handler raises.
    """

    def __init__(self, servers: str | list[str], handler: Callable[[Any], Any] | None = None, *,
                 exchange: str | None = None, symbols: Iterable[str] | None = None,
                 channels: Iterable[str] = CHANNELS, prefix: str = "md", depth: int = 100,
                 jetstream: bool = False, stream_name: str = "FH_MD", replay_seconds: float = 2.5,
                 stream_max_age: float = 10.0,
                 error_handler: Callable[[BaseException], Any] | None = None) -> None:
        from ..sinks.encoder import subject_token

        super().__init__(servers, prefix, jetstream, stream_name, stream_max_age)
        self.channels = tuple(channels)
        for ch in self.channels:
            if ch not in CHANNELS:
                raise ValueError(f"unknown bus channel {ch!r}: use {', '.join(CHANNELS)}")
        ex = subject_token(exchange) if exchange else "*"
        syms = [subject_token(s) for s in symbols] if symbols else ["*"]
        self.subjects = [f"{prefix}.{ex}.{s}.{ch}" for s in syms for ch in self.channels]
        if len(self.channels) == len(CHANNELS):
            self.subjects = [f"{prefix}.{ex}.{s}.*" for s in syms]
        self.replay_seconds = replay_seconds
        self.error_handler = error_handler
        self.decoder = BusDecoder(handler, error_handler, depth)
        self.messages = 0
        self.disconnects = 0
        self._subs: list[Any] = []

    # ------------------------------------------------------------------ queries

    def book(self, symbol: str, exchange: str | None = None) -> Any:
        """The follower's ``OrderBook`` for ``symbol`` (None if not seen yet)."""
        return self.decoder.book(symbol, exchange)

    def is_valid(self, symbol: str, exchange: str | None = None) -> bool:
        return self.decoder.is_valid(symbol, exchange)

    def streams(self) -> list[Any]:
        return self.decoder.streams()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> "BookFollower":
        await self._connect()
        await self._subscribe()
        return self

    async def close(self) -> None:
        self._closing = True
        if self._nc is not None:
            await self._nc.close()
            self._nc = None

    async def _subscribe(self) -> None:
        if not self.jetstream:
            for subject in self.subjects:
                self._subs.append(await self._nc.subscribe(subject, cb=self._on_msg))
            return
        from nats.js.api import ConsumerConfig, DeliverPolicy

        await self._ensure_stream()
        js = self._nc.jetstream()
        start = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=self.replay_seconds)
        for subject in self.subjects:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME,
                                    opt_start_time=start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            self._subs.append(await js.subscribe(subject, stream=self.stream_name, cb=self._on_msg,
                                                 ordered_consumer=True, config=config, idle_heartbeat=1.0))

    async def _on_msg(self, msg: Any) -> None:
        self.messages += 1
        try:
            self.decoder.feed(msg.data)
        except ParseError as exc:
            if self.error_handler is not None:
                self.error_handler(exc)
            else:
                log.warning("bus follower: %s", exc)

    async def _on_disconnected(self) -> None:
        # whatever arrives after the reconnect may have a hole we cannot see (a new publisher
        # session at the same sequence): every book waits for a fresh snapshot
        if self._closing:
            return
        self.disconnects += 1
        self.decoder.invalidate_all("bus connection lost")

    async def _on_reconnected(self) -> None:
        if not self.jetstream or self._closing:
            return
        # a restarted server has lost the (memory) stream and its consumers: subscribe afresh,
        # replaying from before the last snapshot (records already seen are skipped by sequence)
        old, self._subs = self._subs, []
        for sub in old:
            try:
                await sub.unsubscribe()
            except Exception:
                pass
        try:
            await self._subscribe()
        except Exception as exc:
            log.warning("bus follower: JetStream subscription not restored: %s", exc)
            if self.error_handler is not None:
                self.error_handler(exc)

    async def _on_error(self, exc: BaseException) -> None:
        log.debug("bus follower: %s", exc)
