"""The small interface between the manager and the network."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Mapping

#: Called once per received frame with the payload and ``recv_ns`` (``time.monotonic_ns()``
#: taken when the transport handed the frame over). Synchronous: the data path has no await.
FrameCallback = Callable[[str | bytes, int], object]


class TransportConnection(ABC):
    """One open WebSocket connection."""

    @abstractmethod
    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) frame."""

    @abstractmethod
    async def run(self, on_frame: FrameCallback) -> None:
        """Deliver frames to ``on_frame`` until the connection ends.

        Returns when the peer or :meth:`close` closed the connection; raises
        ``ConnectionFailedError`` when it broke.
        """

    @abstractmethod
    async def close(self) -> None:
        """Close the connection and wait until the socket is gone."""

    @property
    @abstractmethod
    def close_reason(self) -> str:
        """Why the connection ended (empty while open)."""


class Transport(ABC):
    """Opens connections; one instance may open many."""

    name: str = "abstract"

    @abstractmethod
    async def connect(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_frame_size: int = 16 * 1024 * 1024,
        connect_timeout: float = 10.0,
    ) -> TransportConnection:
        """Open a connection or raise ``ConnectionFailedError`` saying why."""


_TRANSPORTS: dict[str, Callable[[], Transport]] = {}


def register_transport(name: str, factory: Callable[[], Transport]) -> None:
    """Make a transport selectable by name in ``WebSocketManagerConfig.transport``."""
    _TRANSPORTS[name] = factory


def create_transport(name: str) -> Transport:
    """Instantiate the transport registered as ``name``."""
    from ..core.errors import ConfigurationError

    if name not in _TRANSPORTS:
        # Optional transports register themselves on import.
        try:
            __import__(f"feedhandler.transport.{name}_transport")
        except ImportError:
            pass
    try:
        return _TRANSPORTS[name]()
    except KeyError:
        raise ConfigurationError(
            f"unknown transport {name!r}; available: {', '.join(sorted(_TRANSPORTS))}"
        ) from None
