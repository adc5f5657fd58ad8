"""MarketModel: exact formatting, never-crossed books, contiguous ids, history, determinism."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.sim.market import HistoryError, Instrument, MarketModel

SYMBOLS = ["BTCUSDT", "XRPUSDT", "ABCUSDT"]


def _level_map(sides: tuple[list[tuple[float, float]], list[tuple[float, float]]]) -> tuple[dict, dict]:
    return dict(sides[0]), dict(sides[1])


def _diff(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    """Levels whose quantity changed from ``before`` to ``after`` (0.0 = deleted)."""
    return {p: after.get(p, 0.0) for p in before.keys() | after.keys() if before.get(p, 0.0) != after.get(p, 0.0)}


@settings(max_examples=300, deadline=None)
@given(
    ticks=st.integers(min_value=0, max_value=10**15),
    tick=st.sampled_from(["0.01", "0.0001", "1", "0.5", "0.25", "10", "0.00000001"]),
)
def test_price_format_is_exact_decimal(ticks: int, tick: str) -> None:
    inst = Instrument("X", Decimal(tick), Decimal("0.001"))
    text = inst.price_str(ticks)
    # Oracle: Decimal arithmetic, independent of the fast integer path.
    assert Decimal(text) == Decimal(ticks) * Decimal(tick)
    decimals = max(0, -Decimal(tick).normalize().as_tuple().exponent)
    assert len(text.partition(".")[2]) == decimals
    assert inst.price_ticks(text) == ticks


def test_format_examples() -> None:
    inst = Instrument("BTCUSDT", Decimal("0.01"), Decimal("0.0001"))
    assert inst.price_str(6_500_012) == "65000.12"
    assert inst.price_str(5) == "0.05"
    assert inst.qty_str(0) == "0.0000"
    assert inst.qty_str(12_345) == "1.2345"
    with pytest.raises(ValueError, match="not a multiple"):
        inst.price_ticks("1.001")
    with pytest.raises(ValueError):
        Instrument("X", Decimal("0"), Decimal("1"))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_book_never_crossed_and_ids_contiguous(seed: int) -> None:
    model = MarketModel(SYMBOLS, seed, levels=20)
    last = {s: model.last_update_id(s) for s in SYMBOLS}
    for _ in range(300):
        for symbol in SYMBOLS:
            delta = model.step(symbol)
            assert delta.first_id == last[symbol] + 1
            assert 1 <= delta.last_id - delta.first_id + 1 <= 3
            assert delta.last_id == model.last_update_id(symbol)
            last[symbol] = delta.last_id
            bids, asks = model.true_book(symbol)
            assert bids and asks
            assert bids[0][0] < asks[0][0], "crossed book"
            assert not model.is_crossed(symbol)
            assert all(q > 0 for _, q in bids + asks)
            # Delta levels are sorted best first, on each side.
            bid_prices = [float(p) for p, _ in delta.bids]
            ask_prices = [float(p) for p, _ in delta.asks]
            assert bid_prices == sorted(bid_prices, reverse=True)
            assert ask_prices == sorted(ask_prices)


def test_book_size_stays_near_target() -> None:
    model = MarketModel(["BTCUSDT"], 5, levels=40)
    for _ in range(5000):
        model.step("BTCUSDT")
    bids, asks = model.true_book("BTCUSDT")
    assert 20 <= len(bids) <= 60 and 20 <= len(asks) <= 60


def test_history_matches_states_recorded_when_they_were_current() -> None:
    model = MarketModel(["BTCUSDT", "ETHUSDT"], 11, levels=30)
    recorded: dict[tuple[str, int], tuple] = {}
    for symbol in model.symbols:
        recorded[(symbol, model.last_update_id(symbol))] = model.true_book(symbol)
    for _ in range(1500):
        for symbol in model.symbols:
            delta = model.step(symbol)
            recorded[(symbol, delta.last_id)] = model.true_book(symbol)  # the current state, no history used
    for (symbol, uid), book in recorded.items():
        assert model.true_book(symbol, uid) == book


def test_every_id_changes_the_book_and_delta_is_the_net_change() -> None:
    model = MarketModel(["BTCUSDT"], 3, levels=25)
    deltas = [model.step("BTCUSDT") for _ in range(2000)]
    for delta in deltas:
        before = _level_map(model.true_book("BTCUSDT", delta.first_id - 1))
        for uid in range(delta.first_id, delta.last_id + 1):
            state = model.true_book("BTCUSDT", uid)
            assert state.bids[0][0] < state.asks[0][0]
            prev = _level_map(model.true_book("BTCUSDT", uid - 1))
            cur = _level_map(state)
            assert _diff(prev[0], cur[0]) or _diff(prev[1], cur[1]), f"id {uid} changed nothing"
        after = _level_map(model.true_book("BTCUSDT", delta.last_id))
        assert _diff(before[0], after[0]) == {float(p): float(q) for p, q in delta.bids}
        assert _diff(before[1], after[1]) == {float(p): float(q) for p, q in delta.asks}


def test_trades_consume_the_top_of_the_book() -> None:
    model = MarketModel(["BTCUSDT"], 8, levels=25)
    sweeps = 0
    all_ids: list[int] = []
    for _ in range(3000):
        delta = model.step("BTCUSDT")
        by_id: dict[int, list] = {}
        for trade in delta.trades:
            assert delta.first_id <= trade.update_id <= delta.last_id
            by_id.setdefault(trade.update_id, []).append(trade)
            all_ids.append(trade.trade_id)
        for uid, fills in by_id.items():
            sweeps += 1
            assert len({t.side for t in fills}) == 1
            bids, asks = model.true_book("BTCUSDT", uid - 1)
            resting = asks if fills[0].side == "buy" else bids
            after_bids, after_asks = model.true_book("BTCUSDT", uid)
            after = dict(after_asks if fills[0].side == "buy" else after_bids)
            # The k-th fill of a sweep is at the k-th best level; all but the last empty their level.
            for k, trade in enumerate(fills):
                price, qty = resting[k]
                assert float(trade.price) == price
                assert 0 < float(trade.qty) <= qty
                if k < len(fills) - 1:
                    assert float(trade.qty) == qty and price not in after
                else:
                    assert after.get(price, 0.0) == pytest.approx(qty - float(trade.qty), abs=1e-9)
    assert sweeps > 50
    assert all_ids == sorted(all_ids) and len(set(all_ids)) == len(all_ids)


def test_snapshot_is_the_top_of_the_true_book() -> None:
    model = MarketModel(["ETHUSDT"], 4)
    for _ in range(200):
        model.step("ETHUSDT")
    snap = model.snapshot("ETHUSDT", 10)
    full = model.true_book("ETHUSDT")
    assert snap.last_update_id == model.last_update_id("ETHUSDT")
    assert [(float(p), float(q)) for p, q in snap.bids] == full.bids[:10]
    assert [(float(p), float(q)) for p, q in snap.asks] == full.asks[:10]
    old_id = snap.last_update_id - 50
    old = model.snapshot_at("ETHUSDT", old_id)
    assert old.last_update_id == old_id
    assert ([(float(p), float(q)) for p, q in old.bids], [(float(p), float(q)) for p, q in old.asks]) == tuple(
        model.true_book("ETHUSDT", old_id)
    )
    ticker = model.best_bid_ask("ETHUSDT")
    assert (float(ticker.bid_price), float(ticker.bid_qty)) == full.bids[0]
    assert (float(ticker.ask_price), float(ticker.ask_qty)) == full.asks[0]


def test_history_bounds_raise_clear_errors() -> None:
    model = MarketModel(["BTCUSDT"], 1, history_ids=100)
    start = model.last_update_id("BTCUSDT")
    assert model.true_book("BTCUSDT", start)  # the initial state is reconstructible before it scrolls out
    for _ in range(200):
        model.step("BTCUSDT")
    last = model.last_update_id("BTCUSDT")
    oldest = model.oldest_update_id("BTCUSDT")
    assert oldest == last - 100
    model.true_book("BTCUSDT", oldest)
    with pytest.raises(HistoryError, match="older than the retained history"):
        model.true_book("BTCUSDT", oldest - 1)
    with pytest.raises(HistoryError, match="future"):
        model.true_book("BTCUSDT", last + 1)
    with pytest.raises(KeyError, match="unknown symbol"):
        model.true_book("NOPE")


def test_ids_are_64_bit() -> None:
    ids = [MarketModel(["BTCUSDT"], seed).last_update_id("BTCUSDT") for seed in range(20)]
    assert any(i > 2**32 for i in ids)


def test_same_seed_same_market_different_seed_different_market() -> None:
    a, b, c = (MarketModel(SYMBOLS, s) for s in (7, 7, 8))
    run_a = [a.step(s) for _ in range(300) for s in SYMBOLS]
    run_b = [b.step(s) for _ in range(300) for s in SYMBOLS]
    run_c = [c.step(s) for _ in range(300) for s in SYMBOLS]
    assert run_a == run_b
    assert [(d.bids, d.asks) for d in run_a] != [(d.bids, d.asks) for d in run_c]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        MarketModel([], 1)
    with pytest.raises(ValueError):
        MarketModel(["X"], 1, levels=1)
    with pytest.raises(ValueError):
        MarketModel(["X"], 1).snapshot("X", -1)
