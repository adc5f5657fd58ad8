import enum
from typing import Any, Callable, Final, Iterable, Sequence

from feedhandler.book.orderbook import OrderBook
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.events.events import EventPool
from feedhandler.kernel.symbols import SymbolTable

Levels = Sequence[Sequence[float]] | Any  # (n, 2) price/qty pairs or array

class SyncState(enum.IntEnum):
    WAITING = 0
    LIVE = 1
    SYNCING = 2
    CLOSED = 3

class LinkMode(enum.IntEnum):
    LINK_CONTIGUOUS = 0
    LINK_PREVIOUS = 1

class DeltaVerdict(enum.IntEnum):
    DELTA_APPLY = 0
    DELTA_SKIP = 1
    DELTA_GAP = 2

class BookIntegrity:
    name: str
    def __init__(self, name: str = ...) -> None: ...
    def check(self, sync: BookSync, expected: int) -> bool: ...

class CallbackIntegrity(BookIntegrity):
    def __init__(self, name: str, check: Callable[[OrderBook, int], bool]) -> None: ...

class SequenceRule:
    name: str
    link: int
    bracket_offset: int
    def __init__(self, name: str, link: int = ..., bracket_offset: int = ...) -> None: ...
    def check_first(self, snapshot_id: int, first: int, last: int, prev: int = ...) -> DeltaVerdict: ...
    def check_next(self, local_id: int, first: int, last: int, prev: int = ...) -> DeltaVerdict: ...

class BookSync:
    exchange: str
    symbol: str
    book: OrderBook
    rule: SequenceRule
    state: int
    snapshot_requested: bool
    invalid_reason: str | None
    applied: int
    skipped: int
    gaps: int
    resyncs: int
    crossed: int
    buffer_overflows: int
    stale_snapshots: int
    snapshots_loaded: int
    discard_resyncs: int
    snapshots_ahead: int
    rejected_resyncs: int
    ignored: int
    stale_reports: int
    last_update_ns: int
    final_error: str | None
    max_discarded: int
    max_discard_ns: int
    buffer_levels: int
    buffer_deltas: int
    buffered_count: int
    profiling: bool
    integrity: BookIntegrity | None
    integrity_checks: int
    integrity_failures: int
    def __init__(self, exchange: str, symbol: str, book: OrderBook, rule: SequenceRule,
                 dispatcher: EventDispatcher | None = ..., request_snapshot: Callable[[BookSync], Any] | None = ...,
                 buffer_levels: int = ..., buffer_deltas: int = ..., updates: EventPool | None = ...,
                 statuses: EventPool | None = ...) -> None: ...
    def load_snapshot(self, update_id: int, bids: Levels, asks: Levels, recv_ns: int = ...) -> bool: ...
    def apply_delta(self, first: int, last: int, bids: Levels, asks: Levels, prev: int = ...,
                    exchange_ts_ns: int = ..., recv_ns: int = ...) -> None: ...
    def apply_full_snapshot(self, update_id: int, bids: Levels, asks: Levels, exchange_ts_ns: int = ...,
                            recv_ns: int = ...) -> None: ...
    def expect_integrity(self, value: int) -> None: ...
    def invalidate(self, reason: str, request: bool = ...) -> None: ...
    def snapshot_failed(self) -> None: ...
    def snapshot_refused(self, error: str) -> None: ...
    def close(self, reason: str = ...) -> None: ...
    def note_rejected(self, now_ns: int = ...) -> None: ...
    def set_discard_bounds(self, frames: int, seconds: float) -> None: ...
    def check_stale(self, stale_ns: int, now_ns: int = ...) -> bool: ...
    is_valid: Final[bool]
    def stats(self) -> dict[str, Any]: ...

class BookSyncGroup:
    exchange: str
    rule: SequenceRule
    depth: int
    profiling: bool
    request_snapshot: Callable[[BookSync], Any] | None
    integrity: BookIntegrity | None
    report_error: Callable[[BaseException], Any] | None
    REPORTED_NAMES: int
    reported_names: int
    unknown_frames: int
    late_frames: int
    key_separator: str | None
    def __init__(self, exchange: str, rule: SequenceRule, dispatcher: EventDispatcher | None = ...,
                 depth: int = ..., request_snapshot: Callable[[BookSync], Any] | None = ...,
                 buffer_levels: int = ..., buffer_deltas: int = ...,
                 integrity: BookIntegrity | None = ..., symbol_table: SymbolTable | None = ...,
                 key_separator: str | None = ...) -> None: ...
    def set_depth(self, depth: int) -> None: ...
    def set_profiling(self, enabled: bool) -> None: ...
    def get(self, symbol: str) -> BookSync: ...
    def lookup_bytes(self, name: bytes) -> BookSync: ...
    def forget(self, symbols: Iterable[str]) -> None: ...
    def subscribe(self, symbols: Iterable[str]) -> None: ...
    def close(self, symbols: Iterable[str], reason: str = ...) -> list[BookSync]: ...
    subscribed: Final[frozenset[str] | None]
    def set_discard_bounds(self, frames: int, seconds: float) -> None: ...
    def note_rejected(self, symbols: Iterable[str], now_ns: int = ...) -> None: ...
    def check_stale(self, symbols: Iterable[str], seconds: float, now_ns: int = ...) -> list[str]: ...
    def stats(self) -> dict[str, int]: ...
    def invalidate_all(self, symbols: Iterable[str], reason: str) -> None: ...
    def __contains__(self, symbol: object) -> bool: ...
    def __getitem__(self, symbol: str) -> BookSync: ...
    def __len__(self) -> int: ...
    def symbols(self) -> list[str]: ...
    def books(self) -> dict[str, OrderBook]: ...
