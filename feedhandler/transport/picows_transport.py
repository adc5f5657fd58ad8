"""A fast transport on ``picows``: frames go from picows' read buffer to the parser synchronously.

Data path
---------
picows parses frames in place in its read buffer and calls the compiled
listener's ``on_ws_frame`` (:class:`~feedhandler.transport.picows_listener.PicowsFrameListener`,
a ``cdef class``, called through picows' C vtable) for each one from the event
loop's read callback. The listener takes ``recv_ns`` (``CLOCK_MONOTONIC``) first.
When the frame consumer is a :class:`~feedhandler.core.sink.FrameSink` (what the
manager passes), the payload pointer and length go to the sink's C entry and on
to the compiled decoder's ``c_feed``: no ``bytes`` object and no Python call
between the socket and the user's handler. No queue, no task switch, no await
per frame.

Payload
-------
A plain Python frame callable (anything but a ``FrameSink``, or a parser that is
not a compiled ``FrameDecoder``, which the sink feeds a copy) gets ``bytes`` by
default (one ``memcpy`` of the frame; text frames too, as UTF-8 bytes, like the
``websockets`` transport). ``PicowsTransport(payload="memoryview")`` hands a
callable a read-only ``memoryview`` of picows' read buffer instead (no copy).
That view is valid only until ``on_frame`` returns: picows reuses the buffer for
the next read, so a consumer that keeps the payload must copy it
(``bytes(view)``). Only use it with callables that accept memoryviews.

Back-pressure
-------------
Frames are handled synchronously inside picows' read callback, so no frame
queue exists that could grow: while the handler is busy the event loop does
not read the socket, the kernel receive buffer fills, and TCP flow control
slows the sender. picows' own read buffer holds at most the frame being
received plus the rest of one socket read; it grows (doubling) to fit the
largest frame seen, which ``max_frame_size`` bounds, and it is not shrunk
afterwards. Frames that arrive before :meth:`PicowsConnection.run` is called
(e.g. a welcome message in the same TCP segment as the handshake response)
are kept, and reading is paused on the first one until ``run`` starts, so
at most one read's worth is ever held.

Protocol
--------
Pings are answered with pongs by the listener (after the same checks as any
frame); pongs are ignored. Frames that break RFC 6455 end the connection with
the close code ``websockets`` uses (see the listener's docstring: RSV bits,
reserved opcodes, fragmented or oversized control frames, masked server frames,
close codes that may not be sent, close reasons that are not UTF-8).
Fragmented messages are reassembled (their total size is held to
``max_frame_size`` as well). A close frame from the peer is answered and the
connection ends: codes 1000/1001 end :meth:`~PicowsConnection.run` normally,
any other code raises ``ConnectionFailedError`` carrying the code and reason.
Compression is never negotiated. TCP_NODELAY (and TCP_QUICKACK on Linux) is
set by picows on every socket. HTTP redirects are not followed (picows would
log the redirect URL, query string included, and a feed URL that redirects is
a configuration error worth seeing).
"""
from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any, Callable, Literal

from picows import WSCloseCode, WSError, WSMsgType, WSTransport, ws_connect

from ..core.errors import ConnectionFailedError
from ..rest.client import parse_retry_after
from .base import FrameCallback, Transport, TransportConnection, redact_url, register_transport
from .picows_listener import PicowsFrameListener

__all__ = ["PicowsConnection", "PicowsTransport"]

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CLEAN_CLOSE_CODES = (WSCloseCode.OK, WSCloseCode.GOING_AWAY)
#: How long :meth:`PicowsConnection.close` waits for the peer's close frame before aborting the socket.
_CLOSE_TIMEOUT = 2.0


class PicowsConnection(TransportConnection):
    """One picows client connection (see the module docstring for the data path and its rules)."""

    __slots__ = ("_transport", "_listener", "_reason", "_closing", "_running")

    def __init__(self, transport: WSTransport, listener: PicowsFrameListener):
        self._transport = transport
        self._listener = listener
        self._reason = ""
        self._closing = False
        self._running = False

    @property
    def ws_transport(self) -> WSTransport:
        """The underlying ``picows.WSTransport`` (for inspection: socket options, close handshake)."""
        return self._transport

    def install_read_tap(self, make_tap: Callable[[Any], Any]) -> Any:
        """Put ``make_tap(picows_protocol)`` (a :class:`~feedhandler.transport.read_tap.ReadTap` and an asyncio
        ``BufferedProtocol``) between the socket transport and picows, and tell the listener about it; None
        (nothing done) if the socket transport cannot change its protocol."""
        underlying = self._transport.underlying_transport
        if not hasattr(underlying, "set_protocol") or underlying.is_closing():
            return None
        tap = make_tap(underlying.get_protocol())
        underlying.set_protocol(tap)
        self._listener.attach_read_tap(tap)
        return tap

    def remove_read_tap(self, tap: Any) -> None:
        self._listener.attach_read_tap(None)
        underlying = self._transport.underlying_transport
        if underlying.get_protocol() is tap:
            underlying.set_protocol(tap.inner)

    async def send(self, data: str | bytes) -> None:
        transport = self._transport
        if transport.is_disconnected or transport.is_close_frame_sent:
            raise ConnectionFailedError(f"send failed, connection closed ({self._reason or 'closing'})")
        if isinstance(data, str):
            transport.send(_TEXT, data.encode())
        else:
            transport.send(_BINARY, data)

    async def run(self, on_frame: FrameCallback) -> None:
        if self._running:
            raise RuntimeError("PicowsConnection.run() was already called")
        self._running = True
        listener = self._listener
        stash = list(listener.stash)
        listener.stash.clear()
        as_memoryview = listener.as_memoryview
        # Frames that arrived before a protocol violation was seen are still delivered, as websockets does;
        # a consumer failure during this replay stops it.
        failed_before = listener.failure
        for payload, recv_ns in stash:
            if listener.failure is not failed_before:
                break
            try:
                on_frame(memoryview(payload) if as_memoryview else payload, recv_ns)
            except BaseException as exc:
                listener.fail(exc, WSCloseCode.INTERNAL_ERROR, "")
        if listener.failure is None:
            # A FrameSink gets every later frame by pointer, from C; anything else as bytes/memoryview.
            listener.deliver_to(on_frame)
        listener.resume_reading()
        await asyncio.shield(listener.disconnected)
        await self._consume_disconnect_error()
        self._finish()

    async def _consume_disconnect_error(self) -> None:
        # picows keeps a protocol error (e.g. an oversized frame) on its own disconnect future; the outcome
        # is reported from the close handshake instead, so retrieve it here and never leave it "unretrieved".
        with contextlib.suppress(Exception):
            await self._transport.wait_disconnected()

    def _finish(self) -> None:
        """Decide, once the socket is gone, whether the connection ended cleanly."""
        listener = self._listener
        failure = listener.failure
        if failure is not None:
            if isinstance(failure, ConnectionFailedError):
                self._reason = self._reason or str(failure)
                raise failure
            self._reason = self._reason or f"frame handler raised {type(failure).__name__}"
            raise failure
        handshake = self._transport.close_handshake
        received = handshake.recv if handshake is not None else None
        if self._closing:
            return
        if received is not None:
            code = int(received.code)
            text = f"closed by peer ({code}{': ' + received.reason if received.reason else ''})"
            if received.code in _CLEAN_CLOSE_CODES or received.code == WSCloseCode.NO_INFO:
                self._reason = text
                return
            self._reason = f"connection broken: {text}"
            raise ConnectionFailedError(self._reason)
        if handshake is not None and handshake.sent is not None:
            # picows itself closed the connection: a protocol violation or an oversized frame.
            sent = handshake.sent
            self._reason = f"connection closed by the client: {int(sent.code)} {sent.reason}".rstrip()
            raise ConnectionFailedError(self._reason)
        self._reason = "connection broken: the peer dropped the connection without a close frame"
        raise ConnectionFailedError(self._reason)

    async def close(self) -> None:
        self._closing = True
        self._reason = self._reason or "closed by client"
        transport = self._transport
        listener = self._listener
        if not self._running:
            listener.discard()  # closing before run(): nobody wants the frames
        if not transport.is_disconnected:
            if not transport.is_close_frame_sent:
                transport.send_close(WSCloseCode.OK)
            listener.resume_reading()
            # Wait for the peer's close frame (on_ws_frame then drops the socket); abort if it never comes.
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await asyncio.shield(listener.disconnected)
            except TimeoutError:
                transport.disconnect(False)
        await asyncio.shield(listener.disconnected)
        await self._consume_disconnect_error()

    @property
    def close_reason(self) -> str:
        return self._reason


class PicowsTransport(Transport):
    """Transport on ``picows``: synchronous frame delivery from the read buffer, no frame queue.

    Parameters
    ----------
    payload:
        ``"bytes"`` (default): each payload is a fresh ``bytes``. ``"memoryview"``:
        a read-only view of picows' read buffer, valid only until ``on_frame``
        returns (no copy; the consumer must copy what it keeps).
    ssl_context:
        TLS settings for ``wss://`` URLs; default ``ssl.create_default_context()``
        (certificate and host name verified against the system's CAs).

    Notes
    -----
    Errors never contain the URL's query string (listen keys live there), and
    are raised ``from None`` where the cause would carry it.
    """

    name = "picows"

    def __init__(self, payload: Literal["bytes", "memoryview"] = "bytes",
                 ssl_context: ssl.SSLContext | None = None):
        if payload not in ("bytes", "memoryview"):
            raise ValueError(f"payload must be 'bytes' or 'memoryview', not {payload!r}")
        self.payload = payload
        self.ssl_context = ssl_context

    connect_errors = (OSError, WSError, TimeoutError, ValueError, AssertionError)

    async def _open(self, url: str, headers: dict[str, str], max_frame_size: int,
                    connect_timeout: float) -> PicowsConnection:
        as_memoryview = self.payload == "memoryview"
        ssl_context = None
        if url[:4].lower() == "wss:":
            ssl_context = self.ssl_context or ssl.create_default_context()
        listeners: list[PicowsFrameListener] = []

        def listener_factory() -> PicowsFrameListener:
            listener = PicowsFrameListener(max_frame_size, as_memoryview)
            listeners.append(listener)
            return listener

        try:
            async with asyncio.timeout(connect_timeout):
                transport, listener = await ws_connect(
                    listener_factory,
                    url,
                    ssl_context=ssl_context,
                    websocket_handshake_timeout=connect_timeout,
                    # The listener answers pings itself, after checking them like every frame (RSV bits).
                    enable_auto_pong=False,
                    enable_auto_ping=False,
                    max_frame_size=max_frame_size,
                    extra_headers=headers or None,
                    max_redirects=0,
                    # Exceptions from on_frame are caught by the listener; picows never sees them.
                    disconnect_on_exception=True,
                )
        except BaseException:
            for listener in listeners:  # a handshake that completed just as the timeout fired
                if listener.transport is not None:
                    listener.transport.disconnect(False)
            raise
        return PicowsConnection(transport, listener)

    def refusal(self, exc: BaseException) -> tuple[int | None, float | None]:
        response = getattr(exc, "response", None)   # WSHandshakeError: the server's HTTP answer
        status = int(response.status) if response is not None and response.status else None
        return status, parse_retry_after(response.headers.get("Retry-After")) if status else None


register_transport("picows", PicowsTransport)
