"""OKX v5 connection and subscription strategies (public and private).

Requests (okx.com/docs-v5 "WebSocket")::

    {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}, ...]}
    {"op": "login", "args": [{"apiKey": K, "passphrase": P, "timestamp": "1538054050", "sign": S}]}

``sign`` = base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify")). The login answer
(``{"event":"login","code":"0"}`` or ``{"event":"error","code":"60009",...}``) reaches the connection
strategy through ``on_control``; private subscriptions are sent only after it.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any, Callable, Sequence

from feedhandler.core.credentials import Credentials
from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import Frame, SendFunc, SubscriptionAck, SubscriptionStrategy, UrlConnectionStrategy
from feedhandler.core.types import ChannelType, ConnectionContext, MessageType

from . import constants as C


def login_sign(secret: str, timestamp: str) -> str:
    """OKX login signature: base64 of HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify")."""
    payload = f"{timestamp}{C.LOGIN_METHOD}{C.LOGIN_PATH}".encode()
    return base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha256).digest()).decode()


class _Credentials(Credentials):
    """API key, secret and passphrase; never shown by repr/str."""

    __slots__ = ("_passphrase",)

    def __init__(self, api_key: str | None, secret_key: str | None, passphrase: str | None):
        super().__init__(api_key, secret_key)
        self._passphrase = passphrase

    def _parts(self) -> tuple[tuple[str, str | None], ...]:
        return (*super()._parts(), ("passphrase", self._passphrase))

    def login_message(self, timestamp: str) -> str:
        secret = self.require("okx private channels need api_key, secret_key and passphrase")
        arg = {"apiKey": self.api_key, "passphrase": self._passphrase, "timestamp": timestamp,
               "sign": login_sign(secret, timestamp)}
        return json.dumps({"op": "login", "args": [arg]}, separators=(",", ":"))


class OkxPublicConnectionStrategy(UrlConnectionStrategy):
    """Public WebSocket ``/ws/v5/public`` kept alive with the text ``ping`` (answered ``pong``)."""

    default_url = C.WS_PUBLIC_URL

    def __init__(self, ws_url: str | None = None, ping_interval: float = C.PING_INTERVAL, **kwargs: Any):
        super().__init__(ws_url or self.default_url, ping_interval)

    def endpoint_url(self, url: str, endpoint: str) -> str:
        """``business`` (candles): the same host, path ``/ws/v5/business``."""
        if endpoint == C.ENDPOINT_BUSINESS:
            return url.replace(C.PUBLIC_PATH, C.BUSINESS_PATH, 1)
        return url

    def create_ping_message(self) -> str:
        return C.PING_TEXT


class OkxPrivateConnectionStrategy(OkxPublicConnectionStrategy):
    """Private WebSocket ``/ws/v5/private``: the ``login`` op on every connection, awaited before subscribing.

    Parameters
    ----------
    api_key, secret_key, passphrase:
        Credentials (factory options; the passphrase defaults to ``$OKX_API_PASSPHRASE``, as the command
        line takes ``OKX_API_KEY``/``OKX_API_SECRET``); kept in ``context.auth_params``, never in a repr or
        an error.
    login_timeout:
        Seconds to wait for the login answer before the connection counts as rejected.
    clock:
        Wall clock in seconds (tests).
    """

    default_url = C.WS_PRIVATE_URL

    def __init__(self, ws_url: str | None = None, api_key: str | None = None, secret_key: str | None = None,
                 passphrase: str | None = None, login_timeout: float = C.LOGIN_TIMEOUT,
                 clock: Callable[[], float] = time.time, **kwargs: Any):
        super().__init__(ws_url=ws_url, **kwargs)
        self._credentials = _Credentials(api_key, secret_key, passphrase or os.environ.get(C.PASSPHRASE_ENV))
        self.login_timeout = float(login_timeout)
        self._clock = clock

    async def authenticate(self, send_func: SendFunc, context: ConnectionContext) -> bool:
        creds = _Credentials.from_context(context.auth_params)
        if creds is None:
            return False
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        context.auth_params["login"] = answer
        await send_func(creds.login_message(str(int(self._clock()))))
        try:
            return await asyncio.wait_for(answer, self.login_timeout)
        except TimeoutError:
            return False
        finally:
            context.auth_params.pop("login", None)

    def on_control(self, message_type: int, raw: Frame, context: ConnectionContext | None) -> None:
        """The login answer: ``{"event":"login","code":"0"}`` accepts, an ``error`` event refuses."""
        answer = context.auth_params.get("login") if context is not None else None
        if answer is None or answer.done() or message_type not in (MessageType.AUTH_ACK, MessageType.ERROR):
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if isinstance(msg, dict) and msg.get("event") in ("login", "error"):
            answer.set_result(msg.get("event") == "login" and str(msg.get("code")) == "0")


class OkxPublicSubscriptionStrategy(SubscriptionStrategy):
    """``{"op":"subscribe","args":[{"channel":..,"instId":..}]}``; keys ``"<channel>:<instId>"``.

    Parameters
    ----------
    book_channel:
        What ``ChannelType.ORDERBOOK`` subscribes: ``"books"`` (400 levels; default).
    kline_interval:
        Candle interval (``"1m"``, ``"1H"``...).
    """

    max_subscriptions_per_connection = C.MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_messages_per_second = C.MAX_MESSAGES_PER_SECOND

    def __init__(self, book_channel: str = C.CH_BOOKS, kline_interval: str = C.DEFAULT_CANDLE_INTERVAL,
                 **kwargs: Any):
        if book_channel != C.CH_BOOKS:
            raise ConfigurationError(f"okx book_channel must be 'books', not {book_channel!r}")
        if kline_interval not in C.CANDLE_INTERVALS:
            raise ConfigurationError(f"okx kline_interval must be one of {C.CANDLE_INTERVALS}, not {kline_interval!r}")
        self.book_channel = book_channel
        self.kline_interval = kline_interval

    def _args(self, symbols: Sequence[str], channel: ChannelType) -> list[dict[str, str]]:
        names = {ChannelType.ORDERBOOK: self.book_channel, ChannelType.TRADES: C.CH_TRADES,
                 ChannelType.BOOK_TICKER: C.CH_BBO, ChannelType.TICKER: C.CH_TICKERS,
                 ChannelType.KLINE: C.CH_CANDLE_PREFIX + self.kline_interval}
        name = names.get(channel)
        if name is None:
            raise ConfigurationError(f"okx public feed has no channel for {channel.value!r}")
        return [{"channel": name, "instId": s} for s in symbols]

    def endpoint(self, channel: ChannelType) -> str:
        """Candles are served on ``/ws/v5/business`` only (okx.com/docs-v5 changelog, 2023): their own connections."""
        return C.ENDPOINT_BUSINESS if ChannelType.parse(channel) is ChannelType.KLINE else ""

    @staticmethod
    def _key(arg: dict[str, Any]) -> str:
        return f"{arg.get('channel')}:{arg.get('instId') or arg.get('instType') or ''}".rstrip(":")

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        return [self._key(a) for ch in channels for a in self._args(symbols, ChannelType.parse(ch))]

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        args = [a for ch in channels for a in self._args(symbols, ChannelType.parse(ch))]
        op = "subscribe" if is_subscribe else "unsubscribe"
        return [json.dumps({"op": op, "args": args}, separators=(",", ":"))] if args else []

    def ack_from_control(self, message_type: int, control_id: int, control_code: int,
                         control_text: str | None) -> SubscriptionAck | None | Any:
        """The decoder's ``event`` and ``arg`` key (``OkxDecoder.control_text``): the frame is not parsed again;
        an ``error`` naming an ``arg`` goes to :meth:`parse_ack` for its ``msg`` (rare)."""
        if message_type == MessageType.ERROR:
            return None if control_text is None else NotImplemented
        if message_type != MessageType.SUBSCRIPTION_ACK:
            return None
        return SubscriptionAck(confirmed=[control_text]) if control_text else SubscriptionAck()

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        try:
            msg = json.loads(frame)
        except ValueError:
            return None
        if not isinstance(msg, dict) or not isinstance(msg.get("arg"), dict):
            return None   # an error without arg (OKX does not echo it): reported as is
        if msg.get("event") == "subscribe":
            return SubscriptionAck(confirmed=[self._key(msg["arg"])])
        if msg.get("event") == "error":
            return SubscriptionAck(failed=[self._key(msg["arg"])], reason=f"code {msg.get('code')}: {msg.get('msg')}")
        return SubscriptionAck()


class OkxPrivateSubscriptionStrategy(OkxPublicSubscriptionStrategy):
    """Private ``orders`` (instType ANY: every order of the account, fills inside) and ``account``."""

    max_subscriptions_per_connection = 1_000_000   # account-wide channels: every symbol fits

    def _args(self, symbols: Sequence[str], channel: ChannelType) -> list[dict[str, str]]:
        if not symbols:
            return []
        if channel in (ChannelType.ORDERS, ChannelType.FILLS):
            return [{"channel": C.CH_ORDERS, "instType": C.ORDERS_INST_TYPE}]
        if channel is ChannelType.BALANCES:
            return [{"channel": C.CH_ACCOUNT}]
        return super()._args(symbols, channel)

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        args = {json.dumps(a, sort_keys=True): a for ch in channels for a in self._args(symbols, ChannelType.parse(ch))}
        op = "subscribe" if is_subscribe else "unsubscribe"
        return [json.dumps({"op": op, "args": list(args.values())}, separators=(",", ":"))] if args else []
