"""Gate.io spot v4: strategies, compiled decoder, sync rules and REST snapshot fetcher.

Registered with ``WebSocketStrategyFactory`` under ``"gateio"`` (public and private sides).
"""
from feedhandler.core.factory import WebSocketStrategyFactory

from .parser import GateioPrivateMessageParser, GateioPublicMessageParser, resubscribe_obu_on_gap
from .rest import GateioSnapshotFetcher
from .rules import GATEIO_OBU_RULE, GATEIO_SPOT_RULE
from .strategies import (
    GateioPrivateConnectionStrategy,
    GateioPrivateSubscriptionStrategy,
    GateioPublicConnectionStrategy,
    GateioPublicSubscriptionStrategy,
    sign,
)

WebSocketStrategyFactory.register(
    "gateio", False, GateioPublicConnectionStrategy, GateioPublicSubscriptionStrategy, GateioPublicMessageParser)
WebSocketStrategyFactory.register(
    "gateio", True, GateioPrivateConnectionStrategy, GateioPrivateSubscriptionStrategy, GateioPrivateMessageParser)

__all__ = [
    "GATEIO_OBU_RULE",
    "GATEIO_SPOT_RULE",
    "GateioPrivateConnectionStrategy",
    "GateioPrivateMessageParser",
    "GateioPrivateSubscriptionStrategy",
    "GateioPublicConnectionStrategy",
    "GateioPublicMessageParser",
    "GateioPublicSubscriptionStrategy",
    "GateioSnapshotFetcher",
    "resubscribe_obu_on_gap",
    "sign",
]
