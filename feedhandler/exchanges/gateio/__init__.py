"""Gate.io spot v4: strategies, compiled decoder, sync rules and REST snapshot fetcher.

Registered with ``WebSocketStrategyFactory`` under ``"gateio"`` (public and private sides).
"""
from feedhandler.core.registry import register_exchange_package

from .parser import GateioPrivateMessageParser, GateioPublicMessageParser, resubscribe_obu_on_gap
from .rest import GateioSnapshotFetcher
from .rules import GATEIO_OBU_RULE, GATEIO_SPOT_RULE
from .strategies import (
    GateioPrivateConnectionStrategy, GateioPrivateSubscriptionStrategy, GateioPublicConnectionStrategy,
    GateioPublicSubscriptionStrategy, sign,
)

register_exchange_package(__name__, "Gateio", demo_symbols=("BTC_USDT", "ETH_USDT", "SOL_USDT"))

__all__ = [
    "GATEIO_OBU_RULE", "GATEIO_SPOT_RULE", "GateioPrivateConnectionStrategy", "GateioPrivateMessageParser",
    "GateioPrivateSubscriptionStrategy", "GateioPublicConnectionStrategy", "GateioPublicMessageParser",
    "GateioPublicSubscriptionStrategy", "GateioSnapshotFetcher", "resubscribe_obu_on_gap", "sign",
]
