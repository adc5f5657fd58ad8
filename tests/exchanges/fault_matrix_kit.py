"""Shared harness of the per-exchange fault matrices (tests/exchanges/<name>/test_<name>_fault_matrix.py).

A real WebSocketManager with the exchange's strategies from the factory runs against the simulator; the
handler checks every BookUpdate (whole book) against the simulator's true book at the same update id, and
records BookStatus events and errors. ``run_fault_case`` switches one fault on once every book is live,
clears it, waits until every book is valid and close to the head again, then checks the final books and
that close() left no feedhandler task.

A book must also be current, not only right at its own id: with the market paused and every frame
delivered, no book may be reported valid while it differs from the true book at the exchange's latest
id (``check_current``). That check runs at the end of every case, and also while the fault is still on
for the faults that would otherwise leave a stale book valid (ids restarting, ids past int64, one
symbol silent, an unknown-symbol flood).
"""
from __future__ import annotations

import asyncio
from collections import Counter
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
    """The true book at a wire update id (the id-restart fault renumbers the wire; Coinbase's books carry a
    per-connection frame number)."""
    t = sim.model.true_book(symbol, sim.model_update_id(symbol, model_id(sim, symbol, update_id)))
    return [tuple(x) for x in t.bids], [tuple(x) for x in t.asks]


async def check_current(sim: SimExchange, parser, symbols: list[str], limit: float = 1.0) -> list[str]:
    """Pause the market, deliver every frame, then: every book reported valid equals the truth at the latest id.

    A valid book still catching up on delivered frames gets ``limit`` seconds; one that stays valid at an
    older state (or a wrong one) is returned as a problem.
    """
    sim.pause()
    try:
        await sim.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            problems = []
            for s in symbols:
                sync = parser.books[s] if s in parser.books else None
                if sync is None or not sync.is_valid:
                    continue
                latest = sim.model.last_update_id(s)
                at = sim.model_update_id(s, model_id(sim, s, sync.book.last_update_id))
                if at != latest or book_sides(sync.book) != true_sides(sim, s, sync.book.last_update_id):
                    problems.append(f"{s}: valid at {at} (wire {sync.book.last_update_id}), exchange at {latest}")
            if not problems or loop.time() > deadline:
                return problems
            await asyncio.sleep(0.02)
    finally:
        sim.resume()


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
        self.per_symbol: Counter[str] = Counter()
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
            self.per_symbol[ev.symbol] += 1
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


# name -> (switch(faults, symbols), reason expected in a BookStatus(valid=False) or None, acts on the initial sync)
def _oversize(f, _):
    f.oversize_bytes = 2 << 20   # over the 1 MiB max_frame_size below
    f.oversize_probability = 0.05


def _refuse(f, _):
    f.drop_after_frames = 5     # cut the live connection so the reconnects meet the refusal
    f.refuse(0.8)


def _flood(f, _):
    f.unknown_symbols = 3000          # distinct fabricated names, 20 frames of them after every real delta
    f.unknown_frames_per_delta = 20


FAULTS: dict[str, tuple[Callable[[Any, list[str]], Any], str | None, bool]] = {
    "drop": (lambda f, _: setattr(f, "drop_after_frames", 30), "connection lost", False),
    # silent until the stale watchdog has noticed (run_fault_case waits for it), however loaded the machine
    "silence": (lambda f, _: setattr(f, "silent", True), "connection lost", False),
    "garbage": (lambda f, _: setattr(f, "garbage_probability", 0.1), None, False),
    "truncated": (lambda f, _: setattr(f, "truncate_probability", 0.05), "gap", False),
    "oversized": (_oversize, "connection lost", False),
    "gap": (lambda f, _: setattr(f, "gap_probability", 0.05), "gap", False),
    "duplicate": (lambda f, _: setattr(f, "duplicate_probability", 0.2), None, False),
    # depth frames only on the connection: every reorder swaps two deltas of the one book -> a gap
    "reorder": (lambda f, _: setattr(f, "reorder_probability", 0.1), "gap", False),
    "slow_rest": (lambda f, _: setattr(f, "rest_delay", 0.3), None, True),
    # the oldest book the history holds: always older than the deltas buffered since subscribing
    "stale_snapshot": (lambda f, _: setattr(f, "stale_snapshot_ids", 10_000), None, True),
    "refused": (_refuse, "connection lost", False),
    # issue 18: situations where a book used to stay valid while the exchange moved on
    "unknown_symbols": (_flood, None, False),
    "id_restart": (lambda f, _: setattr(f, "id_restart", True), "updates discarded", False),
    "ids_past_int64": (lambda f, _: setattr(f, "ids_past_int64", True), "updates rejected", False),
    # every snapshot claims an id 10,000 ahead of the stream: no book may go live on one
    "snapshot_ahead": (lambda f, _: setattr(f, "snapshot_ahead_ids", 10_000), None, True),
    # one symbol's frames stop while its connection stays up: its book must be reported stale
    "silent_symbol": (lambda f, symbols: setattr(f, "silent_symbols", symbols[:1]), "stale", False),
}

#: faults of the REST snapshot (exchanges whose books carry their own snapshots skip them)
REST_SNAPSHOT_FAULTS = frozenset({"slow_rest", "stale_snapshot", "snapshot_ahead"})
#: the faults added for issue 18 (a new exchange's matrix runs them once its simulator numbers snapshots on the wire)
ISSUE18_FAULTS = frozenset({"unknown_symbols", "id_restart", "ids_past_int64", "snapshot_ahead", "silent_symbol"})
#: faults checked with check_current while still on (a stale-valid book is the failure they provoke)
CURRENT_WHILE_ON = frozenset({"unknown_symbols", "id_restart", "ids_past_int64", "silent_symbol"})
#: how fast the manager must notice: discarded/rejected runs and staleness (shorter than the defaults)
DISCARD_LIMIT, DISCARD_TIMEOUT, BOOK_STALE_AFTER = 30, 0.5, 0.3


def build(exchange: str, sim: SimExchange, checker: Checker, *, channels=None, stale: float = 0.0,
          is_private: bool = False, book_stale_after: float = 0.0, **options):
    conn, sub, parser = WebSocketStrategyFactory.create_strategies(
        exchange, is_private, ws_url=sim.ws_url, rest_url=sim.rest_url, **options)
    config = WebSocketManagerConfig(exchange, channel_types=channels or [ChannelType.ORDERBOOK], reconnect=FAST,
                                    stale_timeout=stale, initialize_timeout=5.0, max_frame_size=1 << 20,
                                    is_private=is_private, api_key=options.get("api_key"),
                                    secret_key=options.get("secret_key"), book_discard_limit=DISCARD_LIMIT,
                                    book_discard_timeout=DISCARD_TIMEOUT, book_stale_after=book_stale_after)
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
    fresh = BOOK_STALE_AFTER if fault == "silent_symbol" else 0.0
    if initial:
        switch(sim.faults, symbols)
    manager, parser = build(exchange, sim, checker, stale=stale, book_stale_after=fresh, **options)
    async with manager:
        await manager.initialize(symbols)
        if fault in ("stale_snapshot", "snapshot_ahead"):
            # while every snapshot is unusable no book may go live; each one is refused (too old / ahead)
            counter = "stale_snapshots" if fault == "stale_snapshot" else "snapshots_ahead"
            await wait_for(lambda: all(s in parser.books and parser.books[s].stats()[counter] >= 2
                                       for s in symbols), f"{counter} refused")
            assert not any(parser.books[s].is_valid for s in symbols)
            assert checker.updates == 0
            sim.faults.clear()
        await wait_for(lambda: all(s in parser.books and parser.books[s].is_valid for s in symbols), "initial sync")
        if not initial:
            switch(sim.faults, symbols)
            await asyncio.sleep(duration)
            if fault == "silence":
                await wait_for(lambda: any("connection lost" in r for _, _, r in checker.invalid), "stale connection")
            if fault in CURRENT_WHILE_ON:
                # the fault still on: every book is either invalid or equal to the truth at the latest id
                stale_valid = await check_current(sim, parser, symbols)
                assert stale_valid == [], (fault, stale_valid, parser.stats().get("books"))
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
        not_current = await check_current(sim, parser, symbols)
        assert not_current == [], not_current
        stats = parser.stats()
        group = parser.books
        # bounded: books only for the subscribed symbols, a fixed-size table of reported names
        assert sorted(group.symbols()) == sorted(symbols), group.symbols()[:5]
        assert group.reported_names <= group.REPORTED_NAMES
        if parser.snapshots is not None:
            assert len(parser.snapshots.pending) <= len(symbols)
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
    if fault == "unknown_symbols":
        assert sim.stats.unknown_frames_sent > 1000
        assert stats["symbols"]["unknown_frames"] > 1000, stats["symbols"]
        # no snapshot was asked for a fabricated name; each name reported at most once
        assert set(sim.stats.snapshots_served) <= set(symbols), sim.stats.snapshots_served
        names = [str(e) for e in checker.errors if type(e).__name__ == "UnsubscribedSymbolError"]
        assert names and len(names) == len(set(names)) <= parser.books.REPORTED_NAMES
    if fault == "id_restart":
        assert all(sim.stats.id_restarts[s] >= 1 for s in symbols)
        assert sum(b["discard_resyncs"] for b in stats["books"].values()) >= 1, stats["books"]
    if fault == "ids_past_int64":
        assert sum(b["rejected_resyncs"] for b in stats["books"].values()) >= 1, stats["books"]
        assert checker.errors
    if fault == "snapshot_ahead":
        assert all(stats["books"][s]["snapshots_ahead"] >= 2 for s in symbols), stats["books"]
    if fault == "silent_symbol":
        assert sim.stats.silenced_frames[symbols[0]] > 0
        assert stats["books"][symbols[0]]["stale_reports"] >= 1
    return stats


async def run_unsubscribe_case(exchange: str, sim: SimExchange, symbols: list[str], *, linger: float = 0.4,
                               **options) -> None:
    """Unsubscribe the last symbol while the exchange keeps sending it for ``linger`` s (frames in flight).

    Its book gets a final BookStatus(valid=False, "unsubscribed"), then nothing: no BookUpdate, no status,
    no snapshot request, no book; the late frames are counted. The other symbols stay valid and current.
    """
    gone = symbols[-1]
    checker = Checker(sim)
    manager, parser = build(exchange, sim, checker, **options)
    async with manager:
        await manager.initialize(symbols)
        await wait_for(lambda: all(s in parser.books and parser.books[s].is_valid for s in symbols), "initial sync")
        sim.faults.linger_after_unsubscribe = linger
        served = sim.stats.snapshots_served[gone]
        await manager.unsubscribe([gone])
        mark = (checker.per_symbol[gone], len(checker.statuses))
        assert checker.statuses[-1] == (gone, False, "unsubscribed"), checker.statuses[-3:]
        await asyncio.sleep(linger + 0.2)
        stats = parser.stats()
        assert stats["symbols"]["late_frames"] > 0, stats["symbols"]
        assert gone not in parser.books and parser.book(gone) is None
        assert sim.stats.snapshots_served[gone] == served
        after = [s for s in checker.statuses[mark[1]:] if s[0] == gone]
        assert after == [], after
        assert checker.per_symbol[gone] == mark[0]   # no BookUpdate after the final status
        kept = symbols[:-1]
        assert all(parser.books[s].is_valid for s in kept)
        not_current = await check_current(sim, parser, kept)
        assert not_current == [], not_current
    assert not no_feedhandler_tasks()
    assert checker.mismatches == [], checker.mismatches[:5]
