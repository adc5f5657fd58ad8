"""Binance spot market data: compiled JSON stream decoder, book sync rules, strategies.

Registered with :class:`~feedhandler.core.factory.WebSocketStrategyFactory` as ``"binance"`` (public
side only: the private user-data stream moved to the WebSocket API in 2026 and is not implemented).
"""
from feedhandler.core.factory import WebSocketStrategyFactory

from .decoder import BinanceDecoder
from .parser import BinancePublicMessageParser
from .rest import BinanceSnapshotFetcher, parse_depth_snapshot
from .rules import COINM_RULE, SPOT_RULE, USDM_RULE
from .strategies import BinancePublicConnectionStrategy, BinancePublicSubscriptionStrategy

WebSocketStrategyFactory.register(
    "binance", False, BinancePublicConnectionStrategy, BinancePublicSubscriptionStrategy, BinancePublicMessageParser
)

__all__ = [
    "BinanceDecoder", "BinancePublicConnectionStrategy", "BinancePublicMessageParser",
    "BinancePublicSubscriptionStrategy", "BinanceSnapshotFetcher", "COINM_RULE", "SPOT_RULE", "USDM_RULE",
    "parse_depth_snapshot",
]
