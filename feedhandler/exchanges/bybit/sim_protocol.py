"""``bybit``: the Bybit v5 WebSocket protocol, for the simulator.

Paths ``/v5/public/linear`` (the exchange's ``ws_url``), ``/v5/public/spot``, ``/v5/public/inverse`` and
``/v5/private`` (JSON text frames, protocols.md section 6):

- ``{"req_id":R,"op":"subscribe"|"unsubscribe","args":[topics]}`` ->
  ``{"success":true,"ret_msg":"","conn_id":C,"req_id":R,"op":"subscribe"}``; an unknown topic, more than
  10 args on spot, or a private topic before ``auth`` -> ``"success":false`` with the reason in ``ret_msg``.
- ``{"op":"ping"}`` -> ``{"success":true,"ret_msg":"pong",..,"op":"ping"}``.
- ``{"op":"auth","args":[key, expires_ms, hex(HMAC-SHA256(secret, "GET/realtime" + expires))]}`` on
  ``/v5/private``; an expired ``expires`` or a wrong signature fails (as does the reject-auth fault).
- ``orderbook.{1,50,200,1000}.SYM``: a ``snapshot`` right after the ack (its book at the model's current
  id, or ``stale_snapshot_ids`` older with that fault), then a ``delta`` per step with ``u`` = the model's
  update id: the model advances one id per push here (``max_ids_per_step = 1``), so ``u`` + 1 per topic
  holds on the wire and a skipped push is a gap. The whole model book is served at every depth.
- ``publicTrade.SYM``; ``tickers.SYM``: a ``delta`` with ``bid1Price/bid1Size/ask1Price/ask1Size`` when the
  top changes, and one with ``lastPrice``/24 h fields (running since the first trade seen) per trade.
- Private ``order``, ``execution``, ``wallet``: one deterministic sample push after each subscribe.
"""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import Any, ClassVar

import msgspec

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol
from feedhandler.sim.wire import Candles, json_decoder
from feedhandler.sim.wire import json_text as _dumps

__all__ = ["BybitSimProtocol"]

_DEPTHS = ("1", "50", "200", "1000")
_PRIVATE = ("order", "execution", "wallet")


@register_protocol
class BybitSimProtocol(SimProtocol):
    """Bybit v5 as described in the module docstring."""

    name: ClassVar[str] = "bybit"
    ws_paths: ClassVar[tuple[str, ...]] = ("/v5/public/linear", "/v5/public/spot", "/v5/public/inverse", "/v5/private")
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER})
    max_subscriptions: ClassVar[int] = 10_000
    max_ids_per_step: ClassVar[int] = 1

    def __init__(self) -> None:
        super().__init__()
        self._private_seq = itertools.count(1)
        #: rolling tickers per symbol (volume: base, amount: turnover)
        self._tickers: Candles[str] = Candles()

    # -- client messages ----------------------------------------------------------------------------
    @staticmethod
    def _reply(conn: SimConnection, req: dict[str, Any], op: str, error: str | None = None) -> str:
        return _dumps({"success": error is None, "ret_msg": error or "", "conn_id": f"sim-{conn.id}",
                       "req_id": req.get("req_id", ""), "op": op})

    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        try:
            req = json_decoder.decode(message)
        except msgspec.DecodeError:
            req = None
        if not isinstance(req, dict) or not isinstance(req.get("op"), str):
            return Reply([self._reply(conn, {}, "", "error:request not a JSON object with 'op'")])
        op = req["op"]
        if op == "ping":
            return Reply([_dumps({"success": True, "ret_msg": "pong", "conn_id": f"sim-{conn.id}",
                                  "req_id": req.get("req_id", ""), "op": "ping"})])
        if op == "auth":
            return self._auth(conn, req)
        if op not in ("subscribe", "unsubscribe"):
            return Reply([self._reply(conn, req, op, f"error:unknown op {op}")])
        args = req.get("args")
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            return Reply([self._reply(conn, req, op, "error:args must be a non-empty list of topics")])
        if conn.path.endswith("/spot") and len(args) > 10:
            return Reply([self._reply(conn, req, op, "error:args size >10")])
        subs: list[Subscription] = []
        for topic in args:
            got = self._topic(conn, topic)
            if isinstance(got, str):
                return Reply([self._reply(conn, req, op, got)])
            subs.extend(got)
        reply = Reply([self._reply(conn, req, op)])
        if op == "unsubscribe":
            reply.unsubscribe = [s.name for s in subs]
            return reply
        reply.subscribe = subs
        for sub in subs:
            if sub.channel is Channel.DEPTH:   # the in-band snapshot follows the ack
                model, stale = self.ctx.model, self.ctx.faults.stale_snapshot_ids
                uid = model.last_update_id(sub.symbol)
                snap = model.snapshot_at(sub.symbol, max(model.oldest_update_id(sub.symbol), uid - stale)) \
                    if stale else model.snapshot(sub.symbol)
                snap = self.ctx.wire_snapshot(sub.symbol, snap)   # numbered as the deltas are (id-restart fault)
                reply.frames.append(self.encode_snapshot(sub.symbol, snap, model.best_bid_ask(sub.symbol).ts_ms, sub))
            elif sub.params and sub.params[0] == "private":
                reply.frames.append(self._private_push(sub.name))
        return reply

    def _topic(self, conn: SimConnection, topic: str) -> list[Subscription] | str:
        """The subscriptions a topic stands for, or the error text."""
        if conn.path.endswith("/private"):
            if topic not in _PRIVATE:
                return f"error:handler not found,topic:{topic}"
            if not conn.authenticated:
                return "error:Request not authorized"
            return [Subscription(Channel.BOOK_TICKER, self.ctx.model.symbols[0], topic, ("private",))]
        parts = topic.split(".")
        symbols = self.ctx.model.symbols
        if len(parts) == 3 and parts[0] == "orderbook" and parts[1] in _DEPTHS and parts[2] in symbols:
            return [Subscription(Channel.DEPTH, parts[2], topic, (int(parts[1]),))]
        if len(parts) == 2 and parts[0] == "publicTrade" and parts[1] in symbols:
            return [Subscription(Channel.TRADE, parts[1], topic)]
        if len(parts) == 2 and parts[0] == "tickers" and parts[1] in symbols:
            # fed by the top of book and by the trades: two streams under one topic
            return [Subscription(Channel.BOOK_TICKER, parts[1], topic),
                    Subscription(Channel.TRADE, parts[1], topic + "#trades", ("tickers",))]
        return f"error:handler not found,topic:{topic}"

    def _auth(self, conn: SimConnection, req: dict[str, Any]) -> Reply:
        args = req.get("args")
        ok = (conn.path.endswith("/private") and isinstance(args, list) and len(args) == 3
              and isinstance(args[0], str) and isinstance(args[1], int) and isinstance(args[2], str)
              and args[1] > time.time() * 1000
              and self.ctx.verify_hmac(args[0], f"GET/realtime{args[1]}", args[2], "sha256"))
        if not ok:
            return Reply([self._reply(conn, req, "auth", "Params Error")])
        conn.authenticated = True
        return Reply([self._reply(conn, req, "auth")])

    def _private_push(self, topic: str) -> str:
        """One deterministic sample push per successful private subscribe (from the current top of book)."""
        n = next(self._private_seq)
        sym = self.ctx.model.symbols[0]
        top = self.ctx.model.best_bid_ask(sym)
        ms = time.time_ns() // 1_000_000
        if topic == "order":
            data: list[dict[str, Any]] = [{
                "symbol": sym, "orderId": f"sim-order-{n}", "orderLinkId": f"link-{n}", "side": "Buy",
                "orderType": "Limit", "orderStatus": "New", "price": top.bid_price, "qty": "1.5",
                "cumExecQty": "0", "avgPrice": "", "timeInForce": "GTC", "updatedTime": str(ms), "category": "spot"}]
        elif topic == "execution":
            data = [{"symbol": sym, "orderId": f"sim-order-{n}", "execId": f"sim-exec-{n}", "side": "Sell",
                     "execPrice": top.ask_price, "execQty": "0.25", "execFee": "0.0005", "feeCurrency": "USDT",
                     "isMaker": True, "execTime": str(ms), "category": "spot"}]
        else:
            data = [{"accountType": "UNIFIED", "coin": [
                {"coin": "USDT", "walletBalance": "100.5", "locked": "1.5", "equity": "100.5"},
                {"coin": "BTC", "walletBalance": "0.25", "locked": "0"}]}]
        return _dumps({"id": f"sim-{n}", "topic": topic, "creationTime": ms, "data": data})

    # -- encoding -----------------------------------------------------------------------------------
    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        return _dumps({"topic": sub.name, "type": "delta", "ts": delta.ts_ms, "data": {
            "s": delta.symbol, "b": delta.bids, "a": delta.asks, "u": delta.last_id, "seq": delta.last_id},
            "cts": delta.ts_ms})

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        uid = snapshot.last_update_id
        return _dumps({"topic": sub.name, "type": "snapshot", "ts": ts_ms, "data": {
            "s": symbol, "b": snapshot.bids, "a": snapshot.asks, "u": uid, "seq": uid}, "cts": ts_ms})

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        if sub.params and sub.params[0] == "tickers":
            return self._encode_ticker(trade)
        return _dumps({"topic": sub.name, "type": "snapshot", "ts": trade.ts_ms, "data": [{
            "T": trade.ts_ms, "s": trade.symbol, "S": "Buy" if trade.side == "buy" else "Sell", "v": trade.qty,
            "p": trade.price, "L": "ZeroPlusTick", "i": str(trade.trade_id), "BT": False, "seq": trade.update_id}]})

    def _encode_ticker(self, trade: Trade) -> str:
        """A ``tickers`` delta with the 24 h fields, running since the first trade seen."""
        t = self._tickers.update(trade.symbol, trade.price, trade.qty)
        pcnt = (t.close / t.open - 1).quantize(Decimal("0.000001"))
        return _dumps({"topic": f"tickers.{trade.symbol}", "type": "delta", "data": {
            "symbol": trade.symbol, "lastPrice": trade.price, "highPrice24h": str(t.high), "lowPrice24h": str(t.low),
            "volume24h": str(t.volume), "turnover24h": str(t.amount), "price24hPcnt": str(pcnt)},
            "cs": trade.update_id, "ts": trade.ts_ms})

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        if sub.params:
            return None   # a private stream (kept on BOOK_TICKER only to have a channel): pushes on subscribe
        return _dumps({"topic": sub.name, "type": "delta", "data": {
            "symbol": ticker.symbol, "bid1Price": ticker.bid_price, "bid1Size": ticker.bid_qty,
            "ask1Price": ticker.ask_price, "ask1Size": ticker.ask_qty}, "cs": ticker.update_id, "ts": ticker.ts_ms})
