"""Conformance on real Binance recordings (shared/data/binance): decoder + sync engine vs independent oracles.

The files are read by the product's reader (``feedhandler.recording.open_recording``, which the
``replay`` command uses). hftbacktest files (``<ns> <json>`` per line, gzip): each file is replayed in full (the largest, USD-M BTCUSDT,
is 94k lines and replays in a few seconds). The REST snapshot is in the recording (a bare ``lastUpdateId``
line, written after the first depth frames, so those are buffered by the sync engine). The spot BTCUSDT
0809 file has no snapshot: it continues the 0808 file, so the two are replayed back to back through the
same books. cryptofeed files (``*.http.0.0`` snapshots and ``*.ws.1.0`` frames, whole files) are merged by
receive time, the snapshots loaded at their receive time.

Oracles: bookTicker frames (json.loads) are held until the book's last applied id reaches their ``u``,
then compared with the rebuilt best bid/ask (price and size, exact floats) when the ids are equal
(PROVENANCE.md, "How the bookTicker cross-check counts"); trades/aggTrades are compared with json.loads +
float() of the same frame.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.events.events import BookTicker, Side, Trade

SIDE_BUY, SIDE_SELL = int(Side.BUY), int(Side.SELL)
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.binance.rules import COINM_RULE, SPOT_RULE, USDM_RULE
from feedhandler.recording import KIND_SENT, KIND_SNAPSHOT, open_recording
from feedhandler.sync.book_sync import BookSyncGroup

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "binance"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared recordings not found at {DATA}")


class Replay:
    """Decoder + books + the two oracles."""

    def __init__(self, rule):
        self.dispatcher = EventDispatcher()
        self.books = BookSyncGroup("binance", rule, self.dispatcher, 6000)
        self.decoder = BinanceDecoder(self.books, self.dispatcher)
        self.events: list = []
        self.dispatcher.handler = self.events.append
        self.pending: dict[str, list[dict]] = {}
        self.compared = 0
        self.mismatches: list = []
        self.trades_checked = 0

    def load_snapshot(self, symbol: str, snap: dict) -> None:
        self.books.get(symbol).load_snapshot(snap["last_update_id"], snap["bids"], snap["asks"])

    def frame(self, raw: bytes) -> None:
        self.events.clear()
        self.decoder.feed(raw, 1)
        msg = json.loads(raw)
        data = msg.get("data", msg)
        for ev in self.events:
            if isinstance(ev, Trade):
                self.trades_checked += 1
                tid = data["t"] if data["e"] == "trade" else data["a"]
                assert (ev.symbol, ev.price, ev.qty, ev.trade_id) == (data["s"], float(data["p"]), float(data["q"]), tid)
                assert ev.side == (SIDE_SELL if data["m"] else SIDE_BUY)
            elif isinstance(ev, BookTicker):
                assert (ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty, ev.update_id) == (
                    float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"]), data["u"])
                self.pending.setdefault(ev.symbol, []).append(data)
        for symbol, queue in self.pending.items():
            if not queue or symbol not in self.books:
                continue
            sync = self.books[symbol]
            if not sync.is_valid:
                continue
            last = sync.book.last_update_id
            keep = []
            for bt in queue:
                if bt["u"] > last:
                    keep.append(bt)
                elif bt["u"] == last:
                    self.compared += 1
                    bb, ba = sync.book.best_bid, sync.book.best_ask
                    want = ((float(bt["b"]), float(bt["B"])), (float(bt["a"]), float(bt["A"])))
                    if (bb, ba) != want:
                        self.mismatches.append((symbol, bt["u"], (bb, ba), want))
            queue[:] = keep

    def check_books(self) -> dict:
        totals = {"applied": 0, "gaps": 0, "crossed": 0, "resyncs": 0}
        for s in self.books.symbols():
            st = self.books[s].stats()
            for k in totals:
                totals[k] += st[k]
            assert st["state"] == "LIVE", (s, st)
        assert totals["gaps"] == 0 and totals["crossed"] == 0 and totals["resyncs"] == 0, totals
        assert not self.mismatches, self.mismatches[:3]
        return totals


def _replay(replay: Replay, paths, symbol: str | None = None) -> None:
    """The recording through the product's reader (format auto-detected), into the test's decoder and oracles."""
    for rec in open_recording(paths).records():
        if rec.kind == KIND_SNAPSHOT:
            snap = rec.snapshot()
            replay.load_snapshot(snap["symbol"] or symbol, snap)
        elif rec.kind != KIND_SENT:
            replay.frame(rec.payload)


@pytest.mark.parametrize(
    "files, symbol, rule, compared",
    [
        (["spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"], "BTCUSDT", SPOT_RULE, 1072),
        (["spot_ethusdt_20240808.gz"], "ETHUSDT", SPOT_RULE, 577),
        (["usdm_btcusdt_20240808.gz"], "BTCUSDT", USDM_RULE, 629),
    ],
    ids=["spot-btcusdt", "spot-ethusdt", "usdm-btcusdt"],
)
def test_hftbacktest_replay_matches_book_ticker_and_trades(files, symbol, rule, compared):
    replay = Replay(rule)
    _replay(replay, [DATA / "hftbacktest_2024-08-08" / name for name in files], symbol)
    totals = replay.check_books()
    # The comparison count is the one PROVENANCE.md documents for this counting method: every
    # bookTicker whose id an applied depth event reached was compared, none skipped.
    assert replay.compared == compared
    assert totals["applied"] > 3000
    assert replay.trades_checked > 5000
    assert replay.decoder.stats()["errors"] == {"json": 0, "field": 0, "levels": 0, "book": 0, "stream": 0}


def _replay_cryptofeed(folder: str, rule) -> Replay:
    """Snapshots (``*.http.0.0``) merged with the frames (``*.ws.1.0``) by receive time, by the product's reader."""
    replay = Replay(rule)
    _replay(replay, DATA / folder)
    return replay


@pytest.mark.parametrize(
    "folder, rule, compared",
    [
        ("cryptofeed_spot_2021-10-11", SPOT_RULE, 26),
        ("cryptofeed_binance_us_2021-10-11", SPOT_RULE, 56),
        ("cryptofeed_usdm_futures_2021-07-22", USDM_RULE, 50),
        ("cryptofeed_coinm_delivery_2021-07-22", COINM_RULE, 212),
    ],
    ids=["spot", "us", "usdm", "coinm"],
)
def test_cryptofeed_replay(folder, rule, compared):
    replay = _replay_cryptofeed(folder, rule)
    replay.check_books()
    assert replay.compared >= compared  # PROVENANCE counts only bookTickers after their depth event
    assert replay.decoder.klines > 0 and replay.trades_checked > 0
