"""Conformance on the real Gate.io spot recording (cryptofeed, 2021-04-22).

The whole recording is replayed (172 order_book_update frames over 10 pairs, 10 REST snapshots,
9 trades, 14 candles, 22 tickers: 82 KB): frames through the compiled decoder and the sync engine,
each pair's REST snapshot loaded at the moment it was received. Oracle: ``json`` + ``float()`` and a
dict book applying the official procedure (protocols.md 2.9).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.events.events import Kline, Side, Ticker, Trade
from feedhandler.exchanges.gateio.decoder import GateioDecoder
from feedhandler.exchanges.gateio.rules import GATEIO_SPOT_RULE
from feedhandler.recording import KIND_SENT, KIND_SNAPSHOT, open_recording
from feedhandler.sync.book_sync import BookSyncGroup, SyncState

SYNCING = SyncState.SYNCING

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "gateio" / "cryptofeed_spot_2021-04-22"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"recordings not available at {DATA}")


def _load():
    """The recording as the product's reader gives it: snapshots merged with the frames by receive time."""
    items = []
    for rec in open_recording(DATA).records():
        if rec.kind == KIND_SNAPSHOT:
            snap = rec.snapshot()
            items.append((rec.recv_ns, "snapshot", snap["symbol"], snap))
        elif rec.kind != KIND_SENT:
            items.append((rec.recv_ns, "frame", None, rec.payload.decode()))
    return items


def _oracle_apply(o: dict, res: dict) -> None:
    """The official procedure on a dict book: drop u < id+1, bracket the first, then U == id+1."""
    if res["u"] < o["id"] + 1:
        return
    if not o["started"]:
        assert res["U"] <= o["id"] + 1 <= res["u"]
        o["started"] = True
    else:
        assert res["U"] == o["id"] + 1
    for side, key in (("bids", "b"), ("asks", "a")):
        for p, q in res[key]:
            if float(q) == 0:
                o[side].pop(float(p), None)
            else:
                o[side][float(p)] = float(q)
    o["id"] = res["u"]
    o["applied"] += 1


def test_recording_syncs_every_book_without_gap():
    events = []
    dispatcher = EventDispatcher()
    dispatcher.handler = lambda e: events.append(e.copy())
    books = BookSyncGroup("gateio", GATEIO_SPOT_RULE, dispatcher, 1000)
    requested = []
    books.request_snapshot = requested.append
    decoder = GateioDecoder(dispatcher, books)
    oracle: dict[str, dict] = {}
    frames_per_pair: dict[str, int] = {}
    trades, candles, tickers = [], [], []
    pending: dict[str, list] = {}
    for _, kind, pair, body in _load():
        if kind == "snapshot":
            snap = body
            assert books.get(pair).load_snapshot(snap["last_update_id"], snap["bids"], snap["asks"])
            oracle[pair] = {"id": snap["last_update_id"], "bids": {p: q for p, q in snap["bids"]},
                            "asks": {p: q for p, q in snap["asks"]}, "started": False, "applied": 0}
            for res in pending.pop(pair, []):
                _oracle_apply(oracle[pair], res)
            continue
        msg = json.loads(body)
        n_before = len(events)
        decoder.feed(body.encode(), 1)
        ch, res = msg["channel"], msg.get("result")
        if msg["event"] != "update":
            continue
        if ch == "spot.order_book_update":
            frames_per_pair[res["s"]] = frames_per_pair.get(res["s"], 0) + 1
            if res["s"] in oracle:
                _oracle_apply(oracle[res["s"]], res)
            else:
                pending.setdefault(res["s"], []).append(res)  # the client buffers until the snapshot
        elif ch == "spot.trades":
            trades.append((res, events[n_before:]))
        elif ch == "spot.candlesticks":
            candles.append((res, msg, events[n_before:]))
        elif ch == "spot.tickers":
            tickers.append((res, msg, events[n_before:]))

    assert len(books) == 10
    for pair in books.symbols():
        sync = books[pair]
        st = sync.stats()
        # valid, or (issue 18) still waiting for a delta that connects to its snapshot, exactly when the
        # official procedure has not connected one either (a quiet pair whose snapshot is ahead of the stream)
        assert sync.is_valid or (sync.state == SYNCING and not oracle[pair]["started"]), (pair, st, oracle[pair])
        assert st["gaps"] == 0 and st["crossed"] == 0 and st["stale_snapshots"] == 0, (pair, st)
        # every update the official procedure applies was applied (skips during the buffer replay are not counted)
        assert st["applied"] == oracle[pair]["applied"], (pair, st)
        assert st["applied"] + st["skipped"] <= frames_per_pair[pair]
        o = oracle[pair]
        book = sync.book.to_dict()
        assert book["last_update_id"] == o["id"]
        assert book["bids"] == sorted(o["bids"].items(), reverse=True)
        assert book["asks"] == sorted(o["asks"].items())
    assert sum(books[p].applied for p in books.symbols()) >= 150
    assert decoder.parse_errors == 0

    assert len(trades) == 9
    for res, evs in trades:
        (ev,) = evs
        assert isinstance(ev, Trade)
        assert ev.symbol == res["currency_pair"] and ev.trade_id == res["id"]
        assert ev.price == float(res["price"]) and ev.qty == float(res["amount"])
        assert ev.side == (Side.BUY if res["side"] == "buy" else Side.SELL)
        ms, _, frac = res["create_time_ms"].partition(".")
        assert ev.exchange_ts_ns == int(ms) * 1_000_000 + int((frac + "000000")[:6])
    assert len(candles) == 14
    for res, msg, evs in candles:
        (ev,) = evs
        assert isinstance(ev, Kline)
        interval, _, pair = res["n"].partition("_")
        assert (ev.symbol, ev.interval) == (pair, interval)
        assert ev.open_time_ns == int(res["t"]) * 1_000_000_000
        assert ev.close_time_ns == ev.open_time_ns + 60_000_000_000
        assert (ev.open, ev.high, ev.low, ev.close) == tuple(float(res[k]) for k in "ohlc")
        assert ev.quote_volume == float(res["v"])
    assert len(tickers) == 22
    for res, msg, evs in tickers:
        (ev,) = evs
        assert isinstance(ev, Ticker) and ev.symbol == res["currency_pair"]
        assert ev.last == float(res["last"]) and ev.change_pct == float(res["change_percentage"])
        assert ev.high == float(res["high_24h"]) and ev.low == float(res["low_24h"])
        assert ev.volume == float(res["base_volume"]) and ev.quote_volume == float(res["quote_volume"])
