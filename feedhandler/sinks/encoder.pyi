from typing import Any, Callable, Final, Iterable

from feedhandler.core.consumer import Consumer

CHANNEL_NAMES: tuple[str, ...]

def subject_token(name: str) -> str: ...

class EventSink(Consumer):
    def deliver(self, ev: Any) -> None: ...

class SinkTap(Consumer):
    sinks: Final[tuple[EventSink, ...]]
    handler: Final[Callable[[Any], Any] | None]
    def __init__(self, sinks: Iterable[EventSink] = ..., handler: Callable[[Any], Any] | None = ...) -> None: ...

class BusEncoder(EventSink):
    exchange: str
    prefix: str
    depth: int
    snapshot_interval_ns: int
    batch_bytes: int
    max_pending_batches: int
    session: int
    records: int
    batches: int
    snapshots: int
    dropped_records: int
    dropped_batches: int
    unsupported: int
    wake: Callable[[], Any] | None
    def __init__(self, exchange: str, *, prefix: str = ..., depth: int = ..., snapshot_interval: float = ...,
                 batch_bytes: int = ..., max_pending_batches: int = ..., session: int | None = ...) -> None: ...
    def take(self) -> list[tuple[str, bytes]]: ...
    def lose(self, batches: int, records_lost: int = ...) -> None: ...
    def reprime(self) -> None: ...
    def subjects(self) -> list[str]: ...
    pending_batches: Final[int]
    def stats(self) -> dict[str, int]: ...
