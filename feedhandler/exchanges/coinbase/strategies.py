"""Coinbase Advanced Trade connection and subscription strategies (public and private ``user``).

Requests (ws-overview)::

    {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "level2"}
    {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "user", "jwt": "<ES256 JWT>"}

``heartbeats`` is subscribed with every subscribe, so ``sequence_num`` keeps moving on quiet products. The
``subscriptions`` frame lists everything the connection holds; it confirms the keys it names. The private
side signs a fresh CDP JWT (ES256, PyJWT + cryptography: ``pip install 'feedhandler[coinbase]'``) for every
subscribe message: key name as ``kid``/``sub``, a random ``nonce``, valid 2 minutes.
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any, Callable, Sequence

from feedhandler.core.credentials import Credentials
from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import Frame, SendFunc, SubscriptionAck, SubscriptionStrategy, UrlConnectionStrategy
from feedhandler.core.types import ChannelType, ConnectionContext, MessageType

from . import constants as C

_PUBLIC = {ChannelType.ORDERBOOK: C.CH_LEVEL2, ChannelType.TRADES: C.CH_TRADES, ChannelType.BOOK_TICKER: C.CH_TICKER,
           ChannelType.TICKER: C.CH_TICKER, ChannelType.KLINE: C.CH_CANDLES}


class CoinbaseCredentials(Credentials):
    """CDP API key name and EC private key (PEM); never shown by repr/str, never pickled."""

    __slots__ = ()

    def jwt(self, now: float) -> str:
        """A fresh ES256 JWT for the WebSocket (no ``uri`` claim)."""
        secret = self.require("coinbase private channels need api_key (the CDP key name) and secret_key (its PEM)")
        try:
            import jwt
        except ImportError:
            raise ConfigurationError("coinbase private channels need PyJWT: pip install 'feedhandler[coinbase]'") from None
        payload = {"iss": C.JWT_ISSUER, "nbf": int(now), "exp": int(now) + C.JWT_LIFETIME, "sub": self.api_key}
        try:
            return jwt.encode(payload, secret, algorithm=C.JWT_ALGORITHM,
                              headers={"kid": self.api_key, "nonce": secrets.token_hex(16)})
        except (ValueError, TypeError, jwt.PyJWTError):
            # never chain the library's exception: its text may quote the key material
            raise ConfigurationError("coinbase secret_key is not a PEM EC private key (P-256) usable for ES256") from None


class CoinbasePublicConnectionStrategy(UrlConnectionStrategy):
    """``wss://advanced-trade-ws.coinbase.com``; no application ping (the ``heartbeats`` channel keeps it busy)."""

    def __init__(self, ws_url: str | None = None, **kwargs: Any):
        super().__init__(ws_url or C.WS_URL)


class CoinbasePrivateConnectionStrategy(CoinbasePublicConnectionStrategy):
    """``wss://advanced-trade-ws-user.coinbase.com``: no login step (each subscribe carries its JWT);
    :meth:`authenticate` only checks that the credentials are there."""

    def __init__(self, ws_url: str | None = None, api_key: str | None = None, secret_key: str | None = None,
                 **kwargs: Any):
        super().__init__(ws_url or C.WS_USER_URL)
        self._credentials = CoinbaseCredentials(api_key, secret_key)

    async def authenticate(self, send_func: SendFunc, context: ConnectionContext) -> bool:
        return self._credentials.complete


class CoinbasePublicSubscriptionStrategy(SubscriptionStrategy):
    """Channel names, subscribe messages (one per channel, with ``heartbeats``) and ack matching.

    ``BOOK_TICKER`` and ``TICKER`` both read the ``ticker`` channel. Every product stays on one connection:
    ``sequence_num`` is per connection.
    """

    max_subscriptions_per_connection = C.MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_messages_per_second = C.MAX_MESSAGES_PER_SECOND
    _channels = _PUBLIC
    _side = "public"

    def __init__(self, **kwargs: Any):
        pass   # the factory passes every option; none changes the public channels

    def _channel(self, channel: ChannelType) -> str:
        try:
            return self._channels[ChannelType.parse(channel)]
        except KeyError:
            raise ConfigurationError(f"coinbase {self._side} feed has no channel for {ChannelType.parse(channel).value!r}") from None

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        names = dict.fromkeys(self._channel(ch) for ch in channels)
        return [f"{name}:{s}" for name in names for s in symbols]

    def _message(self, kind: str, channel: str, symbols: Sequence[str]) -> str:
        return json.dumps({"type": kind, "product_ids": list(symbols), "channel": channel}, separators=(",", ":"))

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        if not symbols:
            return []
        names = list(dict.fromkeys(self._channel(ch) for ch in channels))
        if is_subscribe:
            names.append(C.CH_HEARTBEATS)   # never unsubscribed: other products share it
        return [self._message("subscribe" if is_subscribe else "unsubscribe", n, symbols) for n in names]

    def ack_from_control(self, message_type: int, control_id: int, control_code: int,
                         control_text: str | None) -> SubscriptionAck | None | Any:
        """An ``error`` frame from the decoder's ``control_text`` (its ``message``), not parsed again; the
        ``subscriptions`` answer, a nested channel -> products object, is read by :meth:`parse_ack`."""
        if message_type == MessageType.ERROR and control_text is not None:
            return SubscriptionAck(reason=control_text[:200])
        return NotImplemented

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        """``subscriptions`` frames confirm every ``channel:product`` they list; errors carry no request id."""
        try:
            msg = json.loads(frame if isinstance(frame, (str, bytes)) else bytes(frame))
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(msg, dict):
            return None
        if msg.get("type") == "error":
            return SubscriptionAck(reason=str(msg.get("message"))[:200])
        confirmed = []
        for ev in msg.get("events") or ():
            subs = ev.get("subscriptions") if isinstance(ev, dict) else None
            if isinstance(subs, dict):
                confirmed += [f"{ch}:{p}" for ch, products in subs.items() if isinstance(products, list)
                              for p in products]
        return SubscriptionAck(confirmed=confirmed)


class CoinbasePrivateSubscriptionStrategy(CoinbasePublicSubscriptionStrategy):
    """The ``user`` channel (orders), each subscribe signed with a fresh JWT. FILLS and BALANCES are refused:
    the Advanced Trade ``user`` channel carries orders (with their cumulative fills), not separate fills or
    balances."""

    _channels = {ChannelType.ORDERS: C.CH_USER}
    _side = "private"

    def __init__(self, api_key: str | None = None, secret_key: str | None = None,
                 clock: Callable[[], float] = time.time, **kwargs: Any):
        self._credentials = CoinbaseCredentials(api_key, secret_key)
        self._clock = clock

    def _message(self, kind: str, channel: str, symbols: Sequence[str]) -> str:
        return json.dumps({"type": kind, "product_ids": list(symbols), "channel": channel,
                           "jwt": self._credentials.jwt(self._clock())}, separators=(",", ":"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(credentials={self._credentials!r})"
