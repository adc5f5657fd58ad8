"""RateLimit: exact accounting on a controlled clock, then FIFO and the rate bound on the real clock."""
from __future__ import annotations

import asyncio
import time
import types

import pytest

from feedhandler.core.errors import ConfigurationError
from feedhandler.rest import ratelimit as ratelimit_module
from feedhandler.rest.ratelimit import RateLimit


class ControlledTime:
    """Replaces the module's clock and sleep: the clock moves only when told, and every sleep is recorded
    and parked until released, so the bucket's arithmetic is checked exactly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.wake = asyncio.Event()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await self.wake.wait()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ControlledTime:
    controlled = ControlledTime()
    monkeypatch.setattr(ratelimit_module, "time", types.SimpleNamespace(monotonic=controlled.monotonic))
    monkeypatch.setattr(ratelimit_module, "asyncio", types.SimpleNamespace(sleep=controlled.sleep))
    return controlled


async def _settle() -> None:
    for _ in range(5):  # bounded: lets just-created tasks run to their first await
        await asyncio.sleep(0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1.0, 1), (float("inf"), 1), (float("nan"), 1),
                                             (True, 1), ("5", 1), (1.0, 0), (1.0, 1.5), (1.0, True)])
def test_invalid_parameters_are_refused(rate, burst):
    with pytest.raises(ConfigurationError):
        RateLimit(rate, burst)


@pytest.mark.parametrize("weight", [-1, float("nan"), float("inf"), True, "1"])
async def test_invalid_weight_is_refused(weight):
    with pytest.raises(ValueError):
        await RateLimit(10.0, 5).acquire(weight)


async def test_burst_is_free_then_each_waiter_sleeps_once_for_its_reservation(clock: ControlledTime):
    rate, burst, callers = 10.0, 3, 8
    limit = RateLimit(rate, burst)
    tasks = [asyncio.create_task(limit.acquire()) for _ in range(callers)]
    await _settle()
    done = [t for t in tasks if t.done()]
    assert len(done) == burst  # the bucket starts full: the first `burst` callers pass without sleeping
    # Oracle: with the clock frozen, caller k (0-based, k >= burst) waits for (k - burst + 1) / rate.
    expected = [(k - burst + 1) / rate for k in range(burst, callers)]
    assert clock.sleeps == pytest.approx(expected)  # one sleep per waiter: no polling loop
    assert limit.tokens == pytest.approx(burst - callers)
    clock.wake.set()
    await asyncio.gather(*tasks)
    assert len(clock.sleeps) == callers - burst


async def test_refill_over_time_and_cap(clock: ControlledTime):
    limit = RateLimit(rate=4.0, burst=2)
    await limit.acquire(2)
    assert limit.tokens == pytest.approx(0.0)
    clock.now += 0.25
    assert limit.tokens == pytest.approx(1.0)
    clock.now += 100.0
    assert limit.tokens == pytest.approx(2.0)  # never above burst
    await limit.acquire(1.5)
    assert clock.sleeps == []


async def test_weight_above_burst_waits_for_the_excess(clock: ControlledTime):
    limit = RateLimit(rate=5.0, burst=4)
    task = asyncio.create_task(limit.acquire(10))
    await _settle()
    assert clock.sleeps == pytest.approx([(10 - 4) / 5.0])
    clock.wake.set()
    await task


async def test_cancelled_waiter_returns_its_reservation(clock: ControlledTime):
    limit = RateLimit(rate=1.0, burst=1)
    await limit.acquire()
    second = asyncio.create_task(limit.acquire())
    third = asyncio.create_task(limit.acquire(3))
    await _settle()
    assert limit.tokens == pytest.approx(-4.0)
    third.cancel()
    with pytest.raises(asyncio.CancelledError):
        await third
    assert limit.tokens == pytest.approx(-1.0)  # only the second caller's reservation remains
    fourth = asyncio.create_task(limit.acquire())
    await _settle()
    assert clock.sleeps == pytest.approx([1.0, 4.0, 2.0])  # the newcomer queues right after the second
    clock.wake.set()
    await asyncio.gather(second, fourth)


async def test_a_covered_caller_never_overtakes_an_earlier_sleeper(clock: ControlledTime):
    # A busy loop: the second caller's wake-up time has passed but it has not run yet when a third calls
    # with its weight covered. The third must not return first (FIFO), so it sleeps just after the second.
    limit = RateLimit(rate=1.0, burst=1)
    await limit.acquire()
    order: list[str] = []

    async def caller(name: str) -> None:
        await limit.acquire()
        order.append(name)

    second = asyncio.create_task(caller("second"))
    await _settle()
    clock.now += 5.0   # the second's reservation (1 s) is long covered; its sleep is still parked
    third = asyncio.create_task(caller("third"))
    await _settle()
    assert not third.done() and order == []
    assert clock.sleeps[0] == pytest.approx(1.0) and len(clock.sleeps) == 2
    assert 0.0 < clock.sleeps[1] < 1e-3   # just after the second's (already passed) wake-up time
    clock.wake.set()
    await asyncio.gather(second, third)
    assert order == ["second", "third"]


async def test_zero_weight_never_waits(clock: ControlledTime):
    limit = RateLimit(rate=1.0, burst=1)
    await limit.acquire()
    await limit.acquire(0)
    assert clock.sleeps == []


# --------------------------------------------------------------------------- real clock

async def test_many_concurrent_waiters_are_served_in_call_order_within_the_rate():
    rate, burst, callers = 400.0, 5, 120
    limit = RateLimit(rate, burst)
    order: list[int] = []
    granted: list[float] = []

    async def caller(index: int) -> None:
        await limit.acquire()
        order.append(index)
        granted.append(time.monotonic())

    async with asyncio.timeout(20):
        started = time.monotonic()
        await asyncio.gather(*(caller(i) for i in range(callers)))
    assert order == list(range(callers))  # FIFO
    # Lower bounds only (a sleep never ends early): grant k (0-based) comes no sooner than
    # (k + 1 - burst) / rate after the start; a small allowance covers the clock's resolution.
    for k, at in enumerate(granted):
        assert at - started >= (k + 1 - burst) / rate - 1e-3


async def test_one_bucket_shared_across_tasks_and_weights():
    limit = RateLimit(rate=200.0, burst=10)
    weights = [1, 3, 2, 5, 1, 4] * 5
    async with asyncio.timeout(20):
        started = time.monotonic()
        await asyncio.gather(*(limit.acquire(w) for w in weights))
        finished = time.monotonic()
    assert finished - started >= (sum(weights) - 10) / 200.0 - 1e-3
    assert limit.tokens <= 10.0


def test_repr_names_rate_and_burst():
    text = repr(RateLimit(2.5, 7))
    assert text.startswith("RateLimit(rate=2.5, burst=7, tokens=")
