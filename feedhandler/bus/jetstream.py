"""The JetStream stream the bus uses, created (or updated) identically by publishers and followers."""
from __future__ import annotations

from typing import Any


async def ensure_stream(nc: Any, name: str, prefix: str, max_age: float = 10.0) -> None:
    """Create stream ``name`` on ``<prefix>.>`` in memory, keeping ``max_age`` seconds (update if it exists).

    Memory storage: the bus carries market data that is stale within seconds, and a restarted server
    starts empty, which the sequence numbers and the periodic snapshots already handle.
    """
    from nats.js.api import DiscardPolicy, StorageType, StreamConfig

    js = nc.jetstream()
    config = StreamConfig(name=name, subjects=[f"{prefix}.>"], storage=StorageType.MEMORY, max_age=max_age,
                          discard=DiscardPolicy.OLD)
    try:
        await js.add_stream(config)
    except Exception:
        await js.update_stream(config)
