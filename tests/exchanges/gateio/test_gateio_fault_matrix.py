"""Gate.io end to end under every fault of the sync issue, rejected auth, and spot.candlesticks / spot.tickers.

Books: every BookUpdate equals the simulator's true book at its update id (whole book), through and after
each fault. Candles and tickers: each event equals an independent ``json.loads`` + ``float()`` decode of the
frame that produced it, and equals the candle / rolling ticker rebuilt from the model's own trades.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fault_matrix_kit import (  # noqa: E402
    FAULTS, Checker, build, no_feedhandler_tasks, run_fault_case, run_unsubscribe_case, wait_for,
)

from feedhandler import ChannelType  # noqa: E402
from feedhandler.core.errors import SubscriptionError  # noqa: E402
from feedhandler.events import BalanceUpdate, Fill, Kline, OrderUpdate, Ticker  # noqa: E402
from feedhandler.sim import SimExchange  # noqa: E402

PAIR = "BTC_USDT"
KEY, SECRET = "sim-api-key", "sim-api-secret"


def frame_check(ev, raw) -> str | None:
    msg = json.loads(bytes(raw))
    r = msg["result"]
    if isinstance(ev, Kline):
        interval, _, pair = r["n"].partition("_")
        want = (pair, interval, int(r["t"]) * 10**9, float(r["o"]), float(r["h"]), float(r["l"]), float(r["c"]),
                float(r["a"]), float(r["v"]), r["w"])
        got = (ev.symbol, ev.interval, ev.open_time_ns, ev.open, ev.high, ev.low, ev.close, ev.volume,
               ev.quote_volume, ev.closed)
    elif isinstance(ev, Ticker):
        want = (r["currency_pair"], float(r["last"]), float(r["high_24h"]), float(r["low_24h"]),
                float(r["base_volume"]), float(r["quote_volume"]), float(r["change_percentage"]))
        got = (ev.symbol, ev.last, ev.high, ev.low, ev.volume, ev.quote_volume, ev.change_pct)
    else:
        return None
    return None if got == want else f"{type(ev).__name__}: {got} != {want}"


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_book_recovers_to_truth_after_fault(fault):
    async with asyncio.timeout(30), SimExchange("gateio", [PAIR], seed=7, rate=150) as sim:
        await run_fault_case("gateio", sim, [PAIR], fault)


async def test_unsubscribe_with_frames_in_flight_closes_the_book():
    async with asyncio.timeout(30), SimExchange("gateio", [PAIR, "ETH_USDT"], seed=8, rate=150) as sim:
        await run_unsubscribe_case("gateio", sim, [PAIR, "ETH_USDT"])


def _model_trades(sim):
    trades: list = []
    step = sim.model.step

    def recording_step(symbol):
        delta = step(symbol)
        trades.extend(delta.trades)
        return delta

    sim.model.step = recording_step
    return trades


def _aggregate(trades):
    ps = [Decimal(t.price) for t in trades]
    qs = [Decimal(t.qty) for t in trades]
    return ps[0], max(ps), min(ps), ps[-1], sum(qs), sum(p * q for p, q in zip(ps, qs))


async def test_candles_and_tickers_match_wire_and_model_trades():
    from feedhandler.exchanges.gateio.sim_protocol import CANDLE_SECONDS, ticker_change_percentage
    async with asyncio.timeout(30), SimExchange("gateio", [PAIR], seed=9, rate=200) as sim:
        trades = _model_trades(sim)
        checker = Checker(sim, frame_check)
        manager, parser = build("gateio", sim, checker, channels=[ChannelType.KLINE, ChannelType.TICKER],
                                kline_interval="10s")
        async with manager:
            await manager.initialize([PAIR])
            await wait_for(lambda: sum(isinstance(e, Kline) for e in checker.events) >= 30
                           and sum(isinstance(e, Ticker) for e in checker.events) >= 30, "candles and tickers")
        assert not no_feedhandler_tasks()
        assert checker.frame_mismatches == [], checker.frame_mismatches[:3]
        assert not checker.errors, checker.errors[:3]
        sec = CANDLE_SECONDS["10s"]
        for kind, events in (("kline", [e for e in checker.events if isinstance(e, Kline)]),
                             ("ticker", [e for e in checker.events if isinstance(e, Ticker)])):
            first = events[0].close if kind == "kline" else events[0].last
            ok = False
            for k in [i for i in range(len(trades)) if float(trades[i].price) == first]:
                if k + len(events) > len(trades):
                    continue
                good = True
                for n, ev in enumerate(events):
                    seen = trades[k:k + n + 1]
                    if kind == "kline":
                        start = seen[-1].ts_ms // 1000 // sec * sec
                        seen = [t for t in seen if t.ts_ms // 1000 // sec * sec == start]
                        o, h, lo, c, v, a = _aggregate(seen)
                        good = (ev.open_time_ns == start * 10**9 and ev.close_time_ns == (start + sec) * 10**9
                                and (ev.open, ev.high, ev.low, ev.close, ev.volume, ev.quote_volume)
                                == tuple(float(x) for x in (o, h, lo, c, v, a)) and not ev.closed)
                    else:
                        o, h, lo, c, v, a = _aggregate(seen)
                        good = (ev.last, ev.high, ev.low, ev.volume, ev.quote_volume, ev.change_pct) == (
                            float(c), float(h), float(lo), float(v), float(a),
                            float(ticker_change_percentage(o, c)))
                    if not good:
                        break
                if good:
                    ok = True
                    break
            assert ok, f"{kind} pushes are not the aggregate of the model's trades"


async def test_candles_and_tickers_survive_garbage_and_drop():
    async with asyncio.timeout(30), SimExchange("gateio", [PAIR], seed=10, rate=200) as sim:
        checker = Checker(sim, frame_check)
        manager, parser = build("gateio", sim, checker, channels=[ChannelType.KLINE, ChannelType.TICKER])
        async with manager:
            await manager.initialize([PAIR])
            await wait_for(lambda: len(checker.events) >= 10, "first pushes")
            sim.faults.garbage_probability = 0.2
            sim.faults.truncate_probability = 0.1
            sim.faults.drop_after_frames = 40
            await asyncio.sleep(0.8)
            sim.faults.clear()
            n = len(checker.events)
            await wait_for(lambda: len(checker.events) >= n + 20, "pushes after the faults")
        assert not no_feedhandler_tasks()
        assert checker.frame_mismatches == [], checker.frame_mismatches[:3]
        assert checker.errors and sim.stats.connections_accepted >= 2


async def test_rejected_auth_reports_then_recovers_on_resubscribe():
    async with asyncio.timeout(30), SimExchange("gateio", [PAIR], seed=5, rate=100, levels=10) as sim:
        sim.faults.reject_auth = True
        checker = Checker(sim)
        manager, parser = build("gateio", sim, checker, is_private=True, api_key=KEY, secret_key=SECRET,
                                channels=[ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES])
        async with manager:
            await manager.initialize([PAIR])
            await wait_for(lambda: len(checker.errors) >= 3, "rejections reported")
            assert checker.events == []
            assert all(isinstance(e, SubscriptionError) and "code 4" in str(e) for e in checker.errors), \
                checker.errors
            assert all(SECRET not in str(e) for e in checker.errors)
            subs = manager.metrics.connections[0].subscriptions
            assert subs and all(v == "failed" for v in subs.values()), subs
            assert sim.stats.auth_rejected >= 3
            # the fault clears; subscribing again and the private pushes arrive
            sim.faults.clear()
            await manager.unsubscribe([PAIR])
            await manager.subscribe([PAIR])
            await wait_for(lambda: {type(e) for e in checker.events} >= {OrderUpdate, Fill, BalanceUpdate},
                           "private pushes after the fault")
        assert not no_feedhandler_tasks()
