"""OKX v5: strategies (``login`` op on the private side), compiled decoder with the book checksum, sync rule.

Registered with ``WebSocketStrategyFactory`` under ``"okx"`` (public and private sides).
"""
from feedhandler.core.registry import register_exchange_package

from .decoder import OkxChecksum, OkxDecoder, okx_format
from .parser import OkxPrivateMessageParser, OkxPublicMessageParser
from .rules import OKX_BOOKS_RULE
from .strategies import (
    OkxPrivateConnectionStrategy, OkxPrivateSubscriptionStrategy, OkxPublicConnectionStrategy,
    OkxPublicSubscriptionStrategy, login_sign,
)

register_exchange_package(__name__, "Okx", demo_symbols=("BTC-USDT", "ETH-USDT", "SOL-USDT"))

__all__ = [
    "OKX_BOOKS_RULE", "OkxChecksum", "OkxDecoder", "OkxPrivateConnectionStrategy", "OkxPrivateMessageParser",
    "OkxPrivateSubscriptionStrategy", "OkxPublicConnectionStrategy", "OkxPublicMessageParser",
    "OkxPublicSubscriptionStrategy", "login_sign", "okx_format",
]
