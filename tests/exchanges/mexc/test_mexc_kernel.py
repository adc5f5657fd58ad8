"""MEXC on the decoder kernel: FrameDecoder entry points, control fields decoded once, one price/size rule."""
from __future__ import annotations

import pytest

from feedhandler.core.errors import ParseError
from feedhandler.core.types import MessageType
from feedhandler.kernel.decoder import FrameDecoder
from test_mexc_decoder import new_decoder, pb  # noqa: E402  (same folder: pytest puts it on the path)


def test_mexc_decoder_is_a_frame_decoder_with_control_fields():
    dec, _ = new_decoder()
    assert isinstance(dec, FrameDecoder) and dec.exchange == "mexc"
    ack = b'{"id":3,"code":0,"msg":"spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT"}'
    assert dec.feed(ack, 0) == MessageType.SUBSCRIPTION_ACK
    assert (dec.control_id, dec.control_code, dec.control_text) == \
        (3, 0, "spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT")
    assert dec.feed(b'{"id":4,"code":1,"msg":"bad"}', 0) == MessageType.ERROR
    assert (dec.control_id, dec.control_code, dec.control_text) == (4, 1, "bad")
    assert dec.feed(b"Invalid listen key", 0) == MessageType.ERROR
    assert (dec.control_id, dec.control_code, dec.control_text) == (-1, -1, "Invalid listen key")
    assert dec.classify(ack) == MessageType.SUBSCRIPTION_ACK


@pytest.mark.parametrize("price, qty", [("-1.5", "1"), ("1e400", "1"), ("0", "1"), ("1.5", "-2"), ("1", "inf")])
def test_one_rule_for_deals(price, qty):
    dec, events = new_decoder()
    w = pb.PushDataV3ApiWrapper(symbol="BTCUSDT")
    w.publicAggreDeals.deals.add(price=price, quantity=qty, tradeType=1, time=1736409765051)
    with pytest.raises(ParseError):
        dec.feed(w.SerializeToString(), 0)
    assert events == [] and dec.parse_errors == 1


@pytest.mark.parametrize("field, value", [("bidPrice", "-1"), ("askPrice", "0"), ("bidQuantity", "-1"),
                                          ("askQuantity", "1e400")])
def test_one_rule_for_book_tickers(field, value):
    dec, events = new_decoder()
    w = pb.PushDataV3ApiWrapper(symbol="BTCUSDT")
    t = w.publicAggreBookTicker
    t.bidPrice, t.bidQuantity, t.askPrice, t.askQuantity = "1", "1", "2", "1"
    setattr(t, field, value)
    with pytest.raises(ParseError, match="price/size rule"):
        dec.feed(w.SerializeToString(), 0)
    assert events == []
