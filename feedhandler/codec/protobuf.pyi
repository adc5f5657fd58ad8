"""Protobuf wire reader (Python-visible part; the C API is in ``protobuf.pxd``)."""
from collections.abc import Iterable, Sequence
from typing import Final

PB_OK: Final[int]
PB_TRUNCATED: Final[int]
PB_VARINT_TOO_LONG: Final[int]
PB_BAD_WIRE_TYPE: Final[int]
PB_BAD_LENGTH: Final[int]
PB_BAD_TAG: Final[int]
MAX_DEPTH: Final[int]

_Buffer = bytes | bytearray | memoryview

class ProtobufDecodeError(ValueError):
    """Malformed protobuf wire data; ``code`` is a ``PB_*`` code, ``offset`` the byte offset."""

    code: int
    offset: int
    field: int
    def __init__(self, message: str, code: int, offset: int, field: int = 0) -> None: ...

def decode_fields(data: _Buffer) -> list[tuple[int, int, int | bytes]]:
    """Decode one message level into ``(field, wire_type, value)`` tuples, in wire order."""

def decode_packed(data: _Buffer, wire_type: int) -> list[int]:
    """Decode a packed repeated payload (element wire type 0, 1 or 5) into wire values."""

def walk_fields(data: _Buffer, nested: Sequence[Iterable[int]] = ()) -> tuple[int, int]:
    """Walk a message with the C reader: ``(fields seen, bytes of unwalked payloads)``."""
