"""Binance public connection and subscription strategies (stream connections)."""
from __future__ import annotations

import itertools
import threading
from typing import Any, Sequence

import msgspec

from feedhandler.core.errors import ConfigurationError
from feedhandler.core.strategies import ConnectionStrategy, Frame, SubscriptionAck, SubscriptionStrategy
from feedhandler.core.types import ChannelType, ConnectionContext, MessageType

from . import constants as C

__all__ = ["BinancePublicConnectionStrategy", "BinancePublicSubscriptionStrategy"]

_json = msgspec.json.Decoder()


class BinancePublicConnectionStrategy(ConnectionStrategy):
    """Connects to the combined-stream endpoint; no application ping (the transport answers protocol pings).

    Parameters
    ----------
    ws_url:
        Override of ``wss://stream.binance.com:9443/stream`` (the simulator passes its own).
    max_lifetime:
        Seconds before the manager reconnects proactively (just under Binance's 24 h).
    """

    def __init__(self, ws_url: str | None = None, max_lifetime: float = C.MAX_LIFETIME, **kwargs: Any):
        self.url = ws_url or C.WS_URL
        self.max_lifetime = float(max_lifetime)

    async def create_connection_context(self, is_private: bool = False, api_key: str | None = None,
                                        secret_key: str | None = None) -> ConnectionContext:
        return ConnectionContext(url=self.url, ping_interval=0.0, keep_alive_interval=0.0,
                                 is_authenticated=not is_private, max_lifetime=self.max_lifetime)


class BinancePublicSubscriptionStrategy(SubscriptionStrategy):
    """``SUBSCRIBE``/``UNSUBSCRIBE`` requests with increasing ids; remembers which streams each id carried.

    Channel -> stream (symbols lowercased): ORDERBOOK ``<s>@depth@100ms`` (or ``<s>@depth<N>@100ms``
    with ``partial_depth=N``), TRADES ``<s>@trade`` (``<s>@aggTrade`` with ``trade_stream="aggTrade"``),
    BOOK_TICKER ``<s>@bookTicker``, KLINE ``<s>@kline_<kline_interval>``.

    All streams of one call go out in as few requests as possible (at most ``MAX_STREAMS_PER_REQUEST``
    streams each). ``max_messages_per_second`` is 5 minus headroom for the transport's pongs.
    """

    max_subscriptions_per_connection = C.MAX_STREAMS_PER_CONNECTION
    max_messages_per_second = C.CLIENT_MESSAGES_PER_SECOND

    def __init__(self, speed: str = "100ms", trade_stream: str = "trade", kline_interval: str = "1m",
                 partial_depth: int | None = None, max_streams_per_request: int = C.MAX_STREAMS_PER_REQUEST,
                 **kwargs: Any):
        if speed not in C.SPEEDS:
            raise ConfigurationError(f"binance speed must be one of {C.SPEEDS}, got {speed!r}")
        if trade_stream not in ("trade", "aggTrade"):
            raise ConfigurationError(f"binance trade_stream must be 'trade' or 'aggTrade', got {trade_stream!r}")
        if kline_interval not in C.KLINE_INTERVALS:
            raise ConfigurationError(f"binance kline_interval must be one of {C.KLINE_INTERVALS}, got {kline_interval!r}")
        if partial_depth is not None and partial_depth not in C.PARTIAL_DEPTH_LEVELS:
            raise ConfigurationError(f"binance partial_depth must be one of {C.PARTIAL_DEPTH_LEVELS}, got {partial_depth!r}")
        if not 1 <= max_streams_per_request <= C.MAX_STREAMS_PER_CONNECTION:
            raise ConfigurationError("max_streams_per_request must be in 1..1024")
        self.speed = speed
        self.trade_stream = trade_stream
        self.kline_interval = kline_interval
        self.partial_depth = partial_depth
        self.max_streams_per_request = max_streams_per_request
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[int, list[str]] = {}   # request id -> streams it carried

    def channel_name(self, symbol: str, channel: ChannelType) -> str:
        s = symbol.lower()
        if channel is ChannelType.ORDERBOOK:
            if self.partial_depth is not None:
                return C.PARTIAL_DEPTH_STREAM.format(symbol=s, levels=self.partial_depth, speed=self.speed)
            if self.speed == "1000ms":
                return f"{s}@depth"
            return C.DEPTH_STREAM.format(symbol=s, speed=self.speed)
        if channel is ChannelType.TRADES:
            return (C.TRADE_STREAM if self.trade_stream == "trade" else C.AGG_TRADE_STREAM).format(symbol=s)
        if channel is ChannelType.BOOK_TICKER:
            return C.BOOK_TICKER_STREAM.format(symbol=s)
        if channel is ChannelType.KLINE:
            return C.KLINE_STREAM.format(symbol=s, interval=self.kline_interval)
        raise ConfigurationError(
            f"binance public streams support ORDERBOOK, TRADES, BOOK_TICKER and KLINE, not {channel.name}")

    def subscription_keys(self, symbols: Sequence[str], channels: Sequence[ChannelType]) -> list[str]:
        return [self.channel_name(s, c) for s in symbols for c in channels]

    def create_subscription_messages(self, symbols: Sequence[str], channels: Sequence[ChannelType],
                                     is_subscribe: bool) -> list[str | bytes]:
        streams = list(dict.fromkeys(self.subscription_keys(symbols, channels)))
        method = "SUBSCRIBE" if is_subscribe else "UNSUBSCRIBE"
        out: list[str | bytes] = []
        step = self.max_streams_per_request
        for i in range(0, len(streams), step):
            chunk = streams[i:i + step]
            with self._lock:
                req_id = next(self._ids)
                self._pending[req_id] = chunk if is_subscribe else []
                if len(self._pending) > 10_000:  # acks that never came: keep the map bounded
                    self._pending.pop(next(iter(self._pending)))
            out.append(msgspec.json.encode({"method": method, "params": chunk, "id": req_id}).decode())
        return out

    def parse_ack(self, frame: Frame) -> SubscriptionAck | None:
        """``{"result":null,"id":N}`` confirms the streams of request N; an error object fails them."""
        try:
            msg = _json.decode(bytes(frame) if not isinstance(frame, (str, bytes)) else frame)
        except msgspec.DecodeError:
            return None
        if not isinstance(msg, dict):
            return None
        req_id = msg.get("id")
        req_id = req_id if isinstance(req_id, int) else None
        if "error" in msg or ("code" in msg and "msg" in msg):
            err = msg.get("error") if isinstance(msg.get("error"), dict) else msg
            return self._answer(req_id, f"code {err.get('code')}: {err.get('msg')}")
        if "result" in msg:
            return self._answer(req_id, None)
        return None

    def ack_from_control(self, message_type: int, control_id: int, control_code: int,
                         control_text: str | None) -> SubscriptionAck | None | Any:
        """The decoder's ``id`` / error ``code`` and ``msg``: the same answer as :meth:`parse_ack`."""
        if control_id < 0 and control_code == 0 and control_text is None:
            return NotImplemented
        failed = message_type == MessageType.ERROR or control_code != 0
        return self._answer(control_id if control_id >= 0 else None,
                            f"code {control_code}: {control_text}" if failed else None)

    def _answer(self, req_id: int | None, error: str | None) -> SubscriptionAck | None:
        """Request ``req_id`` answered: its streams confirmed, or failed with ``error``."""
        streams = self._pending.pop(req_id, None) if req_id is not None else None
        if error is not None:
            return SubscriptionAck(failed=streams or [], reason=error)
        if streams is None:
            return None  # not one of our (un)subscribe requests (LIST_SUBSCRIPTIONS, unknown id)
        return SubscriptionAck(confirmed=streams)
