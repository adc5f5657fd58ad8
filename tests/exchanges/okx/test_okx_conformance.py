"""OKX conformance on the real 2022 recording: every one of its 290 book checksums recomputed equal from
the rebuilt book, every book equal to a json.loads + float() dict reference book, trades and tickers equal
to an independent decode."""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from recording import frames, reference_checksum  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.events import BookStatus, BookUpdate, Ticker, Trade  # noqa: E402
from feedhandler.exchanges.okx import OKX_BOOKS_RULE, OkxChecksum, OkxDecoder, okx_format  # noqa: E402
from feedhandler.sync import BookSyncGroup  # noqa: E402


def _reference_checksum(bids: dict, asks: dict) -> int:
    """The documented checksum over the exchange's own strings, kept beside the float keys."""
    return reference_checksum([bids[p] for p in sorted(bids, reverse=True)], [asks[p] for p in sorted(asks)])


def test_every_recorded_checksum_recomputed_from_the_rebuilt_book():
    events: list = []
    d = EventDispatcher(lambda ev: events.append(ev.copy() if not isinstance(ev, BookUpdate) else
                                                 (ev.symbol, ev.book.to_dict())))
    checksum = OkxChecksum()
    books = BookSyncGroup("okx", OKX_BOOKS_RULE, d, 1000, integrity=checksum)
    dec = OkxDecoder(d, books)
    ref: dict[str, tuple[dict, dict]] = {}
    claimed = recomputed = ref_equal = 0
    n_trades = n_tickers = 0
    for raw in frames():
        events.clear()
        dec.feed(raw, 0)
        msg = json.loads(raw)
        ch = msg.get("arg", {}).get("channel")
        if "data" not in msg:
            continue
        inst = msg["arg"]["instId"]
        if ch == "books":
            x = msg["data"][0]
            if msg["action"] == "snapshot":
                ref[inst] = ({}, {})
            for side, book in zip(("bids", "asks"), ref[inst]):
                for px, sz, *_ in x[side]:
                    if float(sz) == 0:
                        book.pop(float(px), None)
                    else:
                        book[float(px)] = (px, sz)
            claimed += 1
            sync = books[inst]
            assert sync.is_valid, (inst, sync.stats())
            # the decoder's checksum of its book, the reference over the wire strings, and the frame: all equal
            assert checksum.checksum(sync.book) == _reference_checksum(*ref[inst]) == x["checksum"]
            recomputed += 1
            got = sync.book.to_dict()
            want_b = sorted(((p, float(s)) for p, (_, s) in ref[inst][0].items()), reverse=True)
            want_a = sorted((p, float(s)) for p, (_, s) in ref[inst][1].items())
            assert (got["bids"], got["asks"]) == (want_b, want_a)
            ref_equal += 1
            assert [e for e in events if isinstance(e, tuple)] == [(inst, got)]
        elif ch == "trades":
            got = [e for e in events if isinstance(e, Trade)]
            want = [(t["instId"], float(t["px"]), float(t["sz"]), t["side"], int(t["tradeId"]), int(t["ts"]) * 10**6)
                    for t in msg["data"]]
            assert [(e.symbol, e.price, e.qty, "buy" if e.side == 1 else "sell", e.trade_id, e.exchange_ts_ns)
                    for e in got] == want
            n_trades += len(got)
        elif ch == "tickers":
            (e,) = [e for e in events if isinstance(e, Ticker)]
            t = msg["data"][0]
            last, o = float(t["last"]), float(t["open24h"])
            assert (e.symbol, e.last, e.high, e.low, e.volume, e.quote_volume, e.change_pct) == (
                t["instId"], last, float(t["high24h"]), float(t["low24h"]), float(t["vol24h"]),
                float(t["volCcy24h"]), (last - o) / o * 100.0)
            n_tickers += 1
    assert claimed == recomputed == ref_equal == 290
    assert sum(books[s].integrity_checks for s in books.symbols()) == 290
    assert sum(books[s].integrity_failures for s in books.symbols()) == 0
    assert dec.checksum_unverifiable == 0 and dec.parse_errors == 0
    assert n_trades >= 74 and n_tickers == 28


def test_okx_format_reproduces_every_recorded_level_text():
    """The checksum's premise on the recording: each price/size text is the shortest form of its float."""
    n = 0
    for raw in frames():
        msg = json.loads(raw)
        if msg.get("arg", {}).get("channel") == "books" and "data" in msg:
            for side in ("bids", "asks"):
                for px, sz, *_ in msg["data"][0][side]:
                    assert okx_format(float(px)) == px and okx_format(float(sz)) == sz
                    n += 2
    assert n > 16000


def test_a_corrupted_checksum_invalidates_the_book_and_asks_for_recovery():
    statuses: list = []
    d = EventDispatcher(lambda ev: statuses.append((ev.symbol, ev.valid, ev.reason))
                        if isinstance(ev, BookStatus) else None)
    books = BookSyncGroup("okx", OKX_BOOKS_RULE, d, 1000, integrity=OkxChecksum())
    asked: list[str] = []
    books.request_snapshot = lambda sync: asked.append(sync.symbol)
    dec = OkxDecoder(d, books)
    seen_updates = 0
    for raw in frames():
        msg = json.loads(raw)
        if msg.get("action") == "update" and msg["arg"]["instId"] == "BTC-USDT":
            seen_updates += 1
            if seen_updates == 10:
                msg["data"][0]["checksum"] ^= 1
                raw = json.dumps(msg).encode()
        dec.feed(raw, 0)
    assert asked == ["BTC-USDT"]
    assert ("BTC-USDT", False, next(r for s, v, r in statuses if not v)) in statuses
    assert any(not v and r.startswith("checksum mismatch") for _, v, r in statuses)
    assert not books["BTC-USDT"].is_valid and books["UNI-USD-SWAP"].is_valid
