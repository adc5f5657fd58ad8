"""Binance REST depth snapshots (``GET /api/v3/depth``) for the book sync service."""
from __future__ import annotations

from typing import Any

import numpy as np

from feedhandler.rest import RateLimit, RestClient
from feedhandler.sync.snapshot import DepthSnapshotDecoder, decode_depth_body, snapshot_body_limit

from . import constants as C

__all__ = ["BinanceSnapshotFetcher", "parse_depth_snapshot"]


def parse_depth_snapshot(body: bytes | str | dict[str, Any],
                         max_levels: int = C.MAX_SNAPSHOT_LIMIT) -> tuple[int, np.ndarray, np.ndarray]:
    """``(lastUpdateId, bids, asks)`` from a depth snapshot body; levels as ``(n, 2)`` float64 arrays.

    Decoded in C (:class:`~feedhandler.sync.snapshot.DepthSnapshotDecoder`): prices and quantities are
    bit-identical to ``float()`` of their text, no Python object per level, at most ``max_levels`` levels a
    side kept (the rest counted and dropped, see the decoder's rules). A dict (an already decoded body) is
    re-encoded first.

    Raises
    ------
    RestError
        The body is not a depth snapshot (missing fields, wrong types, unparsable or invalid numbers).
    """
    return decode_depth_body("binance", body, max_levels)


class BinanceSnapshotFetcher:
    """``async fetch(symbol) -> (lastUpdateId, bids, asks)`` over one shared :class:`RestClient`.

    Parameters
    ----------
    rest_url:
        Base URL (``https://api.binance.com`` or the simulator's).
    limit:
        Levels per side (1..5000); the request weight follows it.
    path:
        ``/api/v3/depth`` (spot) or ``/fapi/v1/depth`` (USD-M).
    rate_limit:
        Shared request-weight bucket (default: 6000 weight per minute, Binance's spot IP limit).
    """

    def __init__(self, rest_url: str = C.REST_URL, limit: int = C.DEFAULT_SNAPSHOT_LIMIT,
                 path: str = C.DEPTH_PATH, rate_limit: RateLimit | None = None, client: RestClient | None = None):
        if not 1 <= int(limit) <= C.MAX_SNAPSHOT_LIMIT:
            raise ValueError(f"snapshot limit must be in 1..{C.MAX_SNAPSHOT_LIMIT}, got {limit}")
        self.limit = int(limit)
        self.path = path
        self.weight = C.depth_weight(self.limit)
        # Bounded: a body larger than `limit` levels a side can need is refused while it is read, and at
        # most `limit` levels a side are decoded (issue 18.9: 1.66 M levels sent for limit=1000).
        self._client = client or RestClient(rest_url, rate_limit=rate_limit or RateLimit(100.0, 6000),
                                            max_body_bytes=snapshot_body_limit(self.limit))
        self._decoder = DepthSnapshotDecoder("binance", self.limit)

    @property
    def truncated(self) -> int:
        """Levels beyond ``limit`` dropped from the last snapshot (0 when the exchange behaved)."""
        return self._decoder.truncated

    async def __call__(self, symbol: str) -> tuple[int, np.ndarray, np.ndarray]:
        body = await self._client.get_bytes(self.path, {"symbol": symbol, "limit": self.limit}, weight=self.weight)
        return self._decoder.decode(body)

    async def close(self) -> None:
        """Close the REST session."""
        await self._client.close()
