"""MEXC REST: the depth snapshot for book sync, and the signed listen-key calls.

Signing (apidocs "SIGNED"): ``signature = hex(HMAC-SHA256(secretKey, totalParams))`` in lowercase,
where ``totalParams`` is the query string followed directly by the request body (empty here);
``timestamp`` (ms) is mandatory; the key goes in the ``X-MEXC-APIKEY`` header. The key, the secret,
signatures and listen keys never appear in reprs, logs or exception messages (``RestClient`` redacts
every parameter and header value from its errors).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Callable
from urllib.parse import urlencode

import numpy as np

from feedhandler.core.errors import AuthenticationError, ConfigurationError, RestError
from feedhandler.rest import RateLimit, RestClient
from feedhandler.sync.snapshot import decode_depth_body, snapshot_body_limit

from . import constants as C

__all__ = ["MexcRestClient", "MexcSnapshotFetcher", "parse_depth_snapshot", "sign"]


def sign(secret_key: str, total_params: str) -> str:
    """The MEXC signature of ``total_params`` (query string + body): lowercase hex HMAC-SHA256."""
    return hmac.new(secret_key.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def parse_depth_snapshot(body: bytes | str | dict[str, Any],
                         max_levels: int = C.DEPTH_SNAPSHOT_LIMIT) -> tuple[int, np.ndarray, np.ndarray]:
    """``{"lastUpdateId":..,"bids":[[p,q],..],"asks":[..]}`` -> ``(last_update_id, bids, asks)``.

    Decoded in C (:class:`~feedhandler.sync.snapshot.DepthSnapshotDecoder`): the same float64 the stream
    decoder gives, no Python object per level, at most ``max_levels`` levels a side. A dict (an already
    decoded body) is re-encoded first.

    Raises
    ------
    RestError
        The body is not a depth snapshot.
    """
    return decode_depth_body("mexc", body, max_levels)


class MexcRestClient:
    """Public and signed MEXC REST calls over one :class:`RestClient`.

    Parameters
    ----------
    rest_url : str
        Base URL (``https://api.mexc.com`` or the simulator's).
    api_key, secret_key : str, optional
        Credentials for signed calls (hidden from ``repr``).
    rate_limit : RateLimit, optional
        Shared token bucket.
    recv_window_ms : int
        ``recvWindow`` sent with signed calls (0: not sent, the server default of 5000 ms applies).
    clock_ms : callable, optional
        Wall clock in ms (tests).
    """

    def __init__(self, rest_url: str = C.REST_URL, api_key: str | None = None, secret_key: str | None = None, *,
                 rate_limit: RateLimit | None = None, recv_window_ms: int = 0, timeout: float = 10.0,
                 retries: int = 2, clock_ms: Callable[[], int] | None = None):
        self._api_key = api_key
        self._secret = secret_key
        self.recv_window_ms = recv_window_ms
        self._clock = clock_ms or (lambda: time.time_ns() // 1_000_000)
        # Signed calls are not retried by the client: a timestamp must be fresh, the caller decides.
        # Public calls: the depth snapshot is the largest body (capped at what limit=5000 can need).
        self.rest = RestClient(rest_url, timeout=timeout, retries=retries, rate_limit=rate_limit,
                               backoff=(0.05, 1.0), max_body_bytes=snapshot_body_limit(C.DEPTH_SNAPSHOT_LIMIT))
        self._signed_rest = RestClient(rest_url, timeout=timeout, retries=0, rate_limit=rate_limit)

    def __repr__(self) -> str:
        return f"MexcRestClient({self.rest.base_url!r}, credentials={'set' if self._api_key else 'none'})"

    async def close(self) -> None:
        await self.rest.close()
        await self._signed_rest.close()

    # ---- public -------------------------------------------------------------------------------------
    async def depth(self, symbol: str, limit: int = C.DEPTH_SNAPSHOT_LIMIT) -> tuple[int, np.ndarray, np.ndarray]:
        """``GET /api/v3/depth``: ``(lastUpdateId, bids, asks)`` as float64 ``(n, 2)`` arrays."""
        body = await self.rest.get_bytes(C.DEPTH_PATH, {"symbol": symbol, "limit": limit})
        return parse_depth_snapshot(body, limit)

    # ---- signed -------------------------------------------------------------------------------------
    def signed_query(self, params: list[tuple[str, Any]] | None = None) -> str:
        """``params`` + ``timestamp`` (+ ``recvWindow``) as a query string ending in ``&signature=``."""
        if not self._api_key or not self._secret:
            raise ConfigurationError("mexc: signed calls need api_key and secret_key")
        items = list(params or [])
        if self.recv_window_ms:
            items.append(("recvWindow", self.recv_window_ms))
        items.append(("timestamp", self._clock()))
        query = urlencode([(k, str(v)) for k, v in items])
        return f"{query}&signature={sign(self._secret, query)}"

    async def signed(self, method: str, path: str, params: list[tuple[str, Any]] | None = None) -> Any:
        """A signed request; a 401/403 (or an auth error code) becomes :class:`AuthenticationError`."""
        query = self.signed_query(params)
        headers = {C.API_KEY_HEADER: self._api_key or "", "Content-Type": "application/json"}
        try:
            return await self._signed_rest.request_json(method, path, query, headers)
        except RestError as exc:
            if exc.status in (400, 401, 403):
                raise AuthenticationError(
                    f"mexc rejected the signed {method} {path} (HTTP {exc.status}); check the API key, secret, "
                    "permissions (SPOT_ACCOUNT_R) and the clock") from None
            raise

    async def create_listen_key(self) -> str:
        """``POST /api/v3/userDataStream`` -> a new listen key (valid 60 minutes)."""
        body = await self.signed("POST", C.USER_DATA_STREAM_PATH)
        key = body.get("listenKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            raise RestError("mexc: userDataStream answer has no listenKey")
        return key

    async def keep_alive_listen_key(self, listen_key: str) -> None:
        """``PUT /api/v3/userDataStream``: extend the key to 60 minutes from now."""
        await self.signed("PUT", C.USER_DATA_STREAM_PATH, [("listenKey", listen_key)])

    async def delete_listen_key(self, listen_key: str) -> None:
        """``DELETE /api/v3/userDataStream``: invalidate the key."""
        await self.signed("DELETE", C.USER_DATA_STREAM_PATH, [("listenKey", listen_key)])


class MexcSnapshotFetcher:
    """``async fetch(symbol) -> (lastUpdateId, bids, asks)`` for :class:`SnapshotService`."""

    def __init__(self, client: MexcRestClient, limit: int = C.DEPTH_SNAPSHOT_LIMIT):
        self.client = client
        self.limit = limit

    async def __call__(self, symbol: str) -> tuple[int, np.ndarray, np.ndarray]:
        return await self.client.depth(symbol, self.limit)
