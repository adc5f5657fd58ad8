"""Pieces every simulated wire protocol uses: JSON frames and REST replies, the depth ``limit`` query,
and the running candles (and rolling tickers) that protocols build from the model's trades.

Plain Python (the simulator is not the hot path). Each protocol keeps its own wire shapes; what is here is
only what they compute the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Generic, Hashable, TypeVar

import msgspec
from aiohttp import web

if TYPE_CHECKING:
    from feedhandler.sim.protocol import ExchangeContext, SimConnection

__all__ = ["Candle", "Candles", "depth_reply", "json_decoder", "json_response", "json_text",
           "query_limit", "url_listen_key"]

_encoder = msgspec.json.Encoder()
json_decoder = msgspec.json.Decoder()
"""A shared ``msgspec`` JSON decoder for client messages (raises ``msgspec.DecodeError``)."""

K = TypeVar("K", bound=Hashable)


def json_text(obj: Any) -> str:
    """``obj`` as compact JSON text (a text frame)."""
    return _encoder.encode(obj).decode()


def json_response(body: Any) -> web.Response:
    """A 200 REST reply with ``body`` encoded as compact JSON."""
    return web.Response(body=_encoder.encode(body), content_type="application/json")


def query_limit(request: web.Request, default: int, maximum: int) -> tuple[int | None, str]:
    """The ``limit`` query parameter of a depth request: ``(limit, raw text)``.

    ``limit`` is None when the text is not an integer in ``1..maximum`` (the caller answers with its
    exchange's error); an absent parameter means ``default``.
    """
    raw = request.query.get("limit", str(default))
    try:
        limit = int(raw)
    except ValueError:
        return None, raw
    return (limit if 1 <= limit <= maximum else None), raw


async def depth_reply(ctx: ExchangeContext, request: web.Request, default: int, maximum: int, *,
                      unknown_symbol: Callable[[str], dict[str, Any]], bad_limit: Callable[[str], dict[str, Any]],
                      extra: Callable[[], dict[str, Any]] | None = None) -> web.Response:
    """The usual REST depth endpoint: ``?symbol=S&limit=N`` -> ``{"lastUpdateId", "bids", "asks"}``.

    ``unknown_symbol(symbol)`` and ``bad_limit(raw limit text)`` give the exchange's error bodies (sent with
    status 400); ``extra()`` adds members to the reply (a server timestamp).
    """
    symbol = request.query.get("symbol", "")
    if symbol not in ctx.model.symbols:
        return web.json_response(unknown_symbol(symbol), status=400)
    limit, raw = query_limit(request, default, maximum)
    if limit is None:
        return web.json_response(bad_limit(raw), status=400)
    snapshot = await ctx.depth_snapshot(symbol, limit)
    body = {"lastUpdateId": snapshot.last_update_id, "bids": snapshot.bids, "asks": snapshot.asks}
    if extra is not None:
        body.update(extra())
    return json_response(body)


def url_listen_key(ctx: ExchangeContext, conn: SimConnection, issued: set[str]) -> bool | None:
    """Check the ``listenKey`` of a WebSocket URL: None if the URL has none; True if it is one of ``issued``
    and the exchange's auth check passes (``conn`` is then authenticated); else False."""
    key = conn.query.get("listenKey")
    if key is None:
        return None
    if ctx.check_auth(key in issued):
        conn.authenticated = True
        return True
    return False


@dataclass(slots=True)
class Candle:
    """One window of trades: open/high/low/close, base volume and quote amount."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    amount: Decimal


class Candles(Generic[K]):
    """Running candles per key (a stream): a trade in a new window opens a new candle.

    Left at one window (``start`` always 0) a candle is a rolling ticker: open is the first price seen,
    close the last one.
    """

    def __init__(self) -> None:
        self._candles: dict[K, Candle] = {}

    def update(self, key: K, price: str, qty: str, start: int = 0) -> Candle:
        """Add a trade of ``qty`` at ``price`` to the candle of ``key`` whose window starts at ``start``."""
        p, q = Decimal(price), Decimal(qty)
        c = self._candles.get(key)
        if c is None or c.start != start:
            c = self._candles[key] = Candle(start, p, p, p, p, Decimal(0), Decimal(0))
        c.high = max(c.high, p)
        c.low = min(c.low, p)
        c.close = p
        c.volume += q
        c.amount += p * q
        return c
