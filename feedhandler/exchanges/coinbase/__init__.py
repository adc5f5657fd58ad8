"""Coinbase Advanced Trade: strategies (CDP JWT for ``user``), compiled decoder, book rule.

Registered with ``WebSocketStrategyFactory`` under ``"coinbase"`` (public and private sides).
"""
from feedhandler.core.registry import register_exchange

from .parser import CoinbasePrivateMessageParser, CoinbasePublicMessageParser
from .rules import COINBASE_BOOK_RULE
from .strategies import (
    CoinbaseCredentials,
    CoinbasePrivateConnectionStrategy,
    CoinbasePrivateSubscriptionStrategy,
    CoinbasePublicConnectionStrategy,
    CoinbasePublicSubscriptionStrategy,
)

register_exchange(
    "coinbase",
    public=(CoinbasePublicConnectionStrategy, CoinbasePublicSubscriptionStrategy, CoinbasePublicMessageParser),
    private=(CoinbasePrivateConnectionStrategy, CoinbasePrivateSubscriptionStrategy, CoinbasePrivateMessageParser),
    demo_symbols=("BTC-USD", "ETH-USD", "SOL-USD"),
    sim_protocol="feedhandler.exchanges.coinbase.sim_protocol",
    module=__name__,
)

__all__ = [
    "COINBASE_BOOK_RULE",
    "CoinbaseCredentials",
    "CoinbasePrivateConnectionStrategy",
    "CoinbasePrivateMessageParser",
    "CoinbasePrivateSubscriptionStrategy",
    "CoinbasePublicConnectionStrategy",
    "CoinbasePublicMessageParser",
    "CoinbasePublicSubscriptionStrategy",
]
