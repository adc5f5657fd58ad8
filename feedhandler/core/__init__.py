"""Exchange-agnostic core: types, errors, strategy interfaces, the factory and the manager."""
from .errors import (
    AuthenticationError,
    BookSyncError,
    ConfigurationError,
    ConnectionFailedError,
    FeedError,
    HandlerError,
    ParseError,
    RestError,
    StaleConnectionError,
    SubscriptionError,
    UnknownExchangeError,
    UnsubscribedSymbolError,
)
from .factory import WebSocketStrategyFactory
from .headers import get_include
from .manager import ConnectionMetrics, ManagerMetrics, WebSocketManager
from .strategies import ConnectionStrategy, MessageParser, SubscriptionAck, SubscriptionStrategy
from .types import (
    ChannelType,
    ConnectionContext,
    ConnectionState,
    MessageType,
    ReconnectPolicy,
    SubscriptionState,
    WebSocketManagerConfig,
)

__all__ = [
    "AuthenticationError", "BookSyncError", "ChannelType", "ConfigurationError", "ConnectionContext",
    "ConnectionFailedError", "ConnectionMetrics", "ConnectionState", "ConnectionStrategy", "FeedError",
    "HandlerError", "ManagerMetrics", "MessageParser", "MessageType", "ParseError", "ReconnectPolicy",
    "RestError", "StaleConnectionError", "SubscriptionAck", "SubscriptionError", "SubscriptionState",
    "SubscriptionStrategy", "UnknownExchangeError", "UnsubscribedSymbolError", "WebSocketManager",
    "WebSocketManagerConfig", "WebSocketStrategyFactory", "get_include",
]
