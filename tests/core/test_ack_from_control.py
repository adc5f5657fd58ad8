"""``ack_from_control`` (acks from the decoder's fields) has the manager do what ``parse_ack`` (the frame) does.

For each exchange, two strategies with the same pending requests: one is given the frame, the other the
fields an independent oracle (``json.loads`` here) reads from it, as the compiled decoder reports them:
``control_id`` (the request id, -1 none), ``control_code`` (error code, 0 none), ``control_text`` (channel or
error message).
"""
from __future__ import annotations

import json

import pytest

from feedhandler import ChannelType, MessageType, WebSocketStrategyFactory


def _strategies(exchange: str):
    """Two strategies that sent the same two requests (one per channel); the ids of those requests."""
    a = WebSocketStrategyFactory.create_strategies(exchange)[1]
    b = WebSocketStrategyFactory.create_strategies(exchange)[1]
    symbol = "BTC_USDT" if exchange == "gateio" else "BTCUSDT"
    ids = []
    for channel in (ChannelType.TRADES, ChannelType.ORDERBOOK):
        sent = a.create_subscription_messages([symbol], [channel], True)
        b.create_subscription_messages([symbol], [channel], True)
        ids += [json.loads(m)["id"] for m in sent if json.loads(m).get("id") is not None]
    return a, b, ids


def _binance_cases(ids):
    return [
        (MessageType.SUBSCRIPTION_ACK, {"result": None, "id": ids[0]}, (ids[0], 0, None)),
        (MessageType.ERROR, {"error": {"code": 2, "msg": "Invalid request: unknown stream"}, "id": ids[-1]},
         (ids[-1], 2, "Invalid request: unknown stream")),
        (MessageType.ERROR, {"code": -1121, "msg": "Invalid symbol."}, (-1, -1121, "Invalid symbol.")),
        (MessageType.SUBSCRIPTION_ACK, {"result": None, "id": 987654}, (987654, 0, None)),
    ]


def _gateio_cases(ids):
    return [
        (MessageType.SUBSCRIPTION_ACK, {"time": 1, "id": ids[0], "channel": "spot.trades", "event": "subscribe",
                                        "result": {"status": "success"}}, (ids[0], 0, "spot.trades")),
        (MessageType.ERROR, {"time": 1, "id": ids[-1], "channel": "spot.order_book_update", "event": "subscribe",
                             "error": {"code": 2, "message": "unknown currency pair"}, "result": {"status": "fail"}},
         (ids[-1], 2, "unknown currency pair")),
        (MessageType.ERROR, {"time": 1, "id": 424242, "channel": "spot.trades", "event": "subscribe",
                             "error": {"code": 1, "message": "invalid argument"}}, (424242, 1, "invalid argument")),
    ]


def _mexc_cases(ids):
    ok = "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"
    bad = ("Not Subscribed successfully! [spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT].  "
           "Reason\uff1a Blocked! ")
    return [
        (MessageType.SUBSCRIPTION_ACK, {"id": 0, "code": 0, "msg": ok}, (0, 0, ok)),
        (MessageType.ERROR, {"id": 0, "code": 0, "msg": bad}, (0, 0, bad)),
        (MessageType.ERROR, {"id": 0, "code": 1001, "msg": "bad request"}, (0, 1001, "bad request")),
    ]


def effect(ack):
    """What the manager does with an answer: confirm keys, fail keys (with the reason); None = nothing."""
    if ack is None:
        return [], [], None
    return ack.confirmed, ack.failed, ack.reason if ack.failed else None


CASES = {"binance": _binance_cases, "gateio": _gateio_cases, "mexc": _mexc_cases}


@pytest.mark.parametrize("exchange", list(CASES))
def test_decoded_fields_give_the_parse_ack_answer(exchange):
    a, b, ids = _strategies(exchange)
    if exchange != "mexc":
        assert ids
    answers = 0
    for message_type, frame, (control_id, control_code, control_text) in CASES[exchange](ids):
        raw = json.dumps(frame).encode()
        expected = a.parse_ack(raw)
        got = b.ack_from_control(message_type, control_id, control_code, control_text)
        assert effect(got) == effect(expected), (frame, got, expected)
        answers += effect(expected) != ([], [], None)
    assert answers >= 2


@pytest.mark.parametrize("exchange", list(CASES))
def test_empty_fields_fall_back_to_parse_ack(exchange):
    _, b, _ = _strategies(exchange)
    assert b.ack_from_control(MessageType.SUBSCRIPTION_ACK, -1, 0, None) is NotImplemented
