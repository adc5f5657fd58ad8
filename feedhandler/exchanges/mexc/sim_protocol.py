"""``mexc``: MEXC spot v3 as the simulator serves it (protobuf data frames, JSON control frames).

WebSocket ``/ws`` (and ``/ws?listenKey=K`` for user data):

- ``{"method":"SUBSCRIPTION","params":[ch,...]}`` -> ``{"id":0,"code":0,"msg":"ch1,ch2"}``;
  ``UNSUBSCRIPTION`` likewise; ``{"method":"PING"}`` -> ``{"id":0,"code":0,"msg":"PONG"}``.
- More than 30 subscriptions on a connection, an unknown channel or a private channel without a
  listen key -> ``{"id":0,"code":0,"msg":"Not Subscribed successfully! [ch,...].  Reason： <why>"}``
  (the shape observed from MEXC; the reasons are the simulator's own words).
- A bad ``listenKey`` on the URL -> the text frame ``Invalid listen key``, then close 1008.
- Data: binary ``PushDataV3ApiWrapper`` frames, fields in the order 1 channel, 3 symbol, 6 sendTime,
  then the body (313 aggre depth, 303 limit depth, 314 aggre deals, 315 aggre bookTicker; private
  304 orders, 306 deals, 307 account).

Channels: ``spot@public.aggre.depth.v3.api.pb@(100ms|10ms)@SYM``, ``spot@public.limit.depth.v3.api.pb@SYM@(5|10|20)``,
``spot@public.aggre.deals.v3.api.pb@(100ms|10ms)@SYM``, ``spot@public.aggre.bookTicker.v3.api.pb@(100ms|10ms)@SYM``,
``spot@public.kline.v3.api.pb@SYM@(Min1|...|Month1)`` (308), ``spot@public.miniTicker.v3.api.pb@SYM@TZ`` (309)
and ``spot@private.{orders,deals,account}.v3.api.pb``.

Klines and mini tickers are built from the model's trades: each trade published while at least one
connection holds the stream updates the running candle of its window (windows aligned to the epoch;
``Month1`` is 30 days here) and the rolling ticker (last, high, low, base and quote volume, change
against the first trade seen), and pushes it at once (MEXC pushes every 1-3 s; the values are the
same kind). Nothing else feeds them, so a test can rebuild them from the trades. The private streams are a minimal
deterministic generator: every public trade of the model is reported as the account's own fill
(an order update, a deal and a USDT balance change), so tests can check them against the trades.

REST: ``GET /api/v3/depth?symbol=S&limit=N`` (limit 1..5000, default 100); ``POST|PUT|DELETE
/api/v3/userDataStream`` signed as MEXC documents (header ``X-MEXC-APIKEY``, ``timestamp``,
``signature = hex(HMAC-SHA256(secret, query-without-signature + body))``); PUT and DELETE need a live
``listenKey``. Every listen-key call is recorded in :attr:`MexcSimProtocol.listen_key_log`.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, Trade
from feedhandler.sim.protocol import Channel, Frame, Reply, SimConnection, SimProtocol, Subscription, register_protocol
from feedhandler.sim.wire import Candles, depth_reply, json_decoder, json_text, url_listen_key

__all__ = ["KLINE_SECONDS", "MexcSimProtocol", "encode_message", "encode_wrapper", "mini_ticker_rate"]

MAX_SUBSCRIPTIONS = 30
DEFAULT_DEPTH_LIMIT = 100
MAX_DEPTH_LIMIT = 5000
PRIVATE_CHANNELS = ("spot@private.orders.v3.api.pb", "spot@private.deals.v3.api.pb", "spot@private.account.v3.api.pb")
_PUBLIC = re.compile(
    r"^spot@public\.(?:(aggre\.depth|aggre\.deals|aggre\.bookTicker)\.v3\.api\.pb@(100ms|10ms)@([A-Z0-9_]+)"
    r"|limit\.depth\.v3\.api\.pb@([A-Z0-9_]+)@(5|10|20))$"
)
_KLINE_OR_MINI = re.compile(
    r"^spot@public\.(?:kline\.v3\.api\.pb@([A-Z0-9_]+)@(Min1|Min5|Min15|Min30|Min60|Hour4|Hour8|Day1|Week1|Month1)"
    r"|miniTicker\.v3\.api\.pb@([A-Z0-9_]+)@(24H|UTC[+-][0-9]{1,2}(?::[0-9]{2})?))$"
)
#: kline window lengths in seconds (Month1: 30 days in the simulator)
KLINE_SECONDS = {"Min1": 60, "Min5": 300, "Min15": 900, "Min30": 1800, "Min60": 3600, "Hour4": 14400,
                 "Hour8": 28800, "Day1": 86400, "Week1": 604800, "Month1": 2592000}
_KIND = {"aggre.depth": Channel.DEPTH, "aggre.deals": Channel.TRADE, "aggre.bookTicker": Channel.BOOK_TICKER}



# ---- a small protobuf encoder (plain Python: the simulator is not the hot path) ------------------------

def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1  # negative int64 -> two's complement, 10 bytes
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, value: Any) -> bytes:
    """One field: ``int`` -> varint (wire type 0); ``str``/``bytes`` -> length-delimited (wire type 2)."""
    if isinstance(value, bool) or isinstance(value, int):
        return _varint(number << 3) + _varint(int(value))
    data = value.encode() if isinstance(value, str) else bytes(value)
    return _varint((number << 3) | 2) + _varint(len(data)) + data


def encode_message(fields: list[tuple[int, Any]]) -> bytes:
    """Serialize ``(field_number, value)`` pairs in order; proto3 defaults (``""``, ``0``, ``False``) are omitted."""
    return b"".join(_field(n, v) for n, v in fields if not (v == "" or v is False or (type(v) is int and v == 0)))


def _levels(number: int, levels: Any) -> list[tuple[int, bytes]]:
    return [(number, encode_message([(1, p), (2, q)])) for p, q in levels]


def encode_wrapper(channel: str, symbol: str | None, send_ms: int, body_field: int, body: bytes) -> bytes:
    """A ``PushDataV3ApiWrapper``: 1 channel, 3 symbol, 6 sendTime, then the body (as MEXC orders them)."""
    head = [(1, channel)]
    if symbol:
        head.append((3, symbol))
    head.append((6, send_ms))
    return encode_message(head) + _field(body_field, body)


def mini_ticker_rate(first: Decimal, last: Decimal) -> Decimal:
    """The simulator's mini-ticker change: ``last / first - 1`` as a fraction, 4 decimals (MEXC sends a fraction)."""
    return (last / first - 1).quantize(Decimal("0.0001"))


def _control(msg: str, code: int = 0) -> str:
    return json_text({"id": 0, "code": code, "msg": msg})


@register_protocol
class MexcSimProtocol(SimProtocol):
    """MEXC spot v3 (see the module docstring)."""

    name: ClassVar[str] = "mexc"
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws",)
    channels: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.DEPTH, Channel.TRADE, Channel.BOOK_TICKER, Channel.PARTIAL_DEPTH})
    max_subscriptions: ClassVar[int] = MAX_SUBSCRIPTIONS
    binary_data: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.listen_keys: set[str] = set()
        #: (method, ok, monotonic time) of every listen-key call, for tests
        self.listen_key_log: list[tuple[str, bool, float]] = []
        self.signed_payloads: list[tuple[str, str]] = []
        self._order_seq = 0
        #: running candles per (symbol, interval), windows start in epoch seconds
        self._candles: Candles[tuple[str, str]] = Candles()
        #: rolling mini tickers per (symbol, tz)
        self._minis: Candles[tuple[str, str]] = Candles()

    # -- connection and messages ----------------------------------------------------------------

    def on_connect(self, conn: SimConnection) -> Reply:
        accepted = url_listen_key(self.ctx, conn, self.listen_keys)
        if accepted is False:
            return Reply(["Invalid listen key"], close=(1008, "invalid listen key"))
        if accepted:
            conn.state["listen_key"] = conn.query["listenKey"]
        return Reply()

    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        try:
            request = json_decoder.decode(message)
        except msgspec.DecodeError:
            return Reply([_control("Invalid request: not JSON", 1)])
        if not isinstance(request, dict):
            return Reply([_control("Invalid request: not a JSON object", 1)])
        method = request.get("method")
        if method == "PING":
            return Reply([_control("PONG")])
        if method not in ("SUBSCRIPTION", "UNSUBSCRIPTION"):
            return Reply([_control(f"Invalid request: unknown method {str(method)[:40]}", 1)])
        params = request.get("params")
        if not isinstance(params, list) or not params or not all(isinstance(p, str) for p in params):
            return Reply([_control("Invalid request: params must be a non-empty list of channels", 1)])
        subs: list[Subscription] = []
        bad: list[str] = []
        for ch in params:
            parsed = self._parse_channel(conn, ch)
            if parsed is None:
                bad.append(ch)
            else:
                subs.extend(parsed)
        if method == "UNSUBSCRIPTION":
            names = {s.name for s in subs} | {n for n in conn.subscriptions if n.split("|", 1)[0] in params}
            return Reply([_control(",".join(params))], unsubscribe=sorted(names))
        if bad:
            return Reply([_control(f"Not Subscribed successfully! [{','.join(bad)}].  Reason： Blocked!")])
        channels_after = {n.split("|", 1)[0] for n in conn.subscriptions} | set(params)
        if len(channels_after) > self.max_subscriptions:
            return Reply([_control(f"Not Subscribed successfully! [{','.join(params)}].  "
                                   f"Reason： at most {self.max_subscriptions} subscriptions per connection")])
        return Reply([_control(",".join(params))], subscribe=subs)

    def _parse_channel(self, conn: SimConnection, ch: str) -> list[Subscription] | None:
        if ch in PRIVATE_CHANNELS:
            if not conn.authenticated:
                return None
            # one internal subscription per model symbol, fed by that symbol's trades
            kind = ch.split(".")[1]
            return [Subscription(Channel.TRADE, s, f"{ch}|{s}", ("private", kind)) for s in self.ctx.model.symbols]
        m = _PUBLIC.match(ch)
        if m is None:
            return self._parse_kline_or_mini(ch)
        if m.group(1):
            symbol = m.group(3)
            if symbol not in self.ctx.model.symbols:
                return None
            return [Subscription(_KIND[m.group(1)], symbol, ch, (m.group(2),))]
        symbol = m.group(4)
        if symbol not in self.ctx.model.symbols:
            return None
        return [Subscription(Channel.PARTIAL_DEPTH, symbol, ch, (int(m.group(5)),))]

    def _parse_kline_or_mini(self, ch: str) -> list[Subscription] | None:
        m = _KLINE_OR_MINI.match(ch)
        if m is None:
            return None
        symbol = m.group(1) or m.group(3)
        if symbol not in self.ctx.model.symbols:
            return None
        # fed by the symbol's trades (Channel.TRADE); params tell encode_trade what to build
        if m.group(1):
            return [Subscription(Channel.TRADE, symbol, ch, ("kline", m.group(2)))]
        return [Subscription(Channel.TRADE, symbol, ch, ("miniTicker", m.group(4)))]

    # -- encoding -------------------------------------------------------------------------------

    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        event_type = sub.name.rsplit("@", 1)[0]
        body = encode_message(
            _levels(1, delta.asks) + _levels(2, delta.bids)
            + [(3, event_type), (4, str(delta.first_id)), (5, str(delta.last_id)), (6, delta.ts_ms)])
        return encode_wrapper(sub.name, delta.symbol, delta.ts_ms, 313, body)

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        if sub.params and sub.params[0] == "private":
            return self._encode_private(trade, sub)
        if sub.params and sub.params[0] == "kline":
            return self._encode_kline(trade, sub)
        if sub.params and sub.params[0] == "miniTicker":
            return self._encode_mini_ticker(trade, sub)
        side = 1 if trade.side == "buy" else 2
        item = encode_message([(1, trade.price), (2, trade.qty), (3, side), (4, trade.ts_ms),
                               (5, str(trade.trade_id))])
        body = encode_message([(1, item), (2, sub.name.rsplit("@", 1)[0])])
        return encode_wrapper(sub.name, trade.symbol, trade.ts_ms, 314, body)

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        body = encode_message([(1, ticker.bid_price), (2, ticker.bid_qty), (3, ticker.ask_price),
                               (4, ticker.ask_qty), (5, str(ticker.update_id)), (6, ticker.ts_ms)])
        return encode_wrapper(sub.name, ticker.symbol, ticker.ts_ms, 315, body)

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        if sub.channel is not Channel.PARTIAL_DEPTH:
            return None
        depth = sub.params[0]
        body = encode_message(
            _levels(1, snapshot.asks[:depth]) + _levels(2, snapshot.bids[:depth])
            + [(3, "spot@public.limit.depth.v3.api.pb"), (4, str(snapshot.last_update_id)), (5, ts_ms)])
        return encode_wrapper(sub.name, symbol, ts_ms, 303, body)

    def _encode_kline(self, trade: Trade, sub: Subscription) -> bytes:
        """308: the running candle of the trade's window, updated with the trade."""
        interval = sub.params[1]
        seconds = KLINE_SECONDS[interval]
        start = trade.ts_ms // 1000 // seconds * seconds
        c = self._candles.update((trade.symbol, interval), trade.price, trade.qty, start)
        body = encode_message([(1, interval), (2, start), (3, str(c.open)), (4, str(c.close)), (5, str(c.high)),
                               (6, str(c.low)), (7, str(c.volume)), (8, str(c.amount)), (9, start + seconds)])
        return encode_wrapper(sub.name, trade.symbol, trade.ts_ms, 308, body)

    def _encode_mini_ticker(self, trade: Trade, sub: Subscription) -> bytes:
        """309: the rolling ticker since the first trade seen on the stream, updated with the trade."""
        t = self._minis.update((trade.symbol, sub.params[1]), trade.price, trade.qty)
        price = t.close
        rate = str(mini_ticker_rate(t.open, price))
        body = encode_message([(1, trade.symbol), (2, str(price)), (3, rate), (4, rate), (5, str(t.high)),
                               (6, str(t.low)), (7, str(t.amount)), (8, str(t.volume)), (9, rate), (10, rate),
                               (11, str(t.high)), (12, str(t.low))])
        return encode_wrapper(sub.name, trade.symbol, trade.ts_ms, 309, body)

    def _encode_private(self, trade: Trade, sub: Subscription) -> bytes:
        """The account's own fill for a public trade: deterministic in the trade."""
        kind = sub.params[1]
        channel = sub.name.split("|", 1)[0]
        side = 1 if trade.side == "buy" else 2
        order_id = f"C02__{trade.trade_id:018d}"
        if kind == "orders":
            body = encode_message([
                (1, order_id), (2, f"sim-{trade.trade_id}"), (3, trade.price), (4, trade.qty), (5, "0"),
                (6, trade.price), (7, 1), (8, side), (9, False), (10, "0"), (11, "0"), (12, trade.qty),
                (13, trade.qty), (14, "0"), (15, 2), (16, trade.ts_ms)])
            return encode_wrapper(channel, trade.symbol, trade.ts_ms, 304, body)
        if kind == "deals":
            body = encode_message([
                (1, trade.price), (2, trade.qty), (3, "0"), (4, side), (5, True), (6, False),
                (7, f"{trade.trade_id}X1"), (8, f"sim-{trade.trade_id}"), (9, order_id), (10, "0.001"),
                (11, "USDT"), (12, trade.ts_ms)])
            return encode_wrapper(channel, trade.symbol, trade.ts_ms, 306, body)
        body = encode_message([
            (1, "USDT"), (2, "128f589271cb4951b03e71e6323eb7be"), (3, f"{1000 + trade.trade_id % 1000}.5"),
            (4, "-1"), (5, "0"), (6, "0"), (7, "ENTRUST"), (8, trade.ts_ms)])
        return encode_wrapper(channel, None, trade.ts_ms, 307, body)

    # -- REST -----------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/depth", self._depth)
        for method in ("POST", "PUT", "DELETE"):
            app.router.add_route(method, "/api/v3/userDataStream", self._user_data_stream)

    async def _depth(self, request: web.Request) -> web.Response:
        return await depth_reply(
            self.ctx, request, DEFAULT_DEPTH_LIMIT, MAX_DEPTH_LIMIT,
            unknown_symbol=lambda symbol: {"code": -1121, "msg": "Invalid symbol."},
            bad_limit=lambda raw: {"code": 700002, "msg": f"limit must be in 1..{MAX_DEPTH_LIMIT}"},
            extra=lambda: {"timestamp": int(time.time() * 1000)})

    async def _user_data_stream(self, request: web.Request) -> web.Response:
        method = request.method
        raw_query = request.rel_url.raw_query_string
        body = (await request.read()).decode("utf-8", "replace")
        # totalParams = the query string without "&signature=..." + the body (no "&" between them)
        parts = raw_query.split("&")
        signature = ""
        kept = []
        for part in parts:
            if part.startswith("signature="):
                signature = part[len("signature="):]
            else:
                kept.append(part)
        total = "&".join(kept) + body
        params = dict(parse_qsl(total, keep_blank_values=True))
        api_key = request.headers.get("X-MEXC-APIKEY", "")
        self.signed_payloads.append((method, total))
        ok = "timestamp" in params and self.ctx.verify_hmac(api_key, total, signature)
        if not ok:
            self.listen_key_log.append((method, False, time.monotonic()))
            return web.json_response({"code": 700002, "msg": "Signature for this request is not valid."}, status=400)
        if method == "POST":
            key = self.ctx.new_token()
            self.listen_keys.add(key)
            self.listen_key_log.append((method, True, time.monotonic()))
            return web.json_response({"listenKey": key})
        key = params.get("listenKey", "")
        if key not in self.listen_keys:
            self.listen_key_log.append((method, False, time.monotonic()))
            return web.json_response({"code": 730706, "msg": "Invalid listenKey"}, status=400)
        if method == "DELETE":
            self.listen_keys.discard(key)
        self.listen_key_log.append((method, True, time.monotonic()))
        return web.json_response({"listenKey": key})
