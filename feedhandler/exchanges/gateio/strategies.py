"""Gate.io spot v4 and USDT futures connection and subscription strategies (public and private).

``market="usdt"`` (a factory option, like Binance's ``market``): the public feed of the USDT-settled
futures, ``wss://fx-ws.gateio.ws/v4/ws/usdt``, with ``futures.ping`` and the ``futures.*`` channels
(``futures.order_book_update`` ``[contract, "100ms"]``, ``futures.trades`` / ``futures.book_ticker``
``[contracts...]``, ``futures.candlesticks`` ``[interval, contract]``); the private side is spot only.

Requests (protocols.md 2.3)::

    {"time": <s>, "id": <n>, "channel": "spot.trades", "event": "subscribe", "payload": ["BTC_USDT"]}

Private requests add ``"auth": {"method": "api_key", "KEY": ..., "SIGN": hex(HMAC-SHA512(secret,
"channel=<channel>&event=<event>&time=<time>"))}`` to *every* (un)subscribe request (protocols.md 2.8).
Acks echo ``id``; each request's id is mapped back to the subscription keys it carried.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections import OrderedDict
from typing import Any, Callable, Sequence

from feedhandler.core.credentials import Credentials
from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import Frame, SendFunc, SubscriptionAck, SubscriptionStrategy, UrlConnectionStrategy
from feedhandler.core.types import ChannelType, ConnectionContext, MessageType

from . import constants as C

_MAX_PENDING_ACKS = 10_000


def sign(secret: str, channel: str, event: str, ts: int) -> str:
    """Gate.io WS v4 signature: hex HMAC-SHA512 of ``channel=<channel>&event=<event>&time=<time>``."""
    payload = f"channel={channel}&event={event}&time={ts}"
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


class _Credentials(Credentials):
    """API key and secret; never shown by repr/str."""

    __slots__ = ()

    def auth(self, channel: str, event: str, ts: int) -> dict[str, str]:
        secret = self.require("gateio private channels need api_key and secret_key")
        assert self.api_key is not None  # require(): every part is set
        return {"method": C.AUTH_METHOD, "KEY": self.api_key, "SIGN": sign(secret, channel, event, ts)}


def _ping_message(clock: Callable[[], float], channel: str = C.CH_PING) -> str:
    return json.dumps({"time": int(clock()), "channel": channel}, separators=(",", ":"))


def _check_market(market: str) -> bool:
    """True for USDT futures; ConfigurationError for an unknown market."""
    if market not in C.MARKETS:
        raise ConfigurationError(f"gateio market must be one of {C.MARKETS}, not {market!r}")
    return market == "usdt"


class GateioPublicConnectionStrategy(UrlConnectionStrategy):
    """Public WebSocket ``wss://api.gateio.ws/ws/v4/`` with an application ``spot.ping``.

    Parameters
    ----------
    ws_url:
        Override of the market's URL (the simulator passes its own).
    ping_interval:
        Seconds between ``spot.ping`` messages (default 10 s, as the doc's demo).
    market:
        ``"spot"`` or ``"usdt"`` (USDT futures: ``wss://fx-ws.gateio.ws/v4/ws/usdt``, ``futures.ping``).
    """

    def __init__(self, ws_url: str | None = None, ping_interval: float = C.PING_INTERVAL,
                 clock: Callable[[], float] = time.time, market: str = "spot", **kwargs: Any):
        futures = _check_market(market)
        super().__init__(ws_url or (C.FUTURES_WS_URL if futures else C.WS_URL), ping_interval)
        self.market = market
        self._ping_channel = C.FUT_CH_PING if futures else C.CH_PING
        self._clock = clock

    def create_ping_message(self) -> str:
        """``{"time": <s>, "channel": "spot.ping"}`` (``futures.ping``); the server answers ``spot.pong``."""
        return _ping_message(self._clock, self._ping_channel)


class GateioPrivateConnectionStrategy(GateioPublicConnectionStrategy):
    """Private side: the same socket; every private (un)subscribe request carries its own signed ``auth``.

    Gate.io has no login step for data channels, so :meth:`authenticate` only checks that the
    credentials are present (the exchange accepts or refuses each signed request; a refusal comes
    back as a failed ack with error code 4). The credentials go into ``context.auth_params``, which
    ``ConnectionContext`` never shows.
    """

    def __init__(self, ws_url: str | None = None, api_key: str | None = None, secret_key: str | None = None,
                 **kwargs: Any):
        super().__init__(ws_url=ws_url, **kwargs)
        self._credentials = _Credentials(api_key, secret_key)

    async def authenticate(self, send_func: SendFunc, context: ConnectionContext) -> bool:
        return _Credentials.from_context(context.auth_params) is not None

    def auth_for(self, channel: str, event: str, ts: int) -> dict[str, str]:
        """The ``auth`` object of one request (the signature pattern of the migration guide)."""
        return self._credentials.auth(channel, event, ts)


class GateioPublicSubscriptionStrategy(SubscriptionStrategy):
    """Channel names, request envelopes and ack matching for the public channels.

    Parameters
    ----------
    book_channel:
        What ``ChannelType.ORDERBOOK`` subscribes: ``"order_book_update"`` (default; REST-synced
        diffs), ``"obu"`` (order book v2) or ``"order_book"`` (top-N snapshots).
    speed:
        ``spot.order_book_update`` speed: ``"100ms"`` (100 levels) or ``"20ms"`` (20 levels).
    obu_level:
        50 or 400.
    order_book_level, order_book_interval:
        For ``"order_book"``: 5/10/20/50/100 levels, ``"100ms"``/``"1000ms"``.
    kline_interval:
        ``spot.candlesticks`` interval (``"1m"``).
    market:
        ``"spot"`` or ``"usdt"``: USDT futures channels (``futures.*``; the book is ``order_book_update`` only,
        no tickers channel here).
    """

    max_subscriptions_per_connection = C.MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_messages_per_second = C.MAX_MESSAGES_PER_SECOND

    def __init__(self, book_channel: str = "order_book_update", speed: str | None = None, obu_level: int = C.DEFAULT_OBU_LEVEL,
                 order_book_level: int = 20, order_book_interval: str = "100ms",
                 kline_interval: str = C.DEFAULT_CANDLE_INTERVAL, clock: Callable[[], float] = time.time,
                 market: str = "spot", **kwargs: Any):
        self.futures = _check_market(market)
        self.market = market
        if self.futures and book_channel != "order_book_update":
            raise ConfigurationError("gateio usdt futures: book_channel must be 'order_book_update'")
        speed = speed or C.DEFAULT_BOOK_UPDATE_SPEED
        if book_channel not in ("order_book_update", "obu", "order_book"):
            raise ConfigurationError(f"gateio book_channel must be 'order_book_update', 'obu' or 'order_book', not {book_channel!r}")
        if speed not in C.BOOK_UPDATE_SPEEDS:
            raise ConfigurationError(f"gateio speed must be one of {sorted(C.BOOK_UPDATE_SPEEDS)}, not {speed!r}")
        if int(obu_level) not in C.OBU_LEVELS:
            raise ConfigurationError(f"gateio obu_level must be one of {C.OBU_LEVELS}, not {obu_level!r}")
        if int(order_book_level) not in C.ORDER_BOOK_LEVELS or order_book_interval not in C.ORDER_BOOK_INTERVALS:
            raise ConfigurationError("gateio order_book_level must be 5/10/20/50/100 and interval 100ms/1000ms")
        if kline_interval not in C.CANDLE_INTERVALS:
            raise ConfigurationError(f"gateio kline_interval must be one of {C.CANDLE_INTERVALS}, not {kline_interval!r}")
        self.book_channel = book_channel
        self.speed = speed
        self.obu_level = int(obu_level)
        self.order_book_level = int(order_book_level)
        self.order_book_interval = order_book_interval
        self.kline_interval = kline_interval
        self._clock = clock
        self._ids = itertools.count(1)
        self._pending: OrderedDict[int, list[str]] = OrderedDict()

    # --- names -------------------------------------------------------------------------------
    def _streams(self, symbols: Sequence[str], channel: ChannelType) -> list[tuple[str, list[Any], list[str]]]:
        """(gate channel, payload, keys) of the requests for one channel type."""
        if self.futures:
            return [o for o in self._futures_streams(symbols, channel) if o[2]]
        out: list[tuple[str, list[Any], list[str]]] = []
        if channel is ChannelType.ORDERBOOK:
            if self.book_channel == "obu":
                streams = [f"ob.{s}.{self.obu_level}" for s in symbols]
                out.append((C.CH_OBU, streams, [f"{C.CH_OBU}:{n}" for n in streams]))
            elif self.book_channel == "order_book":
                for s in symbols:
                    out.append((C.CH_ORDER_BOOK, [s, str(self.order_book_level), self.order_book_interval],
                                [f"{C.CH_ORDER_BOOK}:{s}"]))
            else:
                for s in symbols:
                    out.append((C.CH_BOOK_UPDATE, [s, self.speed], [f"{C.CH_BOOK_UPDATE}:{s}"]))
        elif channel is ChannelType.TRADES:
            out.append((C.CH_TRADES, list(symbols), [f"{C.CH_TRADES}:{s}" for s in symbols]))
        elif channel is ChannelType.BOOK_TICKER:
            out.append((C.CH_BOOK_TICKER, list(symbols), [f"{C.CH_BOOK_TICKER}:{s}" for s in symbols]))
        elif channel is ChannelType.TICKER:
            out.append((C.CH_TICKERS, list(symbols), [f"{C.CH_TICKERS}:{s}" for s in symbols]))
        elif channel is ChannelType.KLINE:
            for s in symbols:
                out.append((C.CH_CANDLES, [self.kline_interval, s], [f"{C.CH_CANDLES}:{s}"]))
        else:
            raise ConfigurationError(f"gateio public feed has no channel for {channel.value!r}")
        return [o for o in out if o[2]]

    def _futures_streams(self, symbols: Sequence[str], channel: ChannelType) -> list[tuple[str, list[Any], list[str]]]:
        """The USDT futures requests of one channel type (``futures.*``; symbols are contracts)."""
        if channel is ChannelType.ORDERBOOK:
            level = C.FUTURES_BOOK_UPDATE_LEVELS[self.speed]
            return [(C.FUT_CH_BOOK_UPDATE, [s, self.speed] + ([level] if level else []),
                     [f"{C.FUT_CH_BOOK_UPDATE}:{s}"]) for s in symbols]
        if channel is ChannelType.TRADES:
            return [(C.FUT_CH_TRADES, list(symbols), [f"{C.FUT_CH_TRADES}:{s}" for s in symbols])]
        if channel is ChannelType.BOOK_TICKER:
            return [(C.FUT_CH_BOOK_TICKER, list(symbols), [f"{C.FUT_CH_BOOK_TICKER}:{s}" for s in symbols])]
        if channel is ChannelType.KLINE:
            return [(C.FUT_CH_CANDLES, [self.kline_interval, s], [f"{C.FUT_CH_CANDLES}:{s}"]) for s in symbols]
        raise ConfigurationError(f"gateio usdt futures feed has no channel for {channel.value!r}")

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        return [k for ch in channels for _, _, keys in self._streams(symbols, ChannelType.parse(ch)) for k in keys]

    # --- messages ----------------------------------------------------------------------------
    def _envelope(self, req_id: int, ts: int, channel: str, event: str, payload: list[Any] | None) -> dict[str, Any]:
        msg: dict[str, Any] = {"time": ts, "id": req_id, "channel": channel, "event": event}
        if payload is not None:
            msg["payload"] = payload
        return msg

    def _request(self, channel: str, event: str, payload: list[Any] | None, keys: list[str]) -> str:
        req_id = next(self._ids)
        ts = int(self._clock())
        if event == C.EVENT_SUBSCRIBE:
            self._pending[req_id] = keys
            while len(self._pending) > _MAX_PENDING_ACKS:
                self._pending.popitem(last=False)
        return json.dumps(self._envelope(req_id, ts, channel, event, payload), separators=(",", ":"))

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        event = C.EVENT_SUBSCRIBE if is_subscribe else C.EVENT_UNSUBSCRIBE
        return [self._request(ch, event, payload, keys)
                for channel in channels for ch, payload, keys in self._streams(symbols, ChannelType.parse(channel))]

    def obu_resubscribe_messages(self, stream: str) -> list[str]:
        """Unsubscribe then subscribe one obu stream (``ob.BTC_USDT.50``): the recovery after a gap."""
        keys = [f"{C.CH_OBU}:{stream}"]
        return [self._request(C.CH_OBU, C.EVENT_UNSUBSCRIBE, [stream], keys),
                self._request(C.CH_OBU, C.EVENT_SUBSCRIBE, [stream], keys)]

    # --- acks --------------------------------------------------------------------------------
    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        try:
            text = frame if isinstance(frame, str) else bytes(frame).decode("utf-8")
            msg = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(msg, dict):
            return None
        event = msg.get("event")
        req_id = msg.get("id")
        error = msg.get("error")
        result = msg.get("result")
        ok = error is None and isinstance(result, dict) and result.get("status") == "success"
        reason = None
        if not ok:
            if isinstance(error, dict):
                reason = f"code {error.get('code')}: {error.get('message')}"
            else:
                reason = "result.status is not 'success'"
        if event == C.EVENT_UNSUBSCRIBE:
            return SubscriptionAck(reason=reason)
        return self._answer(req_id if isinstance(req_id, int) else -1, ok, reason, event == C.EVENT_SUBSCRIBE)

    def ack_from_control(self, message_type: int, control_id: int, control_code: int,
                         control_text: str | None) -> SubscriptionAck | None | Any:
        """The decoder's ``id`` / ``error.code`` and ``error.message``: the same answer as :meth:`parse_ack`.

        Only subscribe requests are kept by id, so an id found there is a subscribe answer; an unsubscribe
        answer (its id unknown) gives None, which the manager treats as :meth:`parse_ack`'s empty ack.
        """
        if control_id < 0 and control_code == 0 and control_text is None:
            return NotImplemented
        ok = message_type != MessageType.ERROR and control_code == 0
        reason = None if ok else (f"code {control_code}: {control_text}" if control_code
                                  else "result.status is not 'success'")
        return self._answer(control_id, ok, reason, control_id in self._pending)

    def _answer(self, req_id: int, ok: bool, reason: str | None, subscribe: bool) -> SubscriptionAck | None:
        keys = self._pending.pop(req_id, None)
        if keys is None:
            if not subscribe:
                return None  # an error not tied to a request of ours: the manager reports it as is
            keys = []
        return SubscriptionAck(confirmed=keys if ok else [], failed=[] if ok else keys, reason=reason)


class GateioPrivateSubscriptionStrategy(GateioPublicSubscriptionStrategy):
    """Private channels ``spot.orders``, ``spot.usertrades`` (payload: pairs) and ``spot.balances``.

    Every request is signed (``auth`` with ``SIGN`` over its own channel, event and time).
    Credentials come from ``api_key``/``secret_key`` (the factory options); they are never logged.
    """

    def __init__(self, api_key: str | None = None, secret_key: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if self.futures:
            raise ConfigurationError("gateio private channels: spot only (market='spot')")
        self._credentials = _Credentials(api_key, secret_key)

    def _streams(self, symbols: Sequence[str], channel: ChannelType) -> list[tuple[str, list[Any], list[str]]]:
        if channel is ChannelType.ORDERS:
            return [(C.CH_ORDERS, list(symbols), [f"{C.CH_ORDERS}:{s}" for s in symbols])] if symbols else []
        if channel is ChannelType.FILLS:
            return [(C.CH_USERTRADES, list(symbols), [f"{C.CH_USERTRADES}:{s}" for s in symbols])] if symbols else []
        if channel is ChannelType.BALANCES:
            # one balances stream per connection; counted once whatever the symbols
            return [(C.CH_BALANCES, None, [C.CH_BALANCES])] if symbols else []  # type: ignore[list-item]
        return super()._streams(symbols, channel)

    def _envelope(self, req_id: int, ts: int, channel: str, event: str, payload: list[Any] | None) -> dict[str, Any]:
        msg = super()._envelope(req_id, ts, channel, event, payload)
        if channel in C.PRIVATE_CHANNELS:
            msg["auth"] = self._credentials.auth(channel, event, ts)
        return msg

    def __repr__(self) -> str:
        return f"{type(self).__name__}(credentials={self._credentials!r})"
