"""Strict, allocation-free JSON scanning kernel (compiled; C API in json_scan.pxd)."""

import enum

import numpy as np
import numpy.typing as npt

class JsonKind(enum.IntEnum):
    JSON_ERROR = 0
    JSON_STRING = 1
    JSON_NUMBER = 2
    JSON_OBJECT = 3
    JSON_ARRAY = 4
    JSON_TRUE = 5
    JSON_FALSE = 6
    JSON_NULL = 7

JSON_OK: int
JSON_ERR_EOF: int
JSON_ERR_SYNTAX: int
JSON_ERR_STRING: int
JSON_ERR_NUMBER: int
JSON_ERR_LITERAL: int
JSON_ERR_DEPTH: int
JSON_ERR_TRAILING: int
JSON_ERR_TYPE: int
JSON_ERR_VALUE: int
JSON_ERR_RANGE: int
JSON_TOO_MANY: int
JSON_ERR_LEVEL: int
JSON_ERR_STATE: int
JSON_MAX_DEPTH: int

class JsonScanError(ValueError):
    """Invalid JSON or an unexpected value; ``code`` is the kernel code, ``pos`` the byte offset or -1."""

    code: int
    pos: int
    def __init__(self, code: int, pos: int, context: str = "") -> None: ...

def json_error_message(code: int) -> str:
    """Describe a ``JSON_ERR_*`` / ``JSON_TOO_MANY`` code."""

def validate(data: bytes) -> None:
    """Raise JsonScanError unless ``data`` is exactly one valid JSON document."""

def object_items(data: bytes) -> list[tuple[bytes, JsonKind, bytes]]:
    """``(key, kind, raw)`` per member of a JSON object document (escapes left raw)."""

def array_items(data: bytes) -> list[tuple[JsonKind, bytes]]:
    """``(kind, raw)`` per item of a JSON array document."""

def scan_levels(
    data: bytes, key: bytes, capacity: int = -1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Prices and quantities of the levels under top-level member ``key`` (last duplicate wins).

    Raises KeyError if ``key`` is missing, JsonScanError for invalid input or
    more than ``capacity`` levels (``JSON_TOO_MANY``).
    """

def value_to_float(data: bytes) -> float:
    """One JSON number or number-in-string document as ``float()`` of its text."""

def value_to_int(data: bytes) -> int:
    """One JSON integer or int-in-string document, within int64."""
