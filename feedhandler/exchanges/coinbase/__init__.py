"""Coinbase Advanced Trade: strategies (CDP JWT for ``user``), compiled decoder, book rule.

Registered with ``WebSocketStrategyFactory`` under ``"coinbase"`` (public and private sides).
"""
from feedhandler.core.registry import register_exchange_package

from .parser import CoinbasePrivateMessageParser, CoinbasePublicMessageParser
from .rules import COINBASE_BOOK_RULE
from .strategies import (
    CoinbaseCredentials, CoinbasePrivateConnectionStrategy, CoinbasePrivateSubscriptionStrategy,
    CoinbasePublicConnectionStrategy, CoinbasePublicSubscriptionStrategy,
)

register_exchange_package(__name__, "Coinbase", demo_symbols=("BTC-USD", "ETH-USD", "SOL-USD"))

__all__ = [
    "COINBASE_BOOK_RULE", "CoinbaseCredentials", "CoinbasePrivateConnectionStrategy",
    "CoinbasePrivateMessageParser", "CoinbasePrivateSubscriptionStrategy", "CoinbasePublicConnectionStrategy",
    "CoinbasePublicMessageParser", "CoinbasePublicSubscriptionStrategy",
]
