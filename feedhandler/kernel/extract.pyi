"""Type stub of the compiled table-driven extraction (see extract.pxd)."""
from typing import Any

KT_SPAN: int
KT_STR: int
KT_INT64: int
KT_DOUBLE: int
KT_PRICE: int
KT_SIZE: int
KT_BOOL: int
KT_TIME_ISO: int
KT_OBJECT: int
KT_LEVELS: int
KT_EACH: int
KT_SELECT: int
KT_INT64_MS: int
KT_INT64_S: int
KF_REQUIRED: int
KF_NULLABLE: int
KF_KEEP_TEXT: int
KF_EMPTY_NULL: int
KT_MAX_SLOTS: int
KT_MAX_LEVEL_SLOTS: int
KT_ERR_MISSING: int
KT_ERR_NUMBER: int
KT_ERR_TIME: int
KT_ERR_ITEM: int
KT_ERR_SELECT: int

def kt_reason(code: int) -> str: ...

class FieldTable:
    """The keys one JSON object is read with, and the slot each lands in."""

    name: str
    def __init__(self, name: str, fields: list[tuple[Any, ...]]) -> None: ...
    def scan(self, data: bytes, capacity: int = 1000) -> dict[Any, Any]: ...
