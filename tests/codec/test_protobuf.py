"""The protobuf wire reader against the official ``protobuf`` library.

Oracles: messages serialized by ``protobuf`` (upb) and parsed back by it, its
``UnknownFieldSet``, and a small independent varint encoder written here.
"""
from __future__ import annotations

import random
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import empty_pb2
from google.protobuf.descriptor import FieldDescriptor as F
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedhandler.codec.protobuf import (
    MAX_DEPTH,
    PB_BAD_LENGTH,
    PB_BAD_TAG,
    PB_BAD_WIRE_TYPE,
    PB_TRUNCATED,
    PB_VARINT_TOO_LONG,
    ProtobufDecodeError,
    decode_fields,
    decode_packed,
    walk_fields,
)
from protos import load_proto, message_strategy

wire_test = load_proto("wire_test")
AllTypes = wire_test.AllTypes
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

U64 = 1 << 64


# --- an independent encoder (canonical, as protobuf writes) -----------------------------------


def enc_varint(v: int) -> bytes:
    assert 0 <= v < U64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def enc_field(field: int, wire_type: int, value: int | bytes) -> bytes:
    tag = enc_varint((field << 3) | wire_type)
    if wire_type == 0:
        return tag + enc_varint(value)
    if wire_type == 1:
        return tag + struct.pack("<Q", value)
    if wire_type == 5:
        return tag + struct.pack("<I", value)
    assert wire_type == 2
    return tag + enc_varint(len(value)) + value


# --- a schema-driven decoder built on decode_fields / decode_packed ----------------------------


def s64(v: int) -> int:
    return v - U64 if v >= 1 << 63 else v


def s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def zigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


CONVERT = {
    F.TYPE_INT32: s32,
    F.TYPE_ENUM: s32,
    F.TYPE_INT64: s64,
    F.TYPE_UINT32: lambda v: v & 0xFFFFFFFF,
    F.TYPE_UINT64: lambda v: v,
    F.TYPE_SINT32: lambda v: s32(zigzag(v)),
    F.TYPE_SINT64: zigzag,
    F.TYPE_BOOL: lambda v: v != 0,
    F.TYPE_FIXED32: lambda v: v,
    F.TYPE_SFIXED32: s32,
    F.TYPE_FLOAT: lambda v: struct.unpack("<f", struct.pack("<I", v))[0],
    F.TYPE_FIXED64: lambda v: v,
    F.TYPE_SFIXED64: s64,
    F.TYPE_DOUBLE: lambda v: struct.unpack("<d", struct.pack("<Q", v))[0],
}
ELEMENT_WIRE_TYPE = {t: 0 for t in CONVERT} | {
    F.TYPE_FIXED32: 5,
    F.TYPE_SFIXED32: 5,
    F.TYPE_FLOAT: 5,
    F.TYPE_FIXED64: 1,
    F.TYPE_SFIXED64: 1,
    F.TYPE_DOUBLE: 1,
}


def decode_message(data: bytes, desc: Any) -> tuple[dict[str, Any], list[tuple[int, int, Any]]]:
    """Decode with the Cython reader into {name: value}, following protobuf's merge rules."""
    values: dict[str, Any] = {}
    unknown: list[tuple[int, int, Any]] = []
    for field, wire_type, raw in decode_fields(data):
        fd = desc.fields_by_number.get(field)
        if fd is None:
            unknown.append((field, wire_type, raw))
            continue
        if fd.type == F.TYPE_MESSAGE:
            assert wire_type == 2
            sub_values, sub_unknown = decode_message(raw, fd.message_type)
            assert sub_unknown == []
            if fd.is_repeated:
                values.setdefault(fd.name, []).append(sub_values)
            else:  # a repeated occurrence of a singular message merges into it
                merged = values.get(fd.name) or {}
                for k, v in sub_values.items():
                    merged[k] = merged.get(k, []) + v if isinstance(v, list) else v
                values[fd.name] = merged
        elif fd.type in (F.TYPE_STRING, F.TYPE_BYTES):
            assert wire_type == 2
            item = raw.decode("utf-8") if fd.type == F.TYPE_STRING else raw
            if fd.is_repeated:
                values.setdefault(fd.name, []).append(item)
            else:
                values[fd.name] = item
        else:
            convert = CONVERT[fd.type]
            if wire_type == 2:  # packed (parsers accept both forms for any repeated scalar)
                assert fd.is_repeated
                items = [convert(v) for v in decode_packed(raw, ELEMENT_WIRE_TYPE[fd.type])]
            else:
                assert wire_type == ELEMENT_WIRE_TYPE[fd.type]
                items = [convert(raw)]
            if fd.is_repeated:
                values.setdefault(fd.name, []).extend(items)
            else:
                values[fd.name] = items[-1]
        if fd.containing_oneof is not None:  # the last member seen wins
            for other in fd.containing_oneof.fields:
                if other is not fd:
                    values.pop(other.name, None)
    return values, unknown


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)  # bitwise: NaN, -0.0
    return a == b


DEFAULTS = {F.TYPE_STRING: "", F.TYPE_BYTES: b"", F.TYPE_BOOL: False, F.TYPE_FLOAT: 0.0, F.TYPE_DOUBLE: 0.0}


def assert_matches(decoded: dict[str, Any], msg: Any, path: str = "") -> None:
    """Compare field by field with a message parsed by protobuf."""
    for fd in msg.DESCRIPTOR.fields:
        where = f"{path}{fd.name}"
        expected = getattr(msg, fd.name)
        got = decoded.get(fd.name)
        if fd.type == F.TYPE_MESSAGE:
            if fd.is_repeated:
                got = got or []
                assert len(got) == len(expected), where
                for i, (g, e) in enumerate(zip(got, expected)):
                    assert_matches(g, e, f"{where}[{i}].")
            else:
                assert (got is not None) == msg.HasField(fd.name), where
                if got is not None:
                    assert_matches(got, expected, f"{where}.")
        elif fd.is_repeated:
            got = got or []
            assert len(got) == len(expected), where
            assert all(same(g, e) for g, e in zip(got, expected)), (where, got, list(expected))
        else:
            if fd.has_presence:
                assert (got is not None) == msg.HasField(fd.name), where
            if got is None:
                got = DEFAULTS.get(fd.type, 0)
            assert same(got, expected), (where, got, expected)


# --- round trips against protobuf ---------------------------------------------------------------


@SETTINGS
@given(message_strategy(AllTypes))
def test_random_messages_decode_like_protobuf(msg: Any) -> None:
    data = msg.SerializeToString()
    reference = AllTypes.FromString(data)
    decoded, unknown = decode_message(data, AllTypes.DESCRIPTOR)
    assert unknown == []
    assert_matches(decoded, reference)
    assert_matches(decoded, msg)
    # Re-encoding the (field, wire type, value) list byte for byte proves that
    # decode_fields saw every byte, in order, with the right boundaries.
    assert b"".join(enc_field(*item) for item in decode_fields(data)) == data


def split_parts(msg: Any, rnd: random.Random) -> list[tuple[str, bytes]]:
    """Serialize each set field separately; repeated fields in several chunks."""
    parts = []
    for fd, value in msg.ListFields():
        if fd.is_repeated:
            items = list(value)
            cut = sorted(rnd.sample(range(1, len(items)), min(2, len(items) - 1))) if len(items) > 1 else []
            for lo, hi in zip([0, *cut], [*cut, len(items)]):
                part = type(msg)()
                getattr(part, fd.name).extend(items[lo:hi])
                parts.append((fd.name, part.SerializeToString()))
        else:
            part = type(msg)()
            if fd.type == F.TYPE_MESSAGE:
                getattr(part, fd.name).CopyFrom(value)
            else:
                setattr(part, fd.name, value)
            parts.append((fd.name, part.SerializeToString()))
    return parts


@SETTINGS
@given(message_strategy(AllTypes), message_strategy(wire_test.Unknowns, max_repeated=3), st.randoms())
def test_shuffled_fields_and_unknown_fields(msg: Any, extra: Any, rnd: random.Random) -> None:
    parts = split_parts(msg, rnd) + [("?unknown", p) for _, p in split_parts(extra, rnd)]
    # Shuffle, but keep the chunks of one repeated field in their order.
    keys = {id(p): rnd.random() for p in parts}
    by_name: dict[str, list[Any]] = {}
    for p in parts:
        by_name.setdefault(p[0], []).append(p)
    for group in by_name.values():
        ordered_keys = sorted(keys[id(p)] for p in group)
        for p, k in zip(group, ordered_keys):
            keys[id(p)] = k
    data = b"".join(p[1] for p in sorted(parts, key=lambda p: keys[id(p)]))

    reference = AllTypes.FromString(data)
    known = AllTypes()
    known.CopyFrom(reference)
    known.DiscardUnknownFields()  # the oracle agrees the shuffle is the same message
    assert known.SerializeToString(deterministic=True) == msg.SerializeToString(deterministic=True)
    decoded, unknown = decode_message(data, AllTypes.DESCRIPTOR)
    assert_matches(decoded, reference)
    expected_unknown = [(f.field_number, f.wire_type, f.data) for f in UnknownFieldSet(reference)]
    assert unknown == expected_unknown


@SETTINGS
@given(st.binary(max_size=120))
def test_random_bytes_decode_or_raise_like_protobuf(data: bytes) -> None:
    try:
        fields = decode_fields(data)
    except ProtobufDecodeError as exc:
        assert 0 <= exc.offset <= len(data)
        assert exc.code in (PB_TRUNCATED, PB_VARINT_TOO_LONG, PB_BAD_WIRE_TYPE, PB_BAD_LENGTH, PB_BAD_TAG)
        assert f"byte offset {exc.offset}" in str(exc)
        fields = None
    try:
        reference = empty_pb2.Empty.FromString(data)  # every field is unknown to Empty
    except DecodeError:
        reference = None
    if fields is not None:
        # Whatever we accept, protobuf accepts, with the same fields and values.
        assert reference is not None
        assert fields == [(f.field_number, f.wire_type, f.data) for f in UnknownFieldSet(reference)]
        assert walk_fields(data) == (len(fields), sum(len(v) for _, wt, v in fields if wt == 2))
    else:
        with pytest.raises(ProtobufDecodeError):
            walk_fields(data)


@SETTINGS
@given(st.binary(max_size=60), st.integers(0, 2**29 - 1), st.integers(0, 7))
def test_random_bytes_inside_a_valid_frame_never_crash(payload: bytes, field: int, wire_type: int) -> None:
    # A random tag/payload pair between two valid fields, walked at every nesting level.
    data = enc_field(1, 0, 5) + enc_varint((field << 3) | wire_type) + payload + enc_field(2, 2, b"x")
    for nested in ((), [(1, 2, 3)], [range(1, 64)] * 5):
        try:
            walk_fields(data, nested)
        except ProtobufDecodeError as exc:
            assert 0 <= exc.offset <= len(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_strategy(AllTypes, max_repeated=3))
def test_every_truncation_decodes_or_raises(msg: Any) -> None:
    data = msg.SerializeToString()
    full = decode_fields(data)
    ends = [0]
    for item in full:
        ends.append(ends[-1] + len(enc_field(*item)))
    assert ends[-1] == len(data)
    for k in range(len(data) + 1):
        prefix = data[:k]
        if k in ends:
            assert decode_fields(prefix) == full[: ends.index(k)]
        else:
            with pytest.raises(ProtobufDecodeError) as info:
                decode_fields(prefix)
            # The error points into the cut field (its tag or its value).
            cut_start = max(e for e in ends if e < k)
            assert cut_start <= info.value.offset <= k
            assert info.value.code in (PB_TRUNCATED, PB_BAD_LENGTH)


# --- varints, lengths, tags: the edges --------------------------------------------------------


@SETTINGS
@given(st.integers(0, U64 - 1), st.integers(1, 2**29 - 1))
def test_varints_over_the_whole_uint64_range(value: int, field: int) -> None:
    data = enc_field(field, 0, value)
    assert decode_fields(data) == [(field, 0, value)]
    assert decode_packed(enc_varint(value) * 3, 0) == [value] * 3
    # protobuf agrees on the encoding of a uint64 field.
    assert AllTypes(f_uint64=value).SerializeToString() == (enc_field(6, 0, value) if value else b"")


@pytest.mark.parametrize("value", [-1, -(2**31), -(2**63), 2**63 - 1, 2**31 - 1])
def test_negative_int32_int64_are_ten_byte_varints_cast_back(value: int) -> None:
    field = "f_int32" if -(2**31) <= value < 2**31 else "f_int64"
    data = AllTypes(**{field: value}).SerializeToString()
    ((number, wire_type, raw),) = decode_fields(data)
    assert wire_type == 0
    assert s64(raw) == value  # the documented decoding: a cast of the uint64
    if value < 0:
        assert len(data) == 1 + 10


def test_ten_and_eleven_byte_varints() -> None:
    assert decode_fields(b"\x08" + b"\xff" * 9 + b"\x01") == [(1, 0, U64 - 1)]
    assert decode_fields(b"\x08" + b"\x80" * 9 + b"\x00") == [(1, 0, 0)]  # non-canonical, still 10 bytes
    for tenth in (0x02, 0x7F, 0x80, 0xFF):
        with pytest.raises(ProtobufDecodeError) as info:
            decode_fields(b"\x08" + b"\xff" * 9 + bytes([tenth]) + b"\x00")
        assert info.value.code == PB_VARINT_TOO_LONG and info.value.offset == 1
        assert "PB_VARINT_TOO_LONG" in str(info.value)
    with pytest.raises(ProtobufDecodeError) as info:  # 11 bytes
        decode_fields(b"\x08" + b"\x80" * 10 + b"\x00")
    assert info.value.code == PB_VARINT_TOO_LONG
    with pytest.raises(ProtobufDecodeError) as info:  # 10 bytes, all continuation, then the end
        decode_fields(b"\x08" + b"\x80" * 9)
    assert info.value.code == PB_TRUNCATED


NON_CANONICAL = {
    # name: (data, expected decode or the PB_* code)
    "5-byte tag": (b"\x88\x80\x80\x80\x00\x01", [(1, 0, 1)]),
    "6-byte tag": (b"\x88\x80\x80\x80\x80\x00\x01", PB_BAD_TAG),
    "10-byte tag": (b"\x88" + b"\x80" * 8 + b"\x00\x01", PB_BAD_TAG),
    "5-byte length": (b"\x12\x81\x80\x80\x80\x00x", [(2, 2, b"x")]),
    "6-byte length": (b"\x12\x81\x80\x80\x80\x80\x00x", PB_BAD_LENGTH),
    "10-byte value 1": (b"\x08" + b"\x81" + b"\x80" * 8 + b"\x00", [(1, 0, 1)]),
    "10-byte value 2**64-1": (b"\x08" + b"\xff" * 9 + b"\x01", [(1, 0, U64 - 1)]),
    "key 2**32": (b"\x80\x80\x80\x80\x10\x00", PB_BAD_TAG),
    "group start": (b"\x0b\x0c", PB_BAD_WIRE_TYPE),  # upb takes groups; proto3 has none
}


@pytest.mark.parametrize("name", NON_CANONICAL)
def test_non_canonical_encodings_like_upb(name: str) -> None:
    data, expected = NON_CANONICAL[name]
    if isinstance(expected, list):
        assert decode_fields(data) == expected
        reference = empty_pb2.Empty.FromString(data)
        assert expected == [(f.field_number, f.wire_type, f.data) for f in UnknownFieldSet(reference)]
    else:
        with pytest.raises(ProtobufDecodeError) as info:
            decode_fields(data)
        assert info.value.code == expected and info.value.offset in (0, 1)
        if expected != PB_BAD_WIRE_TYPE:
            with pytest.raises(DecodeError):
                empty_pb2.Empty.FromString(data)


@pytest.mark.parametrize("length", [2**63 - 1, 2**63, 2**63 + 1, U64 - 1, 2**32, 2**31, 4])
def test_length_overflow(length: int) -> None:
    data = enc_field(1, 0, 7) + enc_varint((2 << 3) | 2) + enc_varint(length) + b"abc"
    with pytest.raises(ProtobufDecodeError) as info:
        decode_fields(data)
    assert info.value.code == PB_BAD_LENGTH
    assert info.value.offset == 3  # the length varint, after the varint field and the tag
    with pytest.raises(ProtobufDecodeError):
        walk_fields(data)
    with pytest.raises(DecodeError):
        empty_pb2.Empty.FromString(data)


def test_tags() -> None:
    top = 2**29 - 1
    assert decode_fields(enc_field(top, 5, 9)) == [(top, 5, 9)]
    for bad in (b"\x00\x01", enc_varint(0 << 3 | 2) + b"\x00"):
        with pytest.raises(ProtobufDecodeError) as info:
            decode_fields(bad)
        assert info.value.code == PB_BAD_TAG and info.value.offset == 0
    with pytest.raises(ProtobufDecodeError) as info:  # a key beyond 32 bits
        decode_fields(enc_varint(1 << 32) + b"\x00")
    assert info.value.code == PB_BAD_TAG
    for wire_type in (3, 4, 6, 7):
        data = enc_field(1, 0, 1) + enc_varint(5 << 3 | wire_type) + b"\x00" * 8
        with pytest.raises(ProtobufDecodeError) as info:
            decode_fields(data)
        assert info.value.code == PB_BAD_WIRE_TYPE and info.value.offset == 2
        assert f"wire type {wire_type}" in str(info.value)


def test_fixed_width_truncation_and_packed_errors() -> None:
    for wire_type, width in ((1, 8), (5, 4)):
        with pytest.raises(ProtobufDecodeError) as info:
            decode_fields(enc_varint(3 << 3 | wire_type) + b"\x01" * (width - 1))
        assert info.value.code == PB_TRUNCATED and info.value.offset == 1
        with pytest.raises(ProtobufDecodeError):
            decode_packed(b"\x01" * (2 * width - 1), wire_type)
    with pytest.raises(ValueError):
        decode_packed(b"", 2)
    assert decode_fields(b"") == [] and decode_packed(b"", 0) == []
    assert decode_fields(bytearray(b"\x08\x01")) == decode_fields(memoryview(b"\x08\x01")) == [(1, 0, 1)]


def test_walk_fields_counts_nested_messages_and_limits_depth() -> None:
    level = wire_test.DepthLevel
    depth = wire_test.DepthUpdate(
        asks=[level(price="1.5", quantity="2")] * 3,
        bids=[level(price="1.25", quantity="30")] * 2,
        event_type="e",
        to_version="12",
        last_order_create_time=-5,
    )
    data = depth.SerializeToString()
    top = decode_fields(data)
    inner = [decode_fields(v) for f, _, v in top if f in (1, 2)]
    strings = [v for f, wt, v in top if wt == 2 and f not in (1, 2)]
    inner_payload = sum(len(v) for fields in inner for _, _, v in fields)
    assert walk_fields(data, [(1, 2)]) == (len(top) + sum(map(len, inner)), inner_payload + sum(map(len, strings)))
    assert walk_fields(data) == (len(top), sum(len(v) for _, wt, v in top if wt == 2))

    def wrap(levels: int) -> bytes:  # `levels` messages, each holding the next in field 1
        data = b""
        for _ in range(levels):
            data = enc_field(1, 2, data)
        return data

    # MAX_DEPTH wrappers: the innermost (empty) message is at depth MAX_DEPTH.
    assert walk_fields(wrap(MAX_DEPTH), [(1,)] * MAX_DEPTH) == (MAX_DEPTH, 0)
    with pytest.raises(ProtobufDecodeError, match="PB_TOO_DEEP"):
        walk_fields(wrap(MAX_DEPTH + 1), [(1,)] * (MAX_DEPTH + 5))
    # Only the levels listed in `nested` are walked: levels 0..3 here.
    assert walk_fields(wrap(MAX_DEPTH + 1), [(1,)] * 3) == (4, len(wrap(MAX_DEPTH + 1 - 4)))
    with pytest.raises(ValueError):
        walk_fields(b"", [(64,)])


# --- the .pxd API from another Cython module ----------------------------------------------------

CIMPORT_TEST = textwrap.dedent(
    """
    from libc.stdint cimport int64_t, uint32_t, uint64_t, uint8_t
    from feedhandler.codec.protobuf cimport *

    def read_all(bytes data):
        # (field, wire type, value as a signed/zigzag/float decode) for each field
        cdef PbReader r
        cdef uint32_t field, wt, v32
        cdef uint64_t v64
        cdef const uint8_t* p
        cdef Py_ssize_t n
        cdef int rc
        pb_sub_reader(&r, <const uint8_t*><const char*>data, len(data))
        out = []
        while r.p < r.end:
            rc = pb_read_tag(&r, &field, &wt)
            if rc != PB_OK:
                return out, rc
            if wt == PB_WT_VARINT:
                rc = pb_read_varint(&r, &v64)
                out.append((field, <int64_t>v64, pb_zigzag64(v64)))
            elif wt == PB_WT_FIXED64:
                rc = pb_read_fixed64(&r, &v64)
                out.append((field, <int64_t>v64, pb_double_from_bits(v64)))
            elif wt == PB_WT_FIXED32:
                rc = pb_read_fixed32(&r, &v32)
                out.append((field, v32, pb_float_from_bits(v32)))
            else:
                rc = pb_read_len(&r, &p, &n)
                if rc == PB_OK:
                    out.append((field, (<const char*>p)[:n], n))
            if rc != PB_OK:
                return out, rc
        return out, PB_OK

    def skip_all(bytes data):
        cdef PbReader r
        cdef uint32_t field, wt
        cdef int rc = PB_OK
        cdef int count = 0
        pb_sub_reader(&r, <const uint8_t*><const char*>data, len(data))
        while r.p < r.end:
            rc = pb_read_tag(&r, &field, &wt)
            if rc == PB_OK:
                rc = pb_skip(&r, wt)
            if rc != PB_OK:
                return count, pb_error_name(rc).decode()
            count += 1
        return count, "PB_OK"
    """
)


@pytest.fixture(scope="module")
def cimport_module(tmp_path_factory: pytest.TempPathFactory) -> Any:
    repo = Path(__file__).resolve().parents[2]
    build = tmp_path_factory.mktemp("pb_cimport")
    (build / "pb_cimport_check.pyx").write_text(CIMPORT_TEST)
    (build / "setup.py").write_text(
        "from setuptools import setup, Extension\nfrom Cython.Build import cythonize\n"
        f"setup(ext_modules=cythonize([Extension('pb_cimport_check', ['pb_cimport_check.pyx'])],"
        f" include_path=[{str(repo)!r}], compiler_directives={{'language_level': 3}}, quiet=True))\n"
    )
    proc = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
        cwd=build, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sys.path.insert(0, str(build))
    try:
        import pb_cimport_check  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(build))
    return pb_cimport_check


@SETTINGS
@given(message_strategy(AllTypes, max_repeated=3))
def test_pxd_api_from_another_module(cimport_module: Any, msg: Any) -> None:
    data = msg.SerializeToString()
    items, rc = cimport_module.read_all(data)
    assert rc == 0
    fields = decode_fields(data)
    assert len(items) == len(fields)
    assert cimport_module.skip_all(data) == (len(fields), "PB_OK")
    for (field, wt, raw), item in zip(fields, items):
        assert item[0] == field
        if wt == 0:
            assert item[1:] == (s64(raw), zigzag(raw))
        elif wt == 1:
            assert item[1] == s64(raw) and same(item[2], CONVERT[F.TYPE_DOUBLE](raw))
        elif wt == 5:
            assert item[1] == raw and same(item[2], CONVERT[F.TYPE_FLOAT](raw))
        else:
            assert item[1:] == (raw, len(raw))
    # and the typed fields protobuf knows come out the same
    by_field = {f.number: f for f in AllTypes.DESCRIPTOR.fields}
    for field, value, extra in items:
        fd = by_field[field]
        if fd.is_repeated or fd.type not in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_DOUBLE, F.TYPE_SFIXED64):
            continue
        expected = getattr(AllTypes.FromString(data), fd.name)
        got = extra if fd.type in (F.TYPE_SINT64, F.TYPE_DOUBLE) else value
        assert same(got, expected), fd.name
    truncated = data[:-1]
    if truncated:
        assert cimport_module.skip_all(truncated)[1] in ("PB_TRUNCATED", "PB_BAD_LENGTH")
