"""Seeded random market whose true order book is known at every update id.

The model is the single source of truth of the simulator: prices and quantities are integers (ticks and
lot steps) so the book is exact, and they become exact decimal strings only at the wire. Every update id
is one atomic book change (an order added, resized or cancelled, or a trade consuming the top); a
``step`` aggregates 1..3 ids into one :class:`Delta`, as exchanges do in one push. A bounded undo log
reconstructs the full book at any recent id, which is what tests compare a client's book against.

Faults never touch the model: they only change what the server sends.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "BookSides",
    "BookSnapshot",
    "BookTicker",
    "Delta",
    "HistoryError",
    "Instrument",
    "MarketModel",
    "Trade",
]

# Starting prices for the usual demo symbols; other symbols start at a seeded random price.
_DEFAULT_START_PRICES: dict[str, str] = {
    "BTCUSDT": "65000.00",
    "ETHUSDT": "3200.00",
    "SOLUSDT": "150.00",
    "BNBUSDT": "580.00",
    "XRPUSDT": "0.5200",
    "DOGEUSDT": "0.1500",
}

_BID = 0
_ASK = 1

Level = tuple[str, str]
"""One wire level: (price, quantity) as exact decimal strings."""


class HistoryError(LookupError):
    """Raised when a book is asked for at an update id outside the retained history."""


class Instrument:
    """Price tick and quantity step of one symbol, with exact formatting.

    Parameters
    ----------
    symbol : str
        Symbol name as the model knows it (e.g. ``"BTCUSDT"``).
    tick : Decimal
        Price increment; prices are integer multiples of it.
    step : Decimal
        Quantity increment; quantities are integer multiples of it.
    """

    __slots__ = ("symbol", "tick", "step", "price_decimals", "qty_decimals", "_price_scale", "_qty_scale")

    def __init__(self, symbol: str, tick: Decimal, step: Decimal) -> None:
        if tick <= 0 or step <= 0:
            raise ValueError(f"{symbol}: tick and step must be positive, got {tick} and {step}")
        self.symbol = symbol
        self.tick = tick
        self.step = step
        self.price_decimals = max(0, -int(tick.normalize().as_tuple().exponent))
        self.qty_decimals = max(0, -int(step.normalize().as_tuple().exponent))
        # Fast path when the increment is exactly 10**-d: integer split, no Decimal arithmetic.
        self._price_scale = 10**self.price_decimals if tick == Decimal(1).scaleb(-self.price_decimals) else 0
        self._qty_scale = 10**self.qty_decimals if step == Decimal(1).scaleb(-self.qty_decimals) else 0

    @staticmethod
    def _format(units: int, scale: int, decimals: int, increment: Decimal) -> str:
        if scale:
            if decimals == 0:
                return str(units)
            whole, frac = divmod(units, scale)
            return f"{whole}.{frac:0{decimals}d}"
        return f"{Decimal(units) * increment:.{decimals}f}"

    def price_str(self, ticks: int) -> str:
        """Format a price given in ticks as an exact decimal string (``6500012 -> "65000.12"``)."""
        return self._format(ticks, self._price_scale, self.price_decimals, self.tick)

    def qty_str(self, steps: int) -> str:
        """Format a quantity given in lot steps as an exact decimal string (0 gives ``"0.0000"``)."""
        return self._format(steps, self._qty_scale, self.qty_decimals, self.step)

    def price_ticks(self, price: str | Decimal) -> int:
        """Convert a decimal price to ticks; raise ValueError if it is not on the tick grid."""
        units = Decimal(price) / self.tick
        if units != units.to_integral_value():
            raise ValueError(f"{self.symbol}: price {price} is not a multiple of tick {self.tick}")
        return int(units)

    def __repr__(self) -> str:
        return f"Instrument({self.symbol!r}, tick={self.tick}, step={self.step})"


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade (a fill of the taker against one resting level).

    ``side`` is the taker side: ``"buy"`` consumed asks, ``"sell"`` consumed bids.
    """

    symbol: str
    trade_id: int
    price: str
    qty: str
    side: str
    ts_ms: int
    update_id: int


@dataclass(frozen=True, slots=True)
class Delta:
    """Book changes of one push: update ids ``first_id..last_id`` aggregated.

    ``bids``/``asks`` hold the changed levels with their absolute quantity after ``last_id`` (``qty`` of
    zero deletes the level), best first. A level that changed and came back to its previous quantity
    inside the push is not listed, so a delta may be empty; it still advances the ids. ``trades`` are
    the trades that happened in these ids.
    """

    symbol: str
    first_id: int
    last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts_ms: int
    trades: tuple[Trade, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class BookTicker:
    """Best bid and ask of one symbol at ``update_id``."""

    symbol: str
    update_id: int
    bid_price: str
    bid_qty: str
    ask_price: str
    ask_qty: str
    ts_ms: int


class BookSnapshot(NamedTuple):
    """A depth snapshot as a REST endpoint serves it: wire strings, best first."""

    last_update_id: int
    bids: list[Level]
    asks: list[Level]


class BookSides(NamedTuple):
    """A full book as floats (each parsed from the exact wire string), best first."""

    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


class _SymbolBook:
    """The true book of one symbol plus its undo log; all integers."""

    __slots__ = (
        "instrument",
        "levels",
        "sides",
        "prices",
        "last_id",
        "history",
        "trade_id",
        "last_ts",
    )

    def __init__(self, instrument: Instrument, levels: int, start_id: int, history_ids: int) -> None:
        self.instrument = instrument
        self.levels = levels
        # sides[_BID]/[_ASK]: price_ticks -> qty_steps; prices[...]: the same keys sorted ascending
        # (best bid is the last bid price, best ask the first ask price).
        self.sides: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.prices: tuple[list[int], list[int]] = ([], [])
        self.last_id = start_id
        # One entry per update id: (update_id, ((side, price, old_qty, new_qty), ...)).
        self.history: deque[tuple[int, tuple[tuple[int, int, int, int], ...]]] = deque(maxlen=history_ids)
        self.trade_id = 0
        self.last_ts = 0

    def set_level(self, side: int, price: int, qty: int, changes: list[tuple[int, int, int, int]]) -> None:
        book = self.sides[side]
        old = book.get(price, 0)
        if old == qty:
            return
        prices = self.prices[side]
        if qty == 0:
            del book[price]
            del prices[bisect.bisect_left(prices, price)]
        else:
            if old == 0:
                bisect.insort(prices, price)
            book[price] = qty
        changes.append((side, price, old, qty))

    def best(self, side: int) -> int:
        prices = self.prices[side]
        return prices[-1] if side == _BID else prices[0]

    def price_at(self, side: int, index: int) -> int:
        """Price of the index-th level from the top (0 = best)."""
        prices = self.prices[side]
        return prices[-1 - index] if side == _BID else prices[index]

    def state_at(self, update_id: int) -> tuple[dict[int, int], dict[int, int]]:
        """Copy of both sides as they were right after ``update_id``."""
        if update_id > self.last_id:
            raise HistoryError(
                f"{self.instrument.symbol}: update id {update_id} is in the future (last id is {self.last_id})"
            )
        oldest = self.history[0][0] - 1 if self.history else self.last_id
        if update_id < oldest:
            raise HistoryError(
                f"{self.instrument.symbol}: update id {update_id} is older than the retained history "
                f"(oldest reconstructible id is {oldest}, last id is {self.last_id})"
            )
        bids, asks = dict(self.sides[_BID]), dict(self.sides[_ASK])
        state = (bids, asks)
        for uid, changes in reversed(self.history):
            if uid <= update_id:
                break
            for side, price, old, _new in reversed(changes):
                if old:
                    state[side][price] = old
                else:
                    state[side].pop(price, None)
        return state


class MarketModel:
    """A seeded random L2 market for several symbols, with the true book known at every update id.

    Parameters
    ----------
    symbols : iterable of str
        Symbols to simulate (model names, e.g. ``"BTCUSDT"``; protocols map them to wire names).
    seed : int
        Seed of the market; the same seed gives the same books, ids, deltas and trades.
    levels : int
        Target number of price levels per side; the book fluctuates around it (at least 1 per side).
    tick : str, Decimal or mapping of symbol to either
        Price tick (default ``"0.01"``). Prices below 1 get 4 decimals if no tick is given for them.
    step : str, Decimal or mapping of symbol to either
        Quantity step (default ``"0.0001"``).
    history_ids : int
        How many update ids of undo log are kept per symbol for :meth:`true_book`.
    clock_ms : callable returning int, optional
        Source of event timestamps (ms). By default a virtual clock that advances a seeded 1..20 ms per
        step, so runs are reproducible; the exchange passes a wall clock for live demos.
    max_ids_per_step : int
        A step aggregates 1..max_ids_per_step update ids (3). 1 for exchanges whose push id advances by
        exactly one per message (a per-topic counter), so the wire id is the model's id.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        seed: int = 0,
        *,
        levels: int = 50,
        tick: str | Decimal | Mapping[str, str | Decimal] | None = None,
        step: str | Decimal | Mapping[str, str | Decimal] | None = None,
        history_ids: int = 20_000,
        clock_ms: Callable[[], int] | None = None,
        max_ids_per_step: int = 3,
    ) -> None:
        symbol_list = list(dict.fromkeys(symbols))
        if not symbol_list:
            raise ValueError("MarketModel needs at least one symbol")
        for name, value, least in (("levels", levels, 2), ("history_ids", history_ids, 1),
                                   ("max_ids_per_step", max_ids_per_step, 1)):
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value}")
        self.seed = seed
        self.levels = levels
        self.history_ids = history_ids
        self.max_ids_per_step = max_ids_per_step
        self._rng = random.Random(seed)
        self._clock_ms = clock_ms
        self._virtual_ms = 1_700_000_000_000 + self._rng.randrange(86_400_000)
        self._books: dict[str, _SymbolBook] = {}
        for symbol in symbol_list:
            # the same pair in any exchange's spelling (BTCUSDT, BTC_USDT, BTC-USDT) starts at the same price
            plain = symbol.upper().replace("_", "").replace("-", "").replace("/", "")
            start = Decimal(_DEFAULT_START_PRICES.get(plain, "0"))
            if start == 0:
                start = Decimal(self._rng.randrange(100, 100_000)) / 100
            instrument = Instrument(
                symbol,
                _pick(tick, symbol, "0.0001" if start < 1 else "0.01"),
                _pick(step, symbol, "0.0001"),
            )
            # Ids above 2**32 on purpose: consumers must not narrow them.
            start_id = self._rng.randrange(1 << 20, 1 << 40)
            book = _SymbolBook(instrument, levels, start_id, history_ids)
            book.trade_id = self._rng.randrange(1 << 20, 1 << 40)
            self._seed_book(book, instrument.price_ticks(start))
            book.last_ts = self._clock_ms() if self._clock_ms is not None else self._virtual_ms
            self._books[symbol] = book

    # ------------------------------------------------------------------ queries

    @property
    def symbols(self) -> tuple[str, ...]:
        """The simulated symbols, in construction order."""
        return tuple(self._books)

    def instrument(self, symbol: str) -> Instrument:
        """Tick, step and formatting of ``symbol``."""
        return self._book(symbol).instrument

    def last_update_id(self, symbol: str) -> int:
        """Update id of the current state of ``symbol``'s book."""
        return self._book(symbol).last_id

    def oldest_update_id(self, symbol: str) -> int:
        """Oldest update id at which :meth:`true_book` can still reconstruct the book."""
        book = self._book(symbol)
        return book.history[0][0] - 1 if book.history else book.last_id

    def best_bid_ask(self, symbol: str) -> BookTicker:
        """Current best bid and ask of ``symbol``."""
        book = self._book(symbol)
        inst = book.instrument
        bid, ask = book.best(_BID), book.best(_ASK)
        return BookTicker(
            symbol,
            book.last_id,
            inst.price_str(bid),
            inst.qty_str(book.sides[_BID][bid]),
            inst.price_str(ask),
            inst.qty_str(book.sides[_ASK][ask]),
            book.last_ts,
        )

    def snapshot(self, symbol: str, depth: int | None = None) -> BookSnapshot:
        """Current book of ``symbol`` as wire strings, ``depth`` levels per side (all if None)."""
        book = self._book(symbol)
        return self._format_snapshot(book, book.last_id, book.sides, depth)

    def snapshot_at(self, symbol: str, update_id: int, depth: int | None = None) -> BookSnapshot:
        """Book of ``symbol`` as it was right after ``update_id``; raises HistoryError if too old."""
        book = self._book(symbol)
        return self._format_snapshot(book, update_id, book.state_at(update_id), depth)

    def true_book(self, symbol: str, update_id: int | None = None) -> BookSides:
        """The whole book of ``symbol`` right after ``update_id`` (default: now), as float pairs.

        Floats are parsed from the exact wire strings, so a client that parses the wire with
        ``float()`` gets bit-identical values. Raises HistoryError beyond the retained history.
        """
        book = self._book(symbol)
        state = book.sides if update_id is None else book.state_at(update_id)
        inst = book.instrument
        bids = [(float(inst.price_str(p)), float(inst.qty_str(state[_BID][p]))) for p in sorted(state[_BID], reverse=True)]
        asks = [(float(inst.price_str(p)), float(inst.qty_str(state[_ASK][p]))) for p in sorted(state[_ASK])]
        return BookSides(bids, asks)

    def is_crossed(self, symbol: str) -> bool:
        """True if the best bid is at or above the best ask (the model guarantees it never is)."""
        book = self._book(symbol)
        return book.best(_BID) >= book.best(_ASK)

    # ------------------------------------------------------------------ evolution

    def step(self, symbol: str) -> Delta:
        """Advance ``symbol`` by 1..max_ids_per_step update ids and return the aggregated changes."""
        book = self._book(symbol)
        rng = self._rng
        ts = book.last_ts = self._now()
        first_id = book.last_id + 1
        start_qty: dict[tuple[int, int], int] = {}
        trades: list[Trade] = []
        for _ in range(rng.randint(1, self.max_ids_per_step)):
            changes: list[tuple[int, int, int, int]] = []
            uid = book.last_id + 1
            self._one_event(book, changes, trades, uid, ts)
            if not changes:  # a degenerate draw: resize the top bid so every id changes something
                self._resize(book, _BID, 0, changes)
            for side, price, old, _new in changes:
                start_qty.setdefault((side, price), old)
            book.history.append((uid, tuple(changes)))
            book.last_id = uid
        inst = book.instrument
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        for (side, price), old in start_qty.items():
            new = book.sides[side].get(price, 0)
            if new != old:
                (bids if side == _BID else asks).append((price, new))
        bids.sort(reverse=True)
        asks.sort()
        return Delta(
            symbol,
            first_id,
            book.last_id,
            tuple((inst.price_str(p), inst.qty_str(q)) for p, q in bids),
            tuple((inst.price_str(p), inst.qty_str(q)) for p, q in asks),
            ts,
            tuple(trades),
        )

    # ------------------------------------------------------------------ internals

    def _book(self, symbol: str) -> _SymbolBook:
        try:
            return self._books[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r}; simulated symbols: {', '.join(self._books)}") from None

    def _now(self) -> int:
        if self._clock_ms is not None:
            return self._clock_ms()
        self._virtual_ms += self._rng.randint(1, 20)
        return self._virtual_ms

    def _random_qty(self) -> int:
        # Heavy-tailed sizes: mostly small, sometimes large (mean about 5000 steps).
        return int(self._rng.expovariate(1 / 5000)) + 1

    def _depth_index(self, book: _SymbolBook, side: int) -> int:
        # Activity clusters at the top: geometric-like index with mean about 3.
        return min(int(self._rng.expovariate(1 / 3)), len(book.prices[side]) - 1)

    def _seed_book(self, book: _SymbolBook, mid: int) -> None:
        rng = self._rng
        changes: list[tuple[int, int, int, int]] = []
        price = mid - 1
        for _ in range(book.levels):
            if price < 1:
                break
            book.set_level(_BID, price, self._random_qty(), changes)
            price -= rng.randint(1, 4)
        price = mid + 1
        for _ in range(book.levels):
            book.set_level(_ASK, price, self._random_qty(), changes)
            price += rng.randint(1, 4)
        # The initial book is the state at start_id: no undo entry (nothing before it is retained).

    def _one_event(
        self, book: _SymbolBook, changes: list[tuple[int, int, int, int]], trades: list[Trade], uid: int, ts: int
    ) -> None:
        rng = self._rng
        side = rng.randrange(2)
        n = len(book.prices[side])
        low, high = max(1, book.levels * 4 // 5), book.levels * 6 // 5 + 1
        roll = rng.random()
        if n <= low:
            roll = 0.5  # too thin: insert
        elif n >= high:
            roll = 0.2  # too deep: delete
        # About a third deletes, a third new levels, the rest resizes near the top; trades now and then.
        if roll < 0.06:
            self._trade(book, side, changes, trades, uid, ts)
        elif roll < 0.36:
            self._delete(book, side, changes)
        elif roll < 0.70:
            self._insert(book, side, changes)
        else:
            self._resize(book, side, self._depth_index(book, side), changes)

    def _resize(self, book: _SymbolBook, side: int, index: int, changes: list[tuple[int, int, int, int]]) -> None:
        self._set_new_qty(book, side, book.price_at(side, index), changes)

    def _set_new_qty(self, book: _SymbolBook, side: int, price: int, changes: list[tuple[int, int, int, int]]) -> None:
        """Give ``price`` a random quantity different from its current one (inserting it if absent)."""
        old = book.sides[side].get(price, 0)
        qty = self._random_qty()
        if qty == old:
            qty += 1
        book.set_level(side, price, qty, changes)

    def _delete(self, book: _SymbolBook, side: int, changes: list[tuple[int, int, int, int]]) -> None:
        if len(book.prices[side]) <= 1:  # never empty a side
            self._insert(book, side, changes)
            return
        book.set_level(side, book.price_at(side, self._depth_index(book, side)), 0, changes)

    def _insert(self, book: _SymbolBook, side: int, changes: list[tuple[int, int, int, int]]) -> None:
        rng = self._rng
        best_bid, best_ask = book.best(_BID), book.best(_ASK)
        spread = best_ask - best_bid
        # Improve the top when the spread is open (more eagerly the wider it is), else add behind it.
        if spread > 1 and rng.random() < min(0.9, 0.1 * spread):
            improve = rng.randint(1, min(spread - 1, 3))
            price = best_bid + improve if side == _BID else best_ask - improve
        else:
            anchor = book.price_at(side, self._depth_index(book, side))
            offset = rng.randint(1, 4)
            price = anchor - offset if side == _BID else anchor + offset
            if side == _BID and price < 1:
                price = anchor + 1 if anchor + 1 < best_ask else anchor
        # The crossing guard: a bid strictly below the best ask, an ask strictly above the best bid.
        if (side == _BID and price >= best_ask) or (side == _ASK and price <= best_bid):
            price = book.best(side)
        self._set_new_qty(book, side, price, changes)

    def _trade(
        self,
        book: _SymbolBook,
        maker_side: int,
        changes: list[tuple[int, int, int, int]],
        trades: list[Trade],
        uid: int,
        ts: int,
    ) -> None:
        """A taker order consumes the top of ``maker_side``: the best level, sometimes more."""
        rng = self._rng
        prices = book.prices[maker_side]
        inst = book.instrument
        taker = "sell" if maker_side == _BID else "buy"
        remaining = self._random_qty() * rng.choice((1, 1, 1, 2, 3))
        # Leave at least one level on the side: the book must stay two-sided.
        while remaining > 0 and len(prices) > 1:
            price = book.best(maker_side)
            resting = book.sides[maker_side][price]
            fill = min(resting, remaining)
            book.set_level(maker_side, price, resting - fill, changes)
            remaining -= fill
            book.trade_id += 1
            trades.append(Trade(inst.symbol, book.trade_id, inst.price_str(price), inst.qty_str(fill), taker, ts, uid))

    def _format_snapshot(
        self, book: _SymbolBook, update_id: int, state: tuple[dict[int, int], dict[int, int]], depth: int | None
    ) -> BookSnapshot:
        inst = book.instrument
        bid_prices = sorted(state[_BID], reverse=True)
        ask_prices = sorted(state[_ASK])
        if depth is not None:
            if depth < 0:
                raise ValueError(f"depth must be >= 0, got {depth}")
            bid_prices, ask_prices = bid_prices[:depth], ask_prices[:depth]
        return BookSnapshot(
            update_id,
            [(inst.price_str(p), inst.qty_str(state[_BID][p])) for p in bid_prices],
            [(inst.price_str(p), inst.qty_str(state[_ASK][p])) for p in ask_prices],
        )


def _pick(value: str | Decimal | Mapping[str, str | Decimal] | None, symbol: str, default: str) -> Decimal:
    if value is None:
        return Decimal(default)
    if isinstance(value, Mapping):
        return Decimal(str(value.get(symbol, default)))
    return Decimal(str(value))
