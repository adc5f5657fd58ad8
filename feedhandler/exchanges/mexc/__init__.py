"""MEXC spot v3: compiled protobuf decoder, book sync rule, REST helpers and strategies.

Registered with :class:`~feedhandler.core.factory.WebSocketStrategyFactory` as ``"mexc"``, public
(market data, aggregated depth books) and private (listen-key user data) sides.
"""
from feedhandler.core.registry import register_exchange_package

from .decoder import MexcDecoder
from .parser import MexcPrivateMessageParser, MexcPublicMessageParser
from .rest import MexcRestClient, MexcSnapshotFetcher, parse_depth_snapshot, sign
from .rules import MEXC_SPOT_RULE
from .strategies import (
    MexcPrivateConnectionStrategy, MexcPrivateSubscriptionStrategy, MexcPublicConnectionStrategy,
    MexcPublicSubscriptionStrategy,
)

register_exchange_package(__name__, "Mexc", demo_symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"))

__all__ = [
    "MEXC_SPOT_RULE", "MexcDecoder", "MexcPrivateConnectionStrategy", "MexcPrivateMessageParser",
    "MexcPrivateSubscriptionStrategy", "MexcPublicConnectionStrategy", "MexcPublicMessageParser",
    "MexcPublicSubscriptionStrategy", "MexcRestClient", "MexcSnapshotFetcher", "parse_depth_snapshot", "sign",
]
