"""feedhandler.codec.numbers against Python's own float() and int() as the oracle."""
from __future__ import annotations

import decimal
import math
import random
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.codec.numbers import error_message, parse_float, parse_int, parse_many

# The grammar parse_float promises, written independently of the parser.
GRAMMAR = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INT_GRAMMAR = re.compile(rb"[+-]?[0-9]+")
INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def check_float(text: bytes) -> None:
    """parse_float equals float() bit for bit when the grammar matches, else raises."""
    if GRAMMAR.fullmatch(text):
        expected = float(text)
        got = parse_float(text)
        assert bits(got) == bits(expected), (text, got, expected)
    else:
        with pytest.raises(ValueError):
            parse_float(text)


def check_int(text: bytes, signed: bool) -> None:
    lo, hi = (INT64_MIN, INT64_MAX) if signed else (0, UINT64_MAX)
    if INT_GRAMMAR.fullmatch(text) and lo <= int(text) <= hi:
        got = parse_int(text, signed=signed)
        assert got == int(text) and type(got) is int, text
    else:
        with pytest.raises(ValueError):
            parse_int(text, signed=signed)


HARD_CASES = [
    # Clinger fast-path edges and just beyond.
    "9007199254740992", "9007199254740993", "9007199254740994", "9007199254740995",
    "9007199254740993.0", "900719925474099.3e1", "18014398509481985", "4503599627370496.5",
    "4503599627370497.5", "1e22", "1e23", "1e-22", "1e-23", "9007199254740993e22",
    "123000000000000000000000", "1.5000000000e-25", "1.50000000000000000000000000e-25",
    "3.0e-22", "3e-23", "7.2057594037927933e16", "1e15", "1e16", "1e37", "1e38",
    # 17+ significant digits and halfway cases.
    "0.1", "0.10000000000000001", "0.1000000000000000055511151231257827",
    "0.1000000000000000055511151231257828", "0.30000000000000004", "3.14159265358979323846264338327950288",
    "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
    "2.22507385850720113605740979670913197593481954e-308", "8.98846567431158e307",
    "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
    "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-324",
    "12345678901234567890", "12345678901234567890123", "1234567890123456789.1234",
    "9999999999999999999", "10000000000000000000", "18446744073709551615", "18446744073709551616",
    # Exact halfway between two doubles (ties to even) and just above it: the
    # digits beyond the 19th decide the rounding, so they must not be dropped.
    "18014398509482010", "18014398509482010.0001", "180143985094820100000000001e-10",
    "18014398509482010.00000000000000000000000000000000000000000000000001",
    # Tiny and huge exponents, zeros.
    "1e400", "-1e400", "1e-400", "-1e-400", "1e99999999999999999999", "1e-99999999999999999999",
    "0e99999999999999999999", "0.0e-5", "-0", "+0", "-0.0", "-0e-999", "0", "00000", ".0", "0.",
    "0" * 60 + "1", "0." + "0" * 60 + "1", "1" + "0" * 60, "1" + "0" * 60 + "e-60", "1." + "0" * 80,
    "0.000000000000000000000000000001", "100000000000000000000000e-23",
    "+1", "+1.5", "-1.5", ".5", "5.", "5.e3", ".5e-3", "1E5", "1e+05", "1e-05",
    # Long mantissas that need the heap copy in the fallback (> 128 bytes).
    "1." + "3" * 300, "9" * 400 + "e-400", "0." + "0" * 200 + "123456789123456789123456789",
    "2.4703282292062327208828439643411068618252990130716238221279284125033775364" + "0" * 700 + "1e-324",
    "1" * 1000,
]

MALFORMED = [
    "", "+", "-", ".", "+.", "-.", "1..2", "1.2.3", "1e", "1e+", "1e-", "e5", ".e5", "12a", "--1", "+-1",
    " 1", "1 ", "\t1", "1\n", "inf", "-inf", "Infinity", "nan", "NaN", "1_0", "1_000.5", "0x10", "1e5.5",
    "1,5", "١", "1e1e1", "\x001", "1\x00",
]


@pytest.mark.parametrize("text", HARD_CASES)
def test_hard_cases_match_float_bits(text: str) -> None:
    data = text.encode()
    assert GRAMMAR.fullmatch(data)
    assert bits(parse_float(data)) == bits(float(data))


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_text_is_an_error(text: str) -> None:
    data = text.encode()
    with pytest.raises(ValueError) as info:
        parse_float(data)
    assert repr(data)[:20] in str(info.value)
    with pytest.raises(ValueError):
        parse_int(data)


def test_signs_of_zero_and_leading_plus_match_float() -> None:
    for text in (b"-0", b"-0.0", b"-0e10", b"+0", b"0", b"-.0", b"+1", b"+.5e1"):
        assert bits(parse_float(text)) == bits(float(text)), text


@st.composite
def decimal_texts(draw) -> bytes:
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    int_digits = draw(st.text("0123456789", max_size=40))
    frac = draw(st.one_of(st.none(), st.text("0123456789", max_size=40)))
    if not int_digits and not frac:
        int_digits = draw(st.text("0123456789", min_size=1, max_size=20))
    body = int_digits + ("" if frac is None else "." + frac)
    if draw(st.booleans()):
        exp = draw(st.integers(-400, 400))
        body += draw(st.sampled_from("eE")) + draw(st.sampled_from(["", "+"] if exp >= 0 else [""])) + str(exp)
    return (sign + body).encode()


@settings(max_examples=500, deadline=None)
@given(decimal_texts())
def test_random_decimals_match_float_bits(text: bytes) -> None:
    assert GRAMMAR.fullmatch(text)
    assert bits(parse_float(text)) == bits(float(text)), text


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, allow_nan=False, allow_infinity=False, exclude_min=True), st.integers(1, 40))
def test_halfway_points_and_their_neighbours(x: float, extra: int) -> None:
    # The exact decimal midpoint between x and the next double rounds to even;
    # one more digit far down (or one less) decides it the other way.
    nxt = math.nextafter(x, math.inf)
    if math.isinf(nxt):
        return
    with decimal.localcontext() as ctx:
        ctx.prec = 2000
        mid = (decimal.Decimal(x) + decimal.Decimal(nxt)) / 2
        tiny = decimal.Decimal(1).scaleb(mid.adjusted() - 17 - extra)
        for value in (mid, mid + tiny, mid - tiny):
            for text in (f"{value:f}", f"{value:e}"):
                check_float(text.encode())


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["r", "e", "f", "g"]))
def test_formatted_floats_round_trip(x: float, style: str) -> None:
    # Every shape Python prints a float in, including "%.17e"-style long forms.
    text = {"r": repr(x), "e": f"{x:.17e}", "f": f"{x:.30f}", "g": f"{x:.25g}"}[style].encode()
    check_float(text)


@settings(max_examples=400, deadline=None)
@given(st.text("0123456789+-.eE_ xn", max_size=25))
def test_near_grammar_texts_parse_or_fail_like_the_grammar(text: str) -> None:
    check_float(text.encode())


INT_EDGES = [0, 1, -1, INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, UINT64_MAX, UINT64_MAX + 1,
             10**19, 10**20, -(10**19), 2**53 + 1, 1633998512068]


@pytest.mark.parametrize("value", INT_EDGES)
@pytest.mark.parametrize("signed", [True, False])
def test_integer_edges_match_int(value: int, signed: bool) -> None:
    for text in (str(value), ("+" + str(value)) if value >= 0 else str(value), "-0", "0007", "+0"):
        check_int(text.encode(), signed)


@settings(max_examples=400, deadline=None)
@given(st.integers(-(2**70), 2**70), st.sampled_from(["", "+", "0", "000"]), st.booleans())
def test_random_integers_match_int(value: int, prefix: str, signed: bool) -> None:
    text = str(value)
    if value >= 0:
        text = prefix + text
    check_int(text.encode(), signed)


@pytest.mark.parametrize("text", ["", "+", "-", "1.0", "1e3", " 1", "1 ", "1_0", "0x1", "--1", "١"])
def test_malformed_integers_are_errors(text: str) -> None:
    for signed in (True, False):
        with pytest.raises(ValueError):
            parse_int(text.encode(), signed=signed)


def test_error_messages_name_text_and_reason() -> None:
    with pytest.raises(ValueError, match=r"b'12a'.*invalid syntax"):
        parse_float(b"12a")
    with pytest.raises(ValueError, match=r"b'18446744073709551616'.*out of range"):
        parse_int(b"18446744073709551616", signed=False)
    with pytest.raises(ValueError, match="empty"):
        parse_float(b"")
    assert error_message(0) == "ok"
    assert "syntax" in error_message(-2)


def test_parse_many_sums_like_python() -> None:
    rng = random.Random(7)
    items = [f"{rng.uniform(0, 1e5):.8f}".encode() for _ in range(1000)]
    expected = 0.0
    for item in items:
        expected += float(item)
    assert bits(parse_many(items)) == bits(expected)
    with pytest.raises(ValueError):
        parse_many([b"1", b"x"])
    with pytest.raises(TypeError):
        parse_many(["1.0"])


def test_fuzz_random_bytes_never_crash_and_follow_the_grammar() -> None:
    rng = random.Random(20240808)
    alphabet = b"0123456789" * 4 + b"+-.eE_ xi\x00\xff"
    for _ in range(20000):  # bounded: ~20k short texts
        n = rng.randrange(0, 30)
        text = bytes(rng.choice(alphabet) for _ in range(n))
        check_float(text)
        check_int(text, signed=rng.random() < 0.5)
    for _ in range(300):  # long texts: the heap fallback path
        n = rng.randrange(100, 2000)
        digits = "".join(rng.choice("0123456789") for _ in range(n))
        pos = rng.randrange(0, n)
        text = (digits[:pos] + "." + digits[pos:] + f"e{rng.randrange(-700, 400)}").encode()
        check_float(text)


def test_short_plain_decimals_match_float_bits() -> None:
    """Every "I.F" text of 3..7 bytes (the short fast path: futures prices such as "0.010") is float()'s
    bits, and the near misses around it (no digit on one side, two dots, a sign, a letter) follow the grammar."""
    rng = random.Random(7)
    for n in range(3, 8):
        for dot in range(1, n - 1):
            for _ in range(200):
                digits = "".join(rng.choice("0123456789") for _ in range(n - 1))
                check_float((digits[:dot] + "." + digits[dot:]).encode())
    for text in (b"1.", b".5", b"1..2", b"1.2.3", b"+1.25", b"-0.010", b"1.2e3", b"12a.45", b"1.2 ", b"00.100"):
        check_float(text)
