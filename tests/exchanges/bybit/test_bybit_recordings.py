"""Conformance on the real Bybit v5 recording (cryptofeed v3 capture, 2026-08-09, linear + spot).

Every received frame goes through the compiled decoder and the sync engine, one decoder per connection
(as one parser per market in production). Oracle: ``json.loads`` + ``float()`` and a dict book applying
the documented rule (snapshot replaces, ``u`` = previous ``u`` + 1 per topic). Checked: the sequence
counts of PROVENANCE.md (6 snapshots, 2,142 deltas, 0 gaps), the whole book after every book frame,
every trade / kline / ticker event against the oracle's decode, and the ``tickers`` best bid/offer
against the top of the rebuilt book.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cryptofeed_capture import SHARED_DATA  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.events.events import BookTicker, BookUpdate, Kline, Side, Ticker, Trade  # noqa: E402
from feedhandler.exchanges.bybit.decoder import BybitDecoder  # noqa: E402
from feedhandler.exchanges.bybit.rules import BYBIT_BOOK_RULE  # noqa: E402
from feedhandler.recording import KIND_TEXT, open_recording  # noqa: E402
from feedhandler.sync.book_sync import BookSyncGroup  # noqa: E402

CAPTURE = SHARED_DATA / "bybit" / "cryptofeed_v3_2026-08-09" / "BYBIT.jsonl.zst"
pytestmark = pytest.mark.skipif(not CAPTURE.is_file(), reason=f"recording not available at {CAPTURE}")


def _oracle_event(msg: dict, item: dict | None, ticker: dict) -> list[tuple]:
    """What the decoder must deliver for one non-book frame (one item of its data array)."""
    topic = msg["topic"]
    sym = topic.rsplit(".", 1)[1]
    ts = msg.get("ts", 0) * 1_000_000
    if topic.startswith("publicTrade"):
        tid = int(item["i"]) if item["i"].isdigit() else -1
        side = Side.BUY if item["S"] == "Buy" else Side.SELL
        return [("Trade", sym, float(item["p"]), float(item["v"]), side, tid, "" if tid >= 0 else item["i"],
                 item["T"] * 1_000_000)]
    if topic.startswith("kline"):
        return [("Kline", sym, item["interval"], item["start"] * 1_000_000, item["end"] * 1_000_000,
                 *(float(item[k]) for k in ("open", "high", "low", "close", "volume", "turnover")),
                 item["confirm"], item["timestamp"] * 1_000_000)]
    out = []
    d = msg["data"]
    if "bid1Price" in d or "ask1Price" in d or "bid1Size" in d or "ask1Size" in d:
        if ticker.get("bid1Price") and ticker.get("ask1Price"):
            out.append(("BookTicker", sym, *(float(ticker[k]) for k in ("bid1Price", "bid1Size", "ask1Price",
                                                                        "ask1Size")), ts))
    keys = ("lastPrice", "highPrice24h", "lowPrice24h", "volume24h", "turnover24h", "price24hPcnt")
    if any(k in d for k in keys) and ticker.get("lastPrice"):
        vals = [float(ticker[k]) if ticker.get(k) else float("nan") for k in keys]
        vals[5] *= 100.0
        out.append(("Ticker", sym, *vals, ts))
    return out


def _event_tuple(ev) -> tuple:
    if isinstance(ev, Trade):
        return ("Trade", ev.symbol, ev.price, ev.qty, ev.side, ev.trade_id, ev.trade_id_str, ev.exchange_ts_ns)
    if isinstance(ev, Kline):
        return ("Kline", ev.symbol, ev.interval, ev.open_time_ns, ev.close_time_ns, ev.open, ev.high, ev.low,
                ev.close, ev.volume, ev.quote_volume, ev.closed, ev.exchange_ts_ns)
    if isinstance(ev, BookTicker):
        return ("BookTicker", ev.symbol, ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty, ev.exchange_ts_ns)
    return ("Ticker", ev.symbol, ev.last, ev.high, ev.low, ev.volume, ev.quote_volume, ev.change_pct,
            ev.exchange_ts_ns)


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x == y or (x != x and y != y) for x, y in zip(a, b))


def test_recording_books_events_and_counts_match_the_oracle():
    frames: dict[int, list[str]] = {}  # the received frames of each connection, by the product's reader
    for rec in open_recording(CAPTURE).records():
        if rec.kind == KIND_TEXT:
            frames.setdefault(rec.connection_id, []).append(rec.payload.decode())
    totals = {"snapshots": 0, "deltas": 0, "gaps": 0, "trades": 0, "klines": 0, "tickers": 0,
              "top_agree": 0, "top_differ": 0}
    for conn, texts in frames.items():
        dispatcher = EventDispatcher()
        books = BookSyncGroup("bybit", BYBIT_BOOK_RULE, dispatcher, 1000)
        decoder = BybitDecoder(dispatcher, books, False)
        events: list = []
        dispatcher.handler = lambda ev: events.append(ev.copy())
        oracle: dict[str, tuple[dict, dict, int]] = {}
        tickers: dict[str, dict] = {}
        for text in texts:
            msg = json.loads(text)
            events.clear()
            decoder.feed(text.encode(), 0)
            topic = msg.get("topic", "")
            if topic.startswith("orderbook"):
                sym, d = topic.rsplit(".", 1)[1], msg["data"]
                if msg["type"] == "snapshot":
                    oracle[sym] = ({}, {}, d["u"])
                    totals["snapshots"] += 1
                else:
                    totals["deltas"] += 1
                    if d["u"] != oracle[sym][2] + 1:
                        totals["gaps"] += 1
                    oracle[sym] = (*oracle[sym][:2], d["u"])
                for side, key in ((0, "b"), (1, "a")):
                    for p, q in d[key]:
                        if float(q) == 0:
                            oracle[sym][side].pop(float(p), None)
                        else:
                            oracle[sym][side][float(p)] = float(q)
                [upd] = [e for e in events if isinstance(e, BookUpdate)]
                assert upd.last_update_id == d["u"] and upd.is_snapshot == (msg["type"] == "snapshot")
                book = books[sym].book.to_dict()
                bids, asks = oracle[sym][0], oracle[sym][1]
                assert [tuple(x) for x in book["bids"]] == sorted(bids.items(), reverse=True), (conn, sym, d["u"])
                assert [tuple(x) for x in book["asks"]] == sorted(asks.items()), (conn, sym, d["u"])
            elif topic:
                want = []
                if topic.startswith("tickers"):
                    sym = topic.rsplit(".", 1)[1]
                    state = tickers.setdefault(sym, {})
                    if msg["type"] == "snapshot":
                        state.clear()
                    state.update(msg["data"])
                    want = _oracle_event(msg, None, state)
                    totals["tickers"] += 1
                    if "bid1Price" in msg["data"] and sym in oracle:
                        top = (max(oracle[sym][0]), min(oracle[sym][1]))
                        hit = top == (float(state["bid1Price"]), float(state["ask1Price"]))
                        totals["top_agree" if hit else "top_differ"] += 1
                else:
                    for item in msg["data"]:
                        want += _oracle_event(msg, item, {})
                    totals["trades" if topic.startswith("publicTrade") else "klines"] += 1
                got = [_event_tuple(e) for e in events]
                assert len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want)), (conn, text[:200])
        stats = decoder.stats()
        assert stats["parse_errors"] == 0 and stats["unknown_frames"] == 0
        assert all(books[s].is_valid and books[s].stats()["gaps"] == 0 for s in books.symbols())
    assert (totals["snapshots"], totals["deltas"], totals["gaps"]) == (6, 2142, 0), totals
    assert (totals["trades"], totals["tickers"], totals["klines"]) == (120, 839, 96), totals
    # the ticker's best bid/offer is the rebuilt book's top, except while the two streams cross in flight
    assert totals["top_agree"] >= 0.98 * (totals["top_agree"] + totals["top_differ"]) > 0, totals
