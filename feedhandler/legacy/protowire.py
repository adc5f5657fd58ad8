"""A small pure-Python protobuf wire walker (the legacy clients' own decoder).

It knows nothing about schemas: :func:`fields` yields ``(field_number, wire_type, value)`` for one
message, where ``value`` is an ``int`` for varints and fixed-width fields and a ``memoryview`` for
length-delimited fields (strings, bytes, embedded messages). Deliberately independent of the compiled
``feedhandler.codec.protobuf`` reader, so that a parallel run of a legacy client against the new
strategies compares two implementations, not one.
"""
from __future__ import annotations

from typing import Iterator

from ..core.errors import ParseError

__all__ = ["WireError", "fields", "read_varint", "to_int64", "to_text"]

_MAX_VARINT_BYTES = 10


class WireError(ParseError):
    """The bytes are not a valid protobuf message (truncated, bad wire type, overlong varint)."""


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = 0
    shift = 0
    end = len(buf)
    for _ in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise WireError(f"protobuf: truncated varint at byte {pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
    raise WireError(f"protobuf: varint longer than {_MAX_VARINT_BYTES} bytes at byte {pos}")


def to_int64(v: int) -> int:
    """Reinterpret an unsigned 64-bit varint as the signed int64 proto3 encodes (no zigzag)."""
    return v - (1 << 64) if v >= 1 << 63 else v


def to_text(v: memoryview) -> str:
    """A length-delimited field as UTF-8 text (invalid UTF-8 is a WireError)."""
    try:
        return bytes(v).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("protobuf: string field is not valid UTF-8") from None


def fields(data: bytes | bytearray | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Walk one message; raises :class:`WireError` for malformed input (never reads out of bounds)."""
    buf = data if isinstance(data, memoryview) else memoryview(data)
    if buf.format != "B" or buf.ndim != 1:
        buf = buf.cast("B")
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError(f"protobuf: field number 0 at byte {pos}")
        if wire == 0:
            value, pos = read_varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            n, pos = read_varint(buf, pos)
            if n > end - pos:
                raise WireError(f"protobuf: field {number} length {n} runs past the end ({end - pos} left)")
            yield number, wire, buf[pos:pos + n]
            pos += n
        elif wire == 1:
            if end - pos < 8:
                raise WireError(f"protobuf: truncated fixed64 field {number}")
            yield number, wire, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 5:
            if end - pos < 4:
                raise WireError(f"protobuf: truncated fixed32 field {number}")
            yield number, wire, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"protobuf: unsupported wire type {wire} (field {number})")
