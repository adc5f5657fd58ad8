"""Sharded multi-process runs (``feedhandler run --config FILE --workers N``)."""
from .config import FeedConfig, NatsConfig, RunConfig, Shard, ShmConfig, load_config, parse_config, shard
from .supervisor import Supervisor, worker_main

__all__ = ["FeedConfig", "NatsConfig", "RunConfig", "Shard", "ShmConfig", "Supervisor", "load_config",
           "parse_config", "shard", "worker_main"]
