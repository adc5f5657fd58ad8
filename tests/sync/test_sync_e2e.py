"""The real manager, the real sync engine and the simulator, under every fault.

After a fault clears, every book equals the simulator's true book at the same
update id (the whole book), the handler was never given a book the true history
does not contain, BookStatus events say what happened, and close() leaves no task.
"""
from __future__ import annotations

import asyncio

import pytest

from feedhandler import ChannelType, ReconnectPolicy, WebSocketManager, WebSocketManagerConfig
from feedhandler.events import BookStatus, BookUpdate
from feedhandler.sim import FaultConfig, SimExchange
from simjson_feed import SimJsonConnection, SimJsonSubscription, simjson_parser

FAST = ReconnectPolicy(base_delay=0.02, max_delay=0.2, jitter=0.0)


def book_sides(book):
    d = book.to_dict()
    return [tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]


def true_sides(sim, symbol, update_id):
    t = sim.model.true_book(symbol, update_id)
    return [tuple(x) for x in t.bids], [tuple(x) for x in t.asks]


class Checker:
    """The handler: checks every BookUpdate against the simulator's history."""

    def __init__(self, sim):
        self.sim = sim
        self.updates = 0
        self.mismatches: list[str] = []
        self.statuses: list[tuple[str, bool, str]] = []
        self.errors: list[BaseException] = []
        self.last_id: dict[str, int] = {}

    def __call__(self, ev):
        if isinstance(ev, BookUpdate):
            self.updates += 1
            self.last_id[ev.symbol] = ev.last_update_id
            if book_sides(ev.book) != true_sides(self.sim, ev.symbol, ev.last_update_id):
                self.mismatches.append(f"{ev.symbol}@{ev.last_update_id}")
        elif isinstance(ev, BookStatus):
            self.statuses.append((ev.symbol, ev.valid, ev.reason))


async def run_feed(sim, symbols, checker, *, stale=0.0, settle_updates=20, faults_on=None, duration=1.0,
                   rate_limit=1000.0, transport="websockets"):
    config = WebSocketManagerConfig("simjson", channel_types=[ChannelType.ORDERBOOK], reconnect=FAST,
                                    stale_timeout=stale, initialize_timeout=5.0, max_frame_size=1 << 20,
                                    transport=transport)
    parser = simjson_parser(sim.rest_url, rate=rate_limit, burst=10)
    manager = WebSocketManager(config, SimJsonConnection(sim.ws_url), SimJsonSubscription(), parser,
                               message_handler=checker, error_handler=checker.errors.append)
    async with manager:
        await manager.initialize(symbols)
        if faults_on is not None:
            # faults start once every book is live, so that each one has something to break
            async with asyncio.timeout(10):
                while not (len(parser.books) == len(symbols) and all(parser.books[s].is_valid for s in symbols)):
                    await asyncio.sleep(0.02)
            faults_on(sim.faults)
            await asyncio.sleep(duration)
            sim.faults.clear()
        # after the fault clears: every book catches up and equals the truth
        async with asyncio.timeout(10):
            while True:
                await asyncio.sleep(0.05)
                books = {s: parser.books[s] for s in symbols if s in parser.books}
                if len(books) == len(symbols) and all(
                    b.is_valid and b.book.last_update_id >= sim.model.last_update_id(s) - 3 * settle_updates
                    and checker.last_id.get(s, 0) > 0 for s, b in books.items()
                ):
                    break
        await sim.flush()
        await asyncio.sleep(0.1)
        for s in symbols:
            sync = parser.books[s]
            assert sync.is_valid, sync.stats()
            assert book_sides(sync.book) == true_sides(sim, s, sync.book.last_update_id)
        stats = parser.stats()
    assert not [t for t in asyncio.all_tasks()
                if t.get_name().startswith("feedhandler-") and not t.get_name().startswith("feedhandler-sim")]
    assert checker.mismatches == [], checker.mismatches[:5]
    return stats


async def test_clean_feed_books_equal_truth():
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT", "ETHUSDT"], seed=1, rate=100) as sim:
        checker = Checker(sim)
        await run_feed(sim, ["BTCUSDT", "ETHUSDT"], checker)
        assert checker.updates > 10
        assert [s for s in checker.statuses if not s[1]] == []


FAULTS = {
    "drop_after_frames": (lambda f: setattr(f, "drop_after_frames", 30), "connection lost"),
    "gap": (lambda f: setattr(f, "gap_probability", 0.05), "gap"),
    "duplicate": (lambda f: setattr(f, "duplicate_probability", 0.2), None),
    "reorder": (lambda f: setattr(f, "reorder_probability", 0.1), "gap"),
    "garbage": (lambda f: setattr(f, "garbage_probability", 0.1), None),
    "truncated": (lambda f: setattr(f, "truncate_probability", 0.05), "gap"),
    "oversized": (lambda f: (setattr(f, "oversize_probability", 0.02), setattr(f, "oversize_bytes", 2 << 20)),
                  "connection lost"),
    "slow_rest": (lambda f: setattr(f, "rest_delay", 0.3), None),
    "stale_snapshot": (lambda f: setattr(f, "stale_snapshot_ids", 20), None),
}


TRANSPORTS = ["websockets", "picows"]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_fault_recovers_to_true_book(fault, transport):
    switch, reason = FAULTS[fault]
    # one symbol per connection: reordered or lost frames then always hit the same book
    async with asyncio.timeout(40), SimExchange("simjson", ["BTCUSDT"], seed=7, rate=150) as sim:
        checker = Checker(sim)
        if fault in ("slow_rest", "stale_snapshot"):
            switch(sim.faults)  # these act on the initial sync
            stats = await run_feed(sim, ["BTCUSDT"], checker, transport=transport)
        else:
            stats = await run_feed(sim, ["BTCUSDT"], checker, faults_on=switch, duration=1.5, transport=transport)
        assert checker.updates > 10
        if reason is not None:
            invalid = [s for s in checker.statuses if not s[1]]
            assert invalid, f"no BookStatus(valid=False) for {fault}; stats {stats}"
            assert any(reason in r for _, _, r in invalid), invalid
            # every invalid is followed by a valid again
            for sym in {s for s, _, _ in invalid}:
                assert [v for s, v, _ in checker.statuses if s == sym][-1] is True
        if fault == "stale_snapshot":
            assert sum(b["stale_snapshots"] for b in stats["books"].values()) > 0
        if fault == "garbage":
            assert any("malformed" in str(e) for e in checker.errors)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_silence_triggers_stale_reconnect_and_resync(transport):
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT"], seed=3, rate=100) as sim:
        checker = Checker(sim)
        await run_feed(sim, ["BTCUSDT"], checker, stale=0.4, faults_on=lambda f: f.silence(1.0), duration=1.2,
                       transport=transport)
        assert sim.stats.connections_accepted >= 2
        assert any("connection lost" in r for _, v, r in checker.statuses if not v)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_refused_connections_then_recovery(transport):
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT"], seed=4, rate=100) as sim:
        checker = Checker(sim)

        def refuse(f):
            f.drop_after_frames = 5
            f.refuse(1.0)

        await run_feed(sim, ["BTCUSDT"], checker, faults_on=refuse, duration=1.0, transport=transport)
        assert sim.stats.connections_refused >= 1


async def test_fifty_symbols_rate_limited_snapshots():
    symbols = [f"S{i:02d}USDT" for i in range(50)]
    async with asyncio.timeout(60), SimExchange("simjson", symbols, seed=5, rate=5, levels=10) as sim:
        checker = Checker(sim)
        stats = await run_feed(sim, symbols, checker, rate_limit=100.0, settle_updates=10)
        assert len(stats["books"]) == 50
        assert all(b["state"] == "LIVE" for b in stats["books"].values())
        assert sum(sim.stats.rest_requests.values()) >= 50
