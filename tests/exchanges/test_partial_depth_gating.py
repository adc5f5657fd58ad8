"""Partial-depth books (top-N snapshot streams) follow the subscription rules of the diff-depth books.

Binance ``<sym>@depth20``, MEXC limit depth and Gate.io ``spot.order_book`` on the simulator with the
unknown-symbol flood on those very streams (issue 18, defect 1): frames for names the connection never
subscribed create no book, are counted and reported once per name; the subscribed top-N books stay equal
to the truth. Unsubscribing a symbol closes its partial book (a final ``BookStatus``), and the frames still
in flight for it build nothing.
"""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fault_matrix_kit import Checker, build, no_feedhandler_tasks, wait_for  # noqa: E402

from feedhandler.events import BookUpdate  # noqa: E402
from feedhandler.sim import SimExchange  # noqa: E402

# exchange -> (symbols, strategy options, partial-book key of a symbol, levels per book)
CASES = {
    "binance": (["BTCUSDT", "ETHUSDT"], {"partial_depth": 20}, "{}@depth20", 20),
    "mexc": (["BTCUSDT", "ETHUSDT"], {"limit_depth": 20}, "{}@20", 20),
    "gateio": (["BTC_USDT", "ETH_USDT"], {"book_channel": "order_book", "order_book_level": 20}, "{}", 20),
}


class TopChecker(Checker):
    """Every partial BookUpdate against the simulator's true top N at its id."""

    def __init__(self, sim: SimExchange, keys: dict[str, str], levels: int):
        super().__init__(sim)
        self.symbol_of = {k: s for s, k in keys.items()}
        self.levels = levels
        self.wrong_keys: list[str] = []

    def __call__(self, ev) -> None:
        if not isinstance(ev, BookUpdate):
            return super().__call__(ev)
        self.updates += 1
        self.per_symbol[ev.symbol] += 1
        symbol = self.symbol_of.get(ev.symbol)
        if symbol is None:
            self.wrong_keys.append(ev.symbol)
            return
        true = self.sim.model.true_book(symbol, ev.last_update_id)
        d = ev.book.to_dict()
        got = ([tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]])
        if got != (list(true.bids[:self.levels]), list(true.asks[:self.levels])):
            self.mismatches.append(f"{ev.symbol}@{ev.last_update_id}")


@pytest.mark.parametrize("exchange", sorted(CASES))
async def test_partial_books_gated_counted_and_closed(exchange):
    symbols, options, key, levels = CASES[exchange]
    keys = {s: key.format(s) for s in symbols}
    async with asyncio.timeout(30), SimExchange(exchange, symbols, seed=4, rate=150, levels=40) as sim:
        checker = TopChecker(sim, keys, levels)
        manager, parser = build(exchange, sim, checker, **options)
        partial = parser.partial_books
        async with manager:
            await manager.initialize(symbols)
            await wait_for(lambda: all(k in partial and partial[k].is_valid for k in keys.values()), "partial books")
            sim.faults.unknown_symbols = 300   # fewer than REPORTED_NAMES: each one reported
            sim.faults.unknown_frames_per_delta = 20
            await wait_for(lambda: partial.unknown_frames > 1000, "fabricated names", limit=15)
            sim.faults.unknown_symbols = 0
            # nothing built for a fabricated name, in the partial group or any other
            assert sorted(partial.symbols()) == sorted(keys.values()), partial.symbols()[:5]
            assert parser.books is None or set(parser.books.symbols()) <= set(symbols)
            assert partial.reported_names <= partial.REPORTED_NAMES
            assert all(partial[k].is_valid for k in keys.values())
            mark = checker.updates
            await wait_for(lambda: checker.updates > mark + 10, "updates after the flood")

            # unsubscribe one symbol while its stream goes on for a while: its partial book is closed
            gone = symbols[-1]
            sim.faults.linger_after_unsubscribe = 0.4
            await manager.unsubscribe([gone])
            statuses, seen = len(checker.statuses), checker.per_symbol[keys[gone]]
            assert (keys[gone], False, "unsubscribed") in checker.statuses, checker.statuses[-3:]
            await asyncio.sleep(0.6)
            assert keys[gone] not in partial and partial.late_frames > 0, partial.stats()
            assert checker.per_symbol[keys[gone]] == seen   # no BookUpdate after the final status
            assert [s for s in checker.statuses[statuses:] if s[0] == keys[gone]] == []
            assert all(partial[keys[s]].is_valid for s in symbols[:-1])
        assert not no_feedhandler_tasks()
    assert sim.stats.unknown_frames_sent > 1000
    names = [str(e) for e in checker.errors if type(e).__name__ == "UnsubscribedSymbolError"]
    assert names and len(names) == len(set(names)) <= partial.REPORTED_NAMES
    assert checker.wrong_keys == [] and checker.mismatches == [], (checker.wrong_keys[:5], checker.mismatches[:5])
