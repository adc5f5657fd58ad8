"""The NATS connection both ends of the bus hold (``NatsSink`` publishing, ``BookFollower`` reading)."""
from __future__ import annotations

from typing import Any


class NatsConnection:
    """A NATS client that reconnects without limit, usable as ``async with``.

    Subclasses call ``__init__`` with the bus settings both ends share, implement ``start()`` (calling
    :meth:`_connect`) and ``close()``, and the three callbacks ``_on_disconnected``, ``_on_reconnected`` and
    ``_on_error``.

    Parameters
    ----------
    servers : str or list of str
        NATS URLs.
    prefix : str
        First subject token (the JetStream stream covers ``<prefix>.>``).
    jetstream : bool
        Use the JetStream stream ``stream_name`` (in memory, ``stream_max_age`` seconds).
    """

    def __init__(self, servers: str | list[str], prefix: str, jetstream: bool, stream_name: str,
                 stream_max_age: float) -> None:
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.prefix = prefix
        self.jetstream = jetstream
        self.stream_name = stream_name
        self.stream_max_age = stream_max_age
        self._nc: Any = None
        self._closing = False

    async def _connect(self, **options: Any) -> None:
        """Connect to ``servers``: retry every 50 ms for ever, the callbacks wired, ``options`` added."""
        import nats

        self._nc = await nats.connect(
            self.servers, allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.05,
            connect_timeout=2, disconnected_cb=self._on_disconnected, reconnected_cb=self._on_reconnected,
            error_cb=self._on_error, **options)

    async def _ensure_stream(self) -> None:
        """Create (or update) the bus's JetStream stream, identically from publishers and followers."""
        from .jetstream import ensure_stream

        await ensure_stream(self._nc, self.stream_name, self.prefix, self.stream_max_age)

    async def start(self) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _on_disconnected(self) -> None:
        raise NotImplementedError

    async def _on_reconnected(self) -> None:
        raise NotImplementedError

    async def _on_error(self, exc: BaseException) -> None:
        raise NotImplementedError
