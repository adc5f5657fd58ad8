"""Replaying a recording through the exchange's own parser, sync and books, and checking what came out.

:func:`replay` feeds every recorded frame to ``parser.feed(raw, recv_ns)`` (the live entry point), loads each
recorded REST snapshot at the moment it was received, and, with ``check=True``, holds every best bid/offer
event that names a book update id until the rebuilt book reaches that id: compared then (price and size,
exact floats) when the ids are equal, dropped when the book jumped past it (the counting that
``shared/data/binance/PROVENANCE.md`` documents). The :class:`ReplaySummary` says how many frames, events,
snapshots, checks, gaps and resyncs there were, per book.
"""
from __future__ import annotations

import time
from collections import Counter
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..events import BookStatus, BookTicker, BookUpdate
from .feedloop import feed_frames
from .format import KIND_SNAPSHOT, Record
from .sources import KIND_SENT, Recording

__all__ = ["ReplayCheck", "ReplaySummary", "replay", "load_recorded_snapshot"]


@dataclass
class ReplaySummary:
    """What a replay did. ``ok``: no gap, no crossed book, no check mismatch, no parse error."""

    exchange: str
    format: str
    files: list[str]
    frames: int = 0
    sent: int = 0
    snapshots: int = 0
    snapshots_unused: int = 0
    parse_errors: int = 0
    errors: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    bbo_checked: int = 0
    bbo_mismatches: list[tuple[str, int, Any, Any]] = field(default_factory=list)
    invalidations: int = 0
    #: frames after which no event came out (acks, heartbeats, pongs, or channels the parser does not decode)
    silent_frames: int = 0
    books: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed_s: float = 0.0
    first_recv_ns: int = 0
    last_recv_ns: int = 0
    parsers: list[Any] = field(default_factory=list)

    def total(self, key: str) -> int:
        return sum(int(b.get(key, 0)) for b in self.books.values())

    @property
    def gaps(self) -> int:
        return self.total("gaps")

    @property
    def resyncs(self) -> int:
        return self.total("resyncs")

    @property
    def crossed(self) -> int:
        return self.total("crossed")

    @property
    def ok(self) -> bool:
        return not (self.gaps or self.crossed or self.bbo_mismatches or self.parse_errors)

    def to_dict(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "format": self.format, "files": self.files, "frames": self.frames,
                "sent": self.sent, "snapshots": self.snapshots, "snapshots_unused": self.snapshots_unused,
                "parse_errors": self.parse_errors, "errors": dict(self.errors), "events": dict(self.events),
                "bbo_checked": self.bbo_checked, "bbo_mismatches": len(self.bbo_mismatches),
                "gaps": self.gaps, "resyncs": self.resyncs, "crossed": self.crossed,
                "invalidations": self.invalidations, "silent_frames": self.silent_frames, "books": self.books, "elapsed_s": self.elapsed_s, "ok": self.ok}

    def report(self) -> list[str]:
        """The human-readable summary, one line each."""
        rate = self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0
        events = ", ".join(f"{n} {k}" for k, n in sorted(self.events.items())) or "none"
        live = sum(1 for b in self.books.values() if b.get("state") == "LIVE")
        lines = [
            f"replayed {self.frames:,} frames, {self.snapshots} snapshots ({self.format}, {self.exchange}) in "
            f"{self.elapsed_s:.3f}s ({rate:,.0f} frames/s)",
            f"events: {events}; {self.parse_errors} parse errors" + (
                f" ({', '.join(f'{k} {n}' for k, n in self.errors.items())})" if self.errors else ""),
            f"{self.silent_frames:,} frames gave no event (acks, heartbeats, or channels this parser does not decode)",
            f"books: {len(self.books)} ({live} live), {self.total('applied'):,} deltas applied, {self.gaps} gaps, "
            f"{self.resyncs} resyncs, {self.crossed} crossed, {self.invalidations} invalidations",
            f"best bid/offer checked against the rebuilt top: {self.bbo_checked}, "
            f"{len(self.bbo_mismatches)} mismatches",
        ]
        for symbol, b in sorted(self.books.items()):
            lines.append(f"  {symbol}: {b['state']} update {b['last_update_id']} applied {b['applied']} "
                         f"gaps {b['gaps']} resyncs {b['resyncs']}" + (f" top {b['top']}" if b.get("top") else ""))
        for symbol, uid, got, want in self.bbo_mismatches[:5]:
            lines.append(f"  MISMATCH {symbol} at update {uid}: book {got} != best bid/offer {want}")
        lines.append("OK" if self.ok else "NOT OK")
        return lines


class ReplayCheck:
    """The replay's handler: counts events, checks best bid/offer against the books, then calls ``downstream``.

    Parameters
    ----------
    books:
        The parser's ``BookSyncGroup`` (None: nothing to check against).
    downstream:
        The user's handler, called with every event after the check.
    """

    def __init__(self, books: Any, downstream: Callable[[Any], Any] | None = None):
        self.books = books
        self.downstream = downstream
        self.events: Counter = Counter()
        self.errors: Counter = Counter()
        self.pending: dict[str, list[BookTicker]] = {}
        self.checked = 0
        self.mismatches: list[tuple[str, int, Any, Any]] = []
        self.invalidations = 0
        self.total = 0

    def __call__(self, ev: Any) -> None:
        self.total += 1
        self.events[type(ev).__name__] += 1
        if isinstance(ev, BookTicker):
            if ev.update_id > 0 and self.books is not None:
                queue = self.pending.setdefault(ev.symbol, [])
                queue.append(ev.copy())  # pooled: keep a copy until the book reaches its id
                self._drain(ev.symbol, queue)
        elif isinstance(ev, BookUpdate):
            queue = self.pending.get(ev.symbol)
            if queue:
                self._drain(ev.symbol, queue)
        elif isinstance(ev, BookStatus) and not ev.valid:
            self.invalidations += 1
        if self.downstream is not None:
            self.downstream(ev)

    def on_error(self, error: BaseException) -> None:
        self.errors[type(error).__name__] += 1

    def _drain(self, symbol: str, queue: list[BookTicker]) -> None:
        if symbol not in self.books:
            return
        sync = self.books[symbol]
        if not sync.is_valid:
            return
        book = sync.book
        last = book.last_update_id
        keep = []
        for bt in queue:
            if bt.update_id > last:
                keep.append(bt)
            elif bt.update_id == last:
                self.checked += 1
                got = (book.best_bid, book.best_ask)
                want = ((bt.bid_price, bt.bid_qty), (bt.ask_price, bt.ask_qty))
                if got != want:
                    self.mismatches.append((symbol, last, got, want))
        queue[:] = keep


def _snapshot_symbol(snap: dict[str, Any], books: Any, hint: str | None) -> str | None:
    """The book a recorded snapshot is for: named, else the one book waiting for it, else the file's hint."""
    if snap.get("symbol"):
        return str(snap["symbol"])
    waiting = [s for s in books.symbols() if not books[s].is_valid]
    if len(waiting) == 1:
        return waiting[0]
    return hint


def load_recorded_snapshot(books: Any, rec: Record, hint: str | None = None) -> bool:
    """Load a ``KIND_SNAPSHOT`` record into its book if that book needs one; True if it was used."""
    snap = rec.snapshot()
    symbol = _snapshot_symbol(snap, books, hint)
    if symbol is None:
        return False
    sync = books.get(symbol)
    if sync.is_valid:
        return False
    return bool(sync.load_snapshot(snap["last_update_id"], snap["bids"], snap["asks"], rec.recv_ns))


def book_stats(books: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for symbol in books.symbols():
        sync = books[symbol]
        st = dict(sync.stats())
        if sync.is_valid and sync.book.best_bid and sync.book.best_ask:
            (bp, bq), (ap, aq) = sync.book.best_bid, sync.book.best_ask
            st["top"] = f"{bp:.10g} x {bq:.10g} / {ap:.10g} x {aq:.10g}"
        out[symbol] = st
    return out


class _Lane:
    """One parser (its books and checker) for the connections to one WebSocket URL."""

    def __init__(self, parser: Any, handler: Callable[[Any], Any] | None, check: bool, errors: Counter):
        self.parser = parser
        self.books = getattr(parser, "books", None)
        if self.books is not None:
            self.books.request_snapshot = None  # snapshots come from the recording, at the moment they arrived
        self.checker = ReplayCheck(self.books, handler) if check else None

        def count_error(error: BaseException) -> None:
            errors[type(error).__name__] += 1

        parser.bind(self.checker if self.checker is not None else handler,
                    self.checker.on_error if self.checker is not None else count_error)
        self.feed = parser.feed


def replay(recording: Recording, handler: Callable[[Any], Any] | None = None, *, parser: Any = None,
           check: bool = True, speed: str = "max", progress: Callable[[int], None] | None = None,
           records: Iterable[Record] | None = None) -> tuple[ReplaySummary, Any]:
    """Replay ``recording``; returns ``(summary, parser)`` (the parser holds the final books).

    Connections to different WebSocket URLs (a capture of Bybit linear and spot, say) each get their own
    parser, as they would live (``summary.parsers``; the one returned is the first); the books of a second
    URL are reported as ``SYMBOL@<url path>``.

    Parameters
    ----------
    handler:
        Called with every event (after the checks); events are pooled: valid until it returns.
    parser:
        A parser to use instead of ``recording.create_parser()`` (then every connection goes to it).
    check:
        Count events and check best bid/offer against the books (off: ``handler`` is bound directly, fastest).
    speed:
        ``"max"`` or ``"recorded"`` (sleeps the recorded gaps between frames).
    progress:
        Called with the frame count now and then (every 4096 frames).
    records:
        Pre-read records to replay instead of reading the files (benchmarks).
    """
    summary = ReplaySummary(recording.exchange, recording.format, [str(p) for p in recording.paths])
    errors: Counter = Counter()
    lanes: dict[str, _Lane] = {}
    first = _Lane(parser if parser is not None else recording.create_parser(), handler, check, errors)
    urls = recording.connections  # filled while the records are read
    lane_of: dict[int, _Lane] = {}

    def lane_for(conn: int) -> _Lane:
        url = "" if parser is not None else urls.get(conn, "")
        lane = lanes.get(url)
        if lane is None:
            lane = first if not lanes else _Lane(recording.create_parser(), handler, check, errors)
            lanes[url] = lane
        lane_of[conn] = lane
        return lane

    hint = recording.snapshot_symbol_hint()
    first_ns = start = 0
    frames = parse_errors = sent = snapshots = unused = silent = 0
    last_ns = 0
    conn = -1
    feed = first.feed
    checker = first.checker
    started = time.perf_counter()
    it = iter(records if records is not None else recording.records())
    recorded = speed == "recorded"
    # unchecked at full speed: runs of frames go through the compiled loop (feedloop.feed_frames)
    fast = not check and not recorded
    for rec in it:
        while rec is not None:  # a record the compiled run stopped at is handled here too
            kind = rec.kind
            if kind <= 1:  # KIND_TEXT / KIND_BINARY: the hot loop, kept short
                conn_id, payload, last_ns = rec.connection_id, rec.payload, rec.recv_ns
                if conn_id != conn:
                    conn = conn_id
                    lane = lane_of.get(conn) or lane_for(conn)
                    feed, checker = lane.feed, lane.checker
                if fast:
                    frames += 1
                    try:
                        feed(payload, last_ns)
                    except ValueError:
                        parse_errors += 1
                    if progress is not None and not frames & 4095:
                        progress(frames)
                    n, errs, ns, rec = feed_frames(it, feed, conn, frames, progress)
                    if n:
                        frames, parse_errors, last_ns = frames + n, parse_errors + errs, ns
                    continue
                if recorded:
                    if not first_ns:
                        first_ns, start = last_ns, time.monotonic_ns()
                    wait = (last_ns - first_ns) - (time.monotonic_ns() - start)
                    if wait > 0:
                        time.sleep(wait / 1e9)
                frames += 1
                if checker is None:
                    try:
                        feed(payload, last_ns)
                    except ValueError:
                        parse_errors += 1
                else:
                    before = checker.total
                    try:
                        feed(payload, last_ns)
                    except ValueError:
                        parse_errors += 1
                    if checker.total == before:
                        silent += 1
                if progress is not None and not frames & 4095:
                    progress(frames)
            elif kind == KIND_SNAPSHOT:
                snapshots += 1
                if not any(lane.books is not None and load_recorded_snapshot(lane.books, rec, hint)
                           for lane in (lanes.values() or (first,))):
                    unused += 1
            elif kind == KIND_SENT:
                sent += 1
            rec = None
    summary.elapsed_s = time.perf_counter() - started
    summary.frames, summary.sent, summary.snapshots, summary.snapshots_unused = frames, sent, snapshots, unused
    summary.silent_frames = silent
    summary.last_recv_ns = last_ns
    if not lanes:
        lanes[""] = first
    summary.parsers = [lane.parser for lane in lanes.values()]
    for i, (url, lane) in enumerate(lanes.items()):
        suffix = "" if i == 0 else "@" + (urlsplit(url).path.strip("/") or url)
        if lane.checker is not None:
            summary.events.update(lane.checker.events)
            summary.errors.update(lane.checker.errors)
            summary.bbo_checked += lane.checker.checked
            summary.bbo_mismatches += lane.checker.mismatches
            summary.invalidations += lane.checker.invalidations
        if lane.books is not None:
            summary.books.update({k + suffix: v for k, v in book_stats(lane.books).items()})
    summary.errors.update(errors)
    summary.parse_errors = parse_errors + sum(summary.errors.values())
    return summary, first.parser
