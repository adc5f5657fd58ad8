"""The exact-layout trade/aggTrade fast path against the general path and json.loads + float().

A frame in the exact wire layout takes the fast path; the same frame with one extra space (valid
JSON, same meaning) is refused by it and decoded by the general path. Both must give the same
events, the same return value, the same counters and, for broken frames, the same error.
"""
from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given, settings, strategies as st

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ParseError
from feedhandler.exchanges.binance.decoder import BinanceDecoder

decimal_text = st.one_of(
    st.decimals(min_value="0.00000001", max_value="9999999", places=8, allow_nan=False).map(lambda d: f"{d:.8f}"),
    st.decimals(min_value="0.01", max_value="99999", places=2, allow_nan=False).map(lambda d: f"{d:.2f}"),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False).map(repr),
)
ids = st.one_of(st.integers(0, 10**18 + 5), st.integers(2**63 - 3, 2**63 - 1))
tss = st.one_of(st.integers(0, 2 * 10**12), st.integers(9 * 10**12 - 2, 9 * 10**12 + 2), st.integers(0, 10**19))


SYMBOLS = ["BTCUSDT", "ETHUSDT", "X", "bad\\s", "\u00e9", ""]


@st.composite
def trade_frames(draw):
    agg = draw(st.booleans())
    parts = [f'"e":"{"aggTrade" if agg else "trade"}"', f'"E":{draw(tss)}',
             '"s":' + json.dumps(draw(st.sampled_from(SYMBOLS))),
             f'"{"a" if agg else "t"}":{draw(ids)}', f'"p":"{draw(decimal_text)}"', f'"q":"{draw(decimal_text)}"']
    if agg:
        parts += [f'"f":{draw(ids)}', f'"l":{draw(ids)}']
    parts += [f'"T":{draw(tss)}', f'"m":{draw(st.sampled_from(["true", "false"]))}']
    if draw(st.booleans()):
        parts.append(f'"M":{draw(st.sampled_from(["true", "false"]))}')
    data = "{" + ",".join(parts) + "}"
    if draw(st.booleans()):
        stream = draw(st.sampled_from(["btcusdt@trade", "btcusdt@aggTrade", "ethusdt@trade"]))
        return f'{{"stream":"{stream}","data":{data}}}'.encode()
    return data.encode()


def _mutate(frame: bytes, data) -> bytes:
    kind = data.draw(st.sampled_from(["byte", "cut", "insert", "delete", "none"]))
    if kind == "none" or not frame:
        return frame
    i = data.draw(st.integers(0, len(frame) - 1))
    if kind == "byte":
        return frame[:i] + bytes([data.draw(st.sampled_from(b'0123456789"-.e,:}{ ]tfx\\'))]) + frame[i + 1:]
    if kind == "cut":
        return frame[:i]
    if kind == "insert":
        return frame[:i] + data.draw(st.sampled_from([b"0", b"1", b'"', b",", b"-", b"."])) + frame[i:]
    return frame[:i] + frame[i + 1:]


def _run(frame: bytes, time_unit: str = "ms"):
    disp = EventDispatcher()
    dec = BinanceDecoder(None, disp, time_unit=time_unit)
    events = []
    disp.handler = lambda e: events.append(e.copy())
    try:
        rv = dec.feed(frame, 7)
        err = None
    except ParseError as exc:
        rv = None
        err = str(exc)
    return rv, err, [_fields(e) for e in events], dec.stats()


def _fields(ev):
    return (type(ev).__name__, ev.exchange, ev.symbol, ev.price, ev.qty, ev.side, ev.trade_id, ev.trade_id_str,
            ev.exchange_ts_ns, ev.recv_ns)


def _general_variant(frame: bytes) -> bytes:
    # one leading space: the exact path needs '{' first, the general path skips whitespace
    return b" " + frame


def _norm(err):
    # the general path reports positions; the leading space shifts them by one
    return None if err is None else re.sub(r"at byte \d+", "at byte N", err)


# the decimal grammar of feedhandler.codec.numbers: what float() accepts, less inf/nan/underscores/spaces
_JSON_NUM = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _oracle(frame: bytes, scale: int):
    """json.loads + float(): the Trade the frame must give, or None if it must be refused."""
    try:
        obj = json.loads(frame)
        d = obj["data"] if "stream" in obj else obj
        if d.get("e") not in ("trade", "aggTrade"):
            return None
        agg = d["e"] == "aggTrade"
        s = d["s"]
        tid = d["a" if agg else "t"]
        if isinstance(tid, str) and re.fullmatch(r"-?(0|[1-9][0-9]*)", tid):
            tid = int(tid)   # the decoder also takes an id written as a string
        if not (_JSON_NUM.fullmatch(d["p"]) and _JSON_NUM.fullmatch(d["q"])):
            return None   # number strings follow the decimal grammar above
        price, qty = float(d["p"]), float(d["q"])
        if not (math.isfinite(price) and price > 0 and math.isfinite(qty) and qty >= 0):
            return None   # the one rule for every price and size (issue 18.7)
        m = d["m"]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not isinstance(s, str) or not (0 < len(s) <= 100) or not all(0x20 <= ord(c) <= 0x7e for c in s) \
            or '"' in s or "\\" in s or type(tid) is not int or not -2**63 <= tid < 2**63 or type(m) is not bool:
        return None
    ts = {}
    for k in ("E", "T"):
        v = d.get(k, 0)
        if type(v) is not int or v < 0 or v > 9_000_000_000_000_000_000 // scale:
            return None
        ts[k] = v * scale
    return (s, price, qty, m, tid, ts["T"] or ts["E"])


@settings(max_examples=400, deadline=None)
@given(frame=trade_frames(), data=st.data(), unit=st.sampled_from(["ms", "us"]))
def test_fast_path_matches_general_path_and_json(frame, data, unit):
    frame = _mutate(frame, data)
    fast = _run(frame, unit)
    general = _run(_general_variant(frame), unit)
    assert fast[0] == general[0]
    assert _norm(fast[1]) == _norm(general[1])
    assert fast[2] == general[2]
    assert fast[3] == general[3]
    expected = _oracle(frame, 1_000_000 if unit == "ms" else 1_000)
    if expected is None:
        if fast[1] is None:
            # only valid JSON that is not a trade at all may pass without an error (e.g. a mutated "e")
            assert fast[2] == []
        return
    assert fast[1] is None and len(fast[2]) == 1
    _, exch, sym, price, qty, side, tid, tid_str, ts, recv = fast[2][0]
    s, p, q, m, t, ets = expected
    assert (exch, sym, price, qty, tid, tid_str, ts, recv) == ("binance", s, p, q, t, "", ets, 7)
    assert fast[3]["trades"] == 1


def test_real_recording_layout_through_both_paths():
    frame = (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
             b'"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}')
    fast = _run(frame)
    assert fast == _run(_general_variant(frame))
    assert fast[2][0][2:5] == ("BTCUSDT", 61837.63, 0.02) and fast[2][0][8] == 1723161255342 * 1_000_000
    # buyer is maker -> the taker sold; the opposite flag gives the opposite side
    other = _run(frame.replace(b'"m":true', b'"m":false'))
    assert other[2][0][5] != fast[2][0][5]


@pytest.mark.parametrize("bad, counter", [
    (b'"m":1', "field"), (b'"T":-1', "field"), (b'"t":1.5', "field"), (b'"p":"x"', "field"),
])
def test_broken_fields_same_error_and_counter(bad, counter):
    good = (b'{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"1.50000000","q":"2.00000000","T":2,"m":true}')
    key = bad.split(b":")[0]
    frame = re.sub(re.escape(key) + rb':[^,}]+', bad, good)
    fast = _run(frame)
    assert fast[1] is not None and fast[3]["errors"][counter] == 1 and fast[2] == []
    general = _run(_general_variant(frame))
    assert _norm(fast[1]) == _norm(general[1]) and fast[3] == general[3]
