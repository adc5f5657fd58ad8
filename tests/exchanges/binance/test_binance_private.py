"""Binance private side: signature, decoder (values, fuzz), strategies, end to end against the simulator."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedhandler.core.errors import AuthenticationError, ParseError, SubscriptionError
from feedhandler.core.factory import WebSocketStrategyFactory
from feedhandler.core.manager import WebSocketManager
from feedhandler.core.types import ChannelType, MessageType, ReconnectPolicy, WebSocketManagerConfig
from feedhandler.events.events import BalanceUpdate, Fill, OrderUpdate
from feedhandler.exchanges.binance import (
    BinancePrivateDecoder,
    BinancePrivateSubscriptionStrategy,
    signature_payload,
)
from feedhandler.sim.server import SimExchange

KEY, SECRET = "sim-api-key", "sim-api-secret"
PRIVATE = [ChannelType.ORDERS, ChannelType.FILLS, ChannelType.BALANCES]

EXEC = {"e": "executionReport", "E": 1499405658658, "s": "ETHBTC", "c": "mUvoqJxFIILMdfAW5iGSOW", "S": "BUY",
        "o": "LIMIT", "f": "GTC", "q": "1.00000000", "p": "0.10264410", "P": "0.00000000", "F": "0.00000000",
        "g": -1, "C": "", "x": "TRADE", "X": "PARTIALLY_FILLED", "r": "NONE", "i": 4293153, "l": "0.50000000",
        "z": "0.50000000", "L": "0.10264410", "n": "0.00010000", "N": "BNB", "T": 1499405658657, "t": 77,
        "I": 8641984, "w": False, "m": True, "M": False, "O": 1499405658657, "Z": "0.05132205", "Y": "0",
        "Q": "0", "W": 1, "V": "NONE"}
POS = {"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073,
       "B": [{"a": "ETH", "f": "10000.000000", "l": "0.000000"}, {"a": "BTC", "f": "1.5", "l": "0.25"}]}


def _frame(event: dict, sub_id: int = 0) -> bytes:
    return json.dumps({"subscriptionId": sub_id, "event": event}).encode()


def _decoder():
    got: list = []
    errors: list = []
    d = BinancePrivateDecoder()
    d.dispatcher.handler = lambda e: got.append(e.copy())
    d.dispatcher.error_handler = errors.append
    return d, got, errors


# ---- signature ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("recv_window", [None, 5000])
def test_signature_is_documented_hmac(recv_window):
    sub = BinancePrivateSubscriptionStrategy(api_key="my-key", secret_key="my-secret", recv_window=recv_window,
                                             clock_ms=lambda: 1700000000123)
    (msg,) = sub.create_subscription_messages(["BTCUSDT"], PRIVATE, True)
    req = json.loads(msg)
    assert req["method"] == "userDataStream.subscribe.signature"
    params = req["params"]
    text = "apiKey=my-key" + (f"&recvWindow={recv_window}" if recv_window else "") + "&timestamp=1700000000123"
    assert signature_payload(params) == text
    assert params["signature"] == hmac.new(b"my-secret", text.encode(), hashlib.sha256).hexdigest()


def test_each_call_re_signs_with_a_fresh_timestamp_and_secrets_stay_hidden():
    clock = iter([1000, 2000])
    sub = BinancePrivateSubscriptionStrategy(api_key="my-key", secret_key="TOPSECRET", clock_ms=lambda: next(clock))
    a, b = (json.loads(sub.create_subscription_messages(["X"], PRIVATE, True)[0]) for _ in range(2))
    assert a["params"]["timestamp"] == 1000 and b["params"]["timestamp"] == 2000
    assert a["params"]["signature"] != b["params"]["signature"] and a["id"] != b["id"]
    conn, sub2, parser = WebSocketStrategyFactory.create_strategies("binance", True, api_key="my-key",
                                                                    secret_key="TOPSECRET")
    for obj in (sub, conn, sub2, parser):
        assert "TOPSECRET" not in repr(obj) and "my-key" not in repr(obj) and "TOPSECRET" not in str(obj)
    with pytest.raises(Exception) as exc:
        BinancePrivateSubscriptionStrategy(api_key="my-key").create_subscription_messages(["X"], PRIVATE, True)
    assert "my-key" not in str(exc.value)
    assert sub.create_subscription_messages(["X"], PRIVATE, False) == []


def test_parse_ack_maps_ids_to_keys():
    sub = BinancePrivateSubscriptionStrategy(api_key="k", secret_key="s")
    first = json.loads(sub.create_subscription_messages(["X"], [ChannelType.ORDERS], True)[0])["id"]
    second = json.loads(sub.create_subscription_messages(["X"], PRIVATE, True)[0])["id"]
    ok = sub.parse_ack(json.dumps({"id": first, "status": 200, "result": {"subscriptionId": 0}}).encode())
    assert ok.confirmed == ["userData:orders"] and not ok.failed
    bad = sub.parse_ack(json.dumps({"id": second, "status": 400,
                                    "error": {"code": -1022, "msg": "Signature for this request is not valid."}}))
    assert sorted(bad.failed) == sorted(["userData:orders", "userData:fills", "userData:balances"])
    assert bad.reason == "code -1022: Signature for this request is not valid."
    assert sub.parse_ack('{"id":"ping-1","status":200,"result":{}}') is None
    assert sub.parse_ack("not json") is None


def test_connection_strategy_url_and_lifetime():
    c, _, _ = WebSocketStrategyFactory.create_strategies("binance", True)
    assert c.url == "wss://ws-api.binance.com:443/ws-api/v3" and 0 < c.max_lifetime < 24 * 3600
    c, _, _ = WebSocketStrategyFactory.create_strategies("binance", True, ws_url="ws://127.0.0.1:9/stream")
    assert c.url == "ws://127.0.0.1:9/ws-api/v3"
    ctx = asyncio.run(c.create_connection_context(True, "k", "SECRETX"))
    assert ctx.max_lifetime < 24 * 3600 and "SECRETX" not in repr(ctx)
    assert json.loads(c.create_ping_message())["method"] == "ping"


# ---- decoder ------------------------------------------------------------------------------------------

def test_execution_report_values_and_fill():
    d, got, _ = _decoder()
    assert d.feed(_frame(EXEC), 7) == MessageType.DATA
    ou, fl = got
    assert isinstance(ou, OrderUpdate) and isinstance(fl, Fill)
    assert (ou.symbol, ou.order_id, ou.client_order_id, ou.order_type, ou.status) == \
        ("ETHBTC", "4293153", "mUvoqJxFIILMdfAW5iGSOW", "LIMIT", "PARTIALLY_FILLED")
    assert (ou.price, ou.qty, ou.filled_qty) == (float(EXEC["p"]), float(EXEC["q"]), float(EXEC["z"]))
    assert ou.avg_price == float(EXEC["Z"]) / float(EXEC["z"])
    assert ou.exchange_ts_ns == EXEC["T"] * 1_000_000 and ou.recv_ns == 7
    assert (fl.trade_id, fl.price, fl.qty, fl.fee, fl.fee_asset, fl.is_maker, fl.order_id) == \
        ("77", float(EXEC["L"]), float(EXEC["l"]), float(EXEC["n"]), "BNB", True, "4293153")
    # a NEW report: no fill; cancel: C is the cancelled order's client id
    got.clear()
    d.feed(_frame(dict(EXEC, x="CANCELED", X="CANCELED", c="cancel-1", C="orig-1", N=None)), 0)
    assert len(got) == 1 and got[0].client_order_id == "orig-1" and got[0].status == "CANCELED"


def test_positions_balances_and_control_frames():
    d, got, errors = _decoder()
    d.feed(_frame(POS), 0)
    assert [(b.asset, b.free, b.locked) for b in got] == [("ETH", 10000.0, 0.0), ("BTC", 1.5, 0.25)]
    got.clear()
    assert d.feed(_frame({"e": "balanceUpdate", "E": 1, "a": "BTC", "d": "100.0", "T": 2}), 0) == MessageType.DATA
    assert got == [] and d.balance_deltas == 1
    assert d.feed(_frame({"e": "eventStreamTerminated", "E": 1}), 0) == MessageType.RECONNECT
    assert d.feed(b'{"id":"ping-3","status":200,"result":{}}', 0) == MessageType.PONG
    # the ack of an ORDERS-only subscribe filters fills and balances
    assert d.feed(b'{"id":"uds-1-9","status":200,"result":{"subscriptionId":5}}', 0) == MessageType.SUBSCRIPTION_ACK
    assert d.subscription_id == 5 and d.want_mask == 1
    d.feed(_frame(EXEC), 0)
    d.feed(_frame(POS), 0)
    assert [type(e) for e in got] == [OrderUpdate]
    # a refused subscribe while one is active: an ERROR for the manager, not a reconnect
    err = b'{"id":"uds-7-10","status":400,"error":{"code":-1022,"msg":"Signature for this request is not valid."}}'
    assert d.feed(err, 0) == MessageType.ERROR and errors == []
    d.reset_session()
    assert d.feed(err, 0) == MessageType.RECONNECT
    assert len(errors) == 1 and isinstance(errors[0], AuthenticationError) and "-1022" in str(errors[0])
    assert d.classify(_frame(EXEC)) == MessageType.DATA and d.classify(b"{") == MessageType.UNKNOWN


@pytest.mark.parametrize("bad", [
    b"", b"{", b"[]", b'{"subscriptionId":0,"event":[]}', b'{"subscriptionId":0,"event":{"E":1}}',
    _frame(dict(EXEC, S="HOLD")), _frame(dict(EXEC, p="abc")), _frame(dict(EXEC, i="x")),
    _frame(dict(EXEC, m=None)), _frame({k: v for k, v in EXEC.items() if k != "t"}),
    _frame(dict(POS, B=[{"a": "ETH", "f": "1"}])), _frame(dict(POS, B=[{"a": "ETH", "f": "1", "l": "1"}, 3])),
    _frame(dict(EXEC, E=-5)), _frame(dict(EXEC, p="1e400")), b'{"id":"uds-1-1","status":"x"}',
])
def test_malformed_frames_raise_and_deliver_nothing(bad):
    d, got, _ = _decoder()
    with pytest.raises(ParseError):
        d.feed(bad, 0)
    assert got == []
    assert sum(d.stats()["errors"].values()) == 1


_GOOD = [_frame(EXEC), _frame(POS), _frame({"e": "balanceUpdate", "E": 1, "a": "BTC", "d": "1", "T": 2}),
         b'{"id":"uds-7-1","status":200,"result":{"subscriptionId":0}}']


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_GOOD), st.integers(0, 10_000), st.integers(0, 255), st.integers(0, 3))
def test_fuzz_truncated_and_mutated_frames_never_crash(frame, pos, byte, mode):
    d, got, _ = _decoder()
    pos %= len(frame)
    if mode == 0:
        data = frame[:pos]
    elif mode == 1:
        data = frame[:pos] + bytes([byte]) + frame[pos + 1:]
    elif mode == 2:
        data = frame[:pos] + bytes([byte]) + frame[pos:]
    else:
        data = frame[:pos] + frame[pos + 1:]
    try:
        before = len(got)
        d.feed(data, 0)
    except ParseError:
        assert len(got) == before   # nothing half-delivered
    d.classify(data)
    json.dumps(d.stats())


# ---- end to end ---------------------------------------------------------------------------------------

def _config(secret: str, **kw) -> WebSocketManagerConfig:
    return WebSocketManagerConfig("binance", is_private=True, channel_types=kw.pop("channel_types", PRIVATE),
                                  api_key=KEY, secret_key=secret, stale_timeout=5.0,
                                  initialize_timeout=kw.pop("initialize_timeout", 5.0),
                                  reconnect=kw.pop("reconnect", ReconnectPolicy(base_delay=0.05, max_delay=0.2)), **kw)


async def _until(sim: SimExchange, cond, steps_max: int = 1500) -> None:
    for _ in range(steps_max):
        if cond():
            return
        await sim.pump(1)
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def _check_against_sim(events: list, sim_events) -> int:
    """Every delivered event equals the private event the simulator generated (independent oracle)."""
    reports = {e["i"]: e for kind, e in sim_events if kind == "executionReport"}
    balances = {}
    for kind, e in sim_events:
        if kind == "outboundAccountPosition":
            for b in e["B"]:
                balances.setdefault((b["a"], float(b["f"]), float(b["l"])), e["E"])
    checked = 0
    for ev in events:
        if isinstance(ev, OrderUpdate):
            e = reports[int(ev.order_id)]
            assert (ev.symbol, ev.client_order_id, ev.status, ev.order_type) == (e["s"], e["c"], e["X"], e["o"])
            assert ev.side == (1 if e["S"] == "BUY" else 2)
            assert (ev.price, ev.qty, ev.filled_qty) == (float(e["p"]), float(e["q"]), float(e["z"]))
            assert ev.exchange_ts_ns == e["T"] * 1_000_000
        elif isinstance(ev, Fill):
            e = reports[int(ev.order_id)]
            assert (ev.trade_id, ev.price, ev.qty, ev.fee, ev.fee_asset, ev.is_maker) == \
                (str(e["t"]), float(e["L"]), float(e["l"]), float(e["n"]), e["N"], e["m"])
        elif isinstance(ev, BalanceUpdate):
            assert (ev.asset, ev.free, ev.locked) in balances
        checked += 1
    return checked


async def test_e2e_events_match_the_simulator_and_reconnect_re_signs():
    async with asyncio.timeout(30), SimExchange("binance", ["BTCUSDT", "ETHUSDT"], seed=11, levels=10) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "binance", True, ws_url=sim.ws_url, api_key=KEY, secret_key=SECRET, ping_interval=0.2)
        events: list = []
        errors: list[BaseException] = []
        mgr = WebSocketManager(_config(SECRET), conn, sub, parser, lambda e: events.append(e.copy()), errors.append)
        proto = sim.protocol
        async with mgr:
            await mgr.initialize(["BTCUSDT"])
            await _until(sim, lambda: {e.symbol for e in events if isinstance(e, Fill)} == {"BTCUSDT", "ETHUSDT"}
                         and any(isinstance(e, BalanceUpdate) for e in events))
            assert {OrderUpdate, Fill, BalanceUpdate} <= {type(e) for e in events}
            # account-wide: ETHUSDT fills arrive although the manager was given BTCUSDT only
            assert _check_against_sim(events, list(proto.private_events)) == len(events)
            subs = mgr.metrics.connections[0].subscriptions
            assert subs and all(v == "confirmed" for v in subs.values()), subs
            await asyncio.sleep(0.5)
            assert parser.stats()["pongs"] >= 1 and parser.stats()["balance_deltas"] == 1
            # reconnect: a new connection subscribes again with a new timestamp and signature
            first = list(proto.signed_requests)
            assert len(first) == 1 and first[0]["ok"]
            sim.faults.drop_after_frames = 3
            await _until(sim, lambda: len(proto.signed_requests) >= 2)
            sim.faults.drop_after_frames = None
            await _until(sim, lambda: mgr.is_connected and parser.decoder.subscription_id >= 0)
            second = proto.signed_requests[1]
            assert second["ok"] and second["timestamp"] > first[0]["timestamp"]
            assert second["conn"] != first[0]["conn"]
            sent = [json.loads(m) for c in sim.connections for m in c.stats.messages_received
                    if "subscribe.signature" in m]
            assert len({m["params"]["signature"] for m in sent}) == len(sent) >= 2
            n = len(events)
            await _until(sim, lambda: sum(isinstance(e, Fill) for e in events[n:]) >= 2)
            assert _check_against_sim(events, list(proto.private_events)) == len(events)
        assert not any(SECRET in str(e) for e in errors)
        assert not [e for e in errors if isinstance(e, (AuthenticationError, SubscriptionError))]


async def test_e2e_channel_filter_follows_the_config():
    async with asyncio.timeout(20), SimExchange("binance", ["BTCUSDT"], seed=3, levels=10) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "binance", True, ws_url=sim.ws_url, api_key=KEY, secret_key=SECRET)
        events: list = []
        mgr = WebSocketManager(_config(SECRET, channel_types=[ChannelType.BALANCES]), conn, sub, parser,
                               lambda e: events.append(e.copy()))
        async with mgr:
            await mgr.initialize(["BTCUSDT"])
            await _until(sim, lambda: parser.stats()["execution_reports"] >= 3 and len(events) >= 2)
        assert {type(e) for e in events} == {BalanceUpdate}
        assert _check_against_sim(events, list(sim.protocol.private_events)) == len(events)


@pytest.mark.parametrize("fault", ["wrong-secret", "reject-auth"])
async def test_e2e_rejected_subscription_backs_off_without_leaking(fault):
    async with asyncio.timeout(20), SimExchange("binance", ["BTCUSDT"], seed=4, levels=10, rate=50) as sim:
        secret = "wrong-secret" if fault == "wrong-secret" else SECRET
        if fault == "reject-auth":
            sim.faults.reject_auth = True
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "binance", True, ws_url=sim.ws_url, api_key=KEY, secret_key=secret)
        events: list = []
        errors: list[BaseException] = []
        policy = ReconnectPolicy(base_delay=0.2, max_delay=0.4, jitter=0.0)
        mgr = WebSocketManager(_config(secret, reconnect=policy), conn, sub, parser, events.append, errors.append)
        async with mgr:
            await mgr.initialize(["BTCUSDT"])   # the socket opens: initialize returns, the subscribe is refused
            await asyncio.sleep(1.5)
            attempts = len(sim.protocol.signed_requests)
        assert events == []
        rejected = [e for e in errors if isinstance(e, AuthenticationError)]
        assert rejected and all("-1022" in str(e) for e in rejected)
        # backoff: first retry immediate, then >= 0.2 s apart: a handful of attempts in 1.5 s, no tight loop
        assert 2 <= attempts <= 8, attempts
        assert not any(r["ok"] for r in sim.protocol.signed_requests)
        assert len({r["timestamp"] for r in sim.protocol.signed_requests}) >= 2   # every attempt re-signed
        for e in errors:
            assert SECRET not in str(e) and "wrong-secret" not in str(e) and KEY not in str(e)
