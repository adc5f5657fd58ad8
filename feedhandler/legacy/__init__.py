"""The legacy inheritance-based client API (``BaseExchangeWebsocketInterface``), running on the new manager.

Kept for the migration: existing subclasses work unchanged through :func:`legacy_strategies`, and
:class:`MexcWebsocketPublic` / :class:`MexcWebsocketPrivate` are the migration guide's worked example
of a legacy client (plain-Python protobuf decoding and book sync), used as the reference
implementation in parallel runs.
"""
from .base import (
    BaseExchangeWebsocketInterface, LegacyConnectionStrategy, LegacyMessageParser, LegacySubscriptionStrategy,
    SubscriptionAction, legacy_strategies,
)
from .mexc import MexcWebsocketPrivate, MexcWebsocketPublic, PyOrderBook

__all__ = [
    "BaseExchangeWebsocketInterface", "LegacyConnectionStrategy", "LegacyMessageParser",
    "LegacySubscriptionStrategy", "MexcWebsocketPrivate", "MexcWebsocketPublic", "PyOrderBook",
    "SubscriptionAction", "legacy_strategies",
]
