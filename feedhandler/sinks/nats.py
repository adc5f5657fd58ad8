"""``NatsSink``: the feed's events on NATS (core or JetStream), batched, bounded, never blocking the feed.

Subjects are ``<prefix>.<exchange>.<symbol>.<channel>`` (channel ``book``, ``trades``, ``book_ticker``);
each message is one batch of records of one subject in the fixed layout of ``feedhandler/sinks/wire.pxd``
(see the README for why a fixed layout rather than msgpack: measured in ``benchmarks/bench_bus.py``).

The encoder runs inside the feed's handler call (C, no Python frame per event); once per event-loop
round (or ``linger`` seconds after the round's first record) one callback takes the sealed batches
and writes them to the server's socket in one write (``PUB`` commands; through ``nc.publish`` while
the connection is down). With ``jetstream=True`` a stream
(``stream_name``, subjects ``<prefix>.>``, in memory, ``stream_max_age`` seconds) keeps the recent
messages so that a follower that joins late replays from before the last snapshot and is in sync at
once; publishing stays a plain publish (no per-message acknowledgement round trip).

Slow or absent server: the socket's unsent bytes are bounded by ``pending_size`` while connected, and
nats-py buffers at most ``pending_size`` bytes while reconnecting, the encoder at most
``max_pending_batches`` batches; anything beyond is dropped and counted, never queued without
bound. After a reconnect every book stream sends a snapshot next, so followers recover at once.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Iterable

from ..bus.connection import NatsConnection
from .encoder import BusEncoder, EventSink, SinkTap

log = logging.getLogger(__name__)


class NatsSink(NatsConnection):
    """Publish normalized events to NATS.

    Parameters
    ----------
    servers : str or list of str
        NATS URLs, e.g. ``"nats://127.0.0.1:4222"``.
    jetstream : bool
        Also keep the messages in a JetStream stream (late joiners replay the last snapshot).
    prefix : str
        First subject token.
    depth, snapshot_interval, batch_bytes, max_pending_batches :
        Passed to each exchange's :class:`BusEncoder`.
    stream_name, stream_max_age :
        The JetStream stream (created or updated on start and after each reconnect).
    pending_size : int
        nats-py's outbound buffer bound while disconnected (bytes).
    linger : float
        Seconds to wait after the first record of a round before publishing (0: publish at the end of
        the event-loop round, the lowest latency). A few hundred microseconds make fuller batches and
        fewer publishes at a high event rate (see the README's figures).
    min_write_interval : float
        Seconds between two publish rounds at the least: a feed that keeps the loop busy has its rounds
        coalesced into one socket write per interval (each write costs the feed's thread tens of
        microseconds), while an event after a quiet interval is written at the end of its own round
        (no added latency). 0: a write every loop round.
    name : str, optional
        Connection name shown by the server.
    """

    def __init__(self, servers: str | list[str], *, jetstream: bool = False, prefix: str = "md",
                 depth: int = 20, snapshot_interval: float = 1.0, batch_bytes: int = 65536,
                 max_pending_batches: int = 1024, stream_name: str = "FH_MD", stream_max_age: float = 10.0,
                 pending_size: int = 8 << 20, linger: float = 0.0, min_write_interval: float = 0.001,
                 name: str | None = None) -> None:
        super().__init__(servers, prefix, jetstream, stream_name, stream_max_age)
        self.encoder_options = dict(prefix=prefix, depth=depth, snapshot_interval=snapshot_interval,
                                    batch_bytes=batch_bytes, max_pending_batches=max_pending_batches)
        self.pending_size = pending_size
        self.linger = linger
        self.min_write_interval = min_write_interval
        self.name = name
        self.encoders: dict[str, BusEncoder] = {}
        self.published = 0
        self.publish_errors = 0
        self.reconnects = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._round: asyncio.Handle | None = None      # the scheduled publish of this round
        self._last_write = float("-inf")               # loop time of the last publish round
        self._queued: set[asyncio.Task[None]] = set()  # publishes through nats-py (not connected)

    # ------------------------------------------------------------------ wiring into the feed

    def encoder(self, exchange: str) -> BusEncoder:
        """The encoder of ``exchange`` (one per exchange: its sequence numbers and mirrors)."""
        enc = self.encoders.get(exchange)
        if enc is None:
            enc = BusEncoder(exchange, **self.encoder_options)
            enc.wake = self._schedule
            self.encoders[exchange] = enc
        return enc

    def tap(self, exchange: str, handler: Callable[[Any], Any] | None = None,
            others: Iterable[EventSink] = ()) -> SinkTap:
        """The ``message_handler`` to give the manager: events to this sink (and ``others``), then ``handler``."""
        return SinkTap([self.encoder(exchange), *others], handler)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> "NatsSink":
        await self._connect(name=self.name, pending_size=self.pending_size)
        if self.jetstream:
            await self._ensure_stream()
        self._loop = asyncio.get_running_loop()
        return self

    async def close(self) -> None:
        """Publish what is pending, flush, and close the connection."""
        self._closing = True
        if self._round is not None:
            self._round.cancel()
            self._round = None
        if self._nc is not None:
            try:
                await self._publish_ready()
                await self._nc.flush(timeout=2)
            except Exception as exc:  # closing anyway: the loss is counted, not raised
                log.warning("nats sink: final flush failed: %s", exc)
            await self._nc.close()
            self._nc = None

    async def flush(self, timeout: float = 5.0) -> None:
        """Publish every pending batch and wait until the server has them."""
        await self._publish_ready()
        await self._nc.flush(timeout=timeout)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"published": self.published, "publish_errors": self.publish_errors,
                               "reconnects": self.reconnects}
        for key in ("records", "batches", "snapshots", "dropped_records", "dropped_batches", "unsupported"):
            out[key] = sum(e.stats()[key] for e in self.encoders.values())
        return out

    # ------------------------------------------------------------------ internals

    def _schedule(self) -> None:
        # The encoders' wake (first record of a round, from the feed's handler call): one plain callback
        # per round, no task switch: at the end of the loop round, or ``linger`` later, and never sooner
        # than ``min_write_interval`` after the previous write (a busy feed coalesces its rounds).
        if self._round is None and self._loop is not None and not self._closing:
            delay = max(self.linger, self._last_write + self.min_write_interval - self._loop.time())
            self._round = (self._loop.call_later(delay, self._publish_round) if delay > 0
                           else self._loop.call_soon(self._publish_round))

    def _publish_round(self) -> None:
        self._round = None
        self._last_write = self._loop.time()
        try:
            self._write_ready()
        except Exception as exc:   # a callback must not raise into the loop; nothing is lost silently
            log.warning("nats sink: publish failed: %s", exc)

    async def _publish_ready(self) -> None:
        self._write_ready()
        while self._queued:
            await asyncio.gather(*list(self._queued), return_exceptions=True)

    def _write_ready(self) -> None:
        """Every sealed batch to the server: one socket write per round while connected, else nats-py.

        While connected (and nats-py holds nothing unsent, so order is kept) the batches go out as one
        write of NATS ``PUB`` commands (the protocol nats-py writes, without a Python call and an await
        per message); the socket's send buffer is bounded by ``pending_size`` (beyond it: dropped and
        counted). Otherwise they go through ``nc.publish``, which buffers while reconnecting.
        """
        writer = self._direct_writer()
        for enc in list(self.encoders.values()):
            batches = enc.take()
            if not batches:
                continue
            if writer is None or self._queued:
                task = asyncio.ensure_future(self._publish_batches(enc, batches))
                self._queued.add(task)
                task.add_done_callback(self._queued.discard)
                continue
            too_big = [b for b in batches if len(b[1]) > self._nc.max_payload]
            if too_big:             # the server would close the connection: never sent, counted
                self._lost(enc, too_big)
                batches = [b for b in batches if len(b[1]) <= self._nc.max_payload]
            parts: list[bytes] = []
            size = 0
            for subject, payload in batches:
                head = b"PUB %b %d\r\n" % (subject.encode(), len(payload))
                parts += (head, payload, b"\r\n")
                size += len(head) + len(payload) + 2
            if writer.transport.get_write_buffer_size() + size > self.pending_size:
                self._lost(enc, batches)
                continue
            writer.writelines(parts)
            self.published += len(batches)

    def _direct_writer(self) -> Any:
        # nats-py's stream writer while the connection is up and nats-py has nothing of its own unsent;
        # None otherwise (or if this nats-py keeps its socket elsewhere: then every publish uses the API)
        nc = self._nc
        if nc is None or not nc.is_connected or getattr(nc, "_pending_data_size", 1) != 0:
            return None
        writer = getattr(getattr(nc, "_transport", None), "_io_writer", None)
        if writer is None or writer.transport is None or writer.transport.is_closing():
            return None
        return writer

    async def _publish_batches(self, enc: BusEncoder, batches: list[tuple[str, bytes]]) -> None:
        import nats.errors

        for i, (subject, payload) in enumerate(batches):
            try:
                await self._nc.publish(subject, payload)
                self.published += 1
            except (nats.errors.OutboundBufferLimitError, nats.errors.ConnectionClosedError,
                    nats.errors.ConnectionReconnectingError, nats.errors.MaxPayloadError, AttributeError) as exc:
                # the rest of this round is lost too; followers see the hole, snapshots follow
                self._lost(enc, batches[i:])
                log.debug("nats sink: %d batches lost: %s", len(batches) - i, exc)
                break

    def _lost(self, enc: BusEncoder, batches: list[tuple[str, bytes]]) -> None:
        self.publish_errors += len(batches)
        enc.lose(len(batches), sum(int.from_bytes(p[4:6], "little") for _, p in batches))

    async def _on_disconnected(self) -> None:
        log.info("nats sink: disconnected")

    async def _on_reconnected(self) -> None:
        self.reconnects += 1
        for enc in self.encoders.values():
            enc.reprime()       # subscribers lost what the server could not deliver: snapshots next
        if self.jetstream:
            try:
                await self._ensure_stream()   # a memory stream does not survive a server restart
            except Exception as exc:
                log.warning("nats sink: JetStream stream not recreated: %s", exc)

    async def _on_error(self, exc: BaseException) -> None:
        log.debug("nats sink: %s", exc)
