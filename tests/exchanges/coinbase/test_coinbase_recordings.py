"""Conformance on the real Coinbase Advanced Trade recording (cryptofeed v3 capture, 2026-08-09).

Every received frame goes through the compiled decoder and the sync engine. Oracle: ``json.loads`` +
``float()`` and a dict book per product (snapshot replaces, updates set/delete levels), ``sequence_num`` + 1
over every frame of the connection. Checked: the counts of PROVENANCE.md (2 snapshots, 773 updates, 0 gaps
over 1,030 frames), the top 25 levels after every l2_data frame and the whole book
every 50 frames, every trade / ticker / candle event against
the oracle's decode, the ticker's best bid/offer against the top of the rebuilt book.
"""
from __future__ import annotations

import heapq
import json
import os
import sys
from datetime import datetime, timezone

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cryptofeed_capture import SHARED_DATA, frames_by_connection, read_capture  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.events.events import BookTicker, BookUpdate, Kline, Side, Ticker, Trade  # noqa: E402
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder  # noqa: E402
from feedhandler.exchanges.coinbase.rules import COINBASE_BOOK_RULE  # noqa: E402
from feedhandler.sync.book_sync import BookSyncGroup  # noqa: E402

CAPTURE = SHARED_DATA / "coinbase" / "cryptofeed_v3_2026-08-09" / "COINBASE.jsonl.zst"
pytestmark = pytest.mark.skipif(not CAPTURE.is_file(), reason=f"recording not available at {CAPTURE}")


def iso_ns(text: str) -> int:
    """An independent ISO-8601 reading: datetime for the seconds, the fraction's digits as ns."""
    head, _, frac = text.rstrip("Z").partition(".")
    sec = int(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp())
    return sec * 10**9 + int((frac + "000000000")[:9])


def _want(channel: str, ev: dict) -> list[tuple]:
    out: list[tuple] = []
    if channel == "market_trades" and ev["type"] == "update":
        for t in ev["trades"]:
            tid = int(t["trade_id"]) if t["trade_id"].isdigit() else -1
            out.append(("Trade", t["product_id"], float(t["price"]), float(t["size"]),
                        Side.BUY if t["side"] == "BUY" else Side.SELL, tid, iso_ns(t["time"])))
    elif channel == "ticker":
        for t in ev["tickers"]:
            out.append(("BookTicker", t["product_id"], *(float(t[k]) for k in (
                "best_bid", "best_bid_quantity", "best_ask", "best_ask_quantity"))))
            out.append(("Ticker", t["product_id"], *(float(t[k]) for k in (
                "price", "high_24_h", "low_24_h", "volume_24_h", "price_percent_chg_24_h"))))
    elif channel == "candles" and ev["type"] == "update":
        for c in ev["candles"]:
            out.append(("Kline", c["product_id"], int(c["start"]) * 10**9, (int(c["start"]) + 300) * 10**9,
                        *(float(c[k]) for k in ("open", "high", "low", "close", "volume"))))
    return out


def _got(ev) -> tuple:
    if isinstance(ev, Trade):
        return ("Trade", ev.symbol, ev.price, ev.qty, ev.side, ev.trade_id, ev.exchange_ts_ns)
    if isinstance(ev, BookTicker):
        return ("BookTicker", ev.symbol, ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty)
    if isinstance(ev, Ticker):
        return ("Ticker", ev.symbol, ev.last, ev.high, ev.low, ev.volume, ev.change_pct)
    return ("Kline", ev.symbol, ev.open_time_ns, ev.close_time_ns, ev.open, ev.high, ev.low, ev.close, ev.volume)


def test_recording_books_events_and_counts_match_the_oracle():
    [texts] = frames_by_connection(read_capture(CAPTURE)).values()
    dispatcher = EventDispatcher()
    books = BookSyncGroup("coinbase", COINBASE_BOOK_RULE, dispatcher, 100_000)
    decoder = CoinbaseDecoder(dispatcher, books, False)
    events: list = []
    dispatcher.handler = lambda ev: events.append(ev.copy())
    oracle: dict[str, tuple[dict, dict]] = {}
    counts = {"snapshots": 0, "updates": 0, "gaps": 0, "trades": 0, "tickers": 0, "candles": 0,
              "top_agree": 0, "top_differ": 0}
    last_seq = None
    for text in texts:
        msg = json.loads(text)
        if last_seq is not None and msg["sequence_num"] != last_seq + 1:
            counts["gaps"] += 1
        last_seq = msg["sequence_num"]
        events.clear()
        decoder.feed(text.encode(), 0)
        channel = msg["channel"]
        if channel == "l2_data":
            for ev in msg["events"]:
                product = ev["product_id"]
                if ev["type"] == "snapshot":
                    oracle[product] = ({}, {})
                    counts["snapshots"] += 1
                else:
                    counts["updates"] += 1
                for u in ev["updates"]:
                    side = oracle[product][0 if u["side"] == "bid" else 1]
                    if float(u["new_quantity"]) == 0:
                        side.pop(float(u["price_level"]), None)
                    else:
                        side[float(u["price_level"])] = float(u["new_quantity"])
                book = books[product].book
                assert book.last_update_id == msg["sequence_num"]
                bids, asks = oracle[product]
                # the top 25 levels after every frame; the whole book (tens of thousands of levels) every
                # 50th frame and at each snapshot
                if ev["type"] == "snapshot" or msg["sequence_num"] % 50 == 0:
                    whole = book.to_dict()
                    assert [tuple(x) for x in whole["bids"]] == sorted(bids.items(), reverse=True)
                    assert [tuple(x) for x in whole["asks"]] == sorted(asks.items())
                top_b, top_a = heapq.nlargest(25, bids), heapq.nsmallest(25, asks)
                px, qty = book.top_bids(25)
                assert list(zip(px, qty)) == [(p, bids[p]) for p in top_b], (product, msg["sequence_num"])
                px, qty = book.top_asks(25)
                assert list(zip(px, qty)) == [(p, asks[p]) for p in top_a], (product, msg["sequence_num"])
            assert [e.is_snapshot for e in events if isinstance(e, BookUpdate)] == [
                ev["type"] == "snapshot" for ev in msg["events"]]
        else:
            want = [w for ev in msg["events"] for w in _want(channel, ev)]
            assert [_got(e) for e in events] == want, text[:300]
            if channel in ("market_trades", "ticker", "candles"):
                counts[{"market_trades": "trades", "ticker": "tickers", "candles": "candles"}[channel]] += 1
            if channel == "ticker":
                for ev in msg["events"]:
                    for t in ev["tickers"]:
                        if t["product_id"] in oracle:
                            bids, asks = oracle[t["product_id"]]
                            hit = (max(bids), min(asks)) == (float(t["best_bid"]), float(t["best_ask"]))
                            counts["top_agree" if hit else "top_differ"] += 1
    stats = decoder.stats()
    assert stats["parse_errors"] == 0 and stats["sequence_gaps"] == 0 and stats["unknown_frames"] == 0
    assert all(books[p].is_valid and books[p].stats()["gaps"] == 0 for p in books.symbols())
    assert (len(texts), counts["snapshots"], counts["updates"], counts["gaps"]) == (1030, 2, 773, 0), counts
    assert (counts["trades"], counts["tickers"], counts["candles"]) == (59, 160, 6), counts
    # the ticker's best bid/offer is the rebuilt book's top, except while the two channels cross in flight
    # (132 of 154 on this recording: the ticker is throttled, the book is not)
    assert counts["top_agree"] >= 0.8 * (counts["top_agree"] + counts["top_differ"]) > 0, counts
