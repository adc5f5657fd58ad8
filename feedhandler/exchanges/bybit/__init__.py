"""Bybit v5: strategies, compiled decoder and book rule (spot, linear and inverse public; private).

Registered with ``WebSocketStrategyFactory`` under ``"bybit"`` (public and private sides).
"""
from feedhandler.core.registry import register_exchange_package

from .parser import BybitPrivateMessageParser, BybitPublicMessageParser
from .rules import BYBIT_BOOK_RULE
from .strategies import (
    BybitCredentials, BybitPrivateConnectionStrategy, BybitPrivateSubscriptionStrategy,
    BybitPublicConnectionStrategy, BybitPublicSubscriptionStrategy, sign,
)

register_exchange_package(__name__, "Bybit", demo_symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"))

__all__ = [
    "BYBIT_BOOK_RULE", "BybitCredentials", "BybitPrivateConnectionStrategy", "BybitPrivateMessageParser",
    "BybitPrivateSubscriptionStrategy", "BybitPublicConnectionStrategy", "BybitPublicMessageParser",
    "BybitPublicSubscriptionStrategy", "sign",
]
