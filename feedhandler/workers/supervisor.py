"""Sharded multi-process runs: worker processes, each a feed for its share of the symbols, supervised.

:func:`shard` deals the symbols over the workers; each :func:`worker_main` runs the feeds of its shard
(managers on real connections, or frames replayed from recordings) with every configured sink (NATS,
shared memory) and reports progress to the supervisor. :class:`Supervisor` starts them, restarts a
worker that dies (its books are rebuilt from fresh snapshots by the new process; followers see a new
publisher session and wait for its snapshot), shows progress, and stops them all on request.
"""
from __future__ import annotations

import asyncio
import bisect
import itertools
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from .config import RunConfig, Shard, shard

#: how long a worker gets to stop cleanly after SIGTERM before it is killed
STOP_GRACE = 5.0


def _build_manager(feed: Any, handler: Callable[[Any], Any], on_error: Callable[[BaseException], Any]) -> Any:
    from ..cli.feed import credentials_from_env, parse_channels
    from ..core import WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory

    channels = parse_channels(feed.channels)
    is_private = any(c.is_private for c in channels)
    options = dict(feed.options)
    if feed.ws_url:
        options["ws_url"] = feed.ws_url
    if feed.rest_url:
        options["rest_url"] = feed.rest_url
    api_key = secret_key = None
    if is_private:
        api_key, secret_key = credentials_from_env(feed.exchange)
        options.update(api_key=api_key, secret_key=secret_key)
    conn, sub, parser = WebSocketStrategyFactory.create_strategies(feed.exchange, is_private, **options)
    cfg = WebSocketManagerConfig(feed.exchange, is_private=is_private, channel_types=channels, transport=feed.transport,
                                 api_key=api_key, secret_key=secret_key, stale_timeout=10.0)
    return WebSocketManager(cfg, conn, sub, parser, message_handler=handler, error_handler=on_error)


async def _replay(feed: Any, tap: Any, on_error: Callable[[BaseException], Any], counts: dict[str, int]) -> None:
    from ..core import WebSocketStrategyFactory
    from ..recording import KIND_SNAPSHOT, read_recording

    passes = itertools.count() if feed.repeat == 0 else range(feed.repeat)
    for path in (p for _ in passes for p in feed.replay):
        began = time.perf_counter()
        began_cpu = time.process_time()
        _, _, parser = WebSocketStrategyFactory.create_strategies(feed.exchange, False, **feed.options)
        parser.bind(tap, on_error)
        books = parser.books
        books.request_snapshot = None  # snapshots come from the recording
        _, records = read_recording(path)
        n = 0
        for rec in records:
            if rec.kind == KIND_SNAPSHOT:
                snap = rec.snapshot()
                sync = books.get(snap["symbol"])
                if not sync.is_valid:
                    sync.load_snapshot(snap["last_update_id"], snap["bids"], snap["asks"], rec.recv_ns)
                continue
            try:
                parser.feed(rec.payload, rec.recv_ns)
            except ValueError:
                counts["parse_errors"] += 1
            counts["frames"] += 1
            n += 1
            if n & 255 == 0:
                await asyncio.sleep(0)   # a loop round: the sinks publish what is batched
        await parser.close()
        counts["replay_seconds"] += time.perf_counter() - began
        counts["replay_cpu_seconds"] += time.process_time() - began_cpu


async def _worker(config: RunConfig, part: Shard, progress: Any, worker_id: int, generation: int) -> int:
    from ..sinks.encoder import SinkTap
    from .counter import WorkerCounter

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    counter = WorkerCounter()
    errors = {"count": 0}
    counts: dict[str, Any] = {"frames": 0, "parse_errors": 0, "replay_seconds": 0.0, "replay_cpu_seconds": 0.0}

    def on_error(exc: BaseException) -> None:
        errors["count"] += 1

    nats_sink = None
    if config.nats is not None:
        from ..sinks.nats import NatsSink

        n = config.nats
        nats_sink = await NatsSink(n.servers, jetstream=n.jetstream, prefix=n.prefix, depth=n.depth,
                                   snapshot_interval=n.snapshot_interval, stream_name=n.stream_name,
                                   name=f"feedhandler-worker-{worker_id}").start()
    shm_writer = None
    if config.shm is not None:
        from ..shm import ShmWriter

        shm_writer = ShmWriter.attach(config.shm.name, worker_id)
    managers = []
    tasks = []
    started = time.monotonic()
    for feed in part.feeds:
        sinks = []
        if nats_sink is not None:
            sinks.append(nats_sink.encoder(feed.exchange))
        if shm_writer is not None:
            sinks.append(shm_writer.sink(feed.exchange))
        tap = SinkTap(sinks, counter)
        if feed.replay:
            tasks.append(asyncio.create_task(_replay(feed, tap, on_error, counts)))
        else:
            manager = _build_manager(feed, tap, on_error)
            await manager.__aenter__()
            managers.append(manager)
            tasks.append(asyncio.create_task(manager.initialize(feed.symbols)))

    def report(final: bool = False) -> None:
        frames = counts["frames"] + sum(m.metrics.frames for m in managers)
        stats = nats_sink.stats() if nats_sink is not None else {}
        msg = {"worker": worker_id, "pid": os.getpid(), "generation": generation, "frames": frames,
               "events": counter.events, "errors": errors["count"], "valid": sum(counter.valid.values()),
               "books": len(counter.valid), "published": stats.get("published", 0),
               "dropped": stats.get("dropped_batches", 0), "elapsed": time.monotonic() - started,
               "replay_seconds": counts["replay_seconds"], "replay_cpu_seconds": counts["replay_cpu_seconds"],
               "t": time.monotonic(), "cpu": time.process_time(), "final": final}
        try:
            progress.put_nowait(msg)
        except queue.Full:
            pass

    replay_only = all(f.replay for f in part.feeds)
    parent = os.getppid()
    try:
        while not stop.is_set():
            if os.getppid() != parent:   # the supervisor is gone: never run on as an orphan
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=config.progress_interval)
            except TimeoutError:
                pass
            if replay_only and all(t.done() for t in tasks):
                break
            report()
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()
    finally:
        for t in tasks:
            t.cancel()
        # bounded: a worker asked to stop must stop even if an exchange or the bus no longer answers
        for closing in [m.close() for m in managers] + ([nats_sink.close()] if nats_sink is not None else []):
            try:
                await asyncio.wait_for(closing, STOP_GRACE / 2)
            except (TimeoutError, Exception):
                pass
        if shm_writer is not None:
            shm_writer.close()
        report(final=True)
    return 0


def worker_main(config: RunConfig, part: Shard, progress: Any, worker_id: int, generation: int) -> None:
    """Entry point of a worker process."""
    try:
        import uvloop  # optional: the 'fast' extra
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    sys.exit(runner(_worker(config, part, progress, worker_id, generation)))


def _interpolate(samples: deque[tuple[float, int, float]], t: float) -> tuple[float, float]:
    """(frames, CPU seconds) at time ``t``, linear between the two reports around it (``t`` inside them)."""
    times = [s[0] for s in samples]
    j = min(max(bisect.bisect_left(times, t), 1), len(times) - 1)
    (ta, fa, ca), (tb, fb, cb) = samples[j - 1], samples[j]
    x = 0.0 if tb == ta else (t - ta) / (tb - ta)
    return fa + x * (fb - fa), ca + x * (cb - ca)


@dataclass
class WorkerState:
    shard: Shard
    process: Any = None
    generation: int = 0
    restarts: int = 0
    last: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    frames_before: int = 0   # frames of earlier generations (a restarted worker counts from 0)
    # (monotonic time, frames, process CPU seconds) of each progress report of this generation; the
    # clock is the host's, the same in every process
    samples: deque[tuple[float, int, float]] = field(default_factory=lambda: deque(maxlen=100_000))


class Supervisor:
    """Start, watch and restart the workers of a run.

    Parameters
    ----------
    config : RunConfig
        The run.
    workers : int
        Processes (symbols dealt round-robin; fewer if there are fewer shards).
    out : text stream, optional
        Where progress lines go (None: nowhere).
    restart : bool
        Restart a worker that exits unexpectedly (replay workers that finish are done, not restarted).
    """

    def __init__(self, config: RunConfig, workers: int | None = None, *, out: TextIO | None = None,
                 restart: bool = True) -> None:
        self.config = config
        self.workers = [WorkerState(s) for s in shard(config, workers or config.workers)]
        self.out = out
        self.restart = restart
        self._ctx = mp.get_context("spawn")
        self._progress = self._ctx.Queue(maxsize=10_000)
        self._stopping = False
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        if self.config.shm is not None:
            from ..shm import ShmTable

            # the table is created once by the supervisor: every worker writes its own symbols' slots
            self._table = ShmTable.create(self.config.shm.name, self.config.symbols(), depth=self.config.shm.depth,
                                          ring_slots=self.config.shm.ring_slots, workers=len(self.workers))
        for i in range(len(self.workers)):
            self._spawn(i)

    def _spawn(self, i: int) -> None:
        w = self.workers[i]
        w.process = self._ctx.Process(target=worker_main, args=(self.config, w.shard, self._progress, i, w.generation),
                                      name=f"feedhandler-worker-{i}", daemon=True)
        w.process.start()

    def poll(self, timeout: float = 0.2) -> None:
        """Read progress, restart dead workers; call repeatedly."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self._progress.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            w = self.workers[msg["worker"]]
            if msg["generation"] == w.generation:
                w.last = msg
                w.samples.append((msg["t"], msg["frames"], msg["cpu"]))
        for i, w in enumerate(self.workers):
            p = w.process
            if p is None or w.done or p.exitcode is None:
                continue
            all_replay = all(f.replay for f in w.shard.feeds)
            if self._stopping or (all_replay and p.exitcode == 0):
                w.done = True
                continue
            if not self.restart:
                w.done = True
                continue
            w.frames_before += w.last.get("frames", 0)
            w.last = {}
            w.samples.clear()
            w.restarts += 1
            w.generation += 1
            if self.out is not None:
                print(f"worker {i} (pid {p.pid}) exited with {p.exitcode}: restarting", file=self.out, flush=True)
            self._spawn(i)

    @property
    def finished(self) -> bool:
        return all(w.done for w in self.workers)

    def frames(self) -> int:
        return sum(w.frames_before + w.last.get("frames", 0) for w in self.workers)

    def window_rate(self, t0: float, t1: float) -> dict[str, float]:
        """Throughput over the window ``[t0, t1]`` (``time.monotonic()`` times) from the progress reports.

        Each worker's frames and CPU seconds at ``t0`` and ``t1`` are interpolated between its reports, so
        start-up (process spawn, imports, the first snapshot) before ``t0`` and shut-down after ``t1``
        are not counted. Returns ``frames_per_s`` (all workers), ``frames_per_cpu_s`` (frames per CPU
        second the workers used in the window) and ``cpu_per_s`` (cores the workers kept busy).
        Raises ValueError if some worker's reports do not cover the window (or it restarted in it).
        """
        if not t1 > t0:
            raise ValueError(f"empty window [{t0}, {t1}]")
        frames = cpu = 0.0
        for i, w in enumerate(self.workers):
            if not w.samples or w.samples[0][0] > t0 or w.samples[-1][0] < t1:
                raise ValueError(f"worker {i}'s progress reports do not cover the window (start later, stop later)")
            f0, c0 = _interpolate(w.samples, t0)
            f1, c1 = _interpolate(w.samples, t1)
            frames += f1 - f0
            cpu += c1 - c0
        return {"frames_per_s": frames / (t1 - t0), "frames_per_cpu_s": frames / cpu if cpu > 0 else 0.0,
                "cpu_per_s": cpu / (t1 - t0)}

    def progress_line(self) -> str:
        parts = []
        for i, w in enumerate(self.workers):
            m = w.last
            parts.append(f"w{i} pid {m.get('pid', '-')}: {w.frames_before + m.get('frames', 0):,} frames "
                         f"{m.get('events', 0):,} events books {m.get('valid', 0)}/{m.get('books', 0)} valid "
                         f"published {m.get('published', 0):,} restarts {w.restarts}")
        return f"[{time.monotonic() - self.started:6.1f}s] " + " | ".join(parts)

    def stop(self) -> None:
        """SIGTERM every worker, wait up to STOP_GRACE, then kill; reads the final progress."""
        self._stopping = True
        for w in self.workers:
            if w.process is not None and w.process.exitcode is None:
                w.process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for w in self.workers:
            if w.process is not None:
                w.process.join(max(0.0, deadline - time.monotonic()))
                if w.process.exitcode is None:
                    w.process.kill()
                    w.process.join(2)
        self.poll(0.1)
        if self.config.shm is not None:
            self._table.close()

    def run(self, duration: float = 0.0) -> dict[str, Any]:
        """Run until ``duration`` seconds passed (0: until every worker finished, or Ctrl-C / SIGTERM)."""

        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt   # unwinds into stop(): the workers are stopped too

        previous = signal.signal(signal.SIGTERM, on_term)
        cpu0 = time.process_time()
        self.start()
        next_line = time.monotonic() + self.config.progress_interval
        try:
            while not self.finished and (not duration or time.monotonic() - self.started < duration):
                self.poll(0.1)
                if self.out is not None and time.monotonic() >= next_line:
                    print(self.progress_line(), file=self.out, flush=True)
                    next_line += self.config.progress_interval
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            signal.signal(signal.SIGTERM, previous)
        elapsed = time.monotonic() - self.started
        return {"frames": self.frames(), "elapsed": elapsed, "workers": len(self.workers),
                "restarts": sum(w.restarts for w in self.workers),
                "worker_elapsed": [w.last.get("elapsed", 0.0) for w in self.workers],
                "worker_frames": [w.frames_before + w.last.get("frames", 0) for w in self.workers],
                "replay_seconds": [w.last.get("replay_seconds", 0.0) for w in self.workers],
                "replay_cpu_seconds": [w.last.get("replay_cpu_seconds", 0.0) for w in self.workers],
                "supervisor_cpu_seconds": time.process_time() - cpu0}
