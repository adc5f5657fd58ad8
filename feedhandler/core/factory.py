"""``WebSocketStrategyFactory``: exchange name -> its three strategies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from .errors import UnknownExchangeError
from .strategies import ConnectionStrategy, MessageParser, SubscriptionStrategy


@dataclass(frozen=True, slots=True)
class StrategySet:
    """Callables that build one exchange's strategies; each receives the factory's keyword options."""

    connection: Callable[..., ConnectionStrategy]
    subscription: Callable[..., SubscriptionStrategy]
    parser: Callable[..., MessageParser]


class WebSocketStrategyFactory:
    """Registry of exchange strategies (exchanges fill it through :func:`~feedhandler.core.registry.register_exchange`).

    Examples
    --------
    >>> name = WebSocketStrategyFactory.exchanges()[0]  # any registered exchange
    >>> conn, sub, parser = WebSocketStrategyFactory.create_strategies(name, is_private=False)
    """

    _registry: ClassVar[dict[tuple[str, bool], StrategySet]] = {}

    @classmethod
    def register(
        cls,
        exchange: str,
        is_private: bool,
        connection: Callable[..., ConnectionStrategy],
        subscription: Callable[..., SubscriptionStrategy],
        parser: Callable[..., MessageParser],
    ) -> None:
        """Register the strategy constructors of ``exchange`` (public or private side).

        Each constructor is called with the keyword options given to
        :meth:`create_strategies` (it should accept ``**kwargs`` it does not use).
        Registering the same name again replaces the previous entry.
        """
        cls._registry[(exchange.lower(), bool(is_private))] = StrategySet(connection, subscription, parser)

    @classmethod
    def create_strategies(
        cls, exchange: str, is_private: bool = False, **options: Any
    ) -> tuple[ConnectionStrategy, SubscriptionStrategy, MessageParser]:
        """Build ``(connection, subscription, parser)`` for ``exchange``.

        Raises
        ------
        UnknownExchangeError
            No strategies registered under that name; the message lists the known ones.
        """
        cls._load_builtins()
        key = (exchange.lower(), bool(is_private))
        entry = cls._registry.get(key)
        if entry is None:
            if (key[0], not key[1]) in cls._registry:
                side = "private" if is_private else "public"
                raise UnknownExchangeError(f"{exchange} ({side})", cls.exchanges())
            raise UnknownExchangeError(exchange, cls.exchanges())
        return entry.connection(**options), entry.subscription(**options), entry.parser(**options)

    @classmethod
    def exchanges(cls) -> list[str]:
        """Names of the registered exchanges, sorted."""
        cls._load_builtins()
        return sorted({name for name, _ in cls._registry})

    @classmethod
    def _load_builtins(cls) -> None:
        # Exchanges register themselves when their package is imported; the registry finds the packages
        # (the built-in folders and the ``feedhandler.exchanges`` entry points), so no name is listed here.
        from .registry import load_exchanges

        load_exchanges()
