"""The migration guide's ``MexcWebsocketPublic`` / ``MexcWebsocketPrivate``, written in the OLD style.

They are the worked example of a legacy client: one subclass each of
:class:`~feedhandler.legacy.base.BaseExchangeWebsocketInterface` that mixes connection, subscription
and parsing, with its own protobuf decoding in plain Python (:mod:`feedhandler.legacy.protowire`, not
the compiled decoder), its own order books (sorted dicts) and its own book synchronisation (the MEXC
procedure: REST ``lastUpdateId`` snapshot + ``fromVersion``/``toVersion`` continuity). Events reach
the handler through the legacy ``_handle_orderbook`` / ``_handle_trades`` / ``_handle_ticker``
helpers, as the same ``feedhandler.events`` types the new strategies deliver, so the two
implementations can be run in parallel and compared (:mod:`feedhandler.migration.parallel`).

Speed is not the point here: this is the reference the new compiled parser is checked against.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import time
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

from sortedcontainers import SortedDict

from ..core.errors import AuthenticationError, ConfigurationError, ParseError, RestError
from ..core.strategies import Frame, SubscriptionAck
from ..core.types import ChannelType, ConnectionContext, MessageType, WebSocketManagerConfig
from ..events import BalanceUpdate, BookStatus, BookTicker, BookUpdate, Fill, OrderUpdate, Trade
from .base import BaseExchangeWebsocketInterface, SubscriptionAction
from .protowire import WireError, fields, to_int64, to_text

__all__ = ["MexcWebsocketPrivate", "MexcWebsocketPublic", "PyOrderBook"]

WS_URL = "wss://wbs-api.mexc.com/ws"
REST_URL = "https://api.mexc.com"
_SIDE = {1: 1, 2: 2}  # tradeType 1 buy, 2 sell -> Side.BUY / Side.SELL
_ORDER_TYPES = {1: "LIMIT_ORDER", 2: "POST_ONLY", 3: "IMMEDIATE_OR_CANCEL", 4: "FILL_OR_KILL", 5: "MARKET_ORDER",
                100: "STOP_LIMIT"}
_ORDER_STATUS = {1: "NEW", 2: "FILLED", 3: "PARTIALLY_FILLED", 4: "CANCELED", 5: "PARTIALLY_CANCELED"}


def _num(v: Any, what: str) -> float:
    try:
        x = float(to_text(v))
    except ValueError:
        raise ParseError(f"mexc (legacy): {what} is not a number") from None
    return x


def _version(v: Any, what: str) -> int:
    text = to_text(v)
    if not text.isdigit():
        raise ParseError(f"mexc (legacy): {what} {text[:30]!r} is not a decimal integer")
    return int(text)


class PyOrderBook:
    """A plain-Python L2 book with the read API of :class:`feedhandler.book.OrderBook` that handlers use."""

    def __init__(self, symbol: str):
        self.symbol = symbol
        self.last_update_id = 0
        self._bids: SortedDict = SortedDict()  # key -price: best first
        self._asks: SortedDict = SortedDict()

    def load(self, bids: Sequence[Sequence[float]], asks: Sequence[Sequence[float]], update_id: int) -> None:
        self._bids = SortedDict({-float(p): float(q) for p, q in bids if float(q) > 0})
        self._asks = SortedDict({float(p): float(q) for p, q in asks if float(q) > 0})
        self.last_update_id = update_id

    def apply(self, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> None:
        for p, q in bids:
            if q == 0:
                self._bids.pop(-p, None)
            else:
                self._bids[-p] = q
        for p, q in asks:
            if q == 0:
                self._asks.pop(p, None)
            else:
                self._asks[p] = q

    @property
    def best_bid(self) -> tuple[float, float] | None:
        if not self._bids:
            return None
        k, q = self._bids.peekitem(0)
        return -k, q

    @property
    def best_ask(self) -> tuple[float, float] | None:
        return self._asks.peekitem(0) if self._asks else None

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def bids(self, n: int | None = None) -> list[tuple[float, float]]:
        items = self._bids.items() if n is None else self._bids.items()[:n]
        return [(-k, q) for k, q in items]

    def asks(self, n: int | None = None) -> list[tuple[float, float]]:
        return list(self._asks.items() if n is None else self._asks.items()[:n])

    def top_bids(self, n: int) -> tuple[list[float], list[float]]:
        lv = self.bids(n)
        return [p for p, _ in lv], [q for _, q in lv]

    def top_asks(self, n: int) -> tuple[list[float], list[float]]:
        lv = self.asks(n)
        return [p for p, _ in lv], [q for _, q in lv]

    def is_crossed(self) -> bool:
        b, a = self.best_bid, self.best_ask
        return b is not None and a is not None and b[0] >= a[0]

    def to_dict(self) -> dict[str, object]:
        return {"symbol": self.symbol, "last_update_id": self.last_update_id, "bids": self.bids(), "asks": self.asks()}


class _LegacyBookSync:
    """The MEXC book procedure in plain Python (see feedhandler/exchanges/mexc/rules.py for the steps)."""

    def __init__(self, client: "MexcWebsocketPublic", symbol: str):
        self.client = client
        self.symbol = symbol
        self.book = PyOrderBook(symbol)
        self.live = False
        self.first_pending = False
        self.buffer: list[tuple[int, int, list, list]] = []
        self.snapshot_requested = False

    def _request(self) -> None:
        if not self.snapshot_requested:
            self.snapshot_requested = True
            self.client._request_snapshot(self.symbol)

    def _invalidate(self, reason: str) -> None:
        was_live = self.live
        self.live = False
        self.first_pending = False
        self.buffer.clear()
        if was_live:
            self.client._handle_event(BookStatus(exchange="mexc", symbol=self.symbol, valid=False, reason=reason,
                                                 update_id=self.book.last_update_id))

    def _verdict(self, first: int, last: int) -> str:
        local = self.book.last_update_id
        if self.first_pending:
            target = local + 1
            return "skip" if last < target else ("apply" if first <= target else "gap")
        if first == local + 1:
            return "apply"
        return "skip" if last <= local else "gap"

    def _apply(self, last: int, bids: list, asks: list) -> bool:
        self.book.apply(bids, asks)
        self.book.last_update_id = last
        if self.book.is_crossed():
            self._invalidate(f"crossed book at update {last}")
            self._request()
            return False
        return True

    def on_delta(self, first: int, last: int, bids: list, asks: list, ts_ns: int) -> None:
        if not self.live:
            self.buffer.append((first, last, bids, asks))
            self._request()
            return
        verdict = self._verdict(first, last)
        if verdict == "skip":
            return
        if verdict == "gap":
            self._invalidate(f"gap: expected update {self.book.last_update_id + 1}, got {first}..{last}")
            self.buffer.append((first, last, bids, asks))
            self._request()
            return
        self.first_pending = False
        if self._apply(last, bids, asks):
            self.client._handle_orderbook(BookUpdate(
                exchange="mexc", symbol=self.symbol, book=self.book, first_update_id=first, last_update_id=last,
                is_snapshot=False, exchange_ts_ns=ts_ns, recv_ns=self.client.recv_ns))

    def load_snapshot(self, update_id: int, bids: Sequence, asks: Sequence, recv_ns: int = 0) -> None:
        was_live = self.live
        self.snapshot_requested = False
        self.book.load(bids, asks, update_id)
        self.live = True
        self.first_pending = True
        pending, self.buffer = self.buffer, []
        for i, (first, last, b, a) in enumerate(pending):
            verdict = self._verdict(first, last)
            if verdict == "skip":
                continue
            if verdict == "gap":
                self.buffer = pending[i:]  # snapshot too old, or updates lost while buffering
                self.live = False
                self._request()
                return
            self.first_pending = False
            if not self._apply(last, b, a):
                return
        if self.book.is_crossed():
            self._invalidate(f"crossed book after snapshot {update_id}")
            self._request()
            return
        if not was_live:
            self.client._handle_event(BookStatus(exchange="mexc", symbol=self.symbol, valid=True, reason="synced",
                                                 update_id=self.book.last_update_id, recv_ns=recv_ns))
        self.client._handle_orderbook(BookUpdate(
            exchange="mexc", symbol=self.symbol, book=self.book, first_update_id=update_id,
            last_update_id=self.book.last_update_id, is_snapshot=True, recv_ns=recv_ns))


class _MexcLegacyBase(BaseExchangeWebsocketInterface):
    """What both legacy MEXC clients share: control frames, the wrapper walk, acks, pings."""

    exchange_name = "mexc"
    ping_interval = 20.0
    max_lifetime = 24 * 3600.0 - 60.0
    max_subscriptions_per_connection = 30
    max_messages_per_second = 50.0

    def __init__(self, config: WebSocketManagerConfig | None = None, *, ws_url: str | None = None,
                 rest_url: str | None = None, **kwargs: Any):
        super().__init__(config or WebSocketManagerConfig("mexc"), **kwargs)
        self.ws_url = ws_url or WS_URL
        self.rest_url = (rest_url or REST_URL).rstrip("/")
        self._session: Any = None

    def _get_message_type(self, raw_message: Frame) -> MessageType:
        if isinstance(raw_message, str):
            text = raw_message
        else:
            head = bytes(raw_message[:1])
            if head != b"{" and head != b"I":  # binary push; "Invalid listen key" is text
                return MessageType.DATA
            text = bytes(raw_message).decode("utf-8", "replace")
        if '"PONG"' in text:
            return MessageType.PONG
        if text.startswith("Invalid listen key"):
            return MessageType.ERROR
        return MessageType.SUBSCRIPTION_ACK

    def _parse_ack(self, raw_message: Frame) -> SubscriptionAck | None:
        text = raw_message if isinstance(raw_message, str) else bytes(raw_message).decode("utf-8", "replace")
        try:
            obj = json.loads(text)
        except ValueError:
            return SubscriptionAck(reason=text[:200])
        msg = str(obj.get("msg", "")) if isinstance(obj, dict) else ""
        if "Not Subscribed successfully!" in msg:
            inner = msg[msg.find("[") + 1:msg.find("]")]
            return SubscriptionAck(failed=[c for c in inner.split(",") if c], reason=msg)
        return SubscriptionAck(confirmed=[c for c in msg.split(",") if c])

    def _create_ping_message(self) -> str:
        return '{"method":"PING"}'

    async def _on_message(self, raw_message: Frame) -> None:
        if self._get_message_type(raw_message) != MessageType.DATA:
            return  # acks and pongs: the manager tracks them through _parse_ack
        channel = ""
        symbol = ""
        send_ms = create_ms = 0
        body: tuple[int, Any] | None = None
        try:
            for number, wire, value in fields(raw_message):
                if number == 1 and wire == 2:
                    channel = to_text(value)
                elif number == 3 and wire == 2:
                    symbol = to_text(value)
                elif number == 5 and wire == 0:
                    create_ms = to_int64(value)
                elif number == 6 and wire == 0:
                    send_ms = to_int64(value)
                elif 301 <= number <= 315 and wire == 2:
                    body = (number, value)
            if body is None:
                return
            if not symbol:
                symbol = _symbol_from_channel(channel)
            ts_ns = (send_ms or create_ms) * 1_000_000
            self._dispatch(body[0], body[1], channel, symbol, ts_ns)
        except WireError as exc:
            raise ParseError(f"mexc (legacy): malformed frame: {exc}") from None

    def _dispatch(self, body: int, data: Any, channel: str, symbol: str, ts_ns: int) -> None:
        return None

    async def _http(self, method: str, path: str, params: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._session.request(method, self.rest_url + path, params=params, headers=headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RestError(f"mexc (legacy) {method} {path}: HTTP {resp.status}: {body[:200]!r}", resp.status)
            return json.loads(body)

    async def _close_client(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _symbol_from_channel(channel: str) -> str:
    i = channel.find(".pb@")
    if i < 0:
        return ""
    for part in channel[i + 4:].split("@"):
        if not (part.endswith("ms") and part[:-2].isdigit()):
            return part
    return ""


def _levels(items: list[Any], what: str) -> list[tuple[float, float]]:
    out = []
    for item in items:
        price = qty = None
        for n, w, v in fields(item):
            if n == 1 and w == 2:
                price = _num(v, f"{what} price")
            elif n == 2 and w == 2:
                qty = _num(v, f"{what} quantity")
        if price is None or qty is None:
            raise ParseError(f"mexc (legacy): {what} level without price or quantity")
        if not (math.isfinite(price) and price > 0 and math.isfinite(qty) and qty >= 0):
            raise ParseError(f"mexc (legacy): invalid {what} level {price} x {qty}")
        out.append((price, qty))
    return out


class MexcWebsocketPublic(_MexcLegacyBase):
    """MEXC public market data, the legacy way: aggregated depth books, deals, book tickers.

    Parameters
    ----------
    config:
        ``channel_types`` chooses ORDERBOOK (aggregated depth + REST snapshot), TRADES, BOOK_TICKER.
    ws_url, rest_url:
        Overrides (the simulator).
    speed:
        ``"100ms"`` or ``"10ms"`` (``config.options["speed"]`` is used when not given).
    snapshot_limit:
        ``limit`` of the REST depth snapshot.
    fetch_snapshots:
        False: never call REST; snapshots are loaded from outside with :meth:`load_snapshot` (replays).
    """

    _TEMPLATES = {
        ChannelType.ORDERBOOK: "spot@public.aggre.depth.v3.api.pb@{speed}@{symbol}",
        ChannelType.TRADES: "spot@public.aggre.deals.v3.api.pb@{speed}@{symbol}",
        ChannelType.BOOK_TICKER: "spot@public.aggre.bookTicker.v3.api.pb@{speed}@{symbol}",
    }

    def __init__(self, config: WebSocketManagerConfig | None = None, *, ws_url: str | None = None,
                 rest_url: str | None = None, speed: str | None = None, snapshot_limit: int = 5000,
                 fetch_snapshots: bool = True, **kwargs: Any):
        super().__init__(config, ws_url=ws_url, rest_url=rest_url, **kwargs)
        self.speed = speed or self.config.options.get("speed", "100ms")
        if self.speed not in ("100ms", "10ms"):
            raise ConfigurationError(f"mexc speed must be 100ms or 10ms, got {self.speed!r}")
        for c in self.channels:
            if c not in self._TEMPLATES:
                raise ConfigurationError(f"legacy mexc client has no {c.value!r} channel")
        self.snapshot_limit = snapshot_limit
        self.fetch_snapshots = fetch_snapshots
        self.books: dict[str, _LegacyBookSync] = {}
        self.snapshot_requests: list[str] = []
        self._snapshot_tasks: set[asyncio.Task[None]] = set()

    async def get_connect_url(self) -> str:
        return self.ws_url

    def _subscription_keys(self, symbol: str) -> list[str]:
        sym = symbol.upper()
        return [self._TEMPLATES[c].format(speed=self.speed, symbol=sym) for c in self.channels]

    def _create_subscriptions(self, symbol: str, action: SubscriptionAction) -> list[str | bytes]:
        method = "SUBSCRIPTION" if action is SubscriptionAction.SUBSCRIBE else "UNSUBSCRIPTION"
        return [json.dumps({"method": method, "params": self._subscription_keys(symbol)})]

    def _dispatch(self, body: int, data: Any, channel: str, symbol: str, ts_ns: int) -> None:
        if body == 313 or body == 302:
            self._handle_depth(body, data, symbol, ts_ns)
        elif body == 314 or body == 301:
            self._handle_deals(data, symbol)
        elif body == 315 or body == 305:
            self._handle_book_ticker(data, symbol, ts_ns)

    def _handle_depth(self, body: int, data: Any, symbol: str, ts_ns: int) -> None:
        asks_raw: list[Any] = []
        bids_raw: list[Any] = []
        first = last = None
        for n, w, v in fields(data):
            if n == 1 and w == 2:
                asks_raw.append(v)
            elif n == 2 and w == 2:
                bids_raw.append(v)
            elif n == 4 and w == 2:
                first = _version(v, "fromVersion")
                if body == 302:
                    last = first
            elif n == 5 and w == 2 and body == 313:
                last = _version(v, "toVersion")
        if not symbol:
            raise ParseError("mexc (legacy): depth frame without a symbol")
        if first is None or last is None or last < first:
            raise ParseError("mexc (legacy): depth frame without a valid fromVersion/toVersion")
        # decode everything before touching the book: a malformed frame changes nothing
        asks = self._ask_levels(asks_raw)
        bids = _levels(bids_raw, "bid")
        sync = self.books.get(symbol)
        if sync is None:
            sync = self.books[symbol] = _LegacyBookSync(self, symbol)
        sync.on_delta(first, last, bids, asks, ts_ns)

    def _ask_levels(self, items: list[Any]) -> list[tuple[float, float]]:
        """Ask levels of a depth frame (a separate method so tests can plant a bug here)."""
        return _levels(items, "ask")

    def _handle_deals(self, data: Any, symbol: str) -> None:
        trades = []
        for n, w, v in fields(data):
            if n != 1 or w != 2:
                continue
            price = qty = None
            side = 0
            t_ms = 0
            trade_id = ""
            for fn, fw, fv in fields(v):
                if fn == 1 and fw == 2:
                    price = _num(fv, "deal price")
                elif fn == 2 and fw == 2:
                    qty = _num(fv, "deal quantity")
                elif fn == 3 and fw == 0:
                    side = _SIDE.get(to_int64(fv), 0)
                elif fn == 4 and fw == 0:
                    t_ms = to_int64(fv)
                elif fn == 5 and fw == 2:
                    trade_id = to_text(fv)
            if price is None or qty is None:
                raise ParseError("mexc (legacy): deal without price or quantity")
            if trade_id.isdigit() and int(trade_id) < 1 << 63:
                tid, tid_str = int(trade_id), ""
            else:
                tid, tid_str = -1, trade_id
            trades.append(Trade(exchange="mexc", symbol=symbol, exchange_ts_ns=t_ms * 1_000_000,
                                recv_ns=self.recv_ns, price=price, qty=qty, side=side, trade_id=tid,
                                trade_id_str=tid_str))
        self._handle_trades(trades)

    def _handle_book_ticker(self, data: Any, symbol: str, ts_ns: int) -> None:
        vals: dict[int, Any] = {}
        for n, w, v in fields(data):
            if w == 2 and 1 <= n <= 5:
                vals[n] = v
        try:
            bp, bq, ap, aq = (_num(vals[i], "book ticker") for i in (1, 2, 3, 4))
        except KeyError:
            raise ParseError("mexc (legacy): book ticker without bid/ask") from None
        version = _version(vals[5], "version") if 5 in vals else 0
        self._handle_ticker(BookTicker(exchange="mexc", symbol=symbol, exchange_ts_ns=ts_ns, recv_ns=self.recv_ns,
                                       bid_price=bp, bid_qty=bq, ask_price=ap, ask_qty=aq, update_id=version))

    # ---- snapshots ---------------------------------------------------------------------------
    def _request_snapshot(self, symbol: str) -> None:
        self.snapshot_requests.append(symbol)
        if not self.fetch_snapshots:
            return
        task = asyncio.get_running_loop().create_task(self._fetch_snapshot(symbol))
        self._snapshot_tasks.add(task)
        task.add_done_callback(self._snapshot_tasks.discard)

    async def _fetch_snapshot(self, symbol: str) -> None:
        for attempt in range(5):
            try:
                data = await self._http("GET", "/api/v3/depth", {"symbol": symbol, "limit": str(self.snapshot_limit)})
                self.load_snapshot(symbol, int(data["lastUpdateId"]), data["bids"], data["asks"], time.monotonic_ns())
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._handle_error(exc)
                await asyncio.sleep(0.2 * (attempt + 1))
        sync = self.books.get(symbol)
        if sync is not None:
            sync.snapshot_requested = False  # the next delta asks again

    def load_snapshot(self, symbol: str, update_id: int, bids: Sequence, asks: Sequence, recv_ns: int = 0) -> None:
        """Load a depth snapshot (levels as ``[price, qty]`` strings or numbers) into the symbol's book."""
        sync = self.books.get(symbol)
        if sync is None:
            sync = self.books[symbol] = _LegacyBookSync(self, symbol)
        sync.load_snapshot(update_id, [(float(p), float(q)) for p, q in bids],
                           [(float(p), float(q)) for p, q in asks], recv_ns)

    def book(self, symbol: str) -> PyOrderBook | None:
        sync = self.books.get(symbol)
        return None if sync is None else sync.book

    def is_book_valid(self, symbol: str) -> bool:
        sync = self.books.get(symbol)
        return sync is not None and sync.live

    def _on_connection_lost(self, symbols: list[str]) -> None:
        for s in symbols:
            sync = self.books.get(s)
            if sync is not None:
                sync._invalidate("connection lost")

    def _on_unsubscribed(self, symbols: list[str]) -> None:
        for s in symbols:
            self.books.pop(s, None)

    async def _close_client(self) -> None:
        for task in list(self._snapshot_tasks):
            task.cancel()
        await asyncio.gather(*self._snapshot_tasks, return_exceptions=True)
        await super()._close_client()


class MexcWebsocketPrivate(_MexcLegacyBase):
    """MEXC user data, the legacy way: the listen key is created in ``get_connect_url`` (a new one per
    connection) and extended in the keep-alive; orders, deals and account pushes become
    ``OrderUpdate``, ``Fill`` and ``BalanceUpdate``.

    Parameters
    ----------
    config:
        ``api_key``/``secret_key`` and ``channel_types`` (ORDERS, FILLS, BALANCES).
    private_rest_client:
        Optional object with ``async create_listen_key()``/``keep_alive_listen_key(k)``/
        ``delete_listen_key(k)`` (the guide's ``rest_client``); by default the client signs its own calls.
    """

    keep_alive_interval = 1800.0
    _CHANNELS = {ChannelType.ORDERS: "spot@private.orders.v3.api.pb",
                 ChannelType.FILLS: "spot@private.deals.v3.api.pb",
                 ChannelType.BALANCES: "spot@private.account.v3.api.pb"}

    def __init__(self, private_rest_client: Any = None, config: WebSocketManagerConfig | None = None, *,
                 ws_url: str | None = None, rest_url: str | None = None, **kwargs: Any):
        config = config or WebSocketManagerConfig("mexc", is_private=True, channel_types=list(self._CHANNELS))
        super().__init__(config, ws_url=ws_url, rest_url=rest_url, **kwargs)
        self.rest_client = private_rest_client
        for c in self.channels:
            if c not in self._CHANNELS:
                raise ConfigurationError(f"legacy mexc private client has no {c.value!r} channel")
        self.listen_key: str | None = None

    def _signed(self, params: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        key, secret = self.config.api_key, self.config.secret_key
        if not key or not secret:
            raise ConfigurationError("mexc private feed needs api_key and secret_key in the config")
        p = {k: str(v) for k, v in params.items()}
        p["timestamp"] = str(int(time.time() * 1000))
        query = urlencode(p)
        p["signature"] = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        return p, {"X-MEXC-APIKEY": key}

    async def _listen_key_call(self, method: str, key: str | None = None) -> str:
        if self.rest_client is not None:
            if method == "POST":
                return await self.rest_client.create_listen_key()
            if method == "PUT":
                await self.rest_client.keep_alive_listen_key(key)
            else:
                await self.rest_client.delete_listen_key(key)
            return key or ""
        params, headers = self._signed({"listenKey": key} if key else {})
        try:
            data = await self._http(method, "/api/v3/userDataStream", params, headers)
        except RestError as exc:
            if method == "POST" and exc.status == 400:
                raise AuthenticationError(f"mexc (legacy) rejected the listen-key request: {exc}") from None
            raise
        return str(data.get("listenKey", ""))

    async def get_connect_url(self) -> str:
        old, self.listen_key = self.listen_key, None
        if old:
            try:
                await self._listen_key_call("DELETE", old)
            except Exception as exc:  # best effort: an old key expires anyway
                self._handle_error(exc)
        self.listen_key = await self._listen_key_call("POST")
        sep = "&" if "?" in self.ws_url else "?"
        return f"{self.ws_url}{sep}listenKey={self.listen_key}"

    async def _keep_alive(self, context: ConnectionContext) -> None:
        if self.listen_key:
            await self._listen_key_call("PUT", self.listen_key)

    def _subscription_keys(self, symbol: str) -> list[str]:
        return [self._CHANNELS[c] for c in self.channels]

    def _create_subscriptions(self, symbol: str, action: SubscriptionAction) -> list[str | bytes]:
        method = "SUBSCRIPTION" if action is SubscriptionAction.SUBSCRIBE else "UNSUBSCRIPTION"
        return [json.dumps({"method": method, "params": self._subscription_keys(symbol)})]

    def _dispatch(self, body: int, data: Any, channel: str, symbol: str, ts_ns: int) -> None:
        v: dict[int, Any] = {}
        for n, w, val in fields(data):
            v[n] = val
        text = lambda i: to_text(v[i]) if i in v else ""  # noqa: E731
        number = lambda i: _num(v[i], f"field {i}") if i in v else 0.0  # noqa: E731
        integer = lambda i: to_int64(v[i]) if i in v else 0  # noqa: E731
        if body == 304:
            self._handle_event(OrderUpdate(
                exchange="mexc", symbol=symbol, exchange_ts_ns=integer(16) * 1_000_000 or ts_ns,
                recv_ns=self.recv_ns, order_id=text(1), client_order_id=text(2), side=_SIDE.get(integer(8), 0),
                order_type=_ORDER_TYPES.get(integer(7), str(integer(7))),
                status=_ORDER_STATUS.get(integer(15), str(integer(15))), price=number(3), qty=number(4),
                filled_qty=number(13), avg_price=number(6)))
        elif body == 306:
            self._handle_event(Fill(
                exchange="mexc", symbol=symbol, exchange_ts_ns=integer(12) * 1_000_000 or ts_ns,
                recv_ns=self.recv_ns, order_id=text(9), trade_id=text(7), side=_SIDE.get(integer(4), 0),
                price=number(1), qty=number(2), fee=number(10), fee_asset=text(11), is_maker=bool(integer(5))))
        elif body == 307:
            self._handle_event(BalanceUpdate(
                exchange="mexc", symbol=symbol, exchange_ts_ns=integer(8) * 1_000_000 or ts_ns,
                recv_ns=self.recv_ns, asset=text(1), free=number(3), locked=number(5)))

    async def _close_client(self) -> None:
        key, self.listen_key = self.listen_key, None
        if key:
            try:
                await asyncio.wait_for(self._listen_key_call("DELETE", key), 5.0)
            except Exception:
                pass
        await super()._close_client()
