"""End to end: SimExchange("binance") on 127.0.0.1 + a real WebSocketManager with the binance strategies.

Every BookUpdate handed to the handler is compared (whole book, both sides) with the simulator's true book
at the same update id; each fault is switched on, its effect observed (error / BookStatus), switched off,
and the books must recover (valid again and equal to the truth on every later update).
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from feedhandler import ChannelType, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.core.errors import ParseError
from feedhandler.events.events import BookStatus, BookTicker, BookUpdate, Trade
from feedhandler.sim.faults import FaultConfig
from feedhandler.sim.server import SimExchange

SYMS = ["BTCUSDT", "ETHUSDT"]


class Harness:
    def __init__(self, sim: SimExchange):
        self.sim = sim
        self.checked: Counter[str] = Counter()
        self.mismatches: list = []
        self.statuses: list[BookStatus] = []
        self.errors: list[BaseException] = []
        self.trades = 0
        self.tickers = 0

    def handler(self, ev) -> None:
        if isinstance(ev, BookUpdate):
            true = self.sim.model.true_book(ev.symbol, ev.last_update_id)
            d = ev.book.to_dict()
            got = ([tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]])
            if got != (list(true.bids), list(true.asks)):
                self.mismatches.append((ev.symbol, ev.last_update_id))
            self.checked[ev.symbol] += 1
        elif isinstance(ev, BookStatus):
            self.statuses.append(ev.copy())
        elif isinstance(ev, Trade):
            self.trades += 1
        elif isinstance(ev, BookTicker):
            self.tickers += 1

    async def wait(self, cond, what: str, limit: float = 8.0) -> None:
        deadline = time.monotonic() + limit
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; statuses={[(s.symbol, s.valid, s.reason) for s in self.statuses]}"
                                     f" errors={self.errors[-3:]}")
            await asyncio.sleep(0.02)


def _invalid(reason_part: str):
    return lambda h: any((not s.valid) and reason_part in s.reason for s in h.statuses)


def _error(kind):
    return lambda h: any(isinstance(e, kind) for e in h.errors)


CASES = {
    "none": (lambda sim: None, lambda h: True),
    "drop": (lambda sim: setattr(sim.faults, "drop_after_frames", 30), _invalid("connection lost")),
    # silent until the stale watchdog has noticed (however loaded the machine), then cleared
    "silence": (lambda sim: setattr(sim.faults, "silent", True), _invalid("connection lost")),
    "garbage": (lambda sim: setattr(sim.faults, "garbage_probability", 0.2), _error(ParseError)),
    "truncated": (lambda sim: setattr(sim.faults, "truncate_probability", 0.2), _error(ParseError)),
    "oversized": (lambda sim: (setattr(sim.faults, "oversize_bytes", 300_000),
                               setattr(sim.faults, "oversize_probability", 0.05)), _invalid("connection lost")),
    "gaps": (lambda sim: setattr(sim.faults, "gap_probability", 0.1), _invalid("gap")),
    "duplicates": (lambda sim: setattr(sim.faults, "duplicate_probability", 0.2),
                   lambda h: sum(c.stats.duplicated for c in h.sim.connections) > 20),
    # reordered frames are mostly trades/tickers around a depth frame; a swapped pair of depth frames is a gap
    "reorder": (lambda sim: setattr(sim.faults, "reorder_probability", 0.2),
                lambda h: sum(c.stats.reordered for c in h.sim.connections) > 20),
    "slow_snapshot": (lambda sim: (setattr(sim.faults, "rest_delay", 0.4), setattr(sim.faults, "gap_probability", 0.2)),
                      _invalid("gap")),
    "stale_snapshot": (lambda sim: (setattr(sim.faults, "stale_snapshot_ids", 5), setattr(sim.faults, "gap_probability", 0.2)),
                       _invalid("gap")),
    "refused": (lambda sim: (sim.faults.refuse(0.5), setattr(sim.faults, "drop_after_frames", 5)),
                _invalid("connection lost")),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(CASES))
async def test_books_equal_truth_through_fault(case):
    on, effect = CASES[case]
    async with SimExchange("binance", SYMS, seed=5, rate=80.0, faults=FaultConfig(seed=11)) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "binance", ws_url=sim.ws_url, rest_url=sim.rest_url, book_depth=200)
        h = Harness(sim)
        config = WebSocketManagerConfig(
            "binance", channel_types=[ChannelType.ORDERBOOK, ChannelType.TRADES, ChannelType.BOOK_TICKER],
            stale_timeout=0.8, max_frame_size=200_000, connect_timeout=2.0, initialize_timeout=10.0)
        before = set(asyncio.all_tasks())
        mgr = WebSocketManager(config, conn, sub, parser, h.handler, h.errors.append)
        try:
            async with asyncio.timeout(40):
                await mgr.initialize(SYMS)
                await h.wait(lambda: all(h.checked[s] >= 10 for s in SYMS), "initial sync")
                on(sim)
                await h.wait(lambda: effect(h), f"effect of {case}")
                sim.faults.clear()
                sim.faults.drop_after_frames = None
                mark = dict(h.checked)
                books = parser.books
                await h.wait(lambda: all(books[s].is_valid and h.checked[s] >= mark[s] + 20 for s in SYMS), "recovery")
        finally:
            await mgr.close()
        await asyncio.sleep(0)
        leftover = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
        assert not leftover, leftover
        assert not h.mismatches, h.mismatches[:5]
        assert h.trades > 0 and h.tickers > 0
        # every stream was confirmed by a SUBSCRIBE ack
        sent = [m for c in sim.connections for m in c.stats.messages_received]
        assert sent and all('"method":"SUBSCRIBE"' in m for m in sent if isinstance(m, str))


async def test_raw_stream_path_and_partial_depth():
    """/ws/<stream> raw payloads: partial depth books named from the URL, equal to the true top 5."""
    async with SimExchange("binance", ["BTCUSDT"], seed=2, rate=None) as sim:
        url = f"{sim.ws_base_url}/ws/btcusdt@depth5@100ms"
        conn, sub, parser = WebSocketStrategyFactory.create_strategies("binance", ws_url=url, rest_url=sim.rest_url)
        got = []

        def handler(ev):
            if isinstance(ev, BookUpdate):
                true = sim.model.true_book("BTCUSDT", ev.last_update_id)
                d = ev.book.to_dict()
                got.append((ev.symbol, [tuple(x) for x in d["bids"]] == list(true.bids[:5]),
                            [tuple(x) for x in d["asks"]] == list(true.asks[:5])))

        parser.bind(handler)
        from websockets.asyncio.client import connect
        async with connect(url) as ws:
            await asyncio.sleep(0.05)
            await sim.pump(5)
            for _ in range(5):
                parser.feed(await asyncio.wait_for(ws.recv(decode=False), 2.0), 0)
        assert got == [("BTCUSDT@depth5", True, True)] * 5
        await parser.close()
