"""Exact decimal number parsing (compiled; C API in numbers.pxd)."""

def error_message(code: int) -> str:
    """Describe a ``NUM_*`` return code of the C-level parsers."""

def parse_float(data: bytes) -> float:
    """Parse ``[+-]?(digits[.digits?]|.digits)([eE][+-]?digits)?`` exactly as ``float()``.

    Raises ValueError naming the text and the reason for anything else.
    """

def parse_int(data: bytes, signed: bool = True) -> int:
    """Parse ``[+-]?digits`` into the int64 (``signed``) or uint64 range.

    Raises ValueError naming the text and the reason (syntax, out of range).
    """

def parse_many(items: list[bytes]) -> float:
    """Sum of ``parse_float`` over ``items`` in one C loop (benchmark helper)."""

def parse_iso8601(text: str | bytes) -> int:
    """Nanoseconds since the epoch of an ISO-8601 UTC instant; ValueError if not one."""
