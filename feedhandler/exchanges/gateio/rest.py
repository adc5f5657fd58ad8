"""Gate.io REST: the order-book snapshots used to sync ``spot.order_book_update`` and
``futures.order_book_update`` books."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from feedhandler.core.errors import RestError
from feedhandler.rest import RateLimit, RestClient
from feedhandler.sync.snapshot import DepthSnapshotDecoder, snapshot_body_limit

from .constants import FUTURES_REST_ORDER_BOOK_PATH, MARKETS, REST_ORDER_BOOK_LIMIT, REST_ORDER_BOOK_PATH, REST_URL

__all__ = ["GateioSnapshotFetcher", "decode_futures_order_book"]


def _futures_side(raw: Any, side: str, limit: int) -> tuple[np.ndarray, int]:
    if not isinstance(raw, list):
        raise RestError(f"gateio futures order_book: {side!r} must be an array of {{'p', 's'}} levels")
    out = np.empty((min(len(raw), limit), 2), dtype=np.float64)
    for i, level in enumerate(raw[:limit]):
        try:
            px, qty = float(level["p"]), float(level["s"])
        except (TypeError, KeyError, ValueError):
            raise RestError(f"gateio futures order_book: {side}[{i}] is not {{'p': price, 's': size}}") from None
        if not (math.isfinite(px) and px > 0 and math.isfinite(qty) and qty >= 0):
            raise RestError(f"gateio futures order_book: {side}[{i}] has a price <= 0 or a negative size")
        out[i] = px, qty
    return out, max(len(raw) - limit, 0)


def decode_futures_order_book(body: bytes | str, limit: int = REST_ORDER_BOOK_LIMIT) -> tuple[int, np.ndarray,
                                                                                              np.ndarray, int]:
    """``(id, bids, asks, truncated)`` of a ``GET /futures/usdt/order_book?with_id=true`` body.

    Levels are ``{"p": "0.2974", "s": 803}`` (size in contracts), best first; at most ``limit`` a side are kept
    (``truncated`` counts the others). Prices and sizes go through ``float()``, bit for bit what the stream
    decoder gives. Raises :class:`RestError` naming the field when the body is not such a snapshot.
    """
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise RestError(f"gateio futures order_book: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RestError("gateio futures order_book: not a JSON object")
    uid = doc.get("id")
    if isinstance(uid, bool) or not isinstance(uid, int):
        raise RestError("gateio futures order_book: no integer 'id' (was with_id=true sent?)")
    bids, cut_b = _futures_side(doc.get("bids"), "bids", limit)
    asks, cut_a = _futures_side(doc.get("asks"), "asks", limit)
    return uid, bids, asks, cut_b + cut_a


class GateioSnapshotFetcher:
    """``await fetcher(pair) -> (id, bids, asks)`` from ``GET /api/v4/spot/order_book?with_id=true``
    (``market="usdt"``: ``GET /api/v4/futures/usdt/order_book?contract=..&with_id=true``).

    Parameters
    ----------
    rest_url:
        Base URL (``https://api.gateio.ws``, or the simulator's).
    limit:
        Levels per side (100 matches the 100-level stream).
    rate_limit:
        Optional ``RateLimit`` shared by the calls.
    client:
        An existing ``RestClient`` to use instead of creating one.
    market:
        ``"spot"`` or ``"usdt"`` (USDT futures: the same host, the futures path, sizes in contracts).
    """

    def __init__(self, rest_url: str | None = None, limit: int = REST_ORDER_BOOK_LIMIT,
                 rate_limit: RateLimit | None = None, client: RestClient | None = None, market: str = "spot"):
        if market not in MARKETS:
            raise ValueError(f"gateio market must be one of {MARKETS}, not {market!r}")
        self.market = market
        self.limit = int(limit)
        self._truncated = 0
        # Bounded: the body is capped while read and at most `limit` levels a side are decoded (in C).
        self._client = client if client is not None else RestClient(
            rest_url or REST_URL, rate_limit=rate_limit, max_body_bytes=snapshot_body_limit(self.limit))
        self._decoder = DepthSnapshotDecoder("gateio order_book", self.limit, update_id="id")

    @property
    def client(self) -> RestClient:
        """The REST client (one aiohttp session)."""
        return self._client

    async def __call__(self, pair: str) -> tuple[int, np.ndarray, np.ndarray]:
        if self.market == "usdt":
            body = await self._client.get_bytes(
                FUTURES_REST_ORDER_BOOK_PATH, [("contract", pair), ("limit", self.limit), ("with_id", True)])
            uid, bids, asks, self._truncated = decode_futures_order_book(body, self.limit)
            return uid, bids, asks
        body = await self._client.get_bytes(
            REST_ORDER_BOOK_PATH, [("currency_pair", pair), ("limit", self.limit), ("with_id", True)])
        return self._decoder.decode(body)  # RestError naming the field when it is not a with_id snapshot

    @property
    def truncated(self) -> int:
        """Levels beyond ``limit`` dropped from the last snapshot (0 when the exchange behaved)."""
        return self._truncated if self.market == "usdt" else self._decoder.truncated

    async def close(self) -> None:
        """Close the REST session."""
        await self._client.close()
