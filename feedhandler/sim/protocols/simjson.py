"""``simjson``: the simulator's neutral JSON protocol (tests, demo, and the reference plug-in).

WebSocket ``/ws`` (text frames only):

- ``{"op":"subscribe","id":N,"args":["depth:BTCUSDT","trade:BTCUSDT"]}`` -> ``{"op":"ack","id":N,"args":[...]}``
  (all or nothing; at most 50 subscriptions per connection), ``unsubscribe`` likewise.
- ``{"op":"ping"}`` -> ``{"op":"pong"}``.
- ``{"op":"auth","id":N,"key":K,"ts":T,"sig":S}`` with ``S = hex(HMAC-SHA256(secret, "K:T"))``
  -> ``{"op":"ack","id":N,"args":["auth"]}``.
- anything else -> ``{"op":"error","id":N,"msg":"..."}`` (``id`` echoed when the request had one).

Streams: ``depth:SYM`` (deltas, and ``full: true`` snapshots when the exchange pushes them),
``trade:SYM``, ``bbo:SYM`` (best bid/ask), ``book5|book10|book20:SYM`` (top-N after every step)::

    {"ch":"depth","s":"BTCUSDT","U":first,"u":last,"b":[["p","q"],...],"a":[...],"ts":ms}
    {"ch":"depth","s":"BTCUSDT","full":true,"u":last,"b":[...],"a":[...],"ts":ms}
    {"ch":"trade","s":"BTCUSDT","p":"..","q":"..","side":"buy","id":..,"ts":..}
    {"ch":"bbo","s":"BTCUSDT","u":id,"b":"p","B":"q","a":"p","A":"q","ts":..}
    {"ch":"book5","s":"BTCUSDT","u":id,"b":[...],"a":[...],"ts":..}

REST: ``GET /depth?symbol=S&limit=N`` (limit 1..5000, default 100) ->
``{"lastUpdateId":..,"bids":[["p","q"],...],"asks":[...]}``; ``POST /listenKey?ts=T&sig=S`` with header
``X-SIM-APIKEY: K`` and ``S = hex(HMAC-SHA256(secret, "ts=T"))`` -> ``{"listenKey":..}``; a WebSocket URL
``/ws?listenKey=...`` must carry a key issued that way (else error + close 4001).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from aiohttp import web

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol
from feedhandler.sim.wire import depth_reply, json_decoder, url_listen_key
from feedhandler.sim.wire import json_text as _dumps

__all__ = ["SimJsonProtocol", "DEFAULT_DEPTH_LIMIT", "MAX_DEPTH_LIMIT", "MAX_SUBSCRIPTIONS"]

MAX_SUBSCRIPTIONS = 50
DEFAULT_DEPTH_LIMIT = 100
MAX_DEPTH_LIMIT = 5000
_PARTIAL_DEPTHS = {"book5": 5, "book10": 10, "book20": 20}
_CHANNELS: dict[str, Channel] = {
    "depth": Channel.DEPTH,
    "trade": Channel.TRADE,
    "bbo": Channel.BOOK_TICKER,
    **{name: Channel.PARTIAL_DEPTH for name in _PARTIAL_DEPTHS},
}



@register_protocol
class SimJsonProtocol(SimProtocol):
    """The neutral JSON protocol described in the module docstring."""

    name: ClassVar[str] = "simjson"
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws",)
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER, Channel.PARTIAL_DEPTH}
    )
    max_subscriptions: ClassVar[int] = MAX_SUBSCRIPTIONS

    def __init__(self) -> None:
        super().__init__()
        self._listen_keys: set[str] = set()

    # -- connection and messages ----------------------------------------------------------------

    def on_connect(self, conn: SimConnection) -> Reply:
        if url_listen_key(self.ctx, conn, self._listen_keys) is False:
            return Reply([_dumps({"op": "error", "msg": "invalid listen key"})], close=(4001, "invalid listen key"))
        return Reply()

    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        if isinstance(message, bytes):
            return self._error(None, "binary messages are not supported")
        try:
            request = json_decoder.decode(message)
        except msgspec.DecodeError as exc:
            return self._error(None, f"invalid JSON: {exc}")
        if not isinstance(request, dict):
            return self._error(None, "a request must be a JSON object")
        req_id = request.get("id")
        if req_id is not None and not isinstance(req_id, (int, str)):
            return self._error(None, "id must be an integer or a string")
        op = request.get("op")
        if op == "ping":
            return Reply([_dumps({"op": "pong"})])
        if op in ("subscribe", "unsubscribe"):
            args = request.get("args")
            if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
                return self._error(req_id, "args must be a non-empty list of strings")
            subs: list[Subscription] = []
            for arg in args:
                sub = self._parse_stream(arg)
                if sub is None:
                    return self._error(req_id, f"unknown stream {arg!r}")
                subs.append(sub)
            ack = Reply([_dumps({"op": "ack", "id": req_id, "args": args})])
            if op == "unsubscribe":
                ack.unsubscribe = [s.name for s in subs]
                return ack
            if conn.new_subscription_count(subs) > self.max_subscriptions:
                return self._error(req_id, f"too many subscriptions: at most {self.max_subscriptions} per connection")
            ack.subscribe = subs
            return ack
        if op == "auth":
            key, ts, sig = request.get("key"), request.get("ts"), request.get("sig")
            if not isinstance(key, str) or not isinstance(ts, int) or not isinstance(sig, str):
                return self._error(req_id, "auth needs key (string), ts (integer) and sig (string)")
            if not self.ctx.verify_hmac(key, f"{key}:{ts}", sig):
                return self._error(req_id, "auth rejected")
            conn.authenticated = True
            return Reply([_dumps({"op": "ack", "id": req_id, "args": ["auth"]})])
        return self._error(req_id, f"unknown op {op!r}")

    def _parse_stream(self, arg: str) -> Subscription | None:
        channel_name, sep, symbol = arg.partition(":")
        channel = _CHANNELS.get(channel_name)
        if not sep or channel is None or symbol not in self.ctx.model.symbols:
            return None
        params = (_PARTIAL_DEPTHS[channel_name],) if channel is Channel.PARTIAL_DEPTH else ()
        return Subscription(channel, symbol, arg, params)

    @staticmethod
    def _error(req_id: int | str | None, msg: str) -> Reply:
        body: dict[str, Any] = {"op": "error"}
        if req_id is not None:
            body["id"] = req_id
        body["msg"] = msg
        return Reply([_dumps(body)])

    # -- encoding -------------------------------------------------------------------------------

    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        return _dumps({"ch": "depth", "s": delta.symbol, "U": delta.first_id, "u": delta.last_id, "b": delta.bids,
                       "a": delta.asks, "ts": delta.ts_ms})

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        return _dumps({"ch": "trade", "s": trade.symbol, "p": trade.price, "q": trade.qty, "side": trade.side,
                       "id": trade.trade_id, "ts": trade.ts_ms})

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        return _dumps({"ch": "bbo", "s": ticker.symbol, "u": ticker.update_id, "b": ticker.bid_price,
                       "B": ticker.bid_qty, "a": ticker.ask_price, "A": ticker.ask_qty, "ts": ticker.ts_ms})

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        if sub.channel is Channel.PARTIAL_DEPTH:
            depth = sub.params[0]
            return _dumps({"ch": sub.name.partition(":")[0], "s": symbol, "u": snapshot.last_update_id,
                           "b": snapshot.bids[:depth], "a": snapshot.asks[:depth], "ts": ts_ms})
        return _dumps({"ch": "depth", "s": symbol, "full": True, "u": snapshot.last_update_id, "b": snapshot.bids,
                       "a": snapshot.asks, "ts": ts_ms})

    # -- REST -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/depth", self._depth)
        app.router.add_post("/listenKey", self._listen_key)

    async def _depth(self, request: web.Request) -> web.Response:
        return await depth_reply(
            self.ctx, request, DEFAULT_DEPTH_LIMIT, MAX_DEPTH_LIMIT,
            unknown_symbol=lambda symbol: {"code": 400, "msg": f"unknown symbol {symbol!r}"},
            bad_limit=lambda raw: {"code": 400,
                                   "msg": f"limit must be an integer in 1..{MAX_DEPTH_LIMIT}, got {raw!r}"})

    async def _listen_key(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-SIM-APIKEY", "")
        ts = request.query.get("ts", "")
        sig = request.query.get("sig", "")
        if not self.ctx.verify_hmac(key, f"ts={ts}", sig):
            return web.json_response({"code": 401, "msg": "auth rejected"}, status=401)
        token = self.ctx.new_token()
        self._listen_keys.add(token)
        return web.json_response({"listenKey": token})
