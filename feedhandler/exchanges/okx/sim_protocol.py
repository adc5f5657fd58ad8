"""``okx``: the OKX v5 WebSocket protocol, for the simulator.

WebSocket ``/ws/v5/public``, ``/ws/v5/private`` and ``/ws/v5/business`` (JSON text frames, okx.com/docs-v5):

- the text ``ping`` -> ``pong``;
- ``{"op":"subscribe"|"unsubscribe","args":[{"channel":C,"instId":I},..]}`` -> one
  ``{"event":"subscribe","arg":{..},"connId":..}`` per arg, or ``{"event":"error","code":"60012",..}``;
- ``books``: a snapshot right after the ack (``action: snapshot``, ``prevSeqId: -1``, ``seqId`` = the
  model's update id), then an ``update`` per model delta with ``prevSeqId`` = the previous id and ``seqId``
  = the delta's last id, levels ``[px, sz, "0", "1"]``, and the CRC32 checksum of the top 25 levels;
  prices and sizes in OKX's shortest form (trailing zeros dropped). ``wrong_checksum_probability``
  corrupts a push's checksum (seeded) while its levels stay right;
- ``bbo-tbt`` (the top of book on every change), ``trades``, ``tickers`` (rolling since the first trade);
- ``candle<interval>`` on ``/ws/v5/business`` only (elsewhere refused with code 60018, as OKX does): the
  candle of each trade's interval, built from the trades, ``confirm`` "0";
- ``{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}``: sign =
  base64(HMAC-SHA256(secret, timestamp + "GET/users/self/verify")), passphrase :data:`SIM_PASSPHRASE`;
  then ``orders`` / ``account`` subscriptions get one deterministic sample push each.
"""
from __future__ import annotations

import hmac
import random
import time
import zlib
from typing import Any, ClassVar

import msgspec

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol
from feedhandler.sim.wire import Candles, json_decoder
from feedhandler.sim.wire import json_text as _dumps

from . import constants as C
from .strategies import login_sign

__all__ = ["OkxSimProtocol", "SIM_PASSPHRASE", "okx_checksum", "okx_text"]

SIM_PASSPHRASE = "sim-passphrase"


def okx_text(s: str) -> str:
    """OKX's shortest form of a decimal text ("64999.80" -> "64999.8", "2.000" -> "2")."""
    return s.rstrip("0").rstrip(".") if "." in s else s


def okx_checksum(bids: list, asks: list) -> int:
    """Signed CRC32 of ``bidPx:bidSz:askPx:askSz:...`` over the top 25 levels (OKX texts, best first)."""
    parts: list[str] = []
    for i in range(max(min(len(bids), 25), min(len(asks), 25))):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    c = zlib.crc32(":".join(parts).encode())
    return c - (1 << 32) if c >= 1 << 31 else c


def _levels(levels) -> list[list[str]]:
    return [[okx_text(p), okx_text(q), "0", "1"] for p, q in levels]


@register_protocol
class OkxSimProtocol(SimProtocol):
    name: ClassVar[str] = "okx"
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws/v5/public", "/ws/v5/private", C.BUSINESS_PATH)
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER})
    max_subscriptions: ClassVar[int] = 240

    def __init__(self) -> None:
        super().__init__()
        self.wrong_checksum_probability = 0.0
        self.wrong_checksums = 0
        self._rng = random.Random(5)
        self._tickers: Candles[str] = Candles()
        #: running candles per (symbol, interval), windows start in epoch ms
        self._candles: Candles[tuple[str, str]] = Candles()
        self._private_seq = 0

    @staticmethod
    def _now_ms() -> int:
        return time.time_ns() // 1_000_000

    def _checksum(self, book: BookSnapshot) -> int:
        value = okx_checksum(_levels(book.bids[:25]), _levels(book.asks[:25]))
        if self.wrong_checksum_probability and self._rng.random() < self.wrong_checksum_probability:
            self.wrong_checksums += 1
            value = value ^ 0x5A5A or 1
        return value

    # -- client messages ------------------------------------------------------------------------
    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        if message in ("ping", b"ping"):
            return Reply(["pong"])
        try:
            req = json_decoder.decode(message)
        except msgspec.DecodeError:
            return Reply([_dumps({"event": "error", "code": "60004", "msg": "Invalid request"})])
        if not isinstance(req, dict) or not isinstance(req.get("args"), list) or not req["args"]:
            return Reply([_dumps({"event": "error", "code": "60012", "msg": "Invalid request: missing args"})])
        op = req.get("op")
        if op == "login":
            return self._login(conn, req["args"][0])
        if op not in ("subscribe", "unsubscribe"):
            return Reply([_dumps({"event": "error", "code": "60012", "msg": f"Invalid request: op {op!r}"})])
        reply = Reply()
        for arg in req["args"]:
            sub = self._subscription(conn, arg) if isinstance(arg, dict) else None
            if sub is None:
                return Reply([_dumps({"event": "error", "code": "60018", "msg": f"Wrong URL or channel:{arg}"})])
            if isinstance(sub, str):
                return Reply([sub])
            reply.frames.append(_dumps({"event": op, "arg": arg, "connId": f"sim{conn.id}"}))
            if op == "unsubscribe":
                reply.unsubscribe.append(sub.name)
                continue
            reply.subscribe.append(sub)
            if sub.channel is Channel.DEPTH:
                # numbered as the deltas are (id-restart fault)
                snap = self.ctx.wire_snapshot(sub.symbol, self.ctx.model.snapshot(sub.symbol))
                reply.frames.append(self.encode_snapshot(sub.symbol, snap, self._now_ms(), sub))
            elif sub.params and sub.params[0] == "private":
                reply.frames.append(self._private_push(arg["channel"]))
        return reply

    def _subscription(self, conn: SimConnection, arg: dict[str, Any]) -> Subscription | str | None:
        channel = arg.get("channel")
        if channel in ("orders", "account"):
            if not conn.authenticated:
                return _dumps({"event": "error", "code": "60011", "msg": "Please log in"})
            return Subscription(Channel.BOOK_TICKER, self.ctx.model.symbols[0], f"{channel}", ("private",))
        inst = arg.get("instId")
        if inst not in self.ctx.model.symbols:
            return None
        name = f"{channel}:{inst}"
        candle = isinstance(channel, str) and channel[6:] in C.CANDLE_INTERVALS and channel.startswith("candle")
        if candle != (conn.path == C.BUSINESS_PATH):
            return _dumps({"event": "error", "code": "60018", "msg": f"Wrong URL or channel:{channel},instId:{inst}"})
        if candle:
            return Subscription(Channel.TRADE, inst, name, ("candle", channel[6:]))
        if channel == "books":
            return Subscription(Channel.DEPTH, inst, name)
        if channel == "bbo-tbt":
            return Subscription(Channel.BOOK_TICKER, inst, name)
        if channel == "trades":
            return Subscription(Channel.TRADE, inst, name)
        if channel == "tickers":
            return Subscription(Channel.TRADE, inst, name, ("tickers",))
        return None

    def _login(self, conn: SimConnection, arg: Any) -> Reply:
        ok = False
        if isinstance(arg, dict) and all(isinstance(arg.get(k), str) for k in ("apiKey", "passphrase", "timestamp", "sign")):
            secret = self.ctx.credentials.get(arg["apiKey"])
            ok = (secret is not None and arg["passphrase"] == SIM_PASSPHRASE
                  and hmac.compare_digest(login_sign(secret, arg["timestamp"]), arg["sign"]))
        if not self.ctx.check_auth(ok):
            return Reply([_dumps({"event": "error", "code": "60009", "msg": "Login failed."})])
        conn.authenticated = True
        return Reply([_dumps({"event": "login", "code": "0", "msg": "", "connId": f"sim{conn.id}"})])

    def _private_push(self, channel: str) -> str:
        """One deterministic sample push per private subscribe (from the current top of book)."""
        self._private_seq += 1
        n = self._private_seq
        sym = self.ctx.model.symbols[0]
        top = self.ctx.model.best_bid_ask(sym)
        ms = str(self._now_ms())
        if channel == "orders":
            data: list[dict[str, Any]] = [{
                "instType": "SPOT", "instId": sym, "ordId": str(1000 + n), "clOrdId": f"sim{n}", "px": top.bid_price,
                "sz": "1.5", "ordType": "limit", "side": "buy", "state": "partially_filled", "accFillSz": "0.5",
                "avgPx": top.bid_price, "fillPx": top.bid_price, "fillSz": "0.5", "tradeId": str(5000 + n),
                "fillFee": "-0.0005", "fillFeeCcy": sym.split("-")[0], "execType": "M", "fillTime": ms,
                "uTime": ms, "cTime": ms}]
            arg = {"channel": "orders", "instType": "ANY", "uid": "1"}
        else:
            data = [{"uTime": ms, "totalEq": "100.5", "details": [
                {"ccy": "USDT", "availBal": "99.0", "frozenBal": "1.5", "cashBal": "100.5", "eq": "100.5", "uTime": ms}]}]
            arg = {"channel": "account", "uid": "1"}
        return _dumps({"arg": arg, "data": data})

    # -- encoding -------------------------------------------------------------------------------
    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        # called right after the model step: the book after this delta is the model's current book. The
        # delta's ids are the wire's (the id-restart / past-int64 faults renumber them), never the model's.
        # A fabricated name (unknown-symbol flood) has no book: its checksum covers the delta's own levels.
        if delta.symbol in self.ctx.model.symbols:
            top = self.ctx.model.snapshot(delta.symbol, 25)
            checksum = self._checksum(top)
        else:
            checksum = okx_checksum(_levels(delta.bids[:25]), _levels(delta.asks[:25]))
        return _dumps({"arg": {"channel": "books", "instId": delta.symbol}, "action": "update", "data": [{
            "asks": _levels(delta.asks), "bids": _levels(delta.bids), "ts": str(delta.ts_ms),
            "checksum": checksum, "prevSeqId": delta.first_id - 1, "seqId": delta.last_id}]})

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        return _dumps({"arg": {"channel": "books", "instId": symbol}, "action": "snapshot", "data": [{
            "asks": _levels(snapshot.asks[:400]), "bids": _levels(snapshot.bids[:400]), "ts": str(ts_ms),
            "checksum": self._checksum(snapshot), "prevSeqId": -1, "seqId": snapshot.last_update_id}]})

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        if sub.params:
            return None   # a private subscription rides on this channel: nothing to push
        return _dumps({"arg": {"channel": "bbo-tbt", "instId": ticker.symbol}, "data": [{
            "asks": _levels([(ticker.ask_price, ticker.ask_qty)]), "bids": _levels([(ticker.bid_price, ticker.bid_qty)]),
            "ts": str(ticker.ts_ms), "seqId": ticker.update_id}]})

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        if sub.params and sub.params[0] == "tickers":
            return self._ticker(trade)
        if sub.params and sub.params[0] == "candle":
            return self._candle(trade, sub.params[1])
        return _dumps({"arg": {"channel": "trades", "instId": trade.symbol}, "data": [{
            "instId": trade.symbol, "tradeId": str(trade.trade_id), "px": okx_text(trade.price),
            "sz": okx_text(trade.qty), "side": trade.side, "ts": str(trade.ts_ms), "count": "1"}]})

    def _candle(self, trade: Trade, interval: str) -> str:
        """The candle of ``interval`` holding the trade: [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]."""
        unit = {"s": 1, "m": 60, "H": 3600, "D": 86400, "W": 604800, "M": 2592000}[interval[-1]] * 1000
        start = trade.ts_ms - trade.ts_ms % (int(interval[:-1]) * unit)
        c = self._candles.update((trade.symbol, interval), trade.price, trade.qty, start)
        values = (c.open, c.high, c.low, c.close, c.volume, c.volume, c.amount)
        return _dumps({"arg": {"channel": f"candle{interval}", "instId": trade.symbol}, "data": [
            [str(start)] + [okx_text(str(v)) for v in values] + ["0"]]})

    def _ticker(self, trade: Trade) -> str:
        """The rolling ticker since the first trade seen (``open24h`` = that first price)."""
        t = self._tickers.update(trade.symbol, trade.price, trade.qty)
        top = self.ctx.model.best_bid_ask(trade.symbol)
        return _dumps({"arg": {"channel": "tickers", "instId": trade.symbol}, "data": [{
            "instType": "SPOT", "instId": trade.symbol, "last": okx_text(trade.price), "lastSz": okx_text(trade.qty),
            "askPx": okx_text(top.ask_price), "bidPx": okx_text(top.bid_price), "open24h": okx_text(str(t.open)),
            "high24h": okx_text(str(t.high)), "low24h": okx_text(str(t.low)), "vol24h": okx_text(str(t.volume)),
            "volCcy24h": okx_text(str(t.amount)), "ts": str(trade.ts_ms)}]})
