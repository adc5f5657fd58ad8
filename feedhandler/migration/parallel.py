"""Parallel run: two implementations on the same frames, their events compared, the first divergence reported.

Events are paired by identity, not by arrival order, so that two implementations that sync their
books at different moments (each fetching its own snapshot) still compare exactly where both have
a state:

* ``BookUpdate``: by ``(symbol, last_update_id)``; the value is the book's top ``depth`` levels per
  side (``depth=0``: the whole book), read after the update.
* ``Trade``: by ``(symbol, trade_id)`` (or the string id; or the n-th trade of the symbol when the
  exchange sends no id); the value is price, quantity, side and exchange time.
* ``BookTicker``: by ``(symbol, update_id)`` (or the n-th); value bid/ask prices and sizes.
* Private events (orders, fills, balances) by their n-th occurrence; value their fields.
* A frame one implementation rejects (raises) and the other accepts is a divergence too.

A book state one side emitted and the other skipped over (it synced later, from a newer snapshot,
and never emitted that id) is not a divergence: it is dropped once the other side moved past it.

Use :class:`ParallelParser` inside one :class:`WebSocketManager` (live: both parsers see every frame
of the same connection), or :func:`compare_recording` on a recording made by ``feedhandler record``.
"""
from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..core.strategies import ErrorHandler, EventHandler, Frame, MessageParser
from ..core.types import MessageType
from ..events import BookStatus, BookTicker, BookUpdate, Trade

__all__ = ["Divergence", "EventComparator", "ParallelParser", "compare_recording", "describe_frame", "load_snapshot"]

_SIDES = ("primary", "shadow")


def describe_frame(raw: Any, limit: int = 160) -> str:
    """A short, printable summary of a frame: text as is, binary as length + hex head (+ MEXC channel)."""
    if raw is None:
        return "(no frame)"
    if isinstance(raw, str):
        return f"text {len(raw)} chars: {raw[:limit]!r}"
    data = bytes(raw)
    if data[:1] in (b"{", b"["):
        return f"text {len(data)} bytes: {data[:limit].decode('utf-8', 'replace')!r}"
    summary = f"binary {len(data)} bytes: {data[:48].hex()}{'...' if len(data) > 48 else ''}"
    try:  # protobuf frames: name the channel (field 1) when there is one
        from ..legacy.protowire import fields, to_text

        for number, wire, value in fields(data):
            if number == 1 and wire == 2:
                summary += f" (channel {to_text(value)[:100]})"
            break
    except Exception:
        pass
    return summary


@dataclass(slots=True)
class Divergence:
    """The first place where the two implementations disagree."""

    kind: str                    # "book", "trade", "ticker", "event", "error"
    symbol: str
    key: Any                     # update id, trade id, or occurrence number
    primary: Any
    shadow: Any
    frame_index: int             # the frame (record) after which the disagreement was visible
    frame: str                   # its summary (describe_frame)
    primary_frame: int = -1
    shadow_frame: int = -1

    def __str__(self) -> str:
        return (f"first divergence: {self.kind} {self.symbol} {self.key} at frame {self.frame_index} "
                f"[{self.frame}]\n  primary (frame {self.primary_frame}): {self.primary}\n"
                f"  shadow  (frame {self.shadow_frame}): {self.shadow}")


def _levels(book: Any, side: str, depth: int) -> tuple[tuple[float, float], ...]:
    if depth <= 0:
        return tuple((float(p), float(q)) for p, q in book.to_dict()[side])
    prices, qtys = book.top_bids(depth) if side == "bids" else book.top_asks(depth)
    return tuple((float(p), float(q)) for p, q in zip(prices, qtys))


@dataclass
class EventComparator:
    """Pairs the events of two implementations and keeps the first divergence.

    Parameters
    ----------
    depth:
        Book levels per side compared after each update (0 = the whole book).
    max_pending:
        Bound of unpaired entries kept per side (oldest dropped first).
    keep_frames:
        How many recent frames are remembered to describe the frame of a divergence.
    """

    depth: int = 10
    max_pending: int = 100_000
    keep_frames: int = 4096
    divergence: Divergence | None = None
    divergences: int = 0
    matched: dict[str, int] = field(default_factory=lambda: {"book": 0, "trade": 0, "ticker": 0, "event": 0})
    unpaired_dropped: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: {"primary": 0, "shadow": 0})
    frame_index: int = -1

    def __post_init__(self) -> None:
        self._pending: dict[str, dict[Any, tuple[Any, int]]] = {s: {} for s in _SIDES}
        self._books: dict[str, dict[str, dict[int, tuple[Any, int]]]] = {s: {} for s in _SIDES}
        self._seq: dict[str, dict[Any, itertools.count]] = {s: {} for s in _SIDES}
        self._frames: deque[tuple[int, Any]] = deque(maxlen=self.keep_frames)
        self._last_book: dict[str, dict[str, int]] = {s: {} for s in _SIDES}

    # ---- frames --------------------------------------------------------------------------------
    def begin_frame(self, raw: Any, index: int | None = None) -> int:
        """Note the frame both implementations are about to see; returns its index."""
        self.frame_index = self.frame_index + 1 if index is None else index
        self._frames.append((self.frame_index, raw))
        return self.frame_index

    def _frame(self, index: int) -> Any:
        for i, raw in reversed(self._frames):
            if i == index:
                return raw
        return None

    # ---- events ---------------------------------------------------------------------------------
    def handler(self, side: str) -> Callable[[Any], None]:
        """The event handler feeding one side (``"primary"`` or ``"shadow"``)."""
        if side not in _SIDES:
            raise ValueError(f"side must be one of {_SIDES}")
        return lambda event: self.add(side, event)

    def _next(self, side: str, key: Any) -> int:
        counters = self._seq[side]
        c = counters.get(key)
        if c is None:
            c = counters[key] = itertools.count()
        return next(c)

    def add(self, side: str, ev: Any) -> None:
        if isinstance(ev, BookUpdate):
            self._add_book(side, ev)
            return
        if isinstance(ev, BookStatus):
            self.statuses[side] += 1
            return
        if isinstance(ev, Trade):
            tid: Any = ev.trade_id if ev.trade_id >= 0 else (ev.trade_id_str or f"#{self._next(side, ('t', ev.symbol))}")
            self._pair(side, ("trade", ev.symbol, tid), (ev.price, ev.qty, int(ev.side), ev.exchange_ts_ns))
        elif isinstance(ev, BookTicker):
            uid: Any = ev.update_id or f"#{self._next(side, ('k', ev.symbol))}"
            self._pair(side, ("ticker", ev.symbol, uid), (ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty))
        else:
            d = ev.to_dict() if hasattr(ev, "to_dict") else {"repr": repr(ev)}
            d.pop("recv_ns", None)
            name = type(ev).__name__
            self._pair(side, ("event", f"{name}:{ev.symbol}", self._next(side, name)), d)

    def _add_book(self, side: str, ev: BookUpdate) -> None:
        other = _SIDES[1] if side == _SIDES[0] else _SIDES[0]
        sym, uid = ev.symbol, ev.last_update_id
        value = (_levels(ev.book, "bids", self.depth), _levels(ev.book, "asks", self.depth))
        self._last_book[side][sym] = uid
        theirs = self._books[other].setdefault(sym, {})
        # the other side's states older than this one will never be paired: this side moved past them
        while theirs:
            oldest = next(iter(theirs))
            if oldest >= uid:
                break
            del theirs[oldest]
            self.unpaired_dropped += 1
        if uid in theirs:
            their_value, their_frame = theirs.pop(uid)
            self.matched["book"] += 1
            if their_value != value:
                self._diverge("book", sym, uid, side, value, self.frame_index, their_value, their_frame)
            return
        if self._books[other].get(sym) is not None and self._last_book[other].get(sym, -1) > uid:
            self.unpaired_dropped += 1  # the other side already moved past this id
            return
        mine = self._books[side].setdefault(sym, {})
        mine[uid] = (value, self.frame_index)
        if len(mine) > self.max_pending:
            del mine[next(iter(mine))]
            self.unpaired_dropped += 1

    def _pair(self, side: str, key: tuple, value: Any) -> None:
        other = _SIDES[1] if side == _SIDES[0] else _SIDES[0]
        theirs = self._pending[other]
        if key in theirs:
            their_value, their_frame = theirs.pop(key)
            self.matched[key[0]] += 1
            if their_value != value:
                self._diverge(key[0], key[1], key[2], side, value, self.frame_index, their_value, their_frame)
            return
        mine = self._pending[side]
        mine[key] = (value, self.frame_index)
        if len(mine) > self.max_pending:
            del mine[next(iter(mine))]
            self.unpaired_dropped += 1

    def error(self, side: str, exc: BaseException | None, other_exc: BaseException | None) -> None:
        """One side rejected the current frame and the other did not."""
        p, s = (exc, other_exc) if side == "primary" else (other_exc, exc)
        show = lambda e: "accepted" if e is None else f"raised {type(e).__name__}: {e}"  # noqa: E731
        self._diverge("error", "", self.frame_index, "primary", show(p), self.frame_index, show(s), self.frame_index)

    def _diverge(self, kind: str, symbol: str, key: Any, side: str, value: Any, frame: int,
                 their_value: Any, their_frame: int) -> None:
        self.divergences += 1
        if self.divergence is not None:
            return
        if side == "primary":
            pv, pf, sv, sf = value, frame, their_value, their_frame
        else:
            pv, pf, sv, sf = their_value, their_frame, value, frame
        at = max(pf, sf)
        self.divergence = Divergence(kind, symbol, key, pv, sv, at, describe_frame(self._frame(at)), pf, sf)

    def unpaired(self) -> dict[str, int]:
        """Entries still waiting for the other side (e.g. events after the other stopped)."""
        return {s: len(self._pending[s]) + sum(len(b) for b in self._books[s].values()) for s in _SIDES}

    def summary(self) -> str:
        m = self.matched
        head = (f"matched {m['book']} book states, {m['trade']} trades, {m['ticker']} tickers, {m['event']} other events "
                f"over {self.frame_index + 1} frames; unpaired {self.unpaired()}, skipped {self.unpaired_dropped}")
        if self.divergence is None:
            return "identical: " + head
        return f"DIVERGED ({self.divergences} differences): {head}\n{self.divergence}"


class ParallelParser(MessageParser):
    """Feeds every frame to ``primary`` and ``shadow`` and compares their events.

    The primary's events go to the user's handler and its message type is what the manager acts on;
    the shadow's events only go to the comparator. A frame the shadow rejects does not disturb the feed.
    """

    def __init__(self, primary: MessageParser, shadow: MessageParser, comparator: EventComparator | None = None,
                 *, depth: int = 10):
        self.primary = primary
        self.shadow = shadow
        self.comparator = comparator or EventComparator(depth=depth)
        self._primary_in = self.comparator.handler("primary")
        shadow.bind(self.comparator.handler("shadow"), self._shadow_error)
        self.shadow_errors: list[BaseException] = []

    def _shadow_error(self, exc: BaseException) -> None:
        self.shadow_errors.append(exc)
        del self.shadow_errors[:-100]

    def bind(self, handler: EventHandler | None, error_handler: ErrorHandler | None = None) -> None:
        super().bind(handler, error_handler)
        record = self._primary_in

        def tee(event: Any) -> None:
            record(event)
            if handler is not None:
                handler(event)

        self.primary.bind(tee, error_handler)

    def get_message_type(self, raw_message: Frame) -> MessageType:
        return self.primary.get_message_type(raw_message)

    def feed(self, raw_message: Frame, recv_ns: int) -> int:
        cmp = self.comparator
        cmp.begin_frame(raw_message)
        p_exc = s_exc = None
        result = int(MessageType.UNKNOWN)
        try:
            result = self.primary.feed(raw_message, recv_ns)
        except Exception as exc:
            p_exc = exc
        try:
            self.shadow.feed(raw_message, recv_ns)
        except Exception as exc:
            s_exc = exc
            self._shadow_error(exc)
        if (p_exc is None) != (s_exc is None):
            cmp.error("primary", p_exc, s_exc)
        if p_exc is not None:
            raise p_exc
        return result

    def on_connection_lost(self, symbols: Iterable[str]) -> None:
        symbols = list(symbols)
        self.primary.on_connection_lost(symbols)
        self.shadow.on_connection_lost(symbols)

    def on_unsubscribed(self, symbols: Iterable[str]) -> None:
        symbols = list(symbols)
        self.primary.on_unsubscribed(symbols)
        self.shadow.on_unsubscribed(symbols)

    def set_book_recovery(self, recover: Callable[[str], None] | None) -> None:
        # the primary's books drive the feed; the shadow's must not resubscribe anything
        self.primary.set_book_recovery(recover)

    def awaits_snapshot(self, symbol: str) -> bool:
        return self.primary.awaits_snapshot(symbol)
    def on_subscribed(self, symbols: Iterable[str]) -> None:
        symbols = list(symbols)
        self.primary.on_subscribed(symbols)
        self.shadow.on_subscribed(symbols)

    def on_frame_rejected(self, symbols: Iterable[str], now_ns: int) -> None:
        symbols = list(symbols)
        self.primary.on_frame_rejected(symbols, now_ns)
        self.shadow.on_frame_rejected(symbols, now_ns)

    def check_stale(self, symbols: Iterable[str], seconds: float) -> list[str]:
        symbols = list(symbols)
        self.shadow.check_stale(symbols, seconds)
        return self.primary.check_stale(symbols, seconds)

    def stats(self) -> dict[str, Any]:
        out = dict(self.primary.stats())
        out["parallel"] = {"matched": dict(self.comparator.matched), "divergences": self.comparator.divergences,
                           "shadow": self.shadow.stats()}
        return out

    async def close(self) -> None:
        try:
            await self.primary.close()
        finally:
            await self.shadow.close()


def _legacy_client(parser: Any) -> Any:
    from ..legacy.base import LegacyMessageParser

    return parser.client if isinstance(parser, LegacyMessageParser) else None


def prepare_for_replay(parser: Any) -> None:
    """Stop a parser from fetching snapshots itself: they come from the recording."""
    client = _legacy_client(parser)
    if client is not None:
        client.fetch_snapshots = False
    elif getattr(parser, "books", None) is not None:
        parser.books.request_snapshot = None


def load_snapshot(parser: Any, snap: dict[str, Any], recv_ns: int) -> bool:
    """Load a recorded snapshot into ``parser``'s book if that book is not valid; True if loaded."""
    client = _legacy_client(parser)
    if client is not None:
        if client.is_book_valid(snap["symbol"]):
            return False
        client.load_snapshot(snap["symbol"], snap["last_update_id"], snap["bids"], snap["asks"], recv_ns)
        return True
    books = getattr(parser, "books", None)
    if books is None:
        return False
    sync = books.get(snap["symbol"])
    if sync.is_valid:
        return False
    sync.load_snapshot(snap["last_update_id"], snap["bids"], snap["asks"], recv_ns)
    return True


def compare_recording(path: Any, primary: MessageParser, shadow: MessageParser, *, depth: int = 10,
                      stop_at_first: bool = False, limit: int | None = None) -> EventComparator:
    """Replay a recording through both parsers (recorded snapshots included) and compare their events.

    Frame indices in the report are record indices of the file (snapshot records count too), so the
    divergence can be found again with ``read_recording``.
    """
    from ..recording import KIND_SNAPSHOT, read_recording

    _, records = read_recording(path)
    par = ParallelParser(primary, shadow, depth=depth)
    par.bind(None, None)
    cmp = par.comparator
    for parser in (primary, shadow):
        prepare_for_replay(parser)
    for index, rec in enumerate(records):
        if limit is not None and index >= limit:
            break
        if rec.kind == KIND_SNAPSHOT:
            cmp.begin_frame(f"snapshot {rec.payload[:120].decode('utf-8', 'replace')}", index)
            snap = rec.snapshot()
            load_snapshot(primary, snap, rec.recv_ns)
            load_snapshot(shadow, snap, rec.recv_ns)
        else:
            cmp.frame_index = index - 1
            try:
                par.feed(rec.payload, rec.recv_ns)
            except Exception:
                pass  # counted by the comparator when only one side rejected it
        if stop_at_first and cmp.divergence is not None:
            break
    return cmp
