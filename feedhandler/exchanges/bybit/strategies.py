"""Bybit v5 connection and subscription strategies (public and private).

Requests (protocols.md section 6)::

    {"req_id": "7", "op": "subscribe", "args": ["orderbook.200.BTCUSDT", "publicTrade.BTCUSDT"]}
    {"req_id": "8", "op": "ping"}
    {"req_id": "1", "op": "auth", "args": [api_key, expires_ms, hex(HMAC-SHA256(secret, "GET/realtime" + expires))]}

Acks echo ``req_id`` with ``success`` and ``ret_msg``; each request's id is mapped back to the topics it
carried, so a refused topic is reported by name.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from feedhandler.core.credentials import Credentials
from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import Frame, SendFunc, SubscriptionAck, SubscriptionStrategy, UrlConnectionStrategy
from feedhandler.core.types import ChannelType, ConnectionContext, MessageType

from . import constants as C

_MAX_PENDING = 10_000
_PRIVATE_TOPICS = {ChannelType.ORDERS: C.TOPIC_ORDER, ChannelType.FILLS: C.TOPIC_EXECUTION,
                   ChannelType.BALANCES: C.TOPIC_WALLET}


def sign(secret: str, expires_ms: int) -> str:
    """The ``auth`` signature: hex HMAC-SHA256 of ``"GET/realtime" + expires``."""
    return hmac.new(secret.encode(), f"{C.AUTH_PAYLOAD_PREFIX}{expires_ms}".encode(), hashlib.sha256).hexdigest()


class BybitCredentials(Credentials):
    """API key and secret; never shown by repr/str, never pickled."""

    __slots__ = ()

    def auth_message(self, expires_ms: int) -> str:
        """The ``auth`` op for a connection (a fresh ``expires`` per connection)."""
        secret = self.require("bybit private channels need api_key and secret_key")
        return json.dumps({"req_id": "auth", "op": C.OP_AUTH,
                           "args": [self.api_key, expires_ms, sign(secret, expires_ms)]}, separators=(",", ":"))


def _url_with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class BybitPublicConnectionStrategy(UrlConnectionStrategy):
    """``wss://stream.bybit.com/v5/public/{market}`` with the ``{"op":"ping"}`` heartbeat every 20 s.

    Parameters
    ----------
    ws_url:
        Override of ``wss://stream.bybit.com/v5/public/{market}`` (the simulator passes its own).
    market:
        ``"spot"``, ``"linear"`` (default) or ``"inverse"``.
    ping_interval:
        Seconds between pings.
    """

    def __init__(self, ws_url: str | None = None, market: str = C.DEFAULT_MARKET,
                 ping_interval: float = C.PING_INTERVAL, **kwargs: Any):
        if market not in C.MARKETS:
            raise ConfigurationError(f"bybit market must be one of {C.MARKETS}, not {market!r}")
        super().__init__(ws_url or C.WS_PUBLIC_URL.format(market=market), ping_interval)
        self.market = market
        self._ping_ids = itertools.count(1)

    def create_ping_message(self) -> str:
        return f'{{"req_id":"ping-{next(self._ping_ids)}","op":"{C.OP_PING}"}}'


class BybitPrivateConnectionStrategy(BybitPublicConnectionStrategy):
    """``wss://stream.bybit.com/v5/private``; :meth:`authenticate` sends the signed ``auth`` op.

    A ``ws_url`` given for the public side (``.../v5/public/linear``) is moved to ``/v5/private`` on the
    same host. The answer is decoded by the private parser: a refusal is reported as an
    ``AuthenticationError`` and the connection is retried with backoff.
    """

    def __init__(self, ws_url: str | None = None, api_key: str | None = None, secret_key: str | None = None,
                 clock_ms: Callable[[], int] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.url = _url_with_path(ws_url, C.PRIVATE_PATH) if ws_url else C.WS_PRIVATE_URL
        self._credentials = BybitCredentials(api_key, secret_key)
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))

    async def authenticate(self, send_func: SendFunc, context: ConnectionContext) -> bool:
        creds = BybitCredentials.from_context(context.auth_params)
        if creds is None:
            return False
        await send_func(creds.auth_message(int(self._clock_ms()) + C.AUTH_EXPIRES_MS))
        return True


class BybitPublicSubscriptionStrategy(SubscriptionStrategy):
    """Topic names, request envelopes and ack matching of the public topics.

    Parameters
    ----------
    depth:
        ``orderbook`` depth: 1, 50, 200 (default) or 1000.
    kline_interval:
        ``kline`` interval (``"1"`` minute by default; ``"D"``, ``"W"``, ``"M"``).

    ``BOOK_TICKER`` and ``TICKER`` both read the ``tickers`` topic (one subscription when both are asked).
    """

    max_subscriptions_per_connection = C.MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_messages_per_second = C.MAX_MESSAGES_PER_SECOND

    def __init__(self, depth: int = C.DEFAULT_BOOK_DEPTH, kline_interval: str = C.DEFAULT_KLINE_INTERVAL,
                 **kwargs: Any):
        if int(depth) not in C.BOOK_DEPTHS:
            raise ConfigurationError(f"bybit depth must be one of {C.BOOK_DEPTHS}, not {depth!r}")
        if str(kline_interval) not in C.KLINE_INTERVALS:
            raise ConfigurationError(f"bybit kline_interval must be one of {C.KLINE_INTERVALS}, not {kline_interval!r}")
        self.depth = int(depth)
        self.kline_interval = str(kline_interval)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, list[str]] = OrderedDict()

    def _topic(self, symbol: str, channel: ChannelType) -> str:
        if channel is ChannelType.ORDERBOOK:
            return C.TOPIC_BOOK.format(depth=self.depth, symbol=symbol)
        if channel is ChannelType.TRADES:
            return C.TOPIC_TRADE.format(symbol=symbol)
        if channel in (ChannelType.BOOK_TICKER, ChannelType.TICKER):
            return C.TOPIC_TICKER.format(symbol=symbol)
        if channel is ChannelType.KLINE:
            return C.TOPIC_KLINE.format(interval=self.kline_interval, symbol=symbol)
        raise ConfigurationError(f"bybit public feed has no topic for {channel.value!r}")

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        keys = [self._topic(s, ChannelType.parse(ch)) for ch in channels for s in symbols]
        return list(dict.fromkeys(keys))

    def book_topic(self, symbol: str) -> str:
        """The ``orderbook`` topic of ``symbol`` (what a book recovery resubscribes)."""
        return self._topic(symbol, ChannelType.ORDERBOOK)

    def topic_messages(self, topics: Sequence[str], is_subscribe: bool) -> list[str | bytes]:
        """(Un)subscribe requests for ``topics``, at most 10 args each (the spot limit)."""
        op = C.OP_SUBSCRIBE if is_subscribe else C.OP_UNSUBSCRIBE
        out: list[str | bytes] = []
        for i in range(0, len(topics), C.MAX_ARGS_PER_REQUEST):
            args = list(topics[i:i + C.MAX_ARGS_PER_REQUEST])
            with self._lock:
                req_id = str(next(self._ids))
                if is_subscribe:
                    self._pending[req_id] = args
                    while len(self._pending) > _MAX_PENDING:   # acks that never came: stay bounded
                        self._pending.popitem(last=False)
            out.append(json.dumps({"req_id": req_id, "op": op, "args": args}, separators=(",", ":")))
        return out

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        return self.topic_messages(self.subscription_keys(symbols, channels), is_subscribe)

    def ack_from_control(self, message_type: int, control_id: int, control_code: int,
                         control_text: str | None) -> SubscriptionAck | None | Any:
        """The decoder's ``req_id``, ``success`` and ``ret_msg`` (``BybitDecoder.control_*``): the answer of
        :meth:`parse_ack` without parsing the frame again (a ``req_id`` that is not a number goes there)."""
        if control_id < 0:
            return NotImplemented
        ok = message_type == MessageType.SUBSCRIPTION_ACK and control_code == 0
        with self._lock:
            keys = self._pending.pop(str(control_id), None) or []
        return SubscriptionAck(confirmed=keys if ok else [], failed=[] if ok else keys,
                               reason=None if ok else str(control_text)[:200])

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        """``{"success":..,"ret_msg":..,"req_id":..,"op":"subscribe"}`` -> the topics of that request."""
        try:
            msg = json.loads(frame if isinstance(frame, (str, bytes)) else bytes(frame))
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(msg, dict) or msg.get("op") not in (C.OP_SUBSCRIBE, C.OP_UNSUBSCRIBE):
            return None
        ok = msg.get("success") is True
        reason = None if ok else str(msg.get("ret_msg"))[:200]
        if msg["op"] == C.OP_UNSUBSCRIBE:
            return SubscriptionAck(reason=reason)
        req_id = msg.get("req_id")
        with self._lock:
            keys = self._pending.pop(req_id, None) if isinstance(req_id, str) else None
        keys = keys or []
        return SubscriptionAck(confirmed=keys if ok else [], failed=[] if ok else keys, reason=reason)


class BybitPrivateSubscriptionStrategy(BybitPublicSubscriptionStrategy):
    """Private topics ``order``, ``execution``, ``wallet`` (account-wide: whatever the symbols)."""

    max_subscriptions_per_connection = 1_000_000

    def __init__(self, api_key: str | None = None, secret_key: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._credentials = BybitCredentials(api_key, secret_key)

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        if not symbols:
            return []
        keys = []
        for ch in channels:
            ch = ChannelType.parse(ch)
            if ch not in _PRIVATE_TOPICS:
                raise ConfigurationError(f"bybit private feed has no topic for {ch.value!r}")
            keys.append(_PRIVATE_TOPICS[ch])
        return list(dict.fromkeys(keys))

    def channel_name(self, symbol: str, channel: ChannelType) -> str:
        return _PRIVATE_TOPICS[ChannelType.parse(channel)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(credentials={self._credentials!r})"
