"""The reference transport, on the ``websockets`` library (asyncio implementation)."""
from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidURI

from ..core.errors import ConnectionFailedError
from ..rest.client import parse_retry_after
from .base import FrameCallback, Transport, TransportConnection, register_transport


class WebsocketsConnection(TransportConnection):
    """A ``websockets`` client connection."""

    __slots__ = ("_ws", "_reason")

    def __init__(self, ws: ClientConnection):
        self._ws = ws
        self._reason = ""

    async def send(self, data: str | bytes) -> None:
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            raise ConnectionFailedError(f"send failed, connection closed: {exc}") from exc

    async def run(self, on_frame: FrameCallback) -> None:
        ws = self._ws
        recv = ws.recv
        monotonic_ns = time.monotonic_ns
        try:
            # decode=False: text frames arrive as bytes too, so JSON parsers read the UTF-8 bytes
            # directly (no str is built per frame); the timestamp is taken when the frame is handed over.
            while True:
                message = await recv(decode=False)
                on_frame(message, monotonic_ns())
        except ConnectionClosedOK as exc:
            self._reason = f"closed by peer ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
            return
        except ConnectionClosed as exc:
            self._reason = f"connection broken: {exc}"
            raise ConnectionFailedError(self._reason) from exc
        self._reason = self._reason or "closed"

    async def close(self) -> None:
        self._reason = self._reason or "closed by client"
        await self._ws.close()
        await self._ws.wait_closed()

    @property
    def close_reason(self) -> str:
        return self._reason


class WebsocketsTransport(Transport):
    """Transport on ``websockets``: compression off, explicit max frame size.

    Protocol-level pings from the server are answered by the library; the
    library's own keepalive pings are off (the manager's stale watchdog and the
    exchanges' application pings do that job without an extra round trip).
    """

    name = "websockets"

    connect_errors = (OSError, InvalidHandshake, InvalidURI, asyncio.TimeoutError, TimeoutError)

    async def _open(self, url: str, headers: dict[str, str], max_frame_size: int,
                    connect_timeout: float) -> WebsocketsConnection:
        ws = await connect(url, additional_headers=headers, compression=None, max_size=max_frame_size,
                           ping_interval=None, open_timeout=connect_timeout, close_timeout=2.0, max_queue=1024)
        return WebsocketsConnection(ws)

    def refusal(self, exc: BaseException) -> tuple[int | None, float | None]:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        if status is None:
            return None, None
        return int(status), parse_retry_after(response.headers.get("Retry-After"))


register_transport("websockets", WebsocketsTransport)
