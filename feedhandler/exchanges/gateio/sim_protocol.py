"""``gateio``: the Gate.io spot v4 WebSocket protocol and the REST order book, for the simulator.

WebSocket ``/ws/v4/`` (JSON text frames, protocols.md section 2):

- ``{"time":T,"id":N,"channel":C,"event":"subscribe"|"unsubscribe","payload":[...]}`` ->
  ``{"time":T,"time_ms":..,"id":N,"channel":C,"event":E,"error":null,"result":{"status":"success"}}``;
  failures carry ``"error":{"code":2,"message":..},"result":{"status":"fail"}`` (code 4 for auth).
- ``{"time":T,"channel":"spot.ping"}`` -> ``spot.pong``.
- Channels: ``spot.order_book_update`` (``[PAIR, "100ms"|"20ms"]``; diffs, and ``full: true`` pushes when
  the exchange pushes a snapshot), ``spot.obu`` (``["ob.PAIR.50"]``: a full snapshot right after the ack,
  then increments; a second subscribe of the same stream fails with ``Alert sub``), ``spot.order_book``
  (``[PAIR, LEVEL, "100ms"]``: top-N after every step), ``spot.trades``, ``spot.book_ticker``;
  ``spot.candlesticks`` (``[INTERVAL, PAIR]``) and ``spot.tickers`` (``[PAIR, ...]``) are built from the
  model's trades: each trade published while a connection holds the stream updates the running candle of
  its window (aligned to the epoch; ``t`` window start in seconds, ``v`` quote volume, ``a`` base amount,
  ``w`` false while the window is open) or the rolling ticker (``last``, ``high_24h``/``low_24h``,
  ``base_volume``/``quote_volume`` and ``change_percentage`` against the first trade seen, plus the
  current ``lowest_ask``/``highest_bid``) and pushes it at once.
- Private ``spot.orders``, ``spot.usertrades``, ``spot.balances``: each request needs
  ``auth = {"method":"api_key","KEY":K,"SIGN":hex(HMAC-SHA512(secret,"channel=C&event=E&time=T"))}``;
  after a successful subscribe one deterministic sample push (built from the current book) follows.

Pairs: a model symbol with ``_`` is used as is; ``BTCUSDT`` is served as ``BTC_USDT``.

REST ``GET /api/v4/spot/order_book?currency_pair=P&limit=N&with_id=true`` ->
``{"id":..,"current":ms,"update":ms,"asks":[[p,a],..],"bids":[[p,a],..]}``.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, ClassVar

import msgspec
from aiohttp import web

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol
from feedhandler.sim.wire import Candles, json_decoder, json_response, query_limit
from feedhandler.sim.wire import json_text as _dumps

__all__ = ["CANDLE_SECONDS", "GateioSimProtocol", "ticker_change_percentage", "wire_pair"]

_QUOTES = ("USDT", "USDC", "BTC", "ETH")
_PRIVATE = ("spot.orders", "spot.usertrades", "spot.balances")


#: spot.candlesticks window lengths in seconds
CANDLE_SECONDS = {"10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "8h": 28800,
                  "1d": 86400, "7d": 604800, "30d": 2592000}


def ticker_change_percentage(first: Decimal, last: Decimal) -> Decimal:
    """The simulator's ``change_percentage``: ``(last / first - 1) * 100``, 2 decimals (Gate.io sends percent)."""
    return ((last / first - 1) * 100).quantize(Decimal("0.01"))


def wire_pair(symbol: str) -> str:
    """Gate.io spelling of a model symbol (``BTCUSDT`` -> ``BTC_USDT``)."""
    if "_" in symbol:
        return symbol
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return f"{symbol[: -len(quote)]}_{quote}"
    return symbol


@register_protocol
class GateioSimProtocol(SimProtocol):
    """Gate.io spot v4 as described in the module docstring."""

    name: ClassVar[str] = "gateio"
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws/v4/",)
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER, Channel.PARTIAL_DEPTH})
    max_subscriptions: ClassVar[int] = 10_000

    def __init__(self) -> None:
        super().__init__()
        self._pairs: dict[str, str] | None = None
        self._private_seq = 0
        #: running candles per (symbol, interval), windows start in epoch seconds
        self._candles: Candles[tuple[str, str]] = Candles()
        #: rolling tickers per symbol
        self._tickers: Candles[str] = Candles()

    # -- names ----------------------------------------------------------------------------------
    def _model_symbol(self, pair: Any) -> str | None:
        if self._pairs is None:
            self._pairs = {wire_pair(s): s for s in self.ctx.model.symbols}
        return self._pairs.get(pair) if isinstance(pair, str) else None

    @staticmethod
    def _now() -> tuple[int, int]:
        ms = time.time_ns() // 1_000_000
        return ms // 1000, ms

    def _ack(self, req: dict[str, Any], error: tuple[int, str] | None = None) -> str:
        sec, ms = self._now()
        body: dict[str, Any] = {"time": sec, "time_ms": ms}
        if isinstance(req.get("id"), int):
            body["id"] = req["id"]
        body["channel"] = req.get("channel", "")
        body["event"] = req.get("event", "")
        if error is None:
            body["error"] = None
            body["result"] = {"status": "success"}
        else:
            body["error"] = {"code": error[0], "message": error[1]}
            body["result"] = {"status": "fail"}
        return _dumps(body)

    # -- client messages --------------------------------------------------------------------------
    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        try:
            req = json_decoder.decode(message)
        except msgspec.DecodeError:
            return Reply([self._ack({}, (1, "invalid request body format"))])
        if not isinstance(req, dict):
            return Reply([self._ack({}, (1, "invalid request body format"))])
        channel, event = req.get("channel"), req.get("event")
        if not isinstance(req.get("time"), int) or not isinstance(channel, str):
            return Reply([self._ack(req, (2, "time (int seconds) and channel are required"))])
        if channel == "spot.ping":
            sec, ms = self._now()
            return Reply([_dumps({"time": sec, "time_ms": ms, "channel": "spot.pong", "event": "",
                                  "error": None, "result": None})])
        if event not in ("subscribe", "unsubscribe"):
            return Reply([self._ack(req, (2, f"unknown event {event!r}"))])
        if channel in _PRIVATE:
            return self._private(conn, req, channel, event)
        payload = req.get("payload")
        if not isinstance(payload, list) or not payload:
            return Reply([self._ack(req, (2, "payload must be a non-empty list"))])
        subs: list[Subscription] = []
        extra: list[Frame] = []
        if channel == "spot.order_book_update":
            sym = self._model_symbol(payload[0])
            if sym is None or len(payload) != 2 or payload[1] not in ("100ms", "20ms"):
                return Reply([self._ack(req, (2, f"invalid payload {payload!r}"))])
            subs.append(Subscription(Channel.DEPTH, sym, f"{channel}:{payload[0]}", ("update", payload[1])))
        elif channel == "spot.obu":
            for stream in payload:
                parts = stream.split(".") if isinstance(stream, str) else []
                sym = self._model_symbol(parts[1]) if len(parts) == 3 and parts[0] == "ob" else None
                if sym is None or parts[2] not in ("50", "400"):
                    return Reply([self._ack(req, (2, f"invalid stream {stream!r}"))])
                name = f"{channel}:{stream}"
                if event == "subscribe" and name in conn.subscriptions:
                    return Reply([self._ack(req, (2, f"Alert sub {stream}"))])
                subs.append(Subscription(Channel.DEPTH, sym, name, ("obu", int(parts[2]), stream)))
        elif channel == "spot.order_book":
            sym = self._model_symbol(payload[0])
            if sym is None or len(payload) != 3 or str(payload[1]) not in ("5", "10", "20", "50", "100"):
                return Reply([self._ack(req, (2, f"invalid payload {payload!r}"))])
            subs.append(Subscription(Channel.PARTIAL_DEPTH, sym, f"{channel}:{payload[0]}", (int(payload[1]),)))
        elif channel in ("spot.trades", "spot.book_ticker"):
            kind = Channel.TRADE if channel == "spot.trades" else Channel.BOOK_TICKER
            for pair in payload:
                sym = self._model_symbol(pair)
                if sym is None:
                    return Reply([self._ack(req, (2, f"unknown currency pair {pair!r}"))])
                subs.append(Subscription(kind, sym, f"{channel}:{pair}"))
        elif channel == "spot.candlesticks":
            sym = self._model_symbol(payload[-1])
            if sym is None or len(payload) != 2 or payload[0] not in CANDLE_SECONDS:
                return Reply([self._ack(req, (2, f"invalid payload {payload!r}"))])
            # fed by the trades (Channel.TRADE); params tell encode_trade what to build
            subs.append(Subscription(Channel.TRADE, sym, f"{channel}:{payload[0]}_{payload[1]}",
                                     ("candles", payload[0])))
        elif channel == "spot.tickers":
            for pair in payload:
                sym = self._model_symbol(pair)
                if sym is None:
                    return Reply([self._ack(req, (2, f"unknown currency pair {pair!r}"))])
                subs.append(Subscription(Channel.TRADE, sym, f"{channel}:{pair}", ("tickers",)))
        else:
            return Reply([self._ack(req, (2, f"unknown channel {channel!r}"))])
        reply = Reply([self._ack(req)])
        if event == "unsubscribe":
            reply.unsubscribe = [s.name for s in subs]
            return reply
        reply.subscribe = subs
        for sub in subs:
            if sub.params and sub.params[0] == "obu":
                # the first obu push is a full snapshot, sent right after the ack
                snap = self.ctx.model.snapshot(sub.symbol)
                extra.append(self.encode_snapshot(sub.symbol, snap, self.ctx.model.best_bid_ask(sub.symbol).ts_ms, sub))
        reply.frames.extend(extra)
        return reply

    def _private(self, conn: SimConnection, req: dict[str, Any], channel: str, event: str) -> Reply:
        auth = req.get("auth")
        ok = (isinstance(auth, dict) and auth.get("method") == "api_key" and isinstance(auth.get("KEY"), str)
              and isinstance(auth.get("SIGN"), str)
              and self.ctx.verify_hmac(auth["KEY"], f"channel={channel}&event={event}&time={req['time']}",
                                       auth["SIGN"], "sha512"))
        if not ok:
            return Reply([self._ack(req, (4, "Authentication failed"))])
        conn.authenticated = True
        reply = Reply([self._ack(req)])
        if event == "subscribe":
            reply.frames.append(self._private_push(channel, req.get("payload")))
        return reply

    def _private_push(self, channel: str, payload: Any) -> str:
        """One deterministic sample push per successful private subscribe (from the current top of book)."""
        self._private_seq += 1
        n = self._private_seq
        sym = self.ctx.model.symbols[0]
        if isinstance(payload, list) and payload and self._model_symbol(payload[0]) is not None:
            sym = self._model_symbol(payload[0])  # type: ignore[assignment]
        top = self.ctx.model.best_bid_ask(sym)
        pair = wire_pair(sym)
        sec, ms = self._now()
        if channel == "spot.orders":
            result: list[dict[str, Any]] = [{
                "id": str(1000 + n), "text": f"t-sim-{n}", "create_time": str(sec), "create_time_ms": str(ms),
                "update_time": str(sec), "update_time_ms": str(ms), "event": "put", "currency_pair": pair,
                "type": "limit", "account": "spot", "side": "buy", "amount": "1.5", "price": top.bid_price,
                "time_in_force": "gtc", "left": "1.5", "filled_amount": "0", "filled_total": "0",
                "avg_deal_price": "", "fee": "0", "fee_currency": pair.split("_")[0], "finish_as": "open"}]
        elif channel == "spot.usertrades":
            result = [{
                "id": 5000 + n, "user_id": 1, "order_id": str(1000 + n), "currency_pair": pair,
                "create_time": sec, "create_time_ms": f"{ms}.125", "side": "sell", "amount": "0.25",
                "role": "maker", "price": top.ask_price, "fee": "0.0005", "fee_currency": "USDT",
                "point_fee": "0", "gt_fee": "0", "text": "apiv4", "id_market": 700 + n}]
        else:
            result = [{
                "timestamp": str(sec), "timestamp_ms": str(ms), "user": "1", "currency": "USDT",
                "change": "-1.5", "total": "100.5", "available": "99.0", "freeze": "1.5",
                "freeze_change": "1.5", "change_type": "order-create"}]
        return _dumps({"time": sec, "time_ms": ms, "channel": channel, "event": "update", "result": result})

    # -- encoding -------------------------------------------------------------------------------------
    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        pair = wire_pair(delta.symbol)
        if sub.params and sub.params[0] == "obu":
            return _dumps({"channel": "spot.obu", "result": {
                "t": delta.ts_ms, "s": sub.params[2], "U": delta.first_id, "u": delta.last_id,
                "b": delta.bids, "a": delta.asks}, "time_ms": delta.ts_ms})
        return _dumps({"time": delta.ts_ms // 1000, "time_ms": delta.ts_ms, "channel": "spot.order_book_update",
                       "event": "update", "result": {
                           "t": delta.ts_ms, "e": "depthUpdate", "E": delta.ts_ms // 1000, "s": pair,
                           "U": delta.first_id, "u": delta.last_id, "b": delta.bids, "a": delta.asks}})

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        pair = wire_pair(symbol)
        uid = snapshot.last_update_id
        if sub.channel is Channel.PARTIAL_DEPTH:
            depth = sub.params[0]
            return _dumps({"time": ts_ms // 1000, "time_ms": ts_ms, "channel": "spot.order_book", "event": "update",
                           "result": {"t": ts_ms, "lastUpdateId": uid, "s": pair, "l": str(depth),
                                      "bids": snapshot.bids[:depth], "asks": snapshot.asks[:depth]}})
        if sub.params and sub.params[0] == "obu":
            level = sub.params[1]
            return _dumps({"channel": "spot.obu", "result": {
                "t": ts_ms, "full": True, "s": sub.params[2], "u": uid,
                "b": snapshot.bids[:level], "a": snapshot.asks[:level]}, "time_ms": ts_ms})
        return _dumps({"time": ts_ms // 1000, "time_ms": ts_ms, "channel": "spot.order_book_update", "event": "update",
                       "result": {"t": ts_ms, "full": True, "l": "100", "e": "depthUpdate", "E": ts_ms // 1000,
                                  "s": pair, "U": uid, "u": uid, "b": snapshot.bids[:100], "a": snapshot.asks[:100]}})

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        if sub.params and sub.params[0] == "candles":
            return self._encode_candle(trade, sub)
        if sub.params and sub.params[0] == "tickers":
            return self._encode_ticker(trade)
        return _dumps({"time": trade.ts_ms // 1000, "time_ms": trade.ts_ms, "channel": "spot.trades", "event": "update",
                       "result": {"id": trade.trade_id, "id_market": trade.trade_id, "create_time": trade.ts_ms // 1000,
                                  "create_time_ms": f"{trade.ts_ms}.0000", "side": trade.side,
                                  "currency_pair": wire_pair(trade.symbol), "amount": trade.qty, "price": trade.price,
                                  "range": f"{trade.trade_id}-{trade.trade_id}"}})

    def _encode_candle(self, trade: Trade, sub: Subscription) -> str:
        """The running candle of the trade's window, updated with the trade."""
        interval = sub.params[1]
        seconds = CANDLE_SECONDS[interval]
        start = trade.ts_ms // 1000 // seconds * seconds
        c = self._candles.update((trade.symbol, interval), trade.price, trade.qty, start)
        return _dumps({"time": trade.ts_ms // 1000, "time_ms": trade.ts_ms, "channel": "spot.candlesticks",
                       "event": "update", "result": {
                           "t": str(start), "v": str(c.amount), "c": str(c.close), "h": str(c.high), "l": str(c.low),
                           "o": str(c.open), "n": f"{interval}_{wire_pair(trade.symbol)}", "a": str(c.volume),
                           "w": False}})

    def _encode_ticker(self, trade: Trade) -> str:
        """The rolling ticker since the first trade seen on the stream, updated with the trade."""
        t = self._tickers.update(trade.symbol, trade.price, trade.qty)
        price = t.close
        top = self.ctx.model.best_bid_ask(trade.symbol)
        return _dumps({"time": trade.ts_ms // 1000, "time_ms": trade.ts_ms, "channel": "spot.tickers",
                       "event": "update", "result": {
                           "currency_pair": wire_pair(trade.symbol), "last": str(price),
                           "lowest_ask": top.ask_price, "highest_bid": top.bid_price,
                           "change_percentage": str(ticker_change_percentage(t.open, price)),
                           "base_volume": str(t.volume), "quote_volume": str(t.amount),
                           "high_24h": str(t.high), "low_24h": str(t.low)}})

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        return _dumps({"time": ticker.ts_ms // 1000, "time_ms": ticker.ts_ms, "channel": "spot.book_ticker",
                       "event": "update", "result": {
                           "t": ticker.ts_ms, "u": ticker.update_id, "s": wire_pair(ticker.symbol),
                           "b": ticker.bid_price, "B": ticker.bid_qty, "a": ticker.ask_price, "A": ticker.ask_qty}})

    # -- REST -------------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v4/spot/order_book", self._order_book)

    async def _order_book(self, request: web.Request) -> web.Response:
        pair = request.query.get("currency_pair", "")
        sym = self._model_symbol(pair)
        if sym is None:
            return web.json_response({"label": "INVALID_CURRENCY_PAIR", "message": f"unknown pair {pair!r}"}, status=400)
        limit, _ = query_limit(request, 10, 1000)
        if limit is None:
            return web.json_response({"label": "INVALID_PARAM_VALUE", "message": "limit must be 1..1000"}, status=400)
        snapshot = await self.ctx.depth_snapshot(sym, limit)
        ms = time.time_ns() // 1_000_000
        body: dict[str, Any] = {}
        if request.query.get("with_id") == "true":
            body["id"] = snapshot.last_update_id
        body.update({"current": ms, "update": ms, "asks": snapshot.asks, "bids": snapshot.bids})
        return json_response(body)
