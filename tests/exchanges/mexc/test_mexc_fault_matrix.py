"""MEXC end to end under every fault of the sync issue, plus kline (308) and mini ticker (309) from the simulator.

Books: every BookUpdate equals the simulator's true book at its update id (whole book), through and after
each fault. Klines and mini tickers: each event equals an independent protobuf decode (google.protobuf,
message classes built from the documented field numbers) of the frame that produced it, and equals the
candle / rolling ticker rebuilt from the model's own trades.
"""
from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from fault_matrix_kit import (  # noqa: E402
    FAULTS, Checker, build, no_feedhandler_tasks, run_fault_case, run_unsubscribe_case, wait_for,
)

from feedhandler import ChannelType  # noqa: E402
from feedhandler.events import Kline, Ticker  # noqa: E402
from feedhandler.sim import SimExchange  # noqa: E402

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402


def _proto_classes():
    """PushDataV3ApiWrapper with the 308/309 bodies, from protocols.md 1.6 (independent of the Cython reader)."""
    T = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(name="mexc_oracle.proto", package="mexc_oracle", syntax="proto3")

    def msg(name, fields):
        m = f.message_type.add(name=name)
        for number, fname, ftype, tname in fields:
            fd = m.field.add(name=fname, number=number, type=ftype, label=T.LABEL_OPTIONAL)
            if tname:
                fd.type_name = f".mexc_oracle.{tname}"
    S, I64, M = T.TYPE_STRING, T.TYPE_INT64, T.TYPE_MESSAGE
    msg("Kline", [(1, "interval", S, None), (2, "windowStart", I64, None), (3, "openingPrice", S, None),
                  (4, "closingPrice", S, None), (5, "highestPrice", S, None), (6, "lowestPrice", S, None),
                  (7, "volume", S, None), (8, "amount", S, None), (9, "windowEnd", I64, None)])
    msg("Mini", [(i + 1, n, S, None) for i, n in enumerate(
        ["symbol", "price", "rate", "zonedRate", "high", "low", "volume", "quantity", "lastCloseRate",
         "lastCloseZonedRate", "lastCloseHigh", "lastCloseLow"])])
    msg("Wrapper", [(1, "channel", S, None), (3, "symbol", S, None), (6, "sendTime", I64, None),
                    (308, "kline", M, "Kline"), (309, "mini", M, "Mini")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("mexc_oracle.Wrapper"))


Wrapper = _proto_classes()


def frame_check(ev, raw) -> str | None:
    w = Wrapper.FromString(bytes(raw))
    if isinstance(ev, Kline):
        k = w.kline
        want = (w.symbol, k.interval, k.windowStart * 10**9, k.windowEnd * 10**9, float(k.openingPrice),
                float(k.highestPrice), float(k.lowestPrice), float(k.closingPrice), float(k.volume), float(k.amount),
                w.sendTime * 10**6)
        got = (ev.symbol, ev.interval, ev.open_time_ns, ev.close_time_ns, ev.open, ev.high, ev.low, ev.close,
               ev.volume, ev.quote_volume, ev.exchange_ts_ns)
    elif isinstance(ev, Ticker):
        m = w.mini
        want = (m.symbol, float(m.price), float(m.high), float(m.low), float(m.quantity), float(m.volume),
                float(m.zonedRate), w.sendTime * 10**6)
        got = (ev.symbol, ev.last, ev.high, ev.low, ev.volume, ev.quote_volume, ev.change_pct, ev.exchange_ts_ns)
    else:
        return None
    return None if got == want else f"{type(ev).__name__}: {got} != {want}"


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_book_recovers_to_truth_after_fault(fault):
    # depth only, one symbol: every reordered/lost frame hits the one book
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT"], seed=7, rate=150) as sim:
        stats = await run_fault_case("mexc", sim, ["BTCUSDT"], fault, speed="10ms")
        if fault in ("garbage", "truncated"):
            assert sum(stats["errors"].values()) > 0, stats


async def test_unsubscribe_with_frames_in_flight_closes_the_book():
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT", "ETHUSDT"], seed=8, rate=150) as sim:
        await run_unsubscribe_case("mexc", sim, ["BTCUSDT", "ETHUSDT"], speed="10ms")


def _model_trades(sim):
    """Record every trade the model makes (the oracle of candles and tickers)."""
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


async def test_kline_and_mini_ticker_match_wire_and_model_trades():
    from feedhandler.exchanges.mexc.sim_protocol import KLINE_SECONDS, mini_ticker_rate
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT"], seed=9, rate=200) as sim:
        trades = _model_trades(sim)
        checker = Checker(sim, frame_check)
        manager, parser = build("mexc", sim, checker, channels=[ChannelType.KLINE, ChannelType.TICKER],
                                speed="10ms", kline_interval="Min1")
        async with manager:
            await manager.initialize(["BTCUSDT"])
            await wait_for(lambda: sum(isinstance(e, Kline) for e in checker.events) >= 30
                           and sum(isinstance(e, Ticker) for e in checker.events) >= 30, "klines and tickers")
        assert not no_feedhandler_tasks()
        assert checker.frame_mismatches == [], checker.frame_mismatches[:3]
        assert not checker.errors, checker.errors[:3]
        klines = [e for e in checker.events if isinstance(e, Kline)]
        minis = [e for e in checker.events if isinstance(e, Ticker)]
        # one push per model trade since the subscription: find the first trade seen, then every push
        # is the aggregate of the model's trades from there (same window for candles)
        tid = [t.trade_id for t in trades]
        for events, kind in ((klines, "kline"), (minis, "mini")):
            first = events[0].close if kind == "kline" else events[0].last
            starts = [i for i in range(len(trades)) if float(trades[i].price) == first]
            ok = False
            for k in starts:
                if k + len(events) > len(trades):
                    continue
                good = True
                for n, ev in enumerate(events):
                    seen = trades[k:k + n + 1]
                    if kind == "kline":
                        sec = KLINE_SECONDS["Min1"]
                        start = seen[-1].ts_ms // 1000 // sec * sec
                        seen = [t for t in seen if t.ts_ms // 1000 // sec * sec == start]
                        o, h, lo, c, v, a = _aggregate(seen)
                        good = (ev.open_time_ns == start * 10**9 and (ev.open, ev.high, ev.low, ev.close, ev.volume,
                                ev.quote_volume) == tuple(float(x) for x in (o, h, lo, c, v, a)))
                    else:
                        o, h, lo, c, v, a = _aggregate(seen)
                        good = (ev.last, ev.high, ev.low, ev.volume, ev.quote_volume, ev.change_pct) == (
                            float(c), float(h), float(lo), float(v), float(a), float(mini_ticker_rate(o, c)))
                    if not good:
                        break
                if good:
                    ok = True
                    break
            assert ok, f"{kind} pushes are not the aggregate of the model's trades ({len(events)} events, {len(tid)} trades)"


async def test_kline_and_ticker_survive_garbage_and_drop():
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT"], seed=10, rate=200) as sim:
        checker = Checker(sim, frame_check)
        manager, parser = build("mexc", sim, checker, channels=[ChannelType.KLINE, ChannelType.TICKER],
                                speed="10ms")
        async with manager:
            await manager.initialize(["BTCUSDT"])
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


async def test_rejected_auth_reports_backs_off_then_recovers():
    from feedhandler.core.errors import AuthenticationError
    from feedhandler.events import Fill
    key, secret = "sim-api-key", "sim-api-secret"
    async with asyncio.timeout(30), SimExchange("mexc", ["BTCUSDT"], seed=6, rate=100, levels=10) as sim:
        sim.faults.reject_auth = True
        checker = Checker(sim)
        manager, parser = build("mexc", sim, checker, is_private=True, api_key=key, secret_key=secret,
                                channels=[ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES])
        init = asyncio.ensure_future(manager.initialize(["BTCUSDT"]))
        try:
            rejected = lambda: [e for e in checker.errors if isinstance(e, AuthenticationError)]  # noqa: E731
            await wait_for(lambda: len(rejected()) >= 2, "rejections reported")
            assert checker.events == []
            assert all(secret not in str(e) for e in checker.errors)
            assert not any(ok for _, ok, _ in sim.protocol.listen_key_log)
            sim.faults.clear()
            # the next listen-key attempt is accepted; the account's fills arrive
            await wait_for(lambda: any(isinstance(e, Fill) for e in checker.events), "fills after the fault")
        finally:
            await asyncio.gather(init, return_exceptions=True)
            await manager.close()
        assert not no_feedhandler_tasks()
        assert any(m == "POST" and ok for m, ok, _ in sim.protocol.listen_key_log)
