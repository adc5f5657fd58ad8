"""Gate.io spot REST: the order-book snapshot used to sync ``spot.order_book_update`` books."""
from __future__ import annotations

import numpy as np

from feedhandler.rest import RateLimit, RestClient
from feedhandler.sync.snapshot import DepthSnapshotDecoder, snapshot_body_limit

from .constants import REST_ORDER_BOOK_LIMIT, REST_ORDER_BOOK_PATH, REST_URL


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
        # Bounded: the body is capped while read and at most `limit` levels a side are decoded (in C).
        self._client = client if client is not None else RestClient(
            rest_url or REST_URL, rate_limit=rate_limit, max_body_bytes=snapshot_body_limit(self.limit))
        self._decoder = DepthSnapshotDecoder("gateio order_book", self.limit, update_id="id")

    @property
    def client(self) -> RestClient:
        """The REST client (one aiohttp session)."""
        return self._client

    async def __call__(self, pair: str) -> tuple[int, np.ndarray, np.ndarray]:
        body = await self._client.get_bytes(
            REST_ORDER_BOOK_PATH, [("currency_pair", pair), ("limit", self.limit), ("with_id", True)])
        return self._decoder.decode(body)  # RestError naming the field when it is not a with_id snapshot

    @property
    def truncated(self) -> int:
        """Levels beyond ``limit`` dropped from the last snapshot (0 when the exchange behaved)."""
        return self._decoder.truncated

    async def close(self) -> None:
        """Close the REST session."""
        await self._client.close()
