"""feedhandler.codec.json_scan against json.loads + float() as the oracle."""
from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.codec import json_scan as js
from feedhandler.codec.json_scan import JsonKind, JsonScanError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


class Obj(list):
    """A JSON object as its ordered (key, value) pairs, duplicates kept."""


def _reject_constant(name: str):
    raise ValueError(f"non-standard constant {name}")


def oracle(data: bytes):
    """('ok', value) if json.loads accepts the UTF-8 document, else ('err', None)."""
    try:
        return "ok", json.loads(data.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=Obj)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return "err", None


def kind_of(value) -> JsonKind:
    if isinstance(value, Obj):
        return JsonKind.JSON_OBJECT
    if isinstance(value, list):
        return JsonKind.JSON_ARRAY
    if isinstance(value, str):
        return JsonKind.JSON_STRING
    if value is True:
        return JsonKind.JSON_TRUE
    if value is False:
        return JsonKind.JSON_FALSE
    if value is None:
        return JsonKind.JSON_NULL
    return JsonKind.JSON_NUMBER


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def raw_to_python(kind: JsonKind, raw: bytes):
    """Decode a span's raw bytes with the oracle (strings come without quotes)."""
    text = b'"' + raw + b'"' if kind == JsonKind.JSON_STRING else raw
    return json.loads(text.decode("utf-8"), object_pairs_hook=Obj)


def same(a, b) -> bool:
    """Structural equality that tells floats by bits and ints from floats."""
    if isinstance(a, list) or isinstance(b, list):
        return (type(a) is type(b) and len(a) == len(b)) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and bits(a) == bits(b)
    return type(a) is type(b) and a == b


def check_items_against_oracle(data: bytes, expected: Obj) -> None:
    items = js.object_items(data)
    assert len(items) == len(expected)
    for (key, kind, raw), (okey, ovalue) in zip(items, expected):
        assert raw_to_python(JsonKind.JSON_STRING, key) == okey
        assert kind == kind_of(ovalue)
        assert same(raw_to_python(kind, raw), ovalue)
        if kind == JsonKind.JSON_NUMBER:
            assert bits(js.value_to_float(raw)) == bits(float(raw))
            if isinstance(ovalue, int) and -(2**63) <= ovalue < 2**63:
                assert js.value_to_int(raw) == ovalue


def check_against_oracle(data: bytes) -> None:
    """The kernel accepts exactly what the oracle accepts, and agrees on the content."""
    status, value = oracle(data)
    if status == "err":
        with pytest.raises(JsonScanError):
            js.validate(data)
        with pytest.raises(JsonScanError):
            js.object_items(data)
        with pytest.raises(JsonScanError):
            js.array_items(data)
        return
    js.validate(data)
    if isinstance(value, Obj):
        check_items_against_oracle(data, value)
        with pytest.raises(JsonScanError):
            js.array_items(data)
    elif isinstance(value, list):
        items = js.array_items(data)
        assert len(items) == len(value)
        for (kind, raw), ovalue in zip(items, value):
            assert kind == kind_of(ovalue)
            assert same(raw_to_python(kind, raw), ovalue)
        with pytest.raises(JsonScanError):
            js.object_items(data)
    else:
        with pytest.raises(JsonScanError):
            js.object_items(data)


# ---------------------------------------------------------------------------
# Strategies

texts = st.text(st.characters(codec="utf-8"), max_size=12)
number_texts = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.builds(
        lambda i, f, e: f"{i}{f}{e}",
        st.sampled_from(["0", "-0", "1", "-12", "9007199254740993", "123456789012345678901234"]),
        st.sampled_from(["", ".5", ".000001", ".10000000000000000555"]),
        st.sampled_from(["", "e5", "E-7", "e+308", "e-330", "e400"]),
    ),
)
json_leaves = st.one_of(
    st.none(), st.booleans(), texts, number_texts.map(lambda t: RawNumber(t)),
)


class RawNumber:
    """A number emitted with its exact text (json.dumps would normalise it)."""

    def __init__(self, text: str) -> None:
        self.text = text


json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(st.tuples(texts, children), max_size=5).map(Obj),
    ),
    max_leaves=25,
)


def dump(value, rng_ascii: bool, ws: str) -> str:
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, Obj):
        inner = ("," + ws).join(f"{dump(k, rng_ascii, ws)}{ws}:{ws}{dump(v, rng_ascii, ws)}" for k, v in value)
        return "{" + ws + inner + ws + "}"
    if isinstance(value, list):
        return "[" + ws + ("," + ws).join(dump(v, rng_ascii, ws) for v in value) + ws + "]"
    return json.dumps(value, ensure_ascii=rng_ascii)


documents = st.builds(
    lambda v, a, ws, top_obj: dump(Obj([("k", v)]) if top_obj else v, a, ws).encode("utf-8"),
    json_values,
    st.booleans(),
    st.sampled_from(["", "", " ", "\n\t ", "\r\n"]),
    st.booleans(),
)


# ---------------------------------------------------------------------------
# Documents

@settings(max_examples=400, deadline=None)
@given(documents)
def test_random_documents_match_json_loads(data: bytes) -> None:
    assert oracle(data)[0] == "ok"
    check_against_oracle(data)


@settings(max_examples=300, deadline=None)
@given(documents, st.data())
def test_truncated_and_flipped_documents_match_or_fail(data: bytes, draw) -> None:
    cut = draw.draw(st.integers(0, len(data)))
    check_against_oracle(data[:cut])
    if data:
        pos = draw.draw(st.integers(0, len(data) - 1))
        byte = draw.draw(st.one_of(st.integers(0, 255), st.sampled_from(list(b'{}[]",:\\ 0-.eEtfnu'))))
        flipped = data[:pos] + bytes([byte]) + data[pos + 1:]
        check_against_oracle(flipped)
        check_against_oracle(data[:pos] + data[pos + 1:])  # one byte deleted


@pytest.mark.parametrize(
    "doc",
    [
        b"", b" ", b"{", b"}", b"[", b"]", b"{}", b"[]", b" {} ", b"[1,]", b"[,1]", b"{,}", b'{"a"}', b'{"a":}',
        b'{"a":1,}', b'{"a" 1}', b'{1:2}', b"01", b"-01", b"1.", b".5", b"-", b"+1", b"1e", b"1e+", b"1.5e-7",
        b"-0", b"0.0e0", b"true", b"tru", b"truex", b"nul", b"null ", b"NaN", b"Infinity", b"-Infinity",
        b'"abc', b'"a\\"', b'"\\u12"', b'"\\u12G4"', b'"\\x"', b'"\\/"', b'"\x1f"', b'"\x7f"', b'"\xc3\xa9"',
        b'"\xc3"', b'"\xe0\x80\x80"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xf0\x9f\x98\x80"',
        b'"\\ud83d\\ude00"', b'"\\ud800"', b"\xef\xbb\xbf[]", b"[1]\x00", b"[1] [2]", b"\t[\r\n1\t]\n",
        b'{"a":[1,{"b":null}],"a":2}', b"[[[]]]", b"[{}]", b'{"":""}', b"1 2", b'["a" "b"]', b"[1:2]",
    ],
)
def test_edge_documents_match_json_loads(doc: bytes) -> None:
    check_against_oracle(doc)


def test_fuzz_random_bytes_match_json_loads() -> None:
    rng = random.Random(1633998512)
    alphabet = list(b'{}[]",:\\ 0123456789-+.eEtrufalsn\t\n\xc3\xa9\xff\x00abu')
    for _ in range(4000):  # bounded: ~4k short byte strings
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        check_against_oracle(data)
        try:
            js.scan_levels(data, b"a")
        except (JsonScanError, KeyError):
            pass


def test_nesting_depth_is_bounded_without_recursion() -> None:
    limit = js.JSON_MAX_DEPTH
    js.validate(b"[" * limit + b"]" * limit)
    js.validate(b'{"a":' * limit + b"1" + b"}" * limit)
    for doc in (b"[" * (limit + 1) + b"]" * (limit + 1), b'{"a":' * (limit + 1) + b"1" + b"}" * (limit + 1),
                b"[" * 1_000_000, b'[{"a":' * 300_000 + b"1" + b"}]" * 300_000):
        with pytest.raises(JsonScanError) as info:
            js.validate(doc)
        assert info.value.code == js.JSON_ERR_DEPTH
        assert 0 < info.value.pos < len(doc)  # points at the opening bracket too many
        assert doc[info.value.pos:info.value.pos + 1] in (b"[", b"{")
    # The iterated object is not counted: its member may nest JSON_MAX_DEPTH more.
    deep = b"[" * limit + b"]" * limit
    assert js.object_items(b'{"d":' + deep + b"}") == [(b"d", JsonKind.JSON_ARRAY, deep)]
    with pytest.raises(JsonScanError):
        js.object_items(b'{"d":[' + deep + b"]}")


def test_error_positions_and_messages() -> None:
    with pytest.raises(JsonScanError, match="at byte 7") as info:  # the "1" after the leading zero
        js.validate(b'{"a": 01}')
    assert info.value.code == js.JSON_ERR_NUMBER and isinstance(info.value, ValueError)
    with pytest.raises(JsonScanError) as info:
        js.validate(b"[1] x")
    assert (info.value.code, info.value.pos) == (js.JSON_ERR_TRAILING, 4)
    for code in (js.JSON_ERR_EOF, js.JSON_ERR_SYNTAX, js.JSON_ERR_DEPTH, js.JSON_TOO_MANY, js.JSON_ERR_STATE):
        assert js.json_error_message(code) and "unknown" not in js.json_error_message(code)
    assert "unknown" in js.json_error_message(12345)


# ---------------------------------------------------------------------------
# Price levels

def level_text(value: str, as_string: bool) -> str:
    return f'"{value}"' if as_string else value


price_texts = st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False).map(lambda d: f"{d:f}"),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0", "0.35130000", "6195.00000000", "9007199254740993", "1e-7", "2.2250738585072011e-308"]),
)
levels = st.lists(
    st.tuples(price_texts, price_texts, st.booleans(), st.booleans(), st.lists(st.sampled_from(["1", '"x"', "[]", "null"]), max_size=2)),
    max_size=40,
)


def levels_json(rows) -> str:
    return "[" + ",".join(
        "[" + ",".join([level_text(p, ps), level_text(q, qs), *extra]) + "]" for p, q, ps, qs, extra in rows
    ) + "]"


@settings(max_examples=300, deadline=None)
@given(levels, levels, st.sampled_from(["", " ", "\n "]))
def test_scan_levels_matches_json_loads_and_float(bids, asks, ws) -> None:
    doc = f'{{"e":"depthUpdate","U":1,{ws}"b":{ws}{levels_json(bids)},"a":{levels_json(asks)}{ws}}}'.encode()
    loaded = json.loads(doc)
    for key in ("b", "a"):
        prices, qtys = js.scan_levels(doc, key.encode())
        expected_p = np.array([float(row[0]) for row in loaded[key]], dtype=np.float64)
        expected_q = np.array([float(row[1]) for row in loaded[key]], dtype=np.float64)
        assert prices.dtype == np.float64 and qtys.dtype == np.float64
        assert prices.tobytes() == expected_p.tobytes()
        assert qtys.tobytes() == expected_q.tobytes()
        n = len(loaded[key])
        if n:
            js.scan_levels(doc, key.encode(), capacity=n)
            with pytest.raises(JsonScanError) as info:
                js.scan_levels(doc, key.encode(), capacity=n - 1)
            assert info.value.code == js.JSON_TOO_MANY


def test_scan_levels_large_arrays_beyond_the_scratch() -> None:
    rng = random.Random(5)
    rows = [(f"{rng.uniform(1, 1e5):.8f}", f"{rng.uniform(0, 1e3):.3f}", True, False, []) for _ in range(3000)]
    doc = ('{"bids":' + levels_json(rows) + "}").encode()
    prices, qtys = js.scan_levels(doc, b"bids")
    assert prices.tolist() == [float(r[0]) for r in rows]
    assert qtys.tolist() == [float(r[1]) for r in rows]


@pytest.mark.parametrize(
    ("levels_doc", "code"),
    [
        (b"[[1]]", js.JSON_ERR_LEVEL),
        (b"[[]]", js.JSON_ERR_LEVEL),
        (b"[[null,1]]", js.JSON_ERR_TYPE),
        (b'[[1,{"a":1}]]', js.JSON_ERR_TYPE),
        (b"[1,2]", js.JSON_ERR_TYPE),
        (b'[["abc","1"]]', js.JSON_ERR_VALUE),
        (b'[[" 1","1"]]', js.JSON_ERR_VALUE),
        (b'[["1\\u0030","1"]]', js.JSON_ERR_VALUE),
        (b'[["",""]]', js.JSON_ERR_VALUE),
        (b'"[[1,2]]"', js.JSON_ERR_TYPE),
        (b"{}", js.JSON_ERR_TYPE),
    ],
)
def test_bad_levels_give_their_error_code(levels_doc: bytes, code: int) -> None:
    with pytest.raises(JsonScanError) as info:
        js.scan_levels(b'{"b":' + levels_doc + b"}", b"b")
    assert info.value.code == code


def test_scan_levels_key_lookup() -> None:
    assert js.scan_levels(b'{"b":[[1,2]],"b":[[3,4]]}', b"b")[0].tolist() == [3.0]  # last wins, like json.loads
    assert js.scan_levels(b'{"\\u0062":[[1,2]]}', b"b")[0].tolist() == [1.0]
    assert js.scan_levels(b'{"b":[[1,2,3,[4,[5]],"x"]],"a":[]}', b"a")[0].tolist() == []
    assert js.scan_levels(b'{"b":[["1e400","-0"]]}', b"b")[1].tobytes() == np.array([-0.0]).tobytes()
    with pytest.raises(KeyError):
        js.scan_levels(b'{"bb":[]}', b"b")
    with pytest.raises(JsonScanError):
        js.scan_levels(b'{"b":[]} x', b"b")  # the whole document is validated
    with pytest.raises(JsonScanError):
        js.scan_levels(b"[[1,2]]", b"b")


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=8), st.booleans())
def test_escaped_keys_compare_decoded(key: str, ascii_only: bool) -> None:
    doc = ("{" + json.dumps(key, ensure_ascii=ascii_only) + ":[[1,2]]}").encode()
    assert js.scan_levels(doc, key.encode("utf-8"))[0].tolist() == [1.0]
    with pytest.raises(KeyError):
        js.scan_levels(doc, key.encode("utf-8") + b"x")


def test_value_conversions() -> None:
    assert js.value_to_int(b'"1633998512068"') == 1633998512068
    assert js.value_to_int(b"-9223372036854775808") == -(2**63)
    for doc, code in ((b"9223372036854775808", js.JSON_ERR_RANGE), (b"1.0", js.JSON_ERR_VALUE),
                      (b"1e3", js.JSON_ERR_VALUE), (b"null", js.JSON_ERR_TYPE), (b'"1\\u0030"', js.JSON_ERR_VALUE),
                      (b'"x"', js.JSON_ERR_VALUE)):
        with pytest.raises(JsonScanError) as info:
            js.value_to_int(doc)
        assert info.value.code == code, doc
    for text in (b"0.1", b"-0", b"1e400", b"9007199254740993", b"2.2250738585072011e-308"):
        assert bits(js.value_to_float(text)) == bits(float(text))
        assert bits(js.value_to_float(b'"' + text + b'"')) == bits(float(text))
    with pytest.raises(JsonScanError):
        js.value_to_float(b"[1]")


# ---------------------------------------------------------------------------
# Real recordings

def _binance_frames():
    path = DATA / "binance" / "cryptofeed_spot_2021-10-11" / "BINANCE.ws.1.0"
    if not path.exists():
        pytest.skip(f"recording not available: {path}")
    for line in path.read_bytes().splitlines()[1:]:
        _, sep, frame = line.partition(b": ")
        if sep:  # the file ends with a blank line
            yield frame


def test_real_binance_depth_frames_match_json_loads() -> None:
    checked = 0
    for frame in _binance_frames():
        check_against_oracle(frame)
        envelope = dict((k, raw) for k, _, raw in js.object_items(frame))
        data = envelope[b"data"]
        loaded = json.loads(data)
        if loaded.get("e") != "depthUpdate":
            continue
        for key in ("b", "a"):
            prices, qtys = js.scan_levels(data, key.encode())
            assert prices.tolist() == [float(p) for p, _ in loaded[key]]
            assert qtys.tolist() == [float(q) for _, q in loaded[key]]
        checked += 1
    assert checked > 100
