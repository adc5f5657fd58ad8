"""Binance spot user data (private side) over the WebSocket API.

The listenKey flow (``POST /api/v3/userDataStream`` + ``/ws/<listenKey>``) stopped working on 2026-02-20
(protocols.md 3.7). The current way, implemented here: connect to ``wss://ws-api.binance.com:443/ws-api/v3``
and send one signed request per connection::

    {"id": "uds-7-1", "method": "userDataStream.subscribe.signature",
     "params": {"apiKey": K, "timestamp": T, "signature": S}}

with ``S = hex(HMAC-SHA256(secret, "apiKey=K&timestamp=T"))`` (every param except ``signature``, sorted by
name, ``k=v`` joined by ``&``; an optional ``recvWindow`` takes part). It works with HMAC keys and without
``session.logon``. The response ``{"id":..,"status":200,"result":{"subscriptionId":N}}`` is the ack; events
then arrive as ``{"subscriptionId":N,"event":{...}}``. One subscription carries the whole account:
ORDERS, FILLS and BALANCES all come from it, and the decoder delivers only the kinds the subscribing
config asked for (the request id carries them: ``"uds-<mask>-<n>"``).

Failure handling: a refused subscribe (bad signature, unknown key, timestamp outside ``recvWindow``) is
reported as ``AuthenticationError``/``SubscriptionError`` and the connection is closed, so the manager
retries with its backoff and a fresh timestamp and signature (a WS API connection stays open after a
refused request and would otherwise idle forever). ``eventStreamTerminated`` also reconnects.
The transport answers the server's protocol pings; an application ``ping`` request every
``ping_interval`` seconds keeps frames coming on a quiet account so the stale watchdog stays quiet.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
import time
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

import msgspec

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.credentials import Credentials
from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import ConnectionStrategy, Frame, SendFunc, SubscriptionAck, SubscriptionStrategy
from feedhandler.core.types import ChannelType, ConnectionContext
from feedhandler.sync.synced_parser import SyncedMessageParser

from . import constants as C
from .private_decoder import BinancePrivateDecoder

__all__ = [
    "BinancePrivateConnectionStrategy",
    "BinancePrivateMessageParser",
    "BinancePrivateSubscriptionStrategy",
    "channel_mask",
    "sign_params",
    "signature_payload",
]

_json = msgspec.json.Decoder()
_MAX_PENDING = 10_000

_MASK_BITS = {
    ChannelType.ORDERS: C.PRIVATE_MASK_ORDERS,
    ChannelType.FILLS: C.PRIVATE_MASK_FILLS,
    ChannelType.BALANCES: C.PRIVATE_MASK_BALANCES,
}


def signature_payload(params: Mapping[str, Any]) -> str:
    """The signed text: every param except ``signature``, sorted by name, as ``k=v`` joined by ``&``."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def sign_params(secret: str, params: Mapping[str, Any]) -> str:
    """Hex HMAC-SHA256 of :func:`signature_payload` (HMAC keys; RSA/Ed25519 keys sign differently)."""
    return hmac.new(secret.encode(), signature_payload(params).encode(), hashlib.sha256).hexdigest()


def channel_mask(channels: Iterable[ChannelType | str]) -> int:
    """Bits of the private channels among ``channels`` (ORDERS 1, FILLS 2, BALANCES 4).

    Raises
    ------
    ConfigurationError
        A public channel was asked for on the private side.
    """
    mask = 0
    for ch in channels:
        c = ChannelType.parse(ch)
        bit = _MASK_BITS.get(c)
        if bit is None:
            raise ConfigurationError(
                f"binance private side serves ORDERS, FILLS and BALANCES, not {c.name}; "
                "use a public manager for market data")
        mask |= bit
    return mask


def _ws_api_url(ws_url: str | None, ws_api_url: str | None) -> str:
    """``ws_api_url`` verbatim; else ``ws_url``, moved to ``/ws-api/v3`` when it is a stream-endpoint URL
    (``/stream``, ``/ws``, ``/ws/<stream>``: what the simulator and the CLI pass for Binance)."""
    if ws_api_url:
        return ws_api_url
    if not ws_url:
        return C.WS_API_URL
    parts = urlsplit(ws_url)
    if parts.path in ("", "/", "/stream", "/ws") or parts.path.startswith("/ws/"):
        return urlunsplit((parts.scheme, parts.netloc, C.WS_API_PATH, "", ""))
    return ws_url


class _Credentials(Credentials):
    """API key and secret; never shown by repr/str, never put in an exception message."""

    __slots__ = ()

    def sign(self, params: Mapping[str, Any]) -> str:
        assert self._secret is not None
        return sign_params(self._secret, params)


class BinancePrivateConnectionStrategy(ConnectionStrategy):
    """Connects to the WebSocket API; the subscribe request itself is signed by the subscription strategy.

    Parameters
    ----------
    ws_url:
        Override; a Binance *stream* URL (``.../stream``, ``.../ws``) is moved to ``/ws-api/v3`` on the same
        host, so the simulator's and the CLI's ``ws_url`` work for both sides. Use ``ws_api_url`` to give the
        exact URL.
    ws_api_url:
        Exact WebSocket API URL (default ``wss://ws-api.binance.com:443/ws-api/v3``).
    max_lifetime:
        Seconds before the manager reconnects proactively (just under the 24 h limit).
    ping_interval:
        Seconds between application ``ping`` requests (0 disables; keep it under the manager's
        ``stale_timeout``). Protocol pings from the server are answered by the transport.
    api_key, secret_key:
        Credentials (also accepted from the manager config); :meth:`authenticate` refuses to go on
        without both.
    """

    def __init__(self, ws_url: str | None = None, ws_api_url: str | None = None,
                 max_lifetime: float = C.PRIVATE_MAX_LIFETIME, ping_interval: float = C.PRIVATE_PING_INTERVAL,
                 api_key: str | None = None, secret_key: str | None = None, **kwargs: Any):
        if not 0 < float(max_lifetime) < C.CONNECTION_LIFETIME:
            raise ConfigurationError(f"binance max_lifetime must be in (0, {C.CONNECTION_LIFETIME:g}) seconds")
        if float(ping_interval) < 0:
            raise ConfigurationError("binance ping_interval must be >= 0")
        self.url = _ws_api_url(ws_url, ws_api_url)
        self.max_lifetime = float(max_lifetime)
        self.ping_interval = float(ping_interval)
        self._credentials = _Credentials(api_key, secret_key)
        self._ping_ids = itertools.count(1)

    async def create_connection_context(self, is_private: bool = True, api_key: str | None = None,
                                        secret_key: str | None = None) -> ConnectionContext:
        creds = self._credentials.overridden(api_key, secret_key)
        return ConnectionContext(url=self.url, ping_interval=self.ping_interval, keep_alive_interval=0.0,
                                 is_authenticated=False, max_lifetime=self.max_lifetime,
                                 auth_params={"credentials": creds})

    async def authenticate(self, send_func: SendFunc, context: ConnectionContext) -> bool:
        """No logon step (``subscribe.signature`` is signed per request): only check the credentials exist."""
        return _Credentials.from_context(context.auth_params) is not None

    def create_ping_message(self) -> str:
        """``{"id":"ping-<n>","method":"ping"}``; the answer is classified as PONG."""
        return f'{{"id":"{C.PING_ID_PREFIX}{next(self._ping_ids)}","method":"{C.WS_API_PING_METHOD}"}}'

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(url={self.url!r}, ping_interval={self.ping_interval}, "
                f"max_lifetime={self.max_lifetime}, credentials={self._credentials!r})")


class BinancePrivateSubscriptionStrategy(SubscriptionStrategy):
    """The signed ``userDataStream.subscribe.signature`` request and the matching of its response.

    Subscription keys are account-wide: ``"userData:orders"``, ``"userData:fills"``,
    ``"userData:balances"`` (whatever the symbols: Binance user data is per account, so every symbol of
    the account is delivered). Each call of :meth:`create_subscription_messages` builds a fresh
    timestamp and signature, so a reconnect re-signs.

    Parameters
    ----------
    api_key, secret_key:
        Credentials (factory options). Never logged, never in a repr or an exception.
    recv_window:
        Optional ``recvWindow`` in ms (1..60000; the server's default is 5000).
    clock_ms:
        Wall clock in ms (tests); default ``time.time() * 1000``.
    """

    # One user-data subscription carries the whole account: every symbol fits on one connection.
    max_subscriptions_per_connection = 1_000_000
    max_messages_per_second = C.PRIVATE_MESSAGES_PER_SECOND

    def __init__(self, api_key: str | None = None, secret_key: str | None = None, recv_window: int | None = None,
                 clock_ms: Callable[[], int] | None = None, **kwargs: Any):
        if recv_window is not None and not 0 < int(recv_window) <= C.MAX_RECV_WINDOW_MS:
            raise ConfigurationError(f"binance recv_window must be in 1..{C.MAX_RECV_WINDOW_MS} ms")
        self.recv_window = int(recv_window) if recv_window is not None else None
        self._credentials = _Credentials(api_key, secret_key)
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[str, list[str]] = {}   # request id -> keys it carried

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        mask = channel_mask(channels)
        if not symbols:
            return []
        return [f"userData:{ch.value}" for ch, bit in _MASK_BITS.items() if mask & bit]

    def channel_name(self, symbol: str, channel: ChannelType) -> str:
        return self.subscription_keys([symbol], [channel])[0]

    def signed_params(self) -> dict[str, Any]:
        """Fresh ``apiKey``/``timestamp``[/``recvWindow``]/``signature`` params (a new timestamp each call)."""
        if not self._credentials.complete:
            raise ConfigurationError("binance private channels need api_key and secret_key (factory options)")
        params: dict[str, Any] = {"apiKey": self._credentials.api_key, "timestamp": int(self._clock_ms())}
        if self.recv_window is not None:
            params["recvWindow"] = self.recv_window
        params["signature"] = self._credentials.sign(params)
        return params

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        """One signed subscribe request; nothing to unsubscribe per symbol (the stream is account-wide,
        and the manager closes a connection left without symbols)."""
        keys = self.subscription_keys(symbols, channels)
        if not keys or not is_subscribe:
            return []
        mask = channel_mask(channels)
        params = self.signed_params()
        with self._lock:
            req_id = f"{C.SUBSCRIBE_ID_PREFIX}{mask}-{next(self._ids)}"
            self._pending[req_id] = keys
            while len(self._pending) > _MAX_PENDING:   # responses that never came: keep the map bounded
                self._pending.pop(next(iter(self._pending)))
        return [msgspec.json.encode({"id": req_id, "method": C.USER_DATA_SUBSCRIBE_METHOD,
                                     "params": params}).decode()]

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        """Map a response to the keys of the request with the same id: status 200 confirms them, an
        error fails them with ``"code <c>: <msg>"``. None for responses to other requests (pings)."""
        try:
            msg = _json.decode(frame if isinstance(frame, (str, bytes)) else bytes(frame))
        except msgspec.DecodeError:
            return None
        if not isinstance(msg, dict) or "id" not in msg:
            return None
        req_id = msg.get("id")
        with self._lock:
            keys = self._pending.pop(req_id, None) if isinstance(req_id, str) else None
        error = msg.get("error")
        status = msg.get("status")
        ok = error is None and (status == 200 if status is not None else "result" in msg)
        if ok:
            return SubscriptionAck(confirmed=keys) if keys is not None else None
        if isinstance(error, dict):
            reason = f"code {error.get('code')}: {str(error.get('msg'))[:200]}"
        else:
            reason = f"status {status}"
        return SubscriptionAck(failed=keys or [], reason=reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(recv_window={self.recv_window}, credentials={self._credentials!r})"


class BinancePrivateMessageParser(SyncedMessageParser):
    """Parses the user-data stream into ``OrderUpdate``, ``Fill`` and ``BalanceUpdate`` events.

    ``feed`` is the compiled :class:`BinancePrivateDecoder`'s own method (no Python frame per message).

    Parameters
    ----------
    channel_types:
        Event kinds delivered until the subscribe ack says which ones the config asked for (default:
        all three).
    reconnect_on_reject:
        See :class:`BinancePrivateDecoder` (default True: a refused subscribe closes the connection so
        the manager retries with backoff).
    """

    def __init__(self, channel_types: Iterable[ChannelType | str] | None = None, reconnect_on_reject: bool = True,
                 **kwargs: Any):
        mask = 7 if channel_types is None else channel_mask(channel_types)
        decoder = BinancePrivateDecoder(EventDispatcher(), None, "binance", mask, bool(reconnect_on_reject))
        super().__init__(decoder, None)

    def on_connection_lost(self, symbols: Iterable[str]) -> None:
        # The subscription belonged to the connection: the next one must subscribe (and may be refused) anew.
        self._decoder.reset_session()
