"""``coinbase``: the Coinbase Advanced Trade WebSocket protocol, for the simulator.

Path ``/`` (JSON text frames, protocols.md section 6):

- ``{"type":"subscribe"|"unsubscribe","product_ids":[..],"channel":C[,"jwt":..]}`` -> a ``subscriptions``
  frame listing everything the connection holds; an unknown channel or product, or a ``user`` subscribe
  without a valid JWT, -> ``{"type":"error","message":..}``.
- ``level2``: an ``l2_data`` ``snapshot`` right after the subscribe (the server's snapshot-on-subscribe),
  then an ``update`` per model step; ``market_trades``; ``ticker`` when the top changes (its ``price`` is
  the best bid: the simulator keeps no 24 h statistics, those fields are 0); ``heartbeats`` accepted, none
  sent (data keeps the numbering moving).
- ``sequence_num``: per connection, + 1 over every frame, given when the frame is queued; a delta the gap
  fault skips leaves a hole, and truncated or suppressed frames are lost frames, as on the real wire.
- ``user`` (with an ES256 JWT signed by the key named in ``sub``/``kid``: the exchange's credentials map
  the key name to its PEM private key, whose public half verifies): one sample order after the subscribe.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timezone
from typing import Any, ClassVar

import msgspec

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol
from feedhandler.sim.wire import json_decoder
from feedhandler.sim.wire import json_text as _dumps

__all__ = ["CoinbaseSimProtocol"]

_SEQ = '"sequence_num":-1'
_CHANNELS = {"level2": Channel.DEPTH, "market_trades": Channel.TRADE, "ticker": Channel.BOOK_TICKER}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _frame(channel: str, ts_ms: int, events: list[dict[str, Any]]) -> str:
    body = _dumps(events)
    return f'{{"channel":"{channel}","client_id":"","timestamp":"{_iso(ts_ms)}",{_SEQ},"events":{body}}}'


@register_protocol
class CoinbaseSimProtocol(SimProtocol):
    """Coinbase Advanced Trade as described in the module docstring."""

    name: ClassVar[str] = "coinbase"
    ws_paths: ClassVar[tuple[str, ...]] = ("/",)
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER})
    max_subscriptions: ClassVar[int] = 10_000
    snapshot_on_subscribe: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self._orders = itertools.count(1)
        self._books_by_seq: list[tuple[SimConnection, dict[int, int]]] = []

    # -- numbering ------------------------------------------------------------------------------------
    def on_enqueue(self, conn: SimConnection, frame: Frame, last_id: int) -> Frame:
        if not isinstance(frame, str) or _SEQ not in frame:
            return frame
        n = conn.state.get("seq", 0)
        conn.state["seq"] = n + 1
        if last_id:
            ids = conn.state.get("ids")
            if ids is None:
                ids = conn.state["ids"] = {}
                self._books_by_seq = [x for x in self._books_by_seq[-8:]] + [(conn, ids)]
            ids[n] = last_id
            ids.pop(n - 50_000, None)   # bounded: tests look up recent updates only
        return frame.replace(_SEQ, f'"sequence_num":{n}', 1)

    def on_skipped(self, conn: SimConnection) -> None:
        conn.state["seq"] = conn.state.get("seq", 0) + 1

    def book_update_id(self, symbol: str, wire_id: int) -> int:
        """A book's ``sequence_num`` -> the model id of that frame (newest connection first)."""
        for _conn, ids in reversed(self._books_by_seq):
            if wire_id in ids:
                return ids[wire_id]
        return -1

    # -- client messages --------------------------------------------------------------------------------
    @staticmethod
    def _error(message: str) -> str:
        return _dumps({"type": "error", "message": message})

    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        try:
            req = json_decoder.decode(message)
        except msgspec.DecodeError:
            req = None
        if not isinstance(req, dict) or req.get("type") not in ("subscribe", "unsubscribe"):
            return Reply([self._error("Failed to parse the request")])
        channel, products = req.get("channel"), req.get("product_ids")
        if not isinstance(products, list) or not all(p in self.ctx.model.symbols for p in products):
            return Reply([self._error(f"unknown product_ids {products!r}")])
        if channel == "heartbeats":
            names = [f"heartbeats:{p}" for p in products]
            subs = [Subscription(Channel.BOOK_TICKER, p, n, ("quiet",)) for p, n in zip(products, names)]
        elif channel == "user":
            if req["type"] == "subscribe" and not self._jwt_ok(req.get("jwt")):
                return Reply([self._error("authentication failure")])
            subs = [Subscription(Channel.BOOK_TICKER, p, f"user:{p}", ("quiet",)) for p in products]
        elif channel in _CHANNELS:
            subs = [Subscription(_CHANNELS[channel], p, f"{channel}:{p}") for p in products]
        else:
            return Reply([self._error(f"unknown channel {channel!r}")])
        held = dict(conn.subscriptions)
        for s in subs:
            if req["type"] == "subscribe":
                held[s.name] = s
            else:
                held.pop(s.name, None)
        listing: dict[str, list[str]] = {}
        for name in held:
            ch, _, product = name.partition(":")
            listing.setdefault(ch, []).append(product)
        now = time.time_ns() // 1_000_000
        reply = Reply([_frame("subscriptions", now, [{"subscriptions": listing}])])
        if req["type"] == "unsubscribe":
            reply.unsubscribe = [s.name for s in subs]
            return reply
        reply.subscribe = subs
        if channel == "user":
            reply.frames.append(self._order_push(products[0], now))
        return reply

    def _jwt_ok(self, token: Any) -> bool:
        try:
            import jwt
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            header = jwt.get_unverified_header(token)
            pem = self.ctx.credentials.get(header.get("kid", ""))
            if pem is None:
                return self.ctx.check_auth(False)
            key = load_pem_private_key(pem.encode(), None).public_key()
            claims = jwt.decode(token, key, algorithms=["ES256"], options={"require": ["exp", "nbf", "sub"]})
            return self.ctx.check_auth(claims["sub"] == header["kid"] and claims.get("iss") == "cdp")
        except Exception:   # a malformed or forged token: refused, never a crash
            return self.ctx.check_auth(False)

    def _order_push(self, product: str, now: int) -> str:
        n = next(self._orders)
        top = self.ctx.model.best_bid_ask(product)
        return _frame("user", now, [{"type": "snapshot", "orders": [{
            "order_id": f"sim-order-{n}", "client_order_id": f"client-{n}", "cumulative_quantity": "0.5",
            "leaves_quantity": "1", "avg_price": top.bid_price, "total_fees": "0", "status": "OPEN",
            "product_id": product, "creation_time": _iso(now), "order_side": "BUY", "order_type": "Limit",
            "limit_price": top.bid_price}]}])

    # -- encoding -----------------------------------------------------------------------------------
    @staticmethod
    def _levels(bids, asks, ts: str) -> list[dict[str, str]]:
        return ([{"side": "bid", "event_time": ts, "price_level": p, "new_quantity": q} for p, q in bids]
                + [{"side": "offer", "event_time": ts, "price_level": p, "new_quantity": q} for p, q in asks])

    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        return _frame("l2_data", delta.ts_ms, [{"type": "update", "product_id": delta.symbol,
                                                 "updates": self._levels(delta.bids, delta.asks, _iso(delta.ts_ms))}])

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        return _frame("l2_data", ts_ms, [{"type": "snapshot", "product_id": symbol,
                                           "updates": self._levels(snapshot.bids, snapshot.asks, _iso(ts_ms))}])

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        return _frame("market_trades", trade.ts_ms, [{"type": "update", "trades": [{
            "product_id": trade.symbol, "trade_id": str(trade.trade_id), "price": trade.price, "size": trade.qty,
            "time": _iso(trade.ts_ms), "side": trade.side.upper()}]}])

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        if sub.params:
            return None   # heartbeats / user: no market data
        return _frame("ticker", ticker.ts_ms, [{"type": "update", "tickers": [{
            "type": "ticker", "product_id": ticker.symbol, "price": ticker.bid_price, "volume_24_h": "0",
            "low_24_h": "0", "high_24_h": "0", "price_percent_chg_24_h": "0", "best_bid": ticker.bid_price,
            "best_ask": ticker.ask_price, "best_bid_quantity": ticker.bid_qty,
            "best_ask_quantity": ticker.ask_qty}]}])
