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

WebSocket API ``/ws-api/v3`` (user data, protocols.md 3.7): ``{"id":..,"method":"ping"}`` ->
``{"id":..,"status":200,"result":{}}``; ``userDataStream.subscribe.signature`` with params ``apiKey``,
``timestamp``, ``signature`` (hex HMAC-SHA256 of the other params sorted, ``k=v&...``), optional ``recvWindow``
(default 5000) is checked with ``ExchangeContext.verify_hmac`` (so the reject-auth fault refuses it) and the
timestamp window; errors ``{"id":..,"status":400|401,"error":{"code":-1022|-2015|-1021|-1102,"msg":..}}``.
Success -> ``{"id":..,"status":200,"result":{"subscriptionId":N}}`` then a ``balanceUpdate`` event, and from
then on, wrapped as ``{"subscriptionId":N,"event":{..}}``: for every public trade an ``executionReport``
(``x`` TRADE, the account's fill of that trade) and for every top-of-book change an
``outboundAccountPosition`` (values derived from the ticker). Every private event and every signed request
is recorded in :attr:`BinanceSimProtocol.private_events` / :attr:`BinanceSimProtocol.signed_requests`.
A second subscribe on a connection that holds one answers the same ``subscriptionId`` (an assumption: the
docs only say one subscription per account per connection).
"""
from __future__ import annotations

import time
from collections import deque
from decimal import Decimal
from typing import Any, ClassVar

import msgspec
from aiohttp import web

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol
from feedhandler.sim.wire import depth_reply, json_decoder
from feedhandler.sim.wire import json_text as _dumps

__all__ = ["BinanceSimProtocol"]

MAX_STREAMS = 1024
WS_API_PATH = "/ws-api/v3"
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
DEFAULT_DEPTH_LIMIT = 100
MAX_DEPTH_LIMIT = 5000



@register_protocol
class BinanceSimProtocol(SimProtocol):
    """Binance spot streams and the REST depth snapshot, as described in the module docstring."""

    name: ClassVar[str] = "binance"
    ws_paths: ClassVar[tuple[str, ...]] = ("/stream", "/ws")
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER, Channel.PARTIAL_DEPTH}
    )
    max_subscriptions: ClassVar[int] = MAX_STREAMS

    def __init__(self) -> None:
        super().__init__()
        #: (event type, event payload) of every private event encoded, oldest first (bounded)
        self.private_events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=100_000)
        #: every userDataStream.subscribe.signature request: {"payload", "timestamp", "ok", "conn"}
        self.signed_requests: list[dict[str, Any]] = []

    def accepts_path(self, path: str) -> bool:
        return path in self.ws_paths or path.startswith("/ws/") or path == WS_API_PATH

    # -- connection and messages ----------------------------------------------------------------

    def on_connect(self, conn: SimConnection) -> Reply:
        if conn.path == WS_API_PATH:
            conn.state["ws_api"] = True
            return Reply()
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
        if conn.state.get("ws_api"):
            return self._ws_api(conn, message)
        if isinstance(message, bytes):
            return self._error(None, 3, "Invalid JSON: binary frame")
        try:
            req = json_decoder.decode(message)
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
        if sub.params and sub.params[0] == "user":
            return self._execution_report(trade, sub.params[1])
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
        if sub.params and sub.params[0] == "user":
            return self._account_position(ticker, sub.params[1])
        return self._wrap({"u": ticker.update_id, "s": ticker.symbol, "b": ticker.bid_price, "B": ticker.bid_qty,
                           "a": ticker.ask_price, "A": ticker.ask_qty}, sub)

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        if sub.channel is not Channel.PARTIAL_DEPTH:
            return None  # Binance never pushes whole books on the diff stream
        depth = sub.params[1]
        return self._wrap({"lastUpdateId": snapshot.last_update_id, "bids": snapshot.bids[:depth],
                           "asks": snapshot.asks[:depth]}, sub)

    # -- WebSocket API (user data) ----------------------------------------------------------------

    @staticmethod
    def _api_reply(req_id: Any, result: Any) -> str:
        return _dumps({"id": req_id, "status": 200, "result": result})

    @staticmethod
    def _api_error(req_id: Any, status: int, code: int, msg: str) -> Reply:
        return Reply([_dumps({"id": req_id, "status": status, "error": {"code": code, "msg": msg}})])

    def _ws_api(self, conn: SimConnection, message: str | bytes) -> Reply:
        if isinstance(message, bytes):
            return self._api_error(None, 400, -1100, "Illegal characters found in a parameter: binary frame.")
        try:
            req = json_decoder.decode(message)
        except msgspec.DecodeError:
            return self._api_error(None, 400, -1100, "Malformed request: invalid JSON.")
        if not isinstance(req, dict):
            return self._api_error(None, 400, -1100, "Malformed request: not an object.")
        req_id = req.get("id")
        if req_id is not None and (isinstance(req_id, bool) or not isinstance(req_id, (int, str))):
            return self._api_error(None, 400, -1100, "Malformed request: invalid id.")
        method = req.get("method")
        params = req.get("params", {})
        if not isinstance(params, dict):
            return self._api_error(req_id, 400, -1100, "Malformed request: params must be an object.")
        if method == "ping":
            return Reply([self._api_reply(req_id, {})])
        if method == "userDataStream.subscribe.signature":
            return self._subscribe_signature(conn, req_id, params)
        if method == "userDataStream.unsubscribe":
            names = [n for n, sub in conn.subscriptions.items() if sub.params and sub.params[0] == "user"]
            conn.state.pop("uds_id", None)
            return Reply([self._api_reply(req_id, {})], unsubscribe=names)
        if method == "session.subscriptions":
            uds = conn.state.get("uds_id")
            return Reply([self._api_reply(req_id, [] if uds is None else [{"subscriptionId": uds}])])
        return self._api_error(req_id, 400, -1102, f"Unknown method {str(method)[:40]!r}.")

    def _subscribe_signature(self, conn: SimConnection, req_id: Any, params: dict[str, Any]) -> Reply:
        for name, kind in (("apiKey", str), ("timestamp", int), ("signature", str)):
            value = params.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                return self._api_error(req_id, 400, -1102, f"Mandatory parameter '{name}' was not sent, was "
                                       "empty/null, or malformed.")
        window = params.get("recvWindow", DEFAULT_RECV_WINDOW)
        if isinstance(window, bool) or not isinstance(window, int) or not 0 < window <= MAX_RECV_WINDOW:
            return self._api_error(req_id, 400, -1131, f"recvWindow must be less than {MAX_RECV_WINDOW}.")
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        ok = self.ctx.verify_hmac(params["apiKey"], payload, params["signature"])  # reject-auth fault included
        self.signed_requests.append({"payload": payload, "timestamp": params["timestamp"], "ok": ok,
                                     "conn": conn.id})
        if not ok:
            if params["apiKey"] not in self.ctx.credentials:
                return self._api_error(req_id, 401, -2015, "Invalid API-key, IP, or permissions for action.")
            return self._api_error(req_id, 400, -1022, "Signature for this request is not valid.")
        now = int(time.time() * 1000)
        if params["timestamp"] > now + 1000 or now - params["timestamp"] > window:
            return self._api_error(req_id, 400, -1021, "Timestamp for this request is outside of the recvWindow.")
        conn.authenticated = True
        if "uds_id" in conn.state:
            return Reply([self._api_reply(req_id, {"subscriptionId": conn.state["uds_id"]})])
        sub_id = conn.state["uds_id"] = conn.state.get("uds_next", 0)
        conn.state["uds_next"] = sub_id + 1
        subs = [Subscription(Channel.TRADE, s, f"userData|{s}", ("user", sub_id)) for s in self.ctx.model.symbols]
        subs += [Subscription(Channel.BOOK_TICKER, s, f"userBalance|{s}", ("user", sub_id))
                 for s in self.ctx.model.symbols]
        delta = {"e": "balanceUpdate", "E": now, "a": "USDT", "d": "100.00000000", "T": now}
        self.private_events.append(("balanceUpdate", delta))
        frames = [self._api_reply(req_id, {"subscriptionId": sub_id}), _dumps({"subscriptionId": sub_id, "event": delta})]
        return Reply(frames, subscribe=subs)

    def _execution_report(self, trade: Trade, sub_id: int) -> str:
        """The account's own fill of one public trade: deterministic in the trade.

        Even trade ids: our resting order was hit (maker, opposite side of the taker); odd: we were the taker.
        """
        maker = trade.trade_id % 2 == 0
        side = trade.side if not maker else ("sell" if trade.side == "buy" else "buy")
        price, qty = Decimal(trade.price), Decimal(trade.qty)
        fee = (qty * Decimal("0.001")).quantize(Decimal("0.00000001"))
        event = {
            "e": "executionReport", "E": trade.ts_ms, "s": trade.symbol, "c": f"sim-{trade.trade_id}",
            "S": side.upper(), "o": "LIMIT", "f": "GTC", "q": trade.qty, "p": trade.price,
            "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "", "x": "TRADE", "X": "FILLED", "r": "NONE",
            "i": 1_000_000 + trade.trade_id, "l": trade.qty, "z": trade.qty, "L": trade.price,
            "n": f"{fee:f}", "N": "BNB", "T": trade.ts_ms, "t": trade.trade_id, "I": 2 * trade.trade_id,
            "w": False, "m": maker, "M": True, "O": trade.ts_ms, "Z": f"{price * qty:f}", "Y": f"{price * qty:f}",
            "Q": "0.00000000", "W": trade.ts_ms, "V": "NONE",
        }
        self.private_events.append(("executionReport", event))
        return _dumps({"subscriptionId": sub_id, "event": event})

    def _account_position(self, ticker: BookTicker, sub_id: int) -> str:
        """Balances after a top-of-book change: base asset free = best bid qty, USDT free = best ask qty and
        locked = best bid price (arbitrary but deterministic, so tests can compare values)."""
        base = ticker.symbol[:-4] if ticker.symbol.endswith("USDT") else ticker.symbol
        event = {"e": "outboundAccountPosition", "E": ticker.ts_ms, "u": ticker.ts_ms,
                 "B": [{"a": base, "f": ticker.bid_qty, "l": "0.00000000"},
                       {"a": "USDT", "f": ticker.ask_qty, "l": ticker.bid_price}]}
        self.private_events.append(("outboundAccountPosition", event))
        return _dumps({"subscriptionId": sub_id, "event": event})

    # -- REST -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/depth", self._depth)

    async def _depth(self, request: web.Request) -> web.Response:
        return await depth_reply(
            self.ctx, request, DEFAULT_DEPTH_LIMIT, MAX_DEPTH_LIMIT,
            unknown_symbol=lambda symbol: {"code": -1121, "msg": "Invalid symbol."},
            bad_limit=lambda raw: {"code": -1100, "msg": f"Illegal characters found in parameter 'limit'; "
                                   f"legal range is 1..{MAX_DEPTH_LIMIT}."})
