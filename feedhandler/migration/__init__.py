"""Migration support: the feature flag factory (per exchange) and the parallel run of two implementations."""
from .flags import FLAG, create_websocket_client, register_legacy_client, use_new_architecture
from .parallel import (
    Divergence, EventComparator, ParallelParser, compare_recording, describe_frame, load_snapshot,
    prepare_for_replay,
)

__all__ = [
    "FLAG", "Divergence", "EventComparator", "ParallelParser", "compare_recording", "create_websocket_client",
    "describe_frame", "load_snapshot", "prepare_for_replay", "register_legacy_client", "use_new_architecture",
]
