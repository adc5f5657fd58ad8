"""Book synchronisation: per-symbol state machines and the snapshot service."""
from .book_sync import BookIntegrity, BookSync, BookSyncGroup, CallbackIntegrity, DeltaVerdict, LinkMode, SequenceRule, SyncState

WAITING, LIVE, SYNCING, CLOSED = SyncState.WAITING, SyncState.LIVE, SyncState.SYNCING, SyncState.CLOSED
LINK_CONTIGUOUS, LINK_PREVIOUS = LinkMode.LINK_CONTIGUOUS, LinkMode.LINK_PREVIOUS
DELTA_APPLY, DELTA_SKIP, DELTA_GAP = DeltaVerdict.DELTA_APPLY, DeltaVerdict.DELTA_SKIP, DeltaVerdict.DELTA_GAP

__all__ = [
    "BookIntegrity", "BookSync", "BookSyncGroup", "CallbackIntegrity", "DeltaVerdict", "LinkMode", "SequenceRule",
    "SyncState", "CLOSED", "DELTA_APPLY", "DELTA_GAP", "DELTA_SKIP", "LINK_CONTIGUOUS", "LINK_PREVIOUS", "LIVE",
    "SYNCING", "WAITING",
]
