"""``binance``: Binance spot JSON streams in the simulator (protocols.md section 3).

WebSocket paths:

- ``/stream?streams=a/b`` and ``/stream`` (combined: every event wrapped as ``{"stream":..,"data":..}``);
- ``/ws/<stream>[/<stream>...]`` and ``/ws`` (raw payloads).

Client messages: ``{"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[...],"id":N}`` -> ``{"result":null,"id":N}``;
``LIST_SUBSCRIPTIONS`` -> ``{"result":[...],"id":N}``; a bad request -> ``{"error":{"code":2,"msg":..},"id":N}``;
invalid JSON -> ``{"error":{"code":3,"msg":..},"id":null}``. At most 1024 streams per connection.

Streams: ``<sym>@depth[@100ms|@1000ms]`` (depthUpdate), ``<sym>@depth<5|10|20>[@100ms]`` (partial depth),
``<sym>@trade``, ``<sym>@aggTrade``, ``<sym>@bookTicker``. Symbols are lowercase in stream names.

REST: ``GET /api/v3/depth?symbol=BTCUSDT&limit=N`` (1..5000, default 100) ->
``{"lastUpdateId":..,"bids":[["p","q"],...],"asks":[...]}``.
"""
from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from aiohttp import web

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol

__all__ = ["BinanceSimProtocol"]

MAX_STREAMS = 1024
DEFAULT_DEPTH_LIMIT = 100
MAX_DEPTH_LIMIT = 5000

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def _dumps(obj: Any) -> str:
    return _encoder.encode(obj).decode()


@register_protocol
class BinanceSimProtocol(SimProtocol):
    """Binance spot streams and the REST depth snapshot, as described in the module docstring."""

    name: ClassVar[str] = "binance"
    ws_paths: ClassVar[tuple[str, ...]] = ("/stream", "/ws")
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER, Channel.PARTIAL_DEPTH}
    )
    max_subscriptions: ClassVar[int] = MAX_STREAMS

    def accepts_path(self, path: str) -> bool:
        return path in self.ws_paths or path.startswith("/ws/")

    # -- connection and messages ----------------------------------------------------------------

    def on_connect(self, conn: SimConnection) -> Reply:
        combined = conn.path == "/stream"
        conn.state["combined"] = combined
        if combined:
            names = [n for n in conn.query.get("streams", "").split("/") if n]
        elif conn.path.startswith("/ws/"):
            names = [n for n in conn.path[4:].split("/") if n]
        else:
            names = []
        subs = []
        for name in names[:MAX_STREAMS]:
            sub = self._parse_stream(name, combined)
            if sub is None:
                return Reply([_dumps({"error": {"code": 2, "msg": f"Invalid request: unknown stream {name!r}"},
                                      "id": None})], close=(1008, "invalid stream name"))
            subs.append(sub)
        return Reply(subscribe=subs)

    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        if isinstance(message, bytes):
            return self._error(None, 3, "Invalid JSON: binary frame")
        try:
            req = _decoder.decode(message)
        except msgspec.DecodeError as exc:
            return self._error(None, 3, f"Invalid JSON: {exc}")
        if not isinstance(req, dict):
            return self._error(None, 2, "Invalid request: not an object")
        req_id = req.get("id")
        if req_id is not None and (isinstance(req_id, bool) or not isinstance(req_id, (int, str))):
            return self._error(None, 2, "Invalid request: invalid id")
        method = req.get("method")
        if method == "LIST_SUBSCRIPTIONS":
            return Reply([_dumps({"result": sorted(conn.subscriptions), "id": req_id})])
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return self._error(req_id, 2, f"Invalid request: unknown method {method!r}")
        params = req.get("params")
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return self._error(req_id, 2, "Invalid request: params must be a list of stream names")
        combined = bool(conn.state.get("combined"))
        subs = []
        for name in params:
            sub = self._parse_stream(name, combined)
            if sub is None:
                return self._error(req_id, 2, f"Invalid request: unknown stream {name!r}")
            subs.append(sub)
        ack = Reply([_dumps({"result": None, "id": req_id})])
        if method == "UNSUBSCRIBE":
            ack.unsubscribe = [s.name for s in subs]
            return ack
        if conn.new_subscription_count(subs) > MAX_STREAMS:
            return self._error(req_id, 2, f"Invalid request: at most {MAX_STREAMS} streams per connection")
        ack.subscribe = subs
        return ack

    def _parse_stream(self, name: str, combined: bool) -> Subscription | None:
        sym, sep, rest = name.partition("@")
        if not sep or sym != sym.lower():
            return None
        symbol = sym.upper()
        if symbol not in self.ctx.model.symbols:
            return None
        kind, _, speed = rest.partition("@")
        if speed not in ("", "100ms", "1000ms"):
            return None
        if kind == "depth":
            return Subscription(Channel.DEPTH, symbol, name, (combined,))
        if kind in ("depth5", "depth10", "depth20"):
            return Subscription(Channel.PARTIAL_DEPTH, symbol, name, (combined, int(kind[5:])))
        if speed:
            return None
        if kind in ("trade", "aggTrade"):
            return Subscription(Channel.TRADE, symbol, name, (combined, kind))
        if kind == "bookTicker":
            return Subscription(Channel.BOOK_TICKER, symbol, name, (combined,))
        return None

    @staticmethod
    def _error(req_id: int | str | None, code: int, msg: str) -> Reply:
        return Reply([_dumps({"error": {"code": code, "msg": msg}, "id": req_id})])

    # -- encoding -------------------------------------------------------------------------------

    @staticmethod
    def _wrap(payload: dict[str, Any], sub: Subscription) -> str:
        if sub.params[0]:
            return _dumps({"stream": sub.name, "data": payload})
        return _dumps(payload)

    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        return self._wrap({"e": "depthUpdate", "E": delta.ts_ms, "s": delta.symbol, "U": delta.first_id,
                           "u": delta.last_id, "b": delta.bids, "a": delta.asks}, sub)

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        maker = trade.side == "sell"  # the taker sold: the buyer was the maker
        if sub.params[1] == "aggTrade":
            payload = {"e": "aggTrade", "E": trade.ts_ms, "s": trade.symbol, "a": trade.trade_id, "p": trade.price,
                       "q": trade.qty, "f": trade.trade_id, "l": trade.trade_id, "T": trade.ts_ms, "m": maker,
                       "M": True}
        else:
            payload = {"e": "trade", "E": trade.ts_ms, "s": trade.symbol, "t": trade.trade_id, "p": trade.price,
                       "q": trade.qty, "T": trade.ts_ms, "m": maker, "M": True}
        return self._wrap(payload, sub)

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        return self._wrap({"u": ticker.update_id, "s": ticker.symbol, "b": ticker.bid_price, "B": ticker.bid_qty,
                           "a": ticker.ask_price, "A": ticker.ask_qty}, sub)

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        if sub.channel is not Channel.PARTIAL_DEPTH:
            return None  # Binance never pushes whole books on the diff stream
        depth = sub.params[1]
        return self._wrap({"lastUpdateId": snapshot.last_update_id, "bids": snapshot.bids[:depth],
                           "asks": snapshot.asks[:depth]}, sub)

    # -- REST -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/depth", self._depth)

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        if symbol not in self.ctx.model.symbols:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        raw = request.query.get("limit", str(DEFAULT_DEPTH_LIMIT))
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_DEPTH_LIMIT:
            return web.json_response({"code": -1100, "msg": f"Illegal characters found in parameter 'limit'; "
                                      f"legal range is 1..{MAX_DEPTH_LIMIT}."}, status=400)
        snapshot = await self.ctx.depth_snapshot(symbol, limit)
        body = {"lastUpdateId": snapshot.last_update_id, "bids": snapshot.bids, "asks": snapshot.asks}
        return web.Response(body=_encoder.encode(body), content_type="application/json")
