"""Gate.io on the decoder kernel: FrameDecoder entry points, control fields, and issue 18's decoder items
(escaped channel values read as json.loads reads them, one rule for every price and size, atomic rejection)."""
from __future__ import annotations

import json

import pytest

from feedhandler.core.errors import ParseError
from feedhandler.core.types import MessageType
from feedhandler.events.events import Trade
from feedhandler.kernel.decoder import FrameDecoder
from test_gateio_frames import _decoder, _frame  # noqa: E402  (same folder: pytest puts it on the path)

TRADE = {"id": 5, "create_time": 1, "create_time_ms": "1000.5", "side": "buy", "currency_pair": "BTC_USDT",
         "amount": "0.5", "price": "65000.1"}


def test_gateio_decoder_is_a_frame_decoder_with_control_fields():
    dec, *_ = _decoder()
    assert isinstance(dec, FrameDecoder)
    ok = b'{"time":1,"id":7,"channel":"spot.trades","event":"subscribe","error":null,"result":{"status":"success"}}'
    assert dec.feed(ok, 0) == MessageType.SUBSCRIPTION_ACK
    assert (dec.control_id, dec.control_code, dec.control_text) == (7, 0, "spot.trades")
    fail = (b'{"time":1,"id":8,"channel":"spot.obu","event":"subscribe","error":{"code":2,"message":"Alert sub '
            b'ob.BTC_USDT.400"},"result":{"status":"fail"}}')
    assert dec.feed(fail, 0) == MessageType.ERROR
    assert (dec.control_id, dec.control_code, dec.control_text) == (8, 2, "Alert sub ob.BTC_USDT.400")
    assert dec.classify(ok) == MessageType.SUBSCRIPTION_ACK


@pytest.mark.parametrize("channel", ["spot.\\u0074rades", "\\u0073pot.trades", "spot.trade\\u0073"])
def test_escaped_channel_decodes_as_json_loads_reads_it(channel):
    dec, _, _, events = _decoder()
    raw = _frame(TRADE, "spot.trades").replace(b'"spot.trades"', f'"{channel}"'.encode())
    assert json.loads(raw)["channel"] == "spot.trades"
    assert dec.feed(raw, 3) == MessageType.DATA
    (ev,) = events
    assert isinstance(ev, Trade) and (ev.symbol, ev.price, ev.qty, ev.trade_id) == ("BTC_USDT", 65000.1, 0.5, 5)


def test_escaped_unknown_channel_is_unknown():
    dec, *_ = _decoder()
    assert dec.feed(_frame(TRADE, "spot.nothing").replace(b"spot.nothing", b"spot.n\\u006fthing"), 0) \
        == MessageType.UNKNOWN


@pytest.mark.parametrize("channel, result", [
    ("spot.trades", {**TRADE, "price": "-1.5"}),
    ("spot.trades", {**TRADE, "price": "1e400"}),
    ("spot.trades", {**TRADE, "amount": "-2"}),
    ("spot.trades", {**TRADE, "price": "0"}),
    ("spot.book_ticker", {"t": 1, "u": 2, "s": "BTC_USDT", "b": "-1.5", "B": "1", "a": "2", "A": "1"}),
    ("spot.book_ticker", {"t": 1, "u": 2, "s": "BTC_USDT", "b": "1.5", "B": "1", "a": "2", "A": "1e400"}),
])
def test_one_rule_for_trades_and_book_tickers(channel, result):
    dec, _, _, events = _decoder()
    with pytest.raises(ParseError, match="finite"):
        dec.feed(_frame(result, channel), 0)
    assert events == [] and dec.parse_errors == 1


@pytest.mark.parametrize("result", [
    {"t": 1, "s": "NEW_USDT", "U": 1, "u": 2, "b": [["-1", "1"]], "a": []},
    {"t": 1, "s": "NEW_USDT", "U": 3, "u": 2, "b": [], "a": []},
    {"t": 1, "s": "NEW_USDT", "U": 1, "u": 2, "b": [["1", "1e400"]], "a": []},
])
def test_a_rejected_book_update_creates_no_book(result):
    dec, books, _, events = _decoder()
    with pytest.raises(ParseError):
        dec.feed(_frame(result), 0)
    assert len(books) == 0 and len(books.symbol_table) == 0 and events == []
    assert dec.stats()["data_frames"] == 0


def test_result_before_channel_decodes_the_same():
    """A ``result`` met before its ``channel`` is kept and scanned afterwards (objects and private arrays)."""
    from feedhandler.exchanges.gateio import GateioPrivateMessageParser
    dec, _, _, events = _decoder()
    first = json.dumps({"result": TRADE, "time": 1, "channel": "spot.trades", "event": "update"}).encode()
    assert dec.feed(first, 3) == MessageType.DATA and dec.feed(_frame(TRADE, "spot.trades"), 3) == MessageType.DATA
    a, b = events
    assert (a.symbol, a.price, a.qty, a.trade_id, a.exchange_ts_ns) == (b.symbol, b.price, b.qty, b.trade_id,
                                                                          b.exchange_ts_ns) == ("BTC_USDT", 65000.1,
                                                                                                0.5, 5, 1000500000)
    parser = GateioPrivateMessageParser()
    got = []
    parser.bind(lambda e: got.append(e.copy()))
    rows = [{"currency": "USDT", "available": "9.5", "freeze": ""}, {"currency": "BTC", "available": "1"}]
    for frame in ({"result": rows, "channel": "spot.balances"}, {"channel": "spot.balances", "result": rows}):
        parser.feed(json.dumps(frame).encode(), 5)
    assert [(e.asset, e.free) for e in got] == [("USDT", 9.5), ("BTC", 1.0)] * 2
    assert all(e.locked != e.locked for e in got)        # "" and absent: NaN
    parser.feed(json.dumps({"channel": "spot.balances", "result": []}).encode(), 5)   # nothing left over
    assert len(got) == 4
