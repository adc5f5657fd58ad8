"""Stub of the compiled export handler (see columns.pyx)."""
from typing import Any, Callable, Final

import numpy as np

from feedhandler.core.consumer import Consumer

TABLES: Final[tuple[str, ...]]

class EventColumns(Consumer):
    """Handler buffering events into preallocated numpy columns; ``sink(table, columns, n)`` takes full tables."""

    sink: Callable[[str, dict[str, np.ndarray], int], Any]
    capacity: Final[int]
    depth: Final[int]
    snapshot_interval_ns: Final[int]
    symbols: Final[list[str]]
    reasons: Final[list[str]]
    columns: Final[dict[str, dict[str, np.ndarray]]]
    others: Final[int]
    def __init__(self, sink: Callable[[str, dict[str, np.ndarray], int], Any], capacity: int = 65536,
                 depth: int = 10, snapshot_interval_ns: int = 1_000_000_000) -> None: ...
    def __call__(self, ev: Any) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def flush(self) -> None: ...
