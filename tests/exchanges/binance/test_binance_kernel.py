"""Binance on the decoder kernel: FrameDecoder entry points, control fields, and issue 18's decoder items
(integers checked before multiplying, one rule for every price and size, atomic rejection)."""
from __future__ import annotations

import json

import pytest

from feedhandler.core.errors import ParseError
from feedhandler.core.types import MessageType
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.kernel.decoder import FrameDecoder
from test_binance_decoder_fuzz import _live_decoder  # noqa: E402  (same folder: pytest puts it on the path)


def test_binance_decoder_is_a_frame_live_decoder():
    dec, _, _ = _live_decoder()
    assert isinstance(dec, FrameDecoder) and dec.exchange == "binance"
    assert dec.feed(b'{"result":null,"id":7}', 0) == MessageType.SUBSCRIPTION_ACK
    assert (dec.control_id, dec.control_code, dec.control_text) == (7, 0, None)
    assert dec.feed(b'{"error":{"code":-1121,"msg":"Invalid symbol."},"id":8}', 0) == MessageType.ERROR
    assert (dec.control_id, dec.control_code, dec.control_text) == (8, -1121, "Invalid symbol.")
    assert dec.feed(b'{"code":2,"msg":"Invalid request: unknown \\u0073tream","id":9}', 0) == MessageType.ERROR
    assert (dec.control_id, dec.control_code, dec.control_text) == (9, 2, "Invalid request: unknown stream")


@pytest.mark.parametrize("digits, ok", [(18, True), (19, False), (20, False)])
def test_exact_layout_integers_are_range_checked_before_multiplying(digits, ok):
    # 999...9 (19 digits) * 10 used to be computed before the range check (UBSan: signed overflow)
    dec, books, events = _live_decoder()
    big = "9" * digits
    frame = ('{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":101,"u":'
             + big + ',"b":[["1.00","2.00"]],"a":[]}}').encode()
    if ok:
        assert dec.feed(frame, 0) == MessageType.DATA
    else:
        with pytest.raises(ParseError):
            dec.feed(frame, 0)
        assert events == []


@pytest.mark.parametrize("frame", [
    {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "-1.5", "q": "1", "T": 1, "m": True},
    {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "1e400", "q": "1", "T": 1, "m": True},
    {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "0", "q": "1", "T": 1, "m": True},
    {"e": "aggTrade", "E": 1, "s": "BTCUSDT", "a": 1, "p": "1.5", "q": "-1", "f": 1, "l": 1, "T": 1, "m": False},
    {"u": 1, "s": "BTCUSDT", "b": "-1.5", "B": "1", "a": "2", "A": "1"},
    {"u": 1, "s": "BTCUSDT", "b": "1.5", "B": "1", "a": "2", "A": "1e400"},
    {"e": "bookTicker", "u": 1, "s": "BTCUSDT", "b": "1.5", "B": "1", "a": "0.00", "A": "1"},
])
def test_one_rule_for_trades_and_book_tickers(frame):
    dec, _, events = _live_decoder()
    for raw in (json.dumps(frame, separators=(",", ":")), json.dumps({"stream": "x", "data": frame})):
        with pytest.raises(ParseError, match="finite"):
            dec.feed(raw, 0)
    assert events == []


@pytest.mark.parametrize("frame, group", [
    ({"e": "depthUpdate", "E": 1, "s": "NEWSYM", "U": 1, "u": 2, "b": [["-1", "1"]], "a": []}, "books"),
    ({"e": "depthUpdate", "E": 1, "s": "NEWSYM", "U": 3, "u": 2, "b": [], "a": []}, "books"),
    ({"stream": "newsym@depth5", "data": {"lastUpdateId": 5, "bids": [["1", "nan"]], "asks": []}}, "partial_books"),
])
def test_a_rejected_frame_creates_no_book_and_no_symbol(frame, group):
    dec, books, events = _live_decoder()
    group_obj = books if group == "books" else dec.partial_books
    before = (len(group_obj), len(group_obj.symbol_table), dec.depth_updates, dec.partial_depths)
    with pytest.raises(ParseError):
        dec.feed(json.dumps(frame), 0)
    assert (len(group_obj), len(group_obj.symbol_table), dec.depth_updates, dec.partial_depths) == before
    assert events == [] and dec.parse_errors == 1
