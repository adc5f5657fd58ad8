"""feedhandler.kernel.extract: table-driven extraction against json.loads + float() as the oracle."""
from __future__ import annotations

import json
import math
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.codec.numbers import parse_iso8601
from feedhandler.kernel.extract import (
    KF_EMPTY_NULL, KF_KEEP_TEXT, KF_NULLABLE, KF_REQUIRED, KT_BOOL, KT_DOUBLE, KT_EACH, KT_INT64, KT_INT64_MS, KT_LEVELS,
    KT_OBJECT, KT_PRICE, KT_SIZE, KT_SPAN, KT_STR, KT_TIME_ISO, FieldTable,
)

# A Bybit/OKX-like frame: {"topic": s, "ts": int, "data": {"s": str, "u": int, "b": levels, "a": levels,
# "seq": int-in-string}, "list": [{"p": price, "v": size, "T": ms}, ...], "ok": bool}
LEVEL_OBJ = FieldTable("level", [("px", KT_PRICE, 30), ("sz", KT_SIZE, 31)])
DATA = FieldTable("data", [
    ("s", KT_STR, 10, KF_REQUIRED), ("u", KT_INT64, 11, KF_REQUIRED), ("seq", KT_INT64, 12),
    ("b", KT_LEVELS, 0, KF_KEEP_TEXT), ("a", KT_LEVELS, 1), ("o", KT_LEVELS, 2, 0, (LEVEL_OBJ, 30, 31)),
])
ITEM = FieldTable("item", [("p", KT_PRICE, 20, KF_REQUIRED), ("v", KT_SIZE, 21), ("T", KT_INT64_MS, 22)])
FRAME = FieldTable("frame", [
    ("topic", KT_STR, 0), ("ts", KT_INT64, 1), ("data", KT_OBJECT, 2, KF_NULLABLE, DATA),
    ("list", KT_EACH, 3, 0, ITEM), ("ok", KT_BOOL, 4), ("x", KT_DOUBLE, 5), ("raw", KT_SPAN, 6),
])


def _num(text: str) -> float:
    return float(text)


def oracle(doc: bytes):
    """What FRAME must extract from ``doc`` (json.loads semantics), or None if it must refuse it."""
    try:
        obj = json.loads(doc)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    out = {}

    def as_int(v):
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise TypeError
        if isinstance(v, str):
            if not v or not (v.lstrip("+-").isdigit() and v.lstrip("+-") == v[1:] if v[0] in "+-" else v.isdigit()):
                raise TypeError
            v = int(v)
        if not -(2**63) <= v < 2**63:
            raise TypeError
        return v

    def as_num(v, rule):
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise TypeError
        x = float(v) if not isinstance(v, str) else _num(v)
        if not math.isfinite(x) or (rule == "price" and not x > 0) or (rule == "size" and not x >= 0):
            raise TypeError
        return x

    def levels(v, keep):
        if not isinstance(v, list):
            raise TypeError
        res = []
        for lv in v:
            if not isinstance(lv, list) or len(lv) < 2:
                raise TypeError
            p, q = lv[0], lv[1]
            res.append((as_num(p, "price"), as_num(q, "size"),
                        p.encode() if keep and isinstance(p, str) else None))
        return res

    try:
        if "topic" in obj:
            if not isinstance(obj["topic"], str):
                raise TypeError
            out["topic"] = obj["topic"]
        if "ts" in obj:
            out["ts"] = as_int(obj["ts"])
        if "ok" in obj:
            if not isinstance(obj["ok"], bool):
                raise TypeError
            out["ok"] = obj["ok"]
        if "x" in obj:
            out["x"] = as_num(obj["x"], None)
        if "data" in obj and obj["data"] is not None:
            d = obj["data"]
            if not isinstance(d, dict) or "s" not in d or "u" not in d or not isinstance(d["s"], str):
                raise TypeError
            out["s"] = d["s"]
            out["u"] = as_int(d["u"])
            if "seq" in d:
                out["seq"] = as_int(d["seq"])
            if "b" in d:
                out["b"] = levels(d["b"], True)
            if "a" in d:
                out["a"] = levels(d["a"], False)
        if "list" in obj:
            if not isinstance(obj["list"], list):
                raise TypeError
            items = []
            for it in obj["list"]:
                if not isinstance(it, dict) or "p" not in it:
                    raise TypeError
                row = {"p": as_num(it["p"], "price")}
                if "v" in it:
                    row["v"] = as_num(it["v"], "size")
                if "T" in it:
                    t = as_int(it["T"])
                    if not 0 <= t <= 9223372036854:
                        raise TypeError
                    row["T"] = t * 1_000_000
                items.append(row)
            out["list"] = items
    except (TypeError, ValueError, OverflowError):
        return None
    return out


def _text(raw: bytes) -> str:
    # a KT_STR slot holds the raw string content (escapes undecoded), as kt_text decodes it
    return json.loads(b'"' + raw + b'"')


def extracted(doc: bytes):
    try:
        r = FRAME.scan(doc)
    except ValueError:
        return None
    out = {}
    if 0 in r:
        out["topic"] = _text(r[0][0])
    if 1 in r:
        out["ts"] = r[1][1]
    if 4 in r:
        out["ok"] = bool(r[4][1])
    if 5 in r:
        out["x"] = r[5][2]
    if 2 in r:
        out["s"] = _text(r[10][0])
        out["u"] = r[11][1]
        if 12 in r:
            out["seq"] = r[12][1]
        if "L0" in r:
            out["b"] = [(p, q, pt) for p, q, pt, _ in r["L0"]]
        if "L1" in r:
            out["a"] = [(p, q, None) for p, q, _, _ in r["L1"]]
    if 3 in r:
        out["list"] = [{**{"p": it[20][2]}, **({"v": it[21][2]} if 21 in it else {}),
                        **({"T": it[22][1]} if 22 in it else {})} for it in r.get("items3", [])]
    return out


numtext = st.one_of(
    st.decimals(min_value=-10**6, max_value=10**9, allow_nan=False, allow_infinity=False, places=8).map(str),
    st.sampled_from(["0", "1", "-1.5", "1e400", "0.10000000", "117145.49", "1E-7", "abc", "", "00.1"]),
)
numval = st.one_of(numtext, numtext.map(lambda s: s), st.integers(-10**20, 10**20),
                   st.floats(allow_nan=False, allow_infinity=False), st.none(), st.booleans())
level = st.lists(numval, min_size=0, max_size=3)
intval = st.one_of(st.integers(-2**64, 2**64), st.integers(-2**64, 2**64).map(str), st.sampled_from(["1.5", "x"]))
data_obj = st.fixed_dictionaries(
    {"s": st.one_of(st.text(max_size=8), st.integers())}, optional={
        "u": intval, "seq": intval, "b": st.lists(level, max_size=4), "a": st.lists(level, max_size=4),
        "junk": st.recursive(st.none() | st.integers(), lambda c: st.lists(c, max_size=3), max_leaves=5)})
item = st.fixed_dictionaries({}, optional={"p": numval, "v": numval, "T": intval, "q": st.text(max_size=3)})
frame = st.fixed_dictionaries({}, optional={
    "topic": st.one_of(st.text(max_size=10), st.integers()), "ts": intval, "data": st.one_of(data_obj, st.none()),
    "list": st.lists(item, max_size=3), "ok": st.one_of(st.booleans(), st.integers(0, 1)),
    "x": numval, "raw": st.recursive(st.integers() | st.text(max_size=3), lambda c: st.lists(c, max_size=3)),
    "other": st.dictionaries(st.text(max_size=4), st.integers(), max_size=3)})


@settings(max_examples=400, deadline=None)
@given(frame, st.sampled_from([(",", ":"), (", ", ": ")]), st.booleans())
def test_scan_equals_json_loads_oracle(obj, seps, ascii_only):
    doc = json.dumps(obj, separators=seps, ensure_ascii=ascii_only).encode()
    expected = oracle(doc)
    got = extracted(doc)
    assert got == expected, (doc, got, expected)


@settings(max_examples=300, deadline=None)
@given(frame, st.data())
def test_mutated_frames_never_crash_and_refuse_invalid_json(obj, data):
    doc = bytearray(json.dumps(obj).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        if not doc:
            break
        i = data.draw(st.integers(0, len(doc) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "dup"]))
        if op == "flip":
            doc[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del doc[i:]
        else:
            doc[i:i] = doc[i:i + 3]
    doc = bytes(doc)
    got = extracted(doc)
    assert got == oracle(doc), doc


def test_nested_object_levels_texts_and_error_offsets():
    doc = (b'{"topic":"orderbook.50.BTCUSDT","ts":"1700000000123","data":{"s":"BTCUSDT","u":42,'
           b'"b":[["65000.10","0.5","0","1"],["64999.9","0"]],"a":[[65001,2]],'
           b'"o":[{"px":"1.5","sz":"2"},{"sz":"3","px":"1.25"}]}}')
    r = FRAME.scan(doc)
    assert r[0][0] == b"orderbook.50.BTCUSDT" and r[1][1] == 1700000000123 and r[11][1] == 42
    assert r["L0"] == [(65000.1, 0.5, b"65000.10", b"0.5"), (64999.9, 0.0, b"64999.9", b"0")]
    assert [(p, q) for p, q, _, _ in r["L1"]] == [(65001.0, 2.0)]
    assert [(p, q) for p, q, _, _ in r["L2"]] == [(1.5, 2.0), (1.25, 3.0)]
    # each level array's whole text (fast path, objects path, kept texts): what OKX checks the form of
    assert (r["T0"], r["T1"]) == (b'[["65000.10","0.5","0","1"],["64999.9","0"]]', b'[[65001,2]]')
    assert r["T2"] == b'[{"px":"1.5","sz":"2"},{"sz":"3","px":"1.25"}]'
    bad = b'{"data":{"s":"X","u":1,"b":[["1","2"],["-3","1"]]}}'
    with pytest.raises(ValueError, match=r"field 'b': price must be .* at byte \d+"):
        FRAME.scan(bad)
    with pytest.raises(ValueError, match=r"field 'u': required key missing"):
        FRAME.scan(b'{"data":{"s":"X"}}')
    with pytest.raises(ValueError, match=r"field 'ts': integer out of int64 range at byte 6"):
        FRAME.scan(b'{"ts":9223372036854775808}')
    with pytest.raises(ValueError, match=r"invalid literal .* at byte 6"):
        FRAME.scan(b'{"ok":tru}')


def test_duplicate_keys_are_last_wins_like_json_loads():
    doc = b'{"data":{"s":"A","u":1,"seq":5},"data":{"s":"B","u":2}}'
    r = FRAME.scan(doc)
    assert r[10][0] == b"B" and r[11][1] == 2 and 12 not in r    # nothing of the first "data" survives
    assert json.loads(doc)["data"] == {"s": "B", "u": 2}


def test_escaped_key_matches_as_json_loads_decodes_it():
    r = FRAME.scan(b'{"\\u0074opic":"t1","t\\u0073":5}')
    assert r[0][0] == b"t1" and r[1][1] == 5


def test_each_calls_back_per_item_and_counts():
    r = FRAME.scan(b'{"list":[{"p":"1","T":5},{"p":2.5,"v":"0"}]}')
    assert r[3][1] == 2
    assert [(it[20][2], it.get(22, (0, None))[1]) for it in r["items3"]] == [(1.0, 5_000_000), (2.5, None)]
    with pytest.raises(ValueError, match="field 'p': required key missing"):
        FRAME.scan(b'{"list":[{"p":"1"},{"v":"1"}]}')


def test_kind_polymorphic_key_picks_the_entry_that_fits():
    t = FieldTable("poly", [("b", KT_LEVELS, 0), ("b", KT_PRICE, 1)])
    assert t.scan(b'{"b":[["1","2"]]}')["L0"][0][:2] == (1.0, 2.0)
    assert t.scan(b'{"b":"3.5"}')[1][2] == 3.5


def test_level_capacity_is_enforced():
    t = FieldTable("cap", [("b", KT_LEVELS, 0)])
    assert len(t.scan(b'{"b":[["1","1"],["2","1"]]}', capacity=2)["L0"]) == 2
    with pytest.raises(ValueError, match="more levels than the capacity"):
        t.scan(b'{"b":[["1","1"],["2","1"],["3","1"]]}', capacity=2)


def test_table_declaration_errors():
    with pytest.raises(ValueError, match="slot"):
        FieldTable("bad", [("a", KT_INT64, 64)])
    with pytest.raises(ValueError, match="levels index"):
        FieldTable("bad", [("a", KT_LEVELS, 4)])
    with pytest.raises(ValueError, match="child FieldTable"):
        FieldTable("bad", [("a", KT_OBJECT, 1)])


def _iso_oracle(text: str) -> int:
    main, _, rest = text.partition(".")
    if rest:
        n = next((i for i, c in enumerate(rest) if not c.isdigit()), len(rest))
        digits, tz = rest[:n], rest[n:]
    else:
        main, digits, tz = text[:19], "", text[19:]
    dt = datetime.fromisoformat(main + (tz.replace("Z", "+00:00").replace("z", "+00:00")))
    return int(dt.timestamp()) * 1_000_000_000 + int((digits or "0").ljust(9, "0"))


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2262, 1, 1)),
       st.integers(0, 9), st.integers(0, 999_999_999), st.sampled_from(["Z", "+00:00", "+05:30", "-08:00"]))
def test_iso8601_matches_datetime(dt, nd, frac, tz):
    text = dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{str(frac).zfill(9)[:nd]}" if nd else "") + tz
    assert parse_iso8601(text) == _iso_oracle(text)


def test_iso8601_refuses_impossible_and_out_of_range():
    assert parse_iso8601("2023-02-09T20:32:50.714964855Z") == 1675974770714964855
    assert parse_iso8601("1970-01-01T00:00:00Z") == 0
    for bad in ["2023-02-29T00:00:00Z", "2023-13-01T00:00:00Z", "2023-01-01T24:00:00Z", "2023-01-01T00:00:00",
                "2023-01-01T00:00:00.Z", "2023-01-01T00:00:00.1234567890Z", "2300-01-01T00:00:00Z",
                "2023-01-01 00:00:00Z", "2023-01-01T00:00:00+5:30", ""]:
        with pytest.raises(ValueError):
            parse_iso8601(bad)
    t = FieldTable("t", [("time", KT_TIME_ISO, 0)])
    assert t.scan(b'{"time":"2023-02-09T20:32:50.714964855Z"}')[0][1] == 1675974770714964855
    with pytest.raises(ValueError, match="field 'time': not an ISO-8601"):
        t.scan(b'{"time":"yesterday"}')


def test_int64_ms_range_checked_before_multiplying():
    t = FieldTable("t", [("T", KT_INT64_MS, 0)])
    assert t.scan(b'{"T":9223372036854}')[0][1] == 9223372036854_000_000
    with pytest.raises(ValueError, match="field 'T'"):
        t.scan(b'{"T":9223372036855}')
    with pytest.raises(ValueError, match="field 'T'"):
        t.scan(b'{"T":-1}')


def test_random_documents_bounded():
    rng = random.Random(5)
    for _ in range(200):
        doc = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        assert extracted(doc) == oracle(doc)


def test_empty_string_counts_as_null_with_kf_empty_null():
    t = FieldTable("t", [("p", KT_PRICE, 0, KF_EMPTY_NULL), ("q", KT_PRICE, 1)])
    assert t.scan(b'{"p":"","q":"2"}') == {1: (b"2", 0, 2.0)}
    assert t.scan(b'{"p":"1.5","p":""}') == {}            # last wins, as json.loads
    assert t.scan(b'{"p":"1.5"}')[0][2] == 1.5
    with pytest.raises(ValueError, match="field 'q'"):
        t.scan(b'{"q":""}')                                # without the flag "" is not a number
    with pytest.raises(ValueError, match="field 'p'"):
        t.scan(b'{"p":null}')                              # the flag is about "", not null
