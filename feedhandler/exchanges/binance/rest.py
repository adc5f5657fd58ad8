"""Binance REST depth snapshots (``GET /api/v3/depth``) for the book sync service."""
from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from feedhandler.core.errors import RestError
from feedhandler.rest import RateLimit, RestClient

from . import constants as C

__all__ = ["BinanceSnapshotFetcher", "parse_depth_snapshot"]


class _Depth(msgspec.Struct):
    lastUpdateId: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


_decoder = msgspec.json.Decoder(_Depth)


def parse_depth_snapshot(body: bytes | str | dict[str, Any]) -> tuple[int, np.ndarray, np.ndarray]:
    """``(lastUpdateId, bids, asks)`` from a depth snapshot body; levels as ``(n, 2)`` float64 arrays.

    Prices and quantities are parsed with ``float()`` (bit-identical to the stream decoder's parser).

    Raises
    ------
    RestError
        The body is not a depth snapshot (missing fields, wrong types, unparsable numbers).
    """
    try:
        if isinstance(body, dict):
            snap = msgspec.convert(body, _Depth)
        else:
            snap = _decoder.decode(body)
        bids = np.array([(float(p), float(q)) for p, q in snap.bids], dtype=np.float64).reshape(-1, 2)
        asks = np.array([(float(p), float(q)) for p, q in snap.asks], dtype=np.float64).reshape(-1, 2)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
        raise RestError(f"binance: invalid depth snapshot: {exc}") from None
    return snap.lastUpdateId, bids, asks


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
        self._client = client or RestClient(rest_url, rate_limit=rate_limit or RateLimit(100.0, 6000))

    async def __call__(self, symbol: str) -> tuple[int, np.ndarray, np.ndarray]:
        body = await self._client.get_json(self.path, {"symbol": symbol, "limit": self.limit}, weight=self.weight)
        if not isinstance(body, dict):
            raise RestError(f"binance: depth snapshot of {symbol} is not a JSON object")
        return parse_depth_snapshot(body)

    async def close(self) -> None:
        """Close the REST session."""
        await self._client.close()
