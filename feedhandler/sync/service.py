"""Fetches REST snapshots for the books that need one: concurrent, rate-limited, retried."""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Awaitable, Callable, Protocol

from ..core.errors import BookSyncError, FeedError, RestError
from ..core.types import ReconnectPolicy
from .book_sync import BookSync, SyncState

log = logging.getLogger("feedhandler.sync")

#: ``async fetch(symbol) -> (last_update_id, bids, asks)``; levels as ``(n, 2)`` arrays or pair lists.
SnapshotFetcher = Callable[[str], Awaitable[tuple[int, Any, Any]]]


class _Limiter(Protocol):
    async def acquire(self, weight: int = 1) -> None: ...


class SnapshotService:
    """Answers ``BookSync`` snapshot requests.

    A request (made synchronously from the data path) schedules one task per
    symbol; tasks run at most ``max_concurrency`` at a time and pass the rate
    limiter before each REST call. A failed fetch is retried with capped
    exponential backoff and jitter; a snapshot too old for the buffered
    stream is fetched again after ``stale_retry_delay``. Nothing is retried in
    a tight loop. A 4xx answer other than 418/429 (e.g. "Invalid symbol") is
    final for that symbol: reported once, never retried; its book stays invalid.

    Parameters
    ----------
    fetch:
        The exchange's REST snapshot call.
    max_concurrency:
        Snapshots in flight at once.
    rate_limit:
        Optional limiter with ``async acquire(weight)`` (e.g. ``feedhandler.rest.RateLimit``).
    retry:
        Backoff between failed attempts.
    error_handler:
        Receives a ``BookSyncError`` for each failed attempt.
    """

    def __init__(
        self,
        fetch: SnapshotFetcher,
        *,
        max_concurrency: int = 4,
        rate_limit: _Limiter | None = None,
        retry: ReconnectPolicy = ReconnectPolicy(base_delay=0.2, max_delay=10.0, first_delay=0.05),
        stale_retry_delay: float = 0.05,
        error_handler: Callable[[BaseException], Any] | None = None,
    ):
        self.fetch = fetch
        self.rate_limit = rate_limit
        self.retry = retry
        self.stale_retry_delay = stale_retry_delay
        self.error_handler = error_handler
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._rand = random.Random()
        self._closed = False
        self.fetched = 0
        self.failures = 0
        self.refused = 0

    def request(self, sync: BookSync) -> None:
        """Schedule a snapshot for ``sync`` (no-op if one is already under way)."""
        running = self._tasks.get(sync.symbol)
        # a task that has just returned (its done-callback not run yet) must not swallow a new request
        if self._closed or (running is not None and not running.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            sync.snapshot_failed()  # no loop (offline replay): the next delta asks again
            return
        task = loop.create_task(self._run(sync), name=f"feedhandler-snapshot-{sync.symbol}")
        self._tasks[sync.symbol] = task
        task.add_done_callback(lambda t, s=sync.symbol: self._tasks.pop(s, None) if self._tasks.get(s) is t else None)

    def cancel(self, symbols: list[str]) -> None:
        """Stop the fetches of ``symbols`` (unsubscribed): their answers must not resurrect a book."""
        for symbol in symbols:
            for name in (symbol, symbol.upper()):
                task = self._tasks.pop(name, None)
                if task is not None:
                    task.cancel()

    @property
    def pending(self) -> list[str]:
        """Symbols whose snapshot is being fetched."""
        return list(self._tasks)

    async def _run(self, sync: BookSync) -> None:
        attempt = 0
        while not self._closed and sync.state != SyncState.CLOSED:
            attempt += 1
            try:
                async with self._semaphore:
                    if self.rate_limit is not None:
                        await self.rate_limit.acquire(1)
                    update_id, bids, asks = await self.fetch(sync.symbol)
                self.fetched += 1
                if sync.load_snapshot(int(update_id), bids, asks, time.monotonic_ns()):
                    return
                if sync.is_valid or not sync.snapshot_requested:
                    return
                # too old for the buffered stream (or a gap followed it): ask again shortly
                await asyncio.sleep(self.stale_retry_delay)
            except asyncio.CancelledError:
                raise
            except RestError as exc:
                self.failures += 1
                status = exc.status
                if status is not None and 400 <= status < 500 and status not in (418, 429):
                    # the exchange said no for good (unknown symbol, bad parameter): asking again changes nothing
                    self.refused += 1
                    sync.snapshot_refused(f"HTTP {status}: {exc}")
                    self._report(BookSyncError(f"{sync.exchange} {sync.symbol}: snapshot refused (HTTP {status}), "
                                               f"not retried; the book stays invalid: {exc}"))
                    return
                self._report(exc)
                await asyncio.sleep(self.retry.delay(attempt + 1, self._rand.random()))
            except Exception as exc:
                self.failures += 1
                err = exc if isinstance(exc, FeedError) else BookSyncError(
                    f"{sync.exchange} {sync.symbol}: snapshot failed: {type(exc).__name__}: {exc}")
                self._report(err)
                await asyncio.sleep(self.retry.delay(attempt + 1, self._rand.random()))

    def _report(self, error: BaseException) -> None:
        if self.error_handler is None:
            log.warning("%s", error)
            return
        try:
            self.error_handler(error)
        except Exception:
            log.exception("error handler raised")

    async def close(self) -> None:
        """Cancel every fetch under way and wait for them."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
