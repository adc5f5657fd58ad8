"""The migration guide's feature flag: one factory, legacy client or new manager, per exchange.

``config.use_new_websocket_architecture`` (or the ``"use_new_websocket_architecture"`` key of a
mapping config) is either a bool (every exchange) or a mapping ``{exchange: bool}`` with an optional
``"default"`` entry, so exchanges can be switched one at a time (gradual migration) and switched back
(rollback) without touching the code that consumes the events.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ..core.errors import ConfigurationError
from ..core.factory import WebSocketStrategyFactory
from ..core.manager import WebSocketManager
from ..core.strategies import ErrorHandler, EventHandler
from ..core.types import WebSocketManagerConfig

__all__ = ["FLAG", "LEGACY_CLIENTS", "create_websocket_client", "register_legacy_client", "use_new_architecture"]

FLAG = "use_new_websocket_architecture"

#: (exchange, is_private) -> callable(config, message_handler=, error_handler=, ws_url=, rest_url=, **options)
LEGACY_CLIENTS: dict[tuple[str, bool], Callable[..., Any]] = {}


def register_legacy_client(exchange: str, is_private: bool, factory: Callable[..., Any]) -> None:
    """Make a legacy client available to :func:`create_websocket_client` when the flag is off."""
    LEGACY_CLIENTS[(exchange.lower(), bool(is_private))] = factory


def _legacy_mexc_public(config: WebSocketManagerConfig, **kw: Any) -> Any:
    from ..legacy.mexc import MexcWebsocketPublic
    return MexcWebsocketPublic(config, **kw)


def _legacy_mexc_private(config: WebSocketManagerConfig, **kw: Any) -> Any:
    from ..legacy.mexc import MexcWebsocketPrivate
    return MexcWebsocketPrivate(None, config, **kw)


register_legacy_client("mexc", False, _legacy_mexc_public)
register_legacy_client("mexc", True, _legacy_mexc_private)


def _flag_value(config: Any) -> Any:
    if isinstance(config, Mapping):
        return config.get(FLAG, True)
    return getattr(config, FLAG, True)


def use_new_architecture(config: Any, exchange: str) -> bool:
    """Whether ``exchange`` runs on the new manager under ``config`` (default: True)."""
    flag = _flag_value(config)
    if isinstance(flag, bool):
        return flag
    if isinstance(flag, Mapping):
        name = exchange.lower()
        for key, value in flag.items():
            if str(key).lower() == name:
                return bool(value)
        return bool(flag.get("default", True))
    raise ConfigurationError(f"{FLAG} must be a bool or a mapping exchange -> bool, not {type(flag).__name__}")


def create_websocket_client(
    exchange: str,
    config: Any,
    message_handler: EventHandler | None = None,
    error_handler: ErrorHandler | None = None,
    *,
    manager_config: WebSocketManagerConfig | None = None,
    ws_url: str | None = None,
    rest_url: str | None = None,
    **options: Any,
) -> Any:
    """The client for ``exchange``: a :class:`WebSocketManager` or the legacy client, as the flag says.

    Both have ``initialize(symbols)``, ``subscribe``, ``unsubscribe``, ``close()``, ``is_connected``,
    ``active_symbols`` and deliver the same ``feedhandler.events`` types to ``message_handler``.

    Parameters
    ----------
    config:
        Anything carrying ``use_new_websocket_architecture`` (an object attribute or mapping key).
    manager_config:
        The :class:`WebSocketManagerConfig` for either implementation (default: ``exchange`` public,
        order books).
    ws_url, rest_url, options:
        Passed to the strategies (new) or the legacy client's constructor (legacy).
    """
    mcfg = manager_config or WebSocketManagerConfig(exchange)
    urls = {k: v for k, v in (("ws_url", ws_url), ("rest_url", rest_url)) if v}
    if use_new_architecture(config, exchange):
        if mcfg.api_key:
            options.setdefault("api_key", mcfg.api_key)
            options.setdefault("secret_key", mcfg.secret_key)
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            exchange, mcfg.is_private, **urls, **mcfg.options, **options)
        return WebSocketManager(mcfg, conn, sub, parser, message_handler=message_handler, error_handler=error_handler)
    legacy = LEGACY_CLIENTS.get((exchange.lower(), mcfg.is_private))
    if legacy is None:
        side = "private" if mcfg.is_private else "public"
        known = ", ".join(sorted(f"{e} ({'private' if p else 'public'})" for e, p in LEGACY_CLIENTS)) or "(none)"
        raise ConfigurationError(
            f"no legacy client for {exchange} ({side}); legacy clients: {known}. "
            f"Set {FLAG} to True for {exchange}.")
    return legacy(mcfg, message_handler=message_handler, error_handler=error_handler, **urls, **options)
