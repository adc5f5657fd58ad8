"""MEXC spot v3 connection and subscription strategies (public and private)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Sequence

from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import ConnectionStrategy, Frame, SendFunc, SubscriptionAck, SubscriptionStrategy
from feedhandler.core.types import ChannelType, ConnectionContext

from . import constants as C
from .rest import MexcRestClient

__all__ = [
    "MexcPrivateConnectionStrategy", "MexcPrivateSubscriptionStrategy", "MexcPublicConnectionStrategy",
    "MexcPublicSubscriptionStrategy",
]

log = logging.getLogger("feedhandler.mexc")


def _frame_text(frame: Frame) -> str:
    if isinstance(frame, str):
        return frame
    return bytes(frame).decode("utf-8", "replace")


class MexcPublicConnectionStrategy(ConnectionStrategy):
    """Public market data on ``wss://wbs-api.mexc.com/ws``.

    Sends ``{"method":"PING"}`` every ``ping_interval`` seconds (default 20 s, well inside the 60 s
    idle rule) and reconnects before the 24 h connection lifetime.
    """

    def __init__(self, ws_url: str | None = None, ping_interval: float = C.PING_INTERVAL, **_: Any):
        self.ws_url = ws_url or C.WS_URL
        self.ping_interval = float(ping_interval)

    async def create_connection_context(self, is_private: bool = False, api_key: str | None = None,
                                        secret_key: str | None = None) -> ConnectionContext:
        return ConnectionContext(url=self.ws_url, ping_interval=self.ping_interval,
                                 max_lifetime=C.CONNECTION_LIFETIME - 60.0)

    def create_ping_message(self) -> str:
        return C.PING_MESSAGE


class _MexcSubscriptionBase(SubscriptionStrategy):
    max_subscriptions_per_connection = C.MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_messages_per_second = C.CLIENT_MESSAGE_RATE

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        keys = self.subscription_keys(symbols, channels)
        method = C.SUBSCRIBE if is_subscribe else C.UNSUBSCRIBE
        step = C.CHANNELS_PER_MESSAGE
        return [json.dumps({"method": method, "params": keys[i:i + step]}, separators=(",", ":"))
                for i in range(0, len(keys), step)]

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        """``{"id":0,"code":0,"msg":"ch1,ch2"}`` confirms the channels in ``msg`` (matched by ``msg``, not
        ``id``); ``Not Subscribed successfully! [ch1,ch2].  Reason： ...`` (or a non-zero code) fails them."""
        text = _frame_text(frame)
        try:
            msg_obj = json.loads(text)
        except ValueError:
            return SubscriptionAck(reason=text[:200]) if text else None
        if not isinstance(msg_obj, dict):
            return None
        return self._answer(msg_obj.get("code", 0), str(msg_obj.get("msg", "")))

    def ack_from_control(self, message_type: int, control_id: int, control_code: int,
                         control_text: str | None) -> SubscriptionAck | None | Any:
        """The decoder's ``code`` and ``msg`` (channels, or the failure text): as :meth:`parse_ack`."""
        if control_text is None and control_code == 0:
            return NotImplemented
        return self._answer(control_code, control_text or "")

    @staticmethod
    def _answer(code: Any, msg: str) -> SubscriptionAck | None:
        if msg == "PONG":
            return None
        if C.NOT_SUBSCRIBED in msg:
            inner = msg[msg.find("[") + 1: msg.find("]")] if "[" in msg and "]" in msg else ""
            reason = msg.split("Reason", 1)[1].lstrip("：: ").strip() if "Reason" in msg else msg
            return SubscriptionAck(failed=[c.strip() for c in inner.split(",") if c.strip()], reason=reason)
        if code not in (0, "0"):
            return SubscriptionAck(reason=msg[:200])
        return SubscriptionAck(confirmed=[c.strip() for c in msg.split(",") if c.strip()])


class MexcPublicSubscriptionStrategy(_MexcSubscriptionBase):
    """Public channel names, precomputed per :class:`ChannelType`.

    Parameters
    ----------
    speed : str
        ``"100ms"`` (default) or ``"10ms"`` for the aggregated depth, deals and book-ticker streams.
    limit_depth : int, optional
        5, 10 or 20: ``ORDERBOOK`` subscribes the top-N limit depth stream instead of aggregated depth.
    kline_interval : str
        ``Min1`` (default) ... ``Month1``.
    ticker_timezone : str
        Time zone of the mini ticker (``"24H"`` default, ``"UTC+8"``...).
    """

    def __init__(self, speed: str = "100ms", limit_depth: int | None = None, kline_interval: str = "Min1",
                 ticker_timezone: str = "24H", **_: Any):
        if speed not in C.SPEEDS:
            raise ConfigurationError(f"mexc speed must be one of {C.SPEEDS}, got {speed!r}")
        if limit_depth is not None and limit_depth not in C.LIMIT_DEPTHS:
            raise ConfigurationError(f"mexc limit_depth must be one of {C.LIMIT_DEPTHS}, got {limit_depth!r}")
        if kline_interval not in C.KLINE_INTERVALS:
            raise ConfigurationError(f"mexc kline_interval must be one of {C.KLINE_INTERVALS}, got {kline_interval!r}")
        self.speed = speed
        orderbook = (C.LIMIT_DEPTH.replace("{depth}", str(limit_depth)) if limit_depth
                     else C.AGGRE_DEPTH.replace("{speed}", speed))
        # Each template keeps only "{symbol}" to fill per symbol (str.replace, no format parsing per call).
        self._templates: dict[ChannelType, str] = {
            ChannelType.ORDERBOOK: orderbook,
            ChannelType.TRADES: C.AGGRE_DEALS.replace("{speed}", speed),
            ChannelType.BOOK_TICKER: C.AGGRE_BOOK_TICKER.replace("{speed}", speed),
            ChannelType.KLINE: C.KLINE.replace("{interval}", kline_interval),
            ChannelType.TICKER: C.MINI_TICKER.replace("{tz}", ticker_timezone),
        }

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        keys: list[str] = []
        for symbol in symbols:
            sym = symbol.upper()  # channel symbols must be upper case
            for channel in channels:
                template = self._templates.get(channel)
                if template is None:
                    raise ConfigurationError(f"mexc public feed has no {channel.value!r} channel")
                keys.append(template.replace("{symbol}", sym))
        return keys


class MexcPrivateSubscriptionStrategy(_MexcSubscriptionBase):
    """Private channels (orders, deals, account) of a listen-key connection; they carry no symbol."""

    _CHANNELS = {
        ChannelType.ORDERS: C.PRIVATE_ORDERS,
        ChannelType.FILLS: C.PRIVATE_DEALS,
        ChannelType.BALANCES: C.PRIVATE_ACCOUNT,
    }

    def __init__(self, **_: Any):
        pass

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        keys: list[str] = []
        for channel in channels:
            name = self._CHANNELS.get(channel)
            if name is None:
                raise ConfigurationError(f"mexc private feed has no {channel.value!r} channel "
                                         "(use ORDERS, FILLS, BALANCES)")
            if name not in keys:
                keys.append(name)
        return keys


class MexcPrivateConnectionStrategy(ConnectionStrategy):
    """User data over ``wss://wbs-api.mexc.com/ws?listenKey=<key>``.

    Every connection attempt creates a NEW listen key (signed ``POST /api/v3/userDataStream``); the
    previous one is deleted in the background. ``handle_keep_alive`` extends the current key (signed
    ``PUT``) every ``keep_alive_interval`` seconds (30 minutes by default); ``close()`` deletes it.
    A rejected signature raises :class:`AuthenticationError` from ``create_connection_context``, and
    the manager backs off before the next attempt.

    Parameters
    ----------
    rest_client : MexcRestClient, optional
        A signed REST client to create and extend listen keys with, as in the migration guide's
        ``MexcPrivateConnectionStrategy(rest_client)``; otherwise one is made from the credentials.
    api_key, secret_key : str
        Credentials (also accepted per call from the manager config).
    ws_url, rest_url : str, optional
        Overrides (the simulator).
    keep_alive_interval : float
        Seconds between listen-key extensions.
    """

    def __init__(self, rest_client: MexcRestClient | None = None, api_key: str | None = None,
                 secret_key: str | None = None, ws_url: str | None = None,
                 rest_url: str | None = None, keep_alive_interval: float = C.LISTEN_KEY_KEEP_ALIVE,
                 ping_interval: float = C.PING_INTERVAL, rate_limit: Any = None, **_: Any):
        self.ws_url = ws_url or C.WS_URL
        self.rest_url = rest_url or C.REST_URL
        self.keep_alive_interval = float(keep_alive_interval)
        self.ping_interval = float(ping_interval)
        self._api_key = api_key
        self._secret_key = secret_key
        self._rest = rest_client
        self._rate_limit = rate_limit
        self._listen_key: str | None = None
        self._cleanup: set[asyncio.Task[None]] = set()
        self.keys_created = 0
        self.keep_alives = 0
        self.keys_deleted = 0

    def __repr__(self) -> str:
        return f"MexcPrivateConnectionStrategy(ws_url={self.ws_url.split('?', 1)[0]!r}, listen_key=<redacted>)"

    def _client(self, api_key: str | None, secret_key: str | None) -> MexcRestClient:
        if self._rest is not None:
            return self._rest  # the caller's signed client (migration guide form)
        key = api_key or self._api_key
        secret = secret_key or self._secret_key
        if not key or not secret:
            raise ConfigurationError("mexc private feed needs api_key and secret_key")
        if self._rest is None:
            self._api_key, self._secret_key = key, secret
            self._rest = MexcRestClient(self.rest_url, key, secret, rate_limit=self._rate_limit)
        return self._rest

    async def create_connection_context(self, is_private: bool = True, api_key: str | None = None,
                                        secret_key: str | None = None) -> ConnectionContext:
        client = self._client(api_key, secret_key)
        old = self._listen_key
        self._listen_key = None
        if old is not None:
            self._spawn_delete(client, old)  # max 60 keys per UID: do not leak one per reconnect
        key = await client.create_listen_key()
        self._listen_key = key
        self.keys_created += 1
        sep = "&" if "?" in self.ws_url else "?"
        return ConnectionContext(url=f"{self.ws_url}{sep}listenKey={key}", auth_params={"listen_key": key},
                                 keep_alive_interval=self.keep_alive_interval, ping_interval=self.ping_interval,
                                 is_authenticated=True, max_lifetime=C.CONNECTION_LIFETIME - 60.0)

    async def handle_keep_alive(self, send_func: SendFunc, context: ConnectionContext) -> None:
        key = context.auth_params.get("listen_key")
        if not key or self._rest is None:
            return
        await self._rest.keep_alive_listen_key(key)
        self.keep_alives += 1

    def create_ping_message(self) -> str:
        return C.PING_MESSAGE

    def _spawn_delete(self, client: MexcRestClient, key: str) -> None:
        async def delete() -> None:
            try:
                await client.delete_listen_key(key)
                self.keys_deleted += 1
            except Exception as exc:  # best effort: the key expires within 60 minutes anyway
                log.debug("mexc: deleting an old listen key failed: %s", type(exc).__name__)

        task = asyncio.get_running_loop().create_task(delete(), name="feedhandler-mexc-listenkey-delete")
        self._cleanup.add(task)
        task.add_done_callback(self._cleanup.discard)

    async def close(self) -> None:
        key, self._listen_key = self._listen_key, None
        if self._rest is not None and key is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._rest.delete_listen_key(key), 5.0)
                self.keys_deleted += 1
        if self._cleanup:
            await asyncio.gather(*self._cleanup, return_exceptions=True)
        if self._rest is not None:
            await self._rest.close()
