"""Binance spot market data: compiled JSON stream decoder, book sync rules, strategies.

Registered with :class:`~feedhandler.core.factory.WebSocketStrategyFactory` as ``"binance"``: the public
market-data streams, and the private side (user data over the WebSocket API with
``userDataStream.subscribe.signature``; the listenKey flow was retired on 2026-02-20), see :mod:`.private`.
"""
from feedhandler.core.registry import register_exchange_package

from .decoder import BinanceDecoder
from .parser import BinancePublicMessageParser
from .rest import BinanceSnapshotFetcher, parse_depth_snapshot
from .private import (
    BinancePrivateConnectionStrategy, BinancePrivateMessageParser, BinancePrivateSubscriptionStrategy,
    sign_params, signature_payload,
)
from .private_decoder import BinancePrivateDecoder
from .rules import COINM_RULE, SPOT_RULE, USDM_RULE
from .strategies import BinancePublicConnectionStrategy, BinancePublicSubscriptionStrategy

register_exchange_package(__name__, "Binance", demo_symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"))

__all__ = [
    "BinanceDecoder", "BinancePrivateConnectionStrategy", "BinancePrivateDecoder",
    "BinancePrivateMessageParser", "BinancePrivateSubscriptionStrategy", "BinancePublicConnectionStrategy",
    "BinancePublicMessageParser", "BinancePublicSubscriptionStrategy", "BinanceSnapshotFetcher", "COINM_RULE",
    "SPOT_RULE", "USDM_RULE", "parse_depth_snapshot", "sign_params", "signature_payload",
]
