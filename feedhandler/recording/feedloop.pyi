"""Stub of the replay's compiled hot loop (see feedloop.pyx)."""
from typing import Any, Callable, Iterator

def feed_frames(it: Iterator[Any], feed: Callable[[Any, int], Any], connection_id: int, frames: int,
                progress: Callable[[int], None] | None) -> tuple[int, int, int, Any]: ...
