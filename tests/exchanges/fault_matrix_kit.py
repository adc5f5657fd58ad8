"""Shared harness of the per-exchange fault matrices (tests/exchanges/<name>/test_<name>_fault_matrix.py).

A real WebSocketManager with the exchange's strategies from the factory runs against the simulator; the
handler checks every BookUpdate (whole book) against the simulator's true book at the same update id, and
records BookStatus events and errors. ``run_fault_case`` switches one fault on once every book is live,
clears it, waits until every book is valid and close to the head again, then checks the final books and
that close() left no feedhandler task.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from feedhandler import ChannelType, ReconnectPolicy, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.events import BookStatus, BookUpdate
from feedhandler.sim import SimExchange

FAST = ReconnectPolicy(base_delay=0.02, max_delay=0.2, jitter=0.0)


def book_sides(book) -> tuple[list, list]:
    d = book.to_dict()
    return [tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]


def model_id(sim: SimExchange, symbol: str, update_id: int) -> int:
    """The model update id of a book known by ``update_id`` (the same, unless the protocol's books carry a
    per-connection frame number, e.g. Coinbase's ``sequence_num``)."""
    return sim.protocol.book_update_id(symbol, update_id)


def true_sides(sim: SimExchange, symbol: str, update_id: int) -> tuple[list, list]:
    t = sim.model.true_book(symbol, model_id(sim, symbol, update_id))
    return [tuple(x) for x in t.bids], [tuple(x) for x in t.asks]


class Checker:
    """The handler: every BookUpdate against the truth; statuses, errors and other events recorded.

    ``frame_check(event, raw)``, if given, is called for every non-book event with the raw frame that
    produced it (an independent decode of the wire frame is compared with the event there).
    """

    def __init__(self, sim: SimExchange, frame_check: Callable[[Any, Any], str | None] | None = None):
        self.sim = sim
        self.updates = 0
        self.mismatches: list[str] = []
        self.statuses: list[tuple[str, bool, str]] = []
        self.errors: list[BaseException] = []
        self.events: list[Any] = []
        self.last_id: dict[str, int] = {}
        self.frame_check = frame_check
        self.frame_mismatches: list[str] = []
        self.raw: Any = None

    def wrap_feed(self, parser) -> None:
        """Remember the raw frame being decoded (the manager calls ``parser.feed`` once per frame)."""
        inner = parser.feed

        def feed(raw, recv_ns):
            self.raw = raw
            return inner(raw, recv_ns)

        parser.feed = feed

    def __call__(self, ev) -> None:
        if isinstance(ev, BookUpdate):
            self.updates += 1
            self.last_id[ev.symbol] = ev.last_update_id
            if book_sides(ev.book) != true_sides(self.sim, ev.symbol, ev.last_update_id):
                self.mismatches.append(f"{ev.symbol}@{ev.last_update_id}")
        elif isinstance(ev, BookStatus):
            self.statuses.append((ev.symbol, ev.valid, ev.reason))
        else:
            self.events.append(ev.copy())
            if self.frame_check is not None:
                problem = self.frame_check(ev, self.raw)
                if problem:
                    self.frame_mismatches.append(problem)

    @property
    def invalid(self) -> list[tuple[str, bool, str]]:
        return [s for s in self.statuses if not s[1]]


def no_feedhandler_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks()
            if t.get_name().startswith("feedhandler-") and not t.get_name().startswith("feedhandler-sim")
            and not t.done()]


# name -> (switch, reason expected in a BookStatus(valid=False) or None, acts on the initial sync)
def _oversize(f):
    f.oversize_bytes = 2 << 20   # over the 1 MiB max_frame_size below
    f.oversize_probability = 0.05


def _refuse(f):
    f.drop_after_frames = 5     # cut the live connection so the reconnects meet the refusal
    f.refuse(0.8)


FAULTS: dict[str, tuple[Callable[[Any], Any], str | None, bool]] = {
    "drop": (lambda f: setattr(f, "drop_after_frames", 30), "connection lost", False),
    "silence": (lambda f: f.silence(0.8), "connection lost", False),
    "garbage": (lambda f: setattr(f, "garbage_probability", 0.1), None, False),
    "truncated": (lambda f: setattr(f, "truncate_probability", 0.05), "gap", False),
    "oversized": (_oversize, "connection lost", False),
    "gap": (lambda f: setattr(f, "gap_probability", 0.05), "gap", False),
    "duplicate": (lambda f: setattr(f, "duplicate_probability", 0.2), None, False),
    # depth frames only on the connection: every reorder swaps two deltas of the one book -> a gap
    "reorder": (lambda f: setattr(f, "reorder_probability", 0.1), "gap", False),
    "slow_rest": (lambda f: setattr(f, "rest_delay", 0.3), None, True),
    # the oldest book the history holds: always older than the deltas buffered since subscribing
    "stale_snapshot": (lambda f: setattr(f, "stale_snapshot_ids", 10_000), None, True),
    "refused": (_refuse, "connection lost", False),
}


def build(exchange: str, sim: SimExchange, checker: Checker, *, channels=None, stale: float = 0.0,
          is_private: bool = False, **options):
    conn, sub, parser = WebSocketStrategyFactory.create_strategies(
        exchange, is_private, ws_url=sim.ws_url, rest_url=sim.rest_url, **options)
    config = WebSocketManagerConfig(exchange, channel_types=channels or [ChannelType.ORDERBOOK], reconnect=FAST,
                                    stale_timeout=stale, initialize_timeout=5.0, max_frame_size=1 << 20,
                                    is_private=is_private, api_key=options.get("api_key"),
                                    secret_key=options.get("secret_key"))
    checker.wrap_feed(parser)
    manager = WebSocketManager(config, conn, sub, parser, message_handler=checker,
                               error_handler=checker.errors.append)
    return manager, parser


async def wait_for(cond: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    try:
        async with asyncio.timeout(limit):
            while not cond():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def run_fault_case(exchange: str, sim: SimExchange, symbols: list[str], fault: str, *,
                         duration: float = 0.8, **options) -> dict:
    """One fault of FAULTS against one exchange; returns the parser's stats. Asserts the common invariants."""
    switch, reason, initial = FAULTS[fault]
    checker = Checker(sim)
    stale = 0.4 if fault == "silence" else 0.0
    if initial:
        switch(sim.faults)
    manager, parser = build(exchange, sim, checker, stale=stale, **options)
    async with manager:
        await manager.initialize(symbols)
        if fault == "stale_snapshot":
            # while every snapshot is stale no book may go live; each one is refused as stale
            await wait_for(lambda: all(s in parser.books and parser.books[s].stats()["stale_snapshots"] >= 2
                                       for s in symbols), "stale snapshots refused")
            assert not any(parser.books[s].is_valid for s in symbols)
            assert checker.updates == 0
            sim.faults.clear()
        await wait_for(lambda: all(s in parser.books and parser.books[s].is_valid for s in symbols), "initial sync")
        if not initial:
            switch(sim.faults)
            await asyncio.sleep(duration)
        sim.faults.clear()
        mark = checker.updates
        # after the fault clears: every book valid, near the head, and updates flowing again
        await wait_for(lambda: checker.updates >= mark + 10 and all(
            parser.books[s].is_valid
            and model_id(sim, s, parser.books[s].book.last_update_id) >= sim.model.last_update_id(s) - 30
            for s in symbols), f"recovery after {fault}")
        for s in symbols:
            sync = parser.books[s]
            assert sync.is_valid, sync.stats()
            assert book_sides(sync.book) == true_sides(sim, s, sync.book.last_update_id)
        stats = parser.stats()
    assert not no_feedhandler_tasks()
    assert checker.mismatches == [], checker.mismatches[:5]
    assert checker.updates > 10
    if reason is not None:
        assert any(reason in r for _, _, r in checker.invalid), (fault, checker.invalid, stats)
        for sym in {s for s, _, _ in checker.invalid}:   # every invalid is followed by a valid again
            assert [v for s, v, _ in checker.statuses if s == sym][-1] is True, checker.statuses
    else:
        assert checker.invalid == [] or fault in ("garbage", "slow_rest", "stale_snapshot"), checker.invalid
    if fault in ("garbage", "truncated"):
        assert checker.errors, "malformed frames were not reported"
        assert any("ParseError" in type(e).__name__ or "malformed" in str(e).lower() for e in checker.errors), \
            checker.errors[:3]
    if fault == "refused":
        assert sim.stats.connections_refused >= 1
    if fault in ("silence", "drop", "oversized", "refused"):
        assert sim.stats.connections_accepted >= 2
    if fault == "reorder":
        assert sum(c.stats.reordered for c in sim.connections) > 0
    if fault == "duplicate":
        assert sum(c.stats.duplicated for c in sim.connections) > 0
    if fault == "oversized":
        assert sum(c.stats.oversized_sent for c in sim.connections) > 0
    if fault == "stale_snapshot":
        assert sum(sim.stats.snapshots_served.values()) >= 3 * len(symbols)
    if fault == "slow_rest":
        # the stream moved on while the snapshot was slow: buffered deltas were replayed over it
        assert all(parser.books[s].stats()["applied"] > 0 for s in symbols)
    return stats
