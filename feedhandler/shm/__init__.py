"""Same host, no broker: shared-memory top-N books per symbol and per-worker event rings."""
from .table import RING_KINDS, ShmReader, ShmTable, ShmWriter, ShmWriterSink, shm_dir

__all__ = ["RING_KINDS", "ShmReader", "ShmTable", "ShmWriter", "ShmWriterSink", "shm_dir"]
