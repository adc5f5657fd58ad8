"""Type stub of the compiled table-driven protobuf extraction (see pbextract.pxd)."""
from typing import Any

PK_VARINT: int
PK_SINT: int
PK_FIXED64: int
PK_FIXED32: int
PK_STR: int
PK_DEC: int
PK_DEC_PRICE: int
PK_DEC_SIZE: int
PK_DEC_INT: int
PK_MESSAGE: int
PK_EACH: int
PK_LEVELS: int
PK_ONEOF: int
PX_MAX_SEGMENTS: int
PX_ERR_NUMBER: int
PX_ERR_LEVELS: int
PX_ERR_ITEM: int
PX_ERR_SEGMENTS: int

class PbTable:
    """The fields one protobuf message is read with, and the slot each lands in."""

    name: str
    def __init__(self, name: str, fields: list[tuple[Any, ...]]) -> None: ...
    def scan(self, data: bytes, capacity: int = 1000) -> dict[Any, Any]: ...
