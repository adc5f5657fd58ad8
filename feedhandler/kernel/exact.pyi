"""Type stub of the compiled view of the exact-layout tokens (see exact.pxd)."""
from typing import Any

def match(data: bytes, steps: list[tuple[Any, ...]], capacity: int = 64) -> list[Any] | None: ...
