"""The local exchange: a seeded market with a known true book, served over real sockets with faults.

Use :class:`SimExchange` (``async with SimExchange("simjson", ["BTCUSDT"], seed=1) as ex``) and read
``ex.ws_url`` / ``ex.rest_url``; ``ex.model.true_book(symbol, update_id)`` is the truth to compare with;
``ex.faults`` switches faults at run time. Wire protocols plug in as :class:`SimProtocol` subclasses.
"""

from feedhandler.sim.faults import FaultConfig, FrameKind
from feedhandler.sim.market import BookSides, BookSnapshot, BookTicker, Delta, HistoryError, Instrument, MarketModel, Trade
from feedhandler.sim.protocol import (
    Channel, ConnectionStats, ExchangeContext, Frame, Reply, SimConnection, SimProtocol, Subscription, create_protocol,
    protocol_names, register_protocol,
)
from feedhandler.sim.server import ExchangeStats, SimExchange

__all__ = [
    "BookSides",
    "BookSnapshot",
    "BookTicker",
    "Channel",
    "ConnectionStats",
    "Delta",
    "ExchangeContext",
    "ExchangeStats",
    "FaultConfig",
    "Frame",
    "FrameKind",
    "HistoryError",
    "Instrument",
    "MarketModel",
    "Reply",
    "SimConnection",
    "SimExchange",
    "SimProtocol",
    "Subscription",
    "Trade",
    "create_protocol",
    "protocol_names",
    "register_protocol",
]
