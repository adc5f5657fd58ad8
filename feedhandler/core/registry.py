"""The exchange registry: every exchange describes itself from its own package.

An exchange package (``feedhandler/exchanges/<name>/__init__.py``, or any third-party package) calls
:func:`register_exchange` once on import with its strategies, the simulator protocol that speaks its wire
format and the symbols the demo follows. Nothing outside the exchange's folder names it: the strategy
factory, the simulator's protocol registry and the command line all ask this registry.

Discovery (:func:`load_exchanges`, run on first use) imports

1. every sub-package of :mod:`feedhandler.exchanges` (a new folder there is found without editing any list);
2. every entry point of the group ``feedhandler.exchanges`` (:data:`ENTRY_POINT_GROUP`), so that an installed
   third-party package adds an exchange: the entry point names a module that registers itself on import, or
   a zero-argument callable that registers when called::

       [project.entry-points."feedhandler.exchanges"]
       myexchange = "myexchange_feed"

A broken built-in exchange package raises (it is a bug in this package); a broken third-party entry point is
reported with a :class:`RuntimeWarning` and skipped, so one bad plug-in does not take the others down.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import pkgutil
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from .errors import UnknownExchangeError

__all__ = [
    "ENTRY_POINT_GROUP", "ExchangeInfo", "demo_symbols", "exchange_info", "exchange_names", "load_exchanges",
    "register_exchange", "register_exchange_package",
]

#: Entry-point group through which installed packages add exchanges.
ENTRY_POINT_GROUP = "feedhandler.exchanges"
#: The package whose sub-packages are the built-in exchanges.
_BUILTIN_PACKAGE = "feedhandler.exchanges"


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """What an exchange says about itself beyond its strategies.

    Attributes
    ----------
    name : str
        Registry name, lower case (``WebSocketManagerConfig.exchange``, ``--exchange``).
    demo_symbols : tuple of str
        Symbols the demo, ``record`` and ``profile`` follow by default, in the exchange's own spelling.
    sim_protocol : str or None
        Module that registers the exchange's :class:`~feedhandler.sim.protocol.SimProtocol` under ``name``
        when imported (imported only when a simulator for it is created); None: no simulator.
    module : str
        The package that registered it (for error messages and the README's exchange table).
    """

    name: str
    demo_symbols: tuple[str, ...] = ()
    sim_protocol: str | None = None
    module: str = ""


_EXCHANGES: dict[str, ExchangeInfo] = {}
_loaded = False


def register_exchange(
    name: str,
    *,
    public: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None = None,
    private: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None = None,
    demo_symbols: tuple[str, ...] | list[str] = (),
    sim_protocol: str | None = None,
    module: str = "",
) -> ExchangeInfo:
    """Register an exchange: its strategies (public and/or private side) and what the tools need.

    Parameters
    ----------
    name : str
        Registry name (case-insensitive; stored lower case).
    public, private : tuple of (connection, subscription, parser) constructors, optional
        Passed to :meth:`WebSocketStrategyFactory.register` for that side; each constructor receives the
        factory's keyword options (it should accept ``**kwargs`` it does not use).
    demo_symbols : sequence of str
        Default symbols for the demo and the recording tools.
    sim_protocol : str, optional
        Module path of the exchange's simulator protocol (registers itself on import).
    module : str
        The registering package, usually ``__name__``.

    Returns
    -------
    ExchangeInfo
        What was stored. Registering a name again replaces the previous entry.
    """
    from .factory import WebSocketStrategyFactory

    key = name.lower()
    for is_private, strategies in ((False, public), (True, private)):
        if strategies is not None:
            WebSocketStrategyFactory.register(key, is_private, *strategies)
    info = ExchangeInfo(key, tuple(demo_symbols), sim_protocol, module)
    _EXCHANGES[key] = info
    return info


#: The constructors of one side, as :func:`register_exchange_package` finds them: ``<Prefix><Side><role>``.
_SIDE_ROLES = ("ConnectionStrategy", "SubscriptionStrategy", "MessageParser")


def register_exchange_package(package: str, prefix: str, *, demo_symbols: tuple[str, ...] | list[str] = ()
                              ) -> ExchangeInfo:
    """Register the exchange package ``package`` from the names it defines (call it from its ``__init__``).

    The registry name is the package's last component; each side whose three constructors the package
    defines as ``<prefix>Public...`` / ``<prefix>Private...`` (``ConnectionStrategy``,
    ``SubscriptionStrategy``, ``MessageParser``) is registered; the simulator protocol is the package's
    ``sim_protocol`` module when it has one. ``register_exchange_package(__name__, "Okx",
    demo_symbols=(...))`` after the imports does what the explicit :func:`register_exchange` call would.
    """
    namespace = vars(sys.modules[package])
    sides = {}
    for side in ("Public", "Private"):
        constructors = tuple(namespace.get(f"{prefix}{side}{role}") for role in _SIDE_ROLES)
        if all(constructors):
            sides[side.lower()] = constructors
        elif any(constructors):
            missing = [f"{prefix}{side}{r}" for r, c in zip(_SIDE_ROLES, constructors) if c is None]
            raise TypeError(f"{package}: the {side.lower()} side lacks {', '.join(missing)}")
    sim = f"{package}.sim_protocol"
    return register_exchange(package.rsplit(".", 1)[-1], **sides, demo_symbols=demo_symbols,
                             sim_protocol=sim if importlib.util.find_spec(sim) is not None else None, module=package)


def load_exchanges(refresh: bool = False) -> None:
    """Import the built-in exchange packages and the ``feedhandler.exchanges`` entry points.

    Runs once; ``refresh=True`` looks again (after a package was installed at run time). Importing a package
    that is already imported does nothing, so refreshing never registers an exchange twice.
    """
    global _loaded
    if _loaded and not refresh:
        return
    _loaded = True
    package = importlib.import_module(_BUILTIN_PACKAGE)
    for entry in pkgutil.iter_modules(package.__path__):
        if entry.ispkg:
            importlib.import_module(f"{_BUILTIN_PACKAGE}.{entry.name}")
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = point.load()
            if callable(target):
                target()
        except Exception as exc:  # a third-party plug-in must not break the built-in exchanges
            warnings.warn(f"exchange entry point {point.name!r} ({point.value}) failed to load: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)


def exchange_names() -> list[str]:
    """Names of the registered exchanges, sorted."""
    load_exchanges()
    return sorted(_EXCHANGES)


def exchange_info(name: str) -> ExchangeInfo:
    """The registration of ``name``.

    Raises
    ------
    UnknownExchangeError
        No exchange of that name; the message lists the known ones.
    """
    load_exchanges()
    try:
        return _EXCHANGES[name.lower()]
    except KeyError:
        raise UnknownExchangeError(name, sorted(_EXCHANGES)) from None


def demo_symbols(name: str) -> list[str]:
    """The default symbols of exchange ``name`` (``["BTCUSDT"]`` if it declared none)."""
    return list(exchange_info(name).demo_symbols) or ["BTCUSDT"]
