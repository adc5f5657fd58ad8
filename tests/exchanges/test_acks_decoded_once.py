"""Control frames are decoded once: what the compiled decoder read from an ack or error frame (its
``control_*`` fields) gives the subscription strategy the same answer as the strategy parsing the frame
itself (``parse_ack``, the oracle here), for Bybit, OKX and Coinbase.

The manager asks ``ack_from_control`` first and calls ``parse_ack`` only when it answers ``NotImplemented``;
these tests also pin down which frames take the decoded path (every subscribe answer of Bybit and OKX).
"""
from __future__ import annotations

import json

import pytest

from feedhandler.core.types import ChannelType, MessageType
from feedhandler.exchanges.bybit import BybitPublicMessageParser, BybitPublicSubscriptionStrategy
from feedhandler.exchanges.coinbase import CoinbasePublicMessageParser, CoinbasePublicSubscriptionStrategy
from feedhandler.exchanges.okx import (
    OkxPrivateMessageParser, OkxPrivateSubscriptionStrategy, OkxPublicMessageParser, OkxPublicSubscriptionStrategy,
)

CHANNELS = [ChannelType.ORDERBOOK, ChannelType.TRADES]


def _answers(parser, strategies, frames):
    """(decoded answer, parsed answer) per frame; ``strategies`` are two in the same state."""
    decoded, parsed = strategies
    dec = parser.decoder
    out = []
    for frame in frames:
        message_type = dec.feed(frame, 0)
        assert message_type in (MessageType.SUBSCRIPTION_ACK, MessageType.ERROR), frame
        a = decoded.ack_from_control(message_type, dec.control_id, dec.control_code, dec.control_text)
        out.append((a, parsed.parse_ack(frame)))
    return out


def _bybit_ack(req_id, ok=True, op="subscribe", msg=""):
    return json.dumps({"success": ok, "ret_msg": msg, "conn_id": "c1", "req_id": req_id, "op": op}).encode()


def test_bybit_acks_by_request_id():
    strategies = (BybitPublicSubscriptionStrategy(), BybitPublicSubscriptionStrategy())
    requests = [[json.loads(m) for m in s.create_subscription_messages(["BTCUSDT", "ETHUSDT"], CHANNELS, True)]
                for s in strategies]
    assert requests[0] == requests[1]   # same ids, same pending topics
    ids = [m["req_id"] for m in requests[0]]
    frames = [_bybit_ack(ids[0]), _bybit_ack("999"), _bybit_ack("5", op="unsubscribe"),
              _bybit_ack("6", ok=False, op="unsubscribe", msg="not subscribed")]
    if len(ids) > 1:
        frames.insert(1, _bybit_ack(ids[1], ok=False, msg="error:handler not found,topic:orderbook.200.XYZ"))
    answers = _answers(BybitPublicMessageParser(), strategies, frames)
    for (a, b), frame in zip(answers, frames):
        assert a == b, frame
    assert answers[0][0].confirmed == requests[0][0]["args"]


def test_bybit_request_id_that_is_not_a_number_goes_to_parse_ack():
    strategy = BybitPublicSubscriptionStrategy()
    dec = BybitPublicMessageParser().decoder
    frame = _bybit_ack("abc")
    message_type = dec.feed(frame, 0)
    assert strategy.ack_from_control(message_type, dec.control_id, dec.control_code,
                                     dec.control_text) is NotImplemented


def _okx(event, arg=None, **extra):
    msg = {"event": event, **({"arg": arg} if arg is not None else {}), **extra, "connId": "a1"}
    return json.dumps(msg).encode()


@pytest.mark.parametrize("side", ["public", "private"])
def test_okx_acks_by_arg(side):
    if side == "public":
        parser, strategies = OkxPublicMessageParser(), (OkxPublicSubscriptionStrategy(), OkxPublicSubscriptionStrategy())
        args = [json.loads(m)["args"] for m in strategies[0].create_subscription_messages(["BTC-USDT"], CHANNELS, True)][0]
    else:
        parser, strategies = OkxPrivateMessageParser(), (OkxPrivateSubscriptionStrategy(), OkxPrivateSubscriptionStrategy())
        args = json.loads(strategies[0].create_subscription_messages(
            ["BTC-USDT"], [ChannelType.ORDERS, ChannelType.BALANCES], True)[0])["args"]
    keys = strategies[0].subscription_keys(["BTC-USDT"], CHANNELS if side == "public" else
                                           [ChannelType.ORDERS, ChannelType.BALANCES])
    frames = [_okx("subscribe", a) for a in args] + [_okx("unsubscribe", args[0]),
                                                     _okx("error", code="60012", msg="Invalid request")]
    answers = _answers(parser, strategies, frames)
    for (a, b), frame in zip(answers, frames):
        assert a == b, frame
    assert [a.confirmed[0] for a, _ in answers[:len(args)]] == list(dict.fromkeys(keys))


def test_okx_error_naming_an_arg_keeps_its_message():
    parser, strategy = OkxPublicMessageParser(), OkxPublicSubscriptionStrategy()
    frame = _okx("error", {"channel": "books", "instId": "NOPE"}, code="60018", msg="instId:NOPE doesn't exist")
    dec = parser.decoder
    message_type = dec.feed(frame, 0)
    assert message_type == MessageType.ERROR and dec.control_code == 60018
    # the message text is only in the frame: this rare answer is read by parse_ack
    assert strategy.ack_from_control(message_type, dec.control_id, dec.control_code,
                                     dec.control_text) is NotImplemented
    ack = strategy.parse_ack(frame)
    assert ack.failed == ["books:NOPE"] and "doesn't exist" in ack.reason


def test_coinbase_error_decoded_once_subscriptions_parsed():
    parser = CoinbasePublicMessageParser()
    strategies = (CoinbasePublicSubscriptionStrategy(), CoinbasePublicSubscriptionStrategy())
    error = b'{"type":"error","message":"Failed to subscribe"}'
    (a, b), = _answers(parser, strategies, [error])
    assert a == b == strategies[1].parse_ack(error)
    sub = b'{"channel":"subscriptions","sequence_num":0,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}'
    dec = parser.decoder
    message_type = dec.feed(sub, 0)
    assert strategies[0].ack_from_control(message_type, dec.control_id, dec.control_code,
                                          dec.control_text) is NotImplemented
    assert strategies[0].parse_ack(sub).confirmed == ["level2:BTC-USD"]
