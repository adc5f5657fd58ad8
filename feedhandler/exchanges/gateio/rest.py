"""Gate.io spot REST: the order-book snapshot used to sync ``spot.order_book_update`` books."""
from __future__ import annotations

from typing import Any

import numpy as np

from feedhandler.core.errors import RestError
from feedhandler.rest import RateLimit, RestClient

from .constants import REST_ORDER_BOOK_LIMIT, REST_ORDER_BOOK_PATH, REST_URL


def _levels(raw: Any, name: str) -> np.ndarray:
    if not isinstance(raw, list):
        raise RestError(f"gateio order_book: '{name}' is not a list")
    out = np.empty((len(raw), 2), dtype=np.float64)
    for i, level in enumerate(raw):
        if not isinstance(level, (list, tuple)) or len(level) < 2:
            raise RestError(f"gateio order_book: '{name}'[{i}] is not a [price, amount] pair")
        try:
            out[i, 0] = float(level[0])  # exactly the float64 the stream decoder gives (parse_double == float)
            out[i, 1] = float(level[1])
        except (TypeError, ValueError):
            raise RestError(f"gateio order_book: '{name}'[{i}] holds a non-number") from None
    return out


class GateioSnapshotFetcher:
    """``await fetcher(pair) -> (id, bids, asks)`` from ``GET /api/v4/spot/order_book?with_id=true``.

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
    """

    def __init__(self, rest_url: str | None = None, limit: int = REST_ORDER_BOOK_LIMIT,
                 rate_limit: RateLimit | None = None, client: RestClient | None = None):
        self.limit = int(limit)
        self._client = client if client is not None else RestClient(rest_url or REST_URL, rate_limit=rate_limit)

    @property
    def client(self) -> RestClient:
        """The REST client (one aiohttp session)."""
        return self._client

    async def __call__(self, pair: str) -> tuple[int, np.ndarray, np.ndarray]:
        body = await self._client.get_json(
            REST_ORDER_BOOK_PATH, [("currency_pair", pair), ("limit", self.limit), ("with_id", True)])
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise RestError(f"gateio order_book {pair}: response has no integer 'id' (with_id=true)")
        return int(body["id"]), _levels(body.get("bids"), "bids"), _levels(body.get("asks"), "asks")

    async def close(self) -> None:
        """Close the REST session."""
        await self._client.close()
