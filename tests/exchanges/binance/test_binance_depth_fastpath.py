"""The exact-layout depthUpdate fast path against the general path and json.loads + float().

A frame in the exact wire layout takes the fast path; the same frame with one leading space (valid
JSON, same meaning) is refused by it and decoded by the general path. Both must give the same book
hand-off, the same return value, the same counters and, for broken frames, the same error.
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
from feedhandler.exchanges.binance.rules import SPOT_RULE
from feedhandler.sync.book_sync import BookSyncGroup

good_decimal = st.one_of(
    st.decimals(min_value="0.00000001", max_value="9999999", places=8, allow_nan=False).map(lambda d: f"{d:.8f}"),
    st.decimals(min_value="0.01", max_value="99999", places=2, allow_nan=False).map(lambda d: f"{d:.2f}"),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False).map(repr),
)
odd_decimal = st.sampled_from(["0.00000000", "-1.5", "+2.25", ".5", "5.", "1e400", "1E-3", "00012.5",
                               "123456789012345678901.5", "12345678.12345678", "", "-", "1e", "x", "1_0", "inf",
                               "nan", " 1", "1\\u0030", "1.2.3"])
ids = st.one_of(st.integers(0, 10**18 + 5), st.integers(2**63 - 3, 2**63 - 1))
tss = st.one_of(st.integers(0, 2 * 10**12), st.integers(9 * 10**12 - 2, 9 * 10**12 + 2), st.integers(0, 10**19))
SYMBOLS = ["BTCUSDT", "ETHUSDT", "X", "bad\\s", "\u00e9", ""]
MAX_LEVELS = 6


def _levels(draw, clean):
    n = draw(st.integers(0, MAX_LEVELS if clean else MAX_LEVELS + 2))
    num = good_decimal if clean else st.one_of(good_decimal, odd_decimal)
    out = []
    for _ in range(n):
        lv = [draw(num), draw(num)]
        shape = "strs" if clean else draw(st.sampled_from(["strs"] * 6 + ["nums", "three", "one"]))
        if shape == "nums":
            out.append("[" + ",".join(v if re.fullmatch(r"-?\d+(\.\d+)?", v) else "1" for v in lv) + "]")
        elif shape == "three":
            out.append("[" + ",".join(f'"{v}"' for v in lv) + ',"x"]')
        elif shape == "one":
            out.append(f'["{lv[0]}"]')
        else:
            out.append("[" + ",".join(f'"{v}"' for v in lv) + "]")
    return "[" + ",".join(out) + "]"


@st.composite
def depth_frames(draw):
    # two in three frames are clean (valid spot layout, ids/times in range); the rest draw odd values
    clean = draw(st.integers(0, 2)) > 0
    if clean:
        first = draw(st.integers(1, 10**15))
        last = draw(st.integers(first, first + 50))
        ets = draw(st.integers(0, 2 * 10**12))
        sym = draw(st.sampled_from(SYMBOLS[:3]))
    else:
        first = draw(ids)
        last = draw(st.one_of(st.just(first), st.integers(max(0, first - 2), first + 50), ids))
        ets = draw(tss)
        sym = draw(st.sampled_from(SYMBOLS))
    parts = ['"e":"depthUpdate"', f'"E":{ets}']
    if not clean and draw(st.integers(0, 4)) == 0:
        parts.append(f'"T":{draw(tss)}')          # futures layout
    parts += ['"s":' + json.dumps(sym), f'"U":{first}', f'"u":{last}']
    if not clean and draw(st.integers(0, 4)) == 0:
        parts.append(f'"pu":{draw(ids)}')         # futures layout
    parts += [f'"b":{_levels(draw, clean)}', f'"a":{_levels(draw, clean)}']
    data = "{" + ",".join(parts) + "}"
    if draw(st.booleans()):
        stream = draw(st.sampled_from(["btcusdt@depth@100ms", "btcusdt@depth", "ethusdt@depth@100ms"]))
        return f'{{"stream":"{stream}","data":{data}}}'.encode()
    return data.encode()


def _mutate(frame: bytes, data) -> bytes:
    kind = data.draw(st.sampled_from(["byte", "cut", "insert", "delete", "none", "none"]))
    if kind == "none" or not frame:
        return frame
    i = data.draw(st.integers(0, len(frame) - 1))
    if kind == "byte":
        return frame[:i] + bytes([data.draw(st.sampled_from(b'0123456789"-.e,:}{[ ]tfx\\'))]) + frame[i + 1:]
    if kind == "cut":
        return frame[:i]
    if kind == "insert":
        return frame[:i] + data.draw(st.sampled_from([b"0", b"1", b'"', b",", b"-", b".", b"[", b"]"])) + frame[i:]
    return frame[:i] + frame[i + 1:]


_U_RE = re.compile(rb'"U":([0-9]{1,19})')
_S_RE = re.compile(rb'"s":"(BTCUSDT|ETHUSDT|X)"')


def _run(frame: bytes, time_unit: str = "ms"):
    """Feed one frame into a fresh decoder whose book is LIVE just before it (an empty snapshot at
    U - 1, read from the frame the same way for both paths), so the delta hand-off is observed as
    the BookUpdate it causes, with the book's contents at that moment."""
    disp = EventDispatcher()
    books = BookSyncGroup("binance", SPOT_RULE, disp, 1000)
    dec = BinanceDecoder(books, disp, max_levels=MAX_LEVELS, time_unit=time_unit)
    events = []
    disp.handler = lambda e: events.append(_fields(e))
    mu, ms = _U_RE.search(frame), _S_RE.search(frame)
    if mu and ms and 1 <= int(mu.group(1)) < 2**63:
        books.get(ms.group(1).decode()).load_snapshot(int(mu.group(1)) - 1, [], [])
    events.clear()
    try:
        rv = dec.feed(frame, 7)
        err = None
    except ParseError as exc:
        rv = None
        err = str(exc)
    syncs = {s: books.get(s).stats() for s in ("BTCUSDT", "ETHUSDT", "X")}
    return rv, err, events, dec.stats(), syncs, dec.classify(frame)


def _fields(ev):
    name = type(ev).__name__
    if name == "BookUpdate":
        return (name, ev.exchange, ev.symbol, ev.first_update_id, ev.last_update_id, ev.is_snapshot,
                ev.exchange_ts_ns, ev.recv_ns, ev.book.to_dict())
    return (name, ev.exchange, ev.symbol, ev.exchange_ts_ns, ev.recv_ns)


def _general_variant(frame: bytes) -> bytes:
    # one leading space: the exact path needs '{' first, the general path skips whitespace
    return b" " + frame


def _norm(err):
    # the general path reports positions; the leading space shifts them by one
    return None if err is None else re.sub(r"at byte \d+", "at byte N", err)


# the decimal grammar of feedhandler.codec.numbers: what float() accepts, less inf/nan/underscores/spaces
_JSON_NUM = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _num(v):
    if isinstance(v, str):
        if not _JSON_NUM.fullmatch(v):
            raise ValueError(v)
        return float(v)
    if type(v) in (int, float):
        return float(v)
    raise TypeError(v)


def _oracle(frame: bytes, scale: int):
    """json.loads + float(): (symbol, U, u, E ns, bids, asks) the frame must give, or None if refused."""
    try:
        obj = json.loads(frame)
        d = obj["data"] if "stream" in obj else obj
        if d.get("e") != "depthUpdate":
            return None
        s, first, last = d["s"], d["U"], d["u"]
        sides = []
        for k in ("b", "a"):
            lv = d[k]
            if type(lv) is not list or len(lv) > MAX_LEVELS:
                return None
            sides.append([(_num(x[0]), _num(x[1])) for x in lv if type(x) is list and len(x) >= 2])
            if len(sides[-1]) != len(lv):
                return None
        ets = d.get("E", 0)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None
    if not isinstance(s, str) or not (0 < len(s) <= 100) or not all(0x20 <= ord(c) <= 0x7e for c in s) \
            or '"' in s or "\\" in s:
        return None
    for v in (first, last):
        if type(v) is not int or not -2**63 <= v < 2**63:
            return None
    if last < first or type(ets) is not int or ets < 0 or ets > 9_000_000_000_000_000_000 // scale:
        return None
    return s, first, last, ets * scale, sides[0], sides[1]


def _expected_book(bids, asks):
    """The book an empty snapshot plus this delta gives (qty 0 removes), best first; None when the
    levels are ones the book refuses."""
    out = []
    for lv, best_first in ((bids, True), (asks, False)):
        side = {}
        for p, q in lv:
            if not (math.isfinite(p) and p > 0 and math.isfinite(q) and q >= 0):
                return None
            if q == 0:
                side.pop(p, None)
            else:
                side[p] = q
        out.append(sorted(side.items(), reverse=best_first))
    return out


@settings(max_examples=400, deadline=None)
@given(frame=depth_frames(), data=st.data(), unit=st.sampled_from(["ms", "us"]))
def test_fast_path_matches_general_path_and_json(frame, data, unit):
    frame = _mutate(frame, data)
    fast = _run(frame, unit)
    general = _run(_general_variant(frame), unit)
    assert fast[0] == general[0]
    assert _norm(fast[1]) == _norm(general[1])
    assert fast[2] == general[2]
    assert fast[3] == general[3]
    assert fast[4] == general[4]
    assert fast[5] == general[5]
    if b"\\" in frame:
        return   # escapes: json.loads resolves them, the decoder refuses them in numbers and symbols
    expected = _oracle(frame, 1_000_000 if unit == "ms" else 1_000)
    if expected is None:
        if fast[1] is None:
            # only valid JSON that is not a depthUpdate may pass without an error (e.g. a mutated "e")
            assert fast[3]["depth_updates"] == 0 and fast[2] == []
        return
    s, first, last, ets, bids, asks = expected
    book = _expected_book(bids, asks)
    if book is None:
        assert fast[1] is not None and fast[3]["errors"]["book"] == 1 and fast[2] == []
        return
    assert fast[1] is None and fast[3]["depth_updates"] == 1
    # the book was made LIVE at U - 1 only for these symbols and U >= 1 (see _run)
    if s in ("BTCUSDT", "ETHUSDT", "X") and 1 <= first < 2**63:
        if book[0] and book[1] and book[0][0][0] >= book[1][0][0]:
            # crossed: the book is invalidated (a BookStatus), no BookUpdate
            assert fast[4][s]["crossed"] == 1 and [e[0] for e in fast[2]] == ["BookStatus"]
            return
        assert len(fast[2]) == 1
        name, exch, sym, f, l, snap, ts, recv, state = fast[2][0]
        assert (name, exch, sym, f, l, snap, ts, recv) == ("BookUpdate", "binance", s, first, last, False, ets, 7)
        assert state["bids"] == book[0] and state["asks"] == book[1] and state["last_update_id"] == last


def test_real_recording_layout_through_both_paths():
    frame = (b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT",'
             b'"U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"],["61837.10000000","2.50000000"]],'
             b'"a":[["61838.04000000","0.32332000"],["61844.30000000","0.40163000"]]}}')
    fast = _run(frame)
    assert fast == _run(_general_variant(frame))
    assert fast[1] is None and fast[3]["depth_updates"] == 1
    assert fast[2][0][8]["bids"] == [(61837.1, 2.5)]
    assert fast[2][0][8]["asks"] == [(61838.04, 0.32332), (61844.3, 0.40163)]
    raw = frame[frame.index(b'"data":') + 7:-1]
    assert _run(raw)[2] == fast[2]


@pytest.mark.parametrize("bad, counter", [
    (b'"U":12', "field"), (b'"E":-1', "field"), (b'"U":1.5', "field"),
    (b'"b":[["x","1.00000000"]]', "levels"), (b'"b":[["1.00000000"]]', "levels"),
    (b'"a":' + b"[" + b",".join([b'["1.00000000","1.00000000"]'] * (MAX_LEVELS + 1)) + b"]", "levels"),
    (b'"b":[["-1.00000000","1.00000000"]]', "book"),
])
def test_broken_fields_same_error_and_counter(bad, counter):
    good = (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":9,"b":[["1.50000000","2.00000000"]],'
            b'"a":[["3.00000000","1.00000000"]]}')
    key = bad.split(b":")[0]
    frame = re.sub(re.escape(key) + rb':(\[.*?\]\]|[^,}]+)', bad.replace(b"\\", b"\\\\"), good, count=1)
    assert frame != good
    fast = _run(frame)
    assert fast[1] is not None and fast[3]["errors"][counter] == 1 and fast[2] == []
    general = _run(_general_variant(frame))
    assert _norm(fast[1]) == _norm(general[1]) and fast[3] == general[3]


def test_futures_pu_frame_same_as_general_path():
    frame = (b'{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":5,"u":9,"pu":4,'
             b'"b":[["1.50000000","2.00000000"]],"a":[["3.00000000","1.00000000"]]}')
    fast = _run(frame)
    assert fast == _run(_general_variant(frame)) and fast[1] is None and len(fast[2]) == 1
