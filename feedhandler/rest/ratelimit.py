"""An asyncio token bucket that admits requests in call order (FIFO) without polling.

Design: a reservation bucket (the idea behind GCRA). Each ``acquire`` takes its weight from the bucket at
once, letting the balance go negative; a negative balance is a queue of reserved future capacity, and the
caller sleeps exactly until the bucket has refilled enough to cover it. Every waiter therefore sleeps once
(one timer, no wake-up-and-recheck loop), and because each reservation lands after all earlier ones, callers
are admitted in the order they called. A cancelled waiter hands its reservation back.

The bound it guarantees: over any interval of length ``t`` starting from a full bucket, the total weight
admitted is at most ``burst + rate * t``.
"""
from __future__ import annotations

import asyncio
import math
import time

from feedhandler.core.errors import ConfigurationError

__all__ = ["RateLimit"]

_AFTER = 1e-6   # seconds after the last sleeper's wake-up that a covered caller behind it sleeps


class RateLimit:
    """Token bucket: ``burst`` tokens at most, refilled at ``rate`` tokens per second.

    Parameters
    ----------
    rate : float
        Tokens added per second (for example a request-weight budget of 1200 per minute is ``rate=20``).
    burst : int
        Bucket capacity: the weight that may be spent at once after a quiet period. The bucket starts full.

    Notes
    -----
    * Fair: waiters are admitted in call order (a reservation is booked when ``acquire`` is called).
    * No busy loop: each waiter sleeps once, until its reservation is covered.
    * A weight above ``burst`` is allowed: that caller waits until the bucket would hold its whole weight
      beyond what is already reserved, so the long-run rate still holds.
    * The clock is ``time.monotonic``, and the bucket holds no loop-bound primitive, so one instance can be
      shared by several clients (for example one budget per IP address across all REST clients).
    * Not thread-safe: use it from one event loop thread.

    Examples
    --------
    >>> limit = RateLimit(rate=20.0, burst=40)   # doctest: +SKIP
    >>> await limit.acquire(weight=5)            # doctest: +SKIP
    """

    __slots__ = ("_rate", "_burst", "_tokens", "_stamp", "_sleeping", "_last_wake")

    def __init__(self, rate: float, burst: int):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
            raise ConfigurationError(f"RateLimit rate must be a finite number > 0 (tokens per second), got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigurationError(f"RateLimit burst must be an int >= 1, got {burst!r}")
        self._rate = float(rate)
        self._burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._sleeping = 0          # callers asleep in acquire (reservation booked, not yet returned)
        self._last_wake = 0.0       # the latest wake-up time of those callers (time.monotonic)

    @property
    def rate(self) -> float:
        """Tokens added per second."""
        return self._rate

    @property
    def burst(self) -> int:
        """Bucket capacity."""
        return self._burst

    @property
    def tokens(self) -> float:
        """Tokens available now; negative while callers are waiting (their reserved weight)."""
        self._refill(time.monotonic())
        return self._tokens

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self._burst), self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    async def acquire(self, weight: float = 1) -> None:
        """Wait until ``weight`` tokens are granted to this caller, then return.

        Parameters
        ----------
        weight : float, default 1
            Tokens to take (for example an exchange's request weight). ``0`` returns at once.

        Raises
        ------
        ValueError
            If ``weight`` is negative or not a finite number.
        asyncio.CancelledError
            If the caller is cancelled while waiting; its reservation is then returned to the bucket.
        """
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
        now = time.monotonic()
        self._refill(now)
        self._tokens -= weight
        if self._tokens >= 0.0:
            if not self._sleeping or not weight:
                return
            # Covered, but earlier callers are still asleep: their wake-up time has passed and the loop has
            # not run them yet (a busy loop). Returning now would overtake them, so wake just after the
            # last of them (a timer strictly later than theirs runs after theirs).
            delay = max(self._last_wake - now, 0.0) + _AFTER
        else:
            # The balance is negative: -tokens is the weight reserved ahead of (and including) this
            # caller, which the bucket covers after -tokens / rate seconds.
            delay = -self._tokens / self._rate
        self._sleeping += 1
        self._last_wake = max(self._last_wake, now + delay)
        try:
            await asyncio.sleep(delay)
        except BaseException:
            # Cancelled (or the loop is closing): the weight was never used, so give it back. Later
            # waiters keep their wake-up times; they are late at worst, never early.
            self._refill(time.monotonic())
            self._tokens = min(float(self._burst), self._tokens + weight)
            raise
        finally:
            self._sleeping -= 1

    def __repr__(self) -> str:
        return f"RateLimit(rate={self._rate:g}, burst={self._burst}, tokens={self.tokens:.2f})"
