"""feedhandler: a Cython-optimized market-data feed handler for crypto exchanges.

The public API: compose a :class:`WebSocketManager` from an exchange's three
strategies (from :class:`WebSocketStrategyFactory`) and a handler.
"""
from ._version import __version__
from .core import *  # noqa: F401,F403  (the public names are listed in core.__all__)
from .core import __all__ as _core_all

__all__ = ["__version__", *_core_all]
