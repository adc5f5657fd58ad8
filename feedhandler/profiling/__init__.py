"""Latency measurement: the allocation-free histogram used by ``feedhandler profile`` and the demo."""
from .histogram import LatencyHistogram

__all__ = ["LatencyHistogram"]
