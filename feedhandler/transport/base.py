"""The small interface between the manager and the network."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, ClassVar, Mapping

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


def redact_url(url: str) -> str:
    """Return ``url`` without its query string and fragment (listen keys and tokens live there)."""
    return url.split("?", 1)[0].split("#", 1)[0]


def redact_text(text: str, url: str) -> str:
    """Remove ``url``'s query string from ``text`` wherever it appears."""
    base = redact_url(url)
    text = text.replace(url, base)
    secret = url[len(base):]
    if len(secret) > 1:
        text = text.replace(secret, "?<redacted>").replace(secret[1:], "<redacted>")
    return text


class Transport(ABC):
    """Opens connections; one instance may open many.

    :meth:`connect` is the same for every transport: it calls the library in :meth:`_open` and turns
    the library's :attr:`connect_errors` into one ``ConnectionFailedError`` whose message, cause and
    context never carry the URL's query (a listen key may be there).
    """

    name: str = "abstract"
    #: What the library raises when it cannot connect (anything else is a bug and propagates).
    connect_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError, TimeoutError)

    async def connect(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_frame_size: int = 16 * 1024 * 1024,
        connect_timeout: float = 10.0,
    ) -> TransportConnection:
        """Open a connection or raise ``ConnectionFailedError`` saying why."""
        from ..core.errors import ConnectionFailedError

        try:
            return await self._open(url, dict(headers or {}), max_frame_size, connect_timeout)
        except self.connect_errors as exc:
            detail = redact_text(str(exc), url)
            kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            message = f"cannot connect to {redact_url(url)}: {kind}{': ' + detail if detail else ''}"
            status, retry_after = self.refusal(exc)
        # raised outside the handler, so that no chained cause or context carries the URL
        raise ConnectionFailedError(message, status, retry_after)

    @abstractmethod
    async def _open(self, url: str, headers: dict[str, str], max_frame_size: int,
                    connect_timeout: float) -> TransportConnection:
        """Open the connection with the library (its errors are translated by :meth:`connect`)."""

    def refusal(self, exc: BaseException) -> tuple[int | None, float | None]:
        """HTTP status and Retry-After when ``exc`` is the server refusing the upgrade (e.g. 429, 503)."""
        return None, None


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
