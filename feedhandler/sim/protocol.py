"""The wire-protocol plug-in interface of the simulator.

A :class:`SimProtocol` turns the neutral market events of :mod:`feedhandler.sim.market` into one
exchange's wire format and answers that exchange's client messages. It is sans-I/O: it never touches a
socket. The :class:`~feedhandler.sim.server.SimExchange` owns the sockets, the fan-out and the faults,
and asks the protocol five things:

1. which WebSocket paths it serves (:meth:`SimProtocol.accepts_path`) and which REST routes
   (:meth:`SimProtocol.add_routes`, using :class:`ExchangeContext` for snapshots and auth checks);
2. what to do with a new connection (:meth:`SimProtocol.on_connect`, e.g. streams named in the URL)
   and with each client message (:meth:`SimProtocol.handle_message`): both return a :class:`Reply`
   (frames to send, subscriptions to add or remove, or a close);
3. how to encode a :class:`~feedhandler.sim.market.Delta`, :class:`~feedhandler.sim.market.Trade`,
   :class:`~feedhandler.sim.market.BookTicker` or a book snapshot for one :class:`Subscription`
   (``str`` = text frame, ``bytes`` = binary frame, ``None`` = nothing to send);
4. which :class:`Channel` values it supports;
5. what garbage and oversized frames look like on its wire (defaults are provided).

Encoding depends only on ``(event, subscription)``, so the exchange encodes each event once per
distinct subscription and reuses the frame for every connection that holds it.

Protocols register by name with :func:`register_protocol`; :func:`create_protocol` builds one.
"""

from __future__ import annotations

import abc
import importlib
import importlib.util
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from feedhandler.sim.market import BookSnapshot, BookTicker, Delta, MarketModel, Trade

if TYPE_CHECKING:
    from aiohttp import web

    from feedhandler.sim.faults import FaultConfig

__all__ = [
    "Channel",
    "ConnectionStats",
    "ExchangeContext",
    "Frame",
    "Reply",
    "SimConnection",
    "SimProtocol",
    "Subscription",
    "create_protocol",
    "protocol_names",
    "register_protocol",
]

Frame = str | bytes
"""One WebSocket message: ``str`` is sent as a text frame, ``bytes`` as a binary frame."""


class Channel(StrEnum):
    """Neutral market-data channels a protocol can map its streams to."""

    DEPTH = "depth"
    """Incremental book updates (each :class:`Delta`); full snapshots via ``encode_snapshot``."""
    TRADE = "trade"
    """Public trades (each :class:`Trade`)."""
    BOOK_TICKER = "book_ticker"
    """Best bid/ask, pushed when the top of the book changed."""
    PARTIAL_DEPTH = "partial_depth"
    """Top-N book snapshot pushed after every step (a "depth20"-style partial book stream)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One stream a connection subscribed to.

    Parameters
    ----------
    channel : Channel
        Which market events feed this stream.
    symbol : str
        Model symbol (the protocol maps wire names such as ``btcusdt`` or ``BTC_USDT`` to it).
    name : str
        The stream name as the client wrote it; the key of the connection's subscriptions.
    params : tuple
        Protocol-specific options that change the encoding (depth level, speed, combined-stream
        wrapping). Part of the identity: encoded frames are cached per ``Subscription``.
    """

    channel: Channel
    symbol: str
    name: str
    params: tuple[Any, ...] = ()


@dataclass(slots=True)
class Reply:
    """What the exchange should do after a connection opened or a client message arrived.

    ``frames`` are sent in order (before any data published afterwards), then ``subscribe`` and
    ``unsubscribe`` (names) update the connection, then ``close`` (code, reason) closes it if set.
    """

    frames: list[Frame] = field(default_factory=list)
    subscribe: list[Subscription] = field(default_factory=list)
    unsubscribe: list[str] = field(default_factory=list)
    close: tuple[int, str] | None = None


@dataclass(slots=True)
class ConnectionStats:
    """Counters of one WebSocket connection, for tests to assert on."""

    messages_received: list[str | bytes] = field(default_factory=list)
    """Every client message, verbatim (the actual subscription texts)."""
    frames_sent: int = 0
    """All frames written to the socket: data, control replies and injected faults."""
    data_frames_sent: int = 0
    """Market-data frames written (duplicates included; garbage and oversized excluded)."""
    control_frames_sent: int = 0
    frames_by_symbol: Counter[str] = field(default_factory=Counter)
    """Market-data frames written per model symbol."""
    last_update_id: dict[str, int] = field(default_factory=dict)
    """Highest depth ``last_id`` written per symbol."""
    garbage_sent: int = 0
    truncated_sent: int = 0
    oversized_sent: int = 0
    duplicated: int = 0
    reordered: int = 0
    suppressed: int = 0
    """Frames not sent because the exchange was silent."""
    dropped: bool = False
    """True if the drop-after-N fault cut this connection."""
    close_reason: str = ""


class SimConnection:
    """One client WebSocket connection as the protocol sees it.

    Attributes
    ----------
    id : int
        Sequence number of the connection on this exchange (0, 1, ...).
    path : str
        Request path without the query string.
    query : dict of str to str
        Query parameters (last value wins).
    headers : Mapping
        Request headers.
    subscriptions : dict of str to Subscription
        Current subscriptions keyed by name; change them through :class:`Reply`.
    state : dict
        Free per-connection storage for the protocol (e.g. combined-stream mode).
    authenticated : bool
        Set by the protocol after a successful auth message.
    stats : ConnectionStats
        Counters.
    """

    def __init__(self, conn_id: int, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        self.id = conn_id
        self.path = path
        self.query = dict(query)
        self.headers = headers
        self.subscriptions: dict[str, Subscription] = {}
        self.state: dict[str, Any] = {}
        self.authenticated = False
        self.stats = ConnectionStats()

    def new_subscription_count(self, subs: list[Subscription]) -> int:
        """How many subscriptions the connection would hold after adding ``subs``."""
        return len(self.subscriptions.keys() | {s.name for s in subs})

    def __repr__(self) -> str:
        return f"SimConnection(id={self.id}, path={self.path!r}, subscriptions={len(self.subscriptions)})"


class ExchangeContext(abc.ABC):
    """What a protocol may use of the exchange it runs in (REST handlers, auth checks)."""

    @property
    @abc.abstractmethod
    def model(self) -> MarketModel:
        """The market model (read it; never step it from a protocol)."""

    @property
    @abc.abstractmethod
    def faults(self) -> FaultConfig:
        """The live fault switches."""

    @property
    @abc.abstractmethod
    def credentials(self) -> Mapping[str, str]:
        """API key -> secret pairs the simulated exchange accepts."""

    @abc.abstractmethod
    async def depth_snapshot(self, symbol: str, limit: int | None) -> BookSnapshot:
        """The REST depth snapshot of ``symbol`` with the slow and stale snapshot faults applied.

        Raises KeyError for an unknown symbol.
        """

    def wire_snapshot(self, symbol: str, snapshot: BookSnapshot) -> BookSnapshot:
        """``snapshot`` numbered as the wire numbers updates now (the id-restart fault renumbers them).

        A protocol that builds an in-band snapshot from the model itself passes it through here.
        """
        return snapshot

    @abc.abstractmethod
    def check_auth(self, valid: bool) -> bool:
        """Final auth decision: False if ``valid`` is False or the reject-auth fault is on (counted)."""

    @abc.abstractmethod
    def verify_hmac(self, api_key: str, payload: str | bytes, signature: str, algorithm: str = "sha256") -> bool:
        """Check a hex HMAC signature of ``payload`` with ``api_key``'s secret, then :meth:`check_auth`."""

    @abc.abstractmethod
    def new_token(self) -> str:
        """A fresh random token (for listen keys)."""


class SimProtocol(abc.ABC):
    """Base class of a simulated exchange wire protocol; subclass, set the class attributes, register.

    Class attributes
    ----------------
    name : str
        Registry name (``"simjson"``, or the exchange's registry name for an exchange's protocol).
    ws_paths : tuple of str
        WebSocket paths served; the first one makes ``SimExchange.ws_url``.
    channels : frozenset of Channel
        Channels the protocol can encode.
    max_subscriptions : int
        Per-connection subscription limit; ``handle_message`` enforces it with the protocol's own error.
    binary_data : bool
        True if market data goes out in binary frames (protobuf); shapes the fault frames.
    snapshot_on_subscribe : bool
        Push ``encode_snapshot`` right after a DEPTH subscription (a stream that starts with a full book).
    max_ids_per_step : int
        Most update ids one model step (one push) aggregates; 1 when the wire id must advance by exactly one
        per push (a per-topic message counter), so the wire id is the model's id.
    """

    name: ClassVar[str] = ""
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws",)
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.DEPTH})
    max_subscriptions: ClassVar[int] = 50
    binary_data: ClassVar[bool] = False
    snapshot_on_subscribe: ClassVar[bool] = False
    max_ids_per_step: ClassVar[int] = 3

    def __init__(self) -> None:
        self._ctx: ExchangeContext | None = None

    # -- wiring ---------------------------------------------------------------------------------

    def bind(self, ctx: ExchangeContext) -> None:
        """Called once by the exchange before serving; a protocol instance serves one exchange."""
        if self._ctx is not None and self._ctx is not ctx:
            raise RuntimeError(f"protocol {self.name!r} instance is already bound to another exchange")
        self._ctx = ctx

    @property
    def ctx(self) -> ExchangeContext:
        """The exchange this protocol serves (available after :meth:`bind`)."""
        if self._ctx is None:
            raise RuntimeError(f"protocol {self.name!r} is not bound to an exchange")
        return self._ctx

    def accepts_path(self, path: str) -> bool:
        """True if a WebSocket handshake to ``path`` (no query string) is for this protocol."""
        return path in self.ws_paths

    def add_routes(self, app: web.Application) -> None:
        """Add the protocol's REST routes (depth snapshot, listen keys) to the aiohttp app."""

    # -- client side ----------------------------------------------------------------------------

    def on_connect(self, conn: SimConnection) -> Reply:
        """A connection was accepted: return greetings, streams named in the URL, or a close."""
        return Reply()

    @abc.abstractmethod
    def handle_message(self, conn: SimConnection, message: str | bytes) -> Reply:
        """Answer one client message (subscribe, unsubscribe, ping, auth, anything else).

        Must not raise on hostile input: reply with the protocol's error instead.
        """

    # -- encoding -------------------------------------------------------------------------------

    @abc.abstractmethod
    def encode_delta(self, delta: Delta, sub: Subscription) -> Frame | None:
        """Encode one book delta for a DEPTH subscription."""

    def encode_trade(self, trade: Trade, sub: Subscription) -> Frame | None:
        """Encode one trade for a TRADE subscription (None: not supported)."""
        return None

    def encode_book_ticker(self, ticker: BookTicker, sub: Subscription) -> Frame | None:
        """Encode a best bid/ask for a BOOK_TICKER subscription (None: not supported)."""
        return None

    def encode_snapshot(self, symbol: str, snapshot: BookSnapshot, ts_ms: int, sub: Subscription) -> Frame | None:
        """Encode a whole-book snapshot pushed on the stream.

        For a DEPTH subscription this is a mid-stream reset (a ``full: true`` frame): ``snapshot`` is
        the full book at ``snapshot.last_update_id``. For PARTIAL_DEPTH it is sent after every step and
        the protocol cuts it to the subscribed depth. None: not supported.
        """
        return None

    def on_enqueue(self, conn: SimConnection, frame: Frame, last_id: int) -> Frame:
        """The frame as this connection gets it, called in send order for every frame queued to ``conn``
        (data and replies; ``last_id``: the model update id a book frame carries, else 0). Protocols that
        number frames per connection (a ``sequence_num`` over all channels) fill the number in here;
        encoded frames are shared between connections. Default: as is."""
        return frame

    def book_update_id(self, symbol: str, wire_id: int) -> int:
        """The model update id of a book a client knows by ``wire_id`` (the id its BookUpdate carries).
        The same by default; a protocol whose books carry a per-connection frame number maps it back."""
        return wire_id

    def on_skipped(self, conn: SimConnection) -> None:
        """The gap fault skipped a book delta ``conn`` subscribes to: a protocol that numbers frames per
        connection leaves a hole in its numbering, as a lost frame would."""

    # -- fault frames ---------------------------------------------------------------------------

    def garbage_frame(self, rng: random.Random) -> Frame:
        """A frame that does not parse in this protocol."""
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 48)))
        if self.binary_data:
            return b"\xff\xff" + junk  # an invalid protobuf key (field 0 / wire type 7) first
        return "\x00{garbage:" + junk.hex() + "]]"

    def oversized_frame(self, size: int) -> Frame:
        """A syntactically plausible frame of ``size`` bytes (meant to exceed a client's max_size)."""
        if self.binary_data:
            return b"\x0a" + b"\xff" * max(0, size - 1)
        head = '{"pad":"'
        return head + "x" * max(0, size - len(head) - 2) + '"}'


_REGISTRY: dict[str, type[SimProtocol]] = {}
# The simulator's own protocols, imported on first use. An exchange's protocol is found through the exchange
# registry instead (``register_exchange(..., sim_protocol="module")`` in the exchange's package), so this
# module names no exchange.
_OWN_MODULES: dict[str, str] = {
    "simjson": "feedhandler.sim.protocols.simjson",
}


def register_protocol(cls: type[SimProtocol]) -> type[SimProtocol]:
    """Class decorator: register a :class:`SimProtocol` subclass under its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, SimProtocol)):
        raise TypeError(f"{cls!r} is not a SimProtocol subclass")
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no protocol name")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"protocol name {cls.name!r} is already registered by {existing.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def _lazy_modules() -> dict[str, str]:
    """Protocol name -> module that registers it: the simulator's own and every exchange's."""
    from feedhandler.core.registry import exchange_info, exchange_names

    modules = dict(_OWN_MODULES)
    for name in exchange_names():
        module = exchange_info(name).sim_protocol
        if module:
            modules.setdefault(name, module)
    return modules


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def protocol_names() -> list[str]:
    """Names of the protocols that can be created (registered or importable on demand)."""
    return sorted(set(_REGISTRY) | {n for n, m in _lazy_modules().items() if _available(m)})


def create_protocol(name: str) -> SimProtocol:
    """A new instance of the protocol registered as ``name``.

    Raises
    ------
    KeyError
        If no such protocol exists; the message lists the available names.
    """
    if name not in _REGISTRY:
        module = _lazy_modules().get(name)
        if module is not None and _available(module):
            importlib.import_module(module)
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown simulator protocol {name!r}; available: {', '.join(protocol_names())}") from None
    return cls()
