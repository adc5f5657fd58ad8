"""feedhandler.kernel.exact: the exact-layout tokens against json.loads + float().

A chain of tokens either declines (None) or gives exactly what json.loads + float() give the same
bytes; canonical layouts (compact JSON, plain decimal strings) are always taken.
"""
from __future__ import annotations

import json
import re

from hypothesis import given, settings, strategies as st

from feedhandler.kernel.exact import match

decimal = st.one_of(
    st.decimals(min_value="0", max_value="99999999", places=8, allow_nan=False).map(lambda d: f"{d:.8f}"),
    st.decimals(min_value="0", max_value="99999", places=2, allow_nan=False).map(lambda d: f"{d:.2f}"),
    st.integers(0, 10**12).map(str),
    st.floats(min_value=1e-300, max_value=1e300).map(repr),
)
symbol = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=0, max_size=12)
STEPS = [("lit", b'{"u":'), ("uint",), ("lit", b',"s":'), ("str",), ("lit", b',"p":'), ("dec",),
         ("lit", b',"m":'), ("bool",), ("lit", b',"b":'), ("levels",), ("lit", b"}")]
_PLAIN = re.compile(r"[0-9]{1,7}\.[0-9]{1,8}")   # fh_decimal_fast: "I.F" in 8..16 bytes


def _frame(u, s, p, m, levels):
    return ('{"u":%d,"s":%s,"p":"%s","m":%s,"b":[%s]}' % (
        u, json.dumps(s), p, "true" if m else "false",
        ",".join('["%s","%s"]' % lv for lv in levels))).encode()


def _oracle(frame):
    """The values the chain must give, or None where the tokens may decline (json.loads refuses, or
    the text is outside the exact grammar: escapes, 19+ digit ints, non-"I.F" decimal strings...)."""
    try:
        d = json.loads(frame)
    except ValueError:
        return None
    return [d["u"], d["s"].encode(), float(d["p"]), d["m"], [(float(p), float(q)) for p, q in d["b"]]]


def _mutate(frame, data):
    i = data.draw(st.integers(0, len(frame) - 1))
    how = data.draw(st.sampled_from(["byte", "cut", "insert", "none"]))
    if how == "byte":
        return frame[:i] + bytes([data.draw(st.sampled_from(b'0123456789"-.e,:}{[ ]tfx\\'))]) + frame[i + 1:]
    if how == "cut":
        return frame[:i]
    if how == "insert":
        return frame[:i] + data.draw(st.sampled_from([b"0", b'"', b",", b".", b" "])) + frame[i:]
    return frame


@settings(max_examples=500, deadline=None)
@given(u=st.integers(0, 10**18 - 1), s=symbol, p=decimal, m=st.booleans(),
       levels=st.lists(st.tuples(decimal, decimal), max_size=5), data=st.data())
def test_tokens_decline_or_agree_with_json(u, s, p, m, levels, data):
    frame = _frame(u, s, p, m, levels)
    got = match(frame, STEPS)
    plain = '"' not in s and "\\" not in s and _PLAIN.fullmatch(p) and 8 <= len(p) <= 16
    if plain:
        assert got == _oracle(frame)        # the canonical layout is always taken
    mutated = _mutate(frame, data)
    got = match(mutated, STEPS)
    if got is not None:
        assert got == _oracle(mutated)      # never a value json.loads + float() would not give


def test_same_string_is_matched_and_a_different_one_still_scanned():
    assert match(b'"BTCUSDT"', [("same", b"BTCUSDT")]) == [b"BTCUSDT"]
    assert match(b'"ETHUSDT"', [("same", b"BTCUSDT")]) == [b"ETHUSDT"]
    assert match(b'"BTC\\u0055SDT"', [("same", b"BTCUSDT")]) is None      # escapes: the general path's


def test_integers_are_bounded_before_multiplying():
    assert match(b"9" * 18, [("uint",)]) == [10**18 - 1]
    assert match(b"9" * 19, [("uint",)]) is None
    assert match(b"01", [("uint",)]) is None and match(b"-1", [("uint",)]) is None


def test_levels_capacity_and_shapes():
    lv = b'[["1.50000000","2.00000000"],["3.0","0"]]'
    assert match(lv, [("levels",)]) == [[(1.5, 2.0), (3.0, 0.0)]]
    assert match(lv, [("levels",)], capacity=1) is None
    for bad in (b'[["1.5"]]', b'[[1.5,2]]', b'[["1.5","2",""]]', b'[ ["1.5","2"]]', b'[["1.5","2"],]'):
        assert match(bad, [("levels",)]) is None
    assert match(b"[]", [("levels",)]) == [[]]


def test_cached_name_compare_sees_every_byte():
    """fx_eq (word compares, the last word overlapping): a name of each length 1..40 equal to the cached one
    is taken; one differing in any single byte is not taken as equal (it is scanned and returned as itself)."""
    for n in range(1, 41):
        name = bytes(65 + (i * 7) % 26 for i in range(n))
        assert match(b'"%s"' % name, [("same", name)]) == [name]
        for i in range(n):
            other = name[:i] + b"z" + name[i + 1:]
            assert match(b'"%s"' % other, [("same", name)]) == [other]
            assert match(b'"%s"' % name, [("same", other)]) == [name]


def test_integers_of_every_length_match_int():
    """fx_uint takes eight digits at a time then byte by byte: every length 1..18 matches int(), a non-digit
    at any position ends the token there (and the next literal then decides)."""
    for n in range(1, 19):
        text = b"".join(bytes([49 + (i * 3) % 9]) for i in range(n))
        assert match(text, [("uint",)]) == [int(text)]
        assert match(text + b"}", [("uint",), ("lit", b"}")]) == [int(text)]
        for i in range(1, n):
            # digits are 1..9: the second part has no leading zero
            assert match(text[:i] + b"," + text[i:], [("uint",), ("lit", b","), ("uint",)]) == [
                int(text[:i]), int(text[i:])]
