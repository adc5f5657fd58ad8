"""A fast transport on ``picows``: frames go from picows' read buffer to the parser synchronously.

Data path
---------
picows parses frames in place in its read buffer and calls
``_PicowsListener.on_ws_frame`` for each one from the event loop's read
callback. The listener takes ``recv_ns = time.monotonic_ns()`` first, then
calls the manager's ``on_frame(payload, recv_ns)`` in the same call: no queue,
no task switch, no await per frame.

Payload
-------
By default the payload is handed over as ``bytes`` (one ``memcpy`` of the
frame; text frames too, as UTF-8 bytes, like the ``websockets`` transport).
``PicowsTransport(payload="memoryview")`` hands over a read-only
``memoryview`` of picows' read buffer instead (no copy). That view is valid
only until ``on_frame`` returns: picows reuses the buffer for the next read,
so a consumer that keeps the payload must copy it (``bytes(view)``). Only use
it with parsers (and subscription strategies, which see control frames) that
accept memoryviews.

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
Pings are answered with pongs by picows (``enable_auto_pong``); pongs are
ignored. Fragmented messages are reassembled (their total size is held to
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
import time
from typing import Callable, Literal, Mapping

from picows import WSCloseCode, WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from ..core.errors import ConnectionFailedError
from .base import FrameCallback, Transport, TransportConnection, register_transport

__all__ = ["PicowsConnection", "PicowsTransport"]

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
_PONG = WSMsgType.PONG
_PING = WSMsgType.PING
_CLEAN_CLOSE_CODES = (WSCloseCode.OK, WSCloseCode.GOING_AWAY)
#: How long :meth:`PicowsConnection.close` waits for the peer's close frame before aborting the socket.
_CLOSE_TIMEOUT = 2.0


def redact_url(url: str) -> str:
    """Return ``url`` without its query string and fragment (listen keys and tokens live there)."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _redact_text(text: str, url: str) -> str:
    """Remove ``url``'s query string from ``text`` wherever it appears."""
    base = redact_url(url)
    text = text.replace(url, base)
    secret = url[len(base):]
    if len(secret) > 1:
        text = text.replace(secret, "?<redacted>").replace(secret[1:], "<redacted>")
    return text


class _PicowsListener(WSListener):
    """picows callbacks of one connection; the frame path is :meth:`on_ws_frame`."""

    def __init__(self, max_message_size: int, as_memoryview: bool):
        self.on_frame: Callable[[bytes | memoryview, int], object] = self._stash
        self.stash: list[tuple[bytes, int]] = []
        self.reading_paused = False
        self.fragments: bytearray | None = None
        self.max_message_size = max_message_size
        self.as_memoryview = as_memoryview
        self.transport: WSTransport | None = None
        #: Why this side ended the connection (protocol violation, oversized message, consumer error).
        self.failure: BaseException | None = None
        self.disconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # --- before run(): keep what arrives, then stop reading -------------------------------
    def _stash(self, payload: bytes | memoryview, recv_ns: int) -> None:
        # The buffer view dies with the callback: keep a copy.
        self.stash.append((bytes(payload), recv_ns))
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.underlying_transport.pause_reading()

    def _discard(self, payload: bytes | memoryview, recv_ns: int) -> None:
        """Frames after this side decided to close are not delivered."""

    def resume_reading(self) -> None:
        # A TLS close handshake must read the peer's close_notify: never disconnect with reading paused.
        if self.reading_paused and self.transport is not None and not self.transport.is_disconnected:
            self.reading_paused = False
            self.transport.underlying_transport.resume_reading()

    # --- picows callbacks ------------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame, _monotonic_ns=time.monotonic_ns) -> None:
        recv_ns = _monotonic_ns()
        msg_type = frame.msg_type
        if (msg_type is _TEXT or msg_type is _BINARY) and frame.fin and self.fragments is None:
            if self.as_memoryview:
                payload = frame.get_payload_as_memoryview()
            else:
                payload = frame.get_payload_as_bytes()
            try:
                self.on_frame(payload, recv_ns)
            except BaseException as exc:  # the consumer's failure ends this connection, as in websockets
                self._fail(exc, WSCloseCode.INTERNAL_ERROR, "")
            return
        self._on_other_frame(transport, frame, msg_type, recv_ns)

    def _on_other_frame(self, transport: WSTransport, frame: WSFrame, msg_type: WSMsgType, recv_ns: int) -> None:
        """Fragments, close and pong frames (pings never get here: picows answers them)."""
        if msg_type is _PONG or msg_type is _PING:
            return
        if msg_type is _CLOSE:
            if not transport.is_close_frame_sent:
                # Echo the peer's code, as RFC 6455 section 5.5.1 asks.
                code = frame.get_close_code()
                transport.send_close(code if code != WSCloseCode.NO_INFO else WSCloseCode.OK)
            self.resume_reading()
            transport.disconnect()
            return
        if self.failure is not None:
            return
        if msg_type is _CONTINUATION:
            if self.fragments is None:
                self._protocol_error("continuation frame without a message to continue")
                return
            self.fragments += frame.get_payload_as_memoryview()
        else:  # TEXT or BINARY that starts a fragmented message
            if self.fragments is not None:
                self._protocol_error("new message started before the fragmented one ended")
                return
            self.fragments = bytearray(frame.get_payload_as_memoryview())
        if len(self.fragments) > self.max_message_size:
            self._fail(
                ConnectionFailedError(
                    f"fragmented message larger than max_frame_size ({self.max_message_size} bytes)"),
                WSCloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        if frame.fin:
            message, self.fragments = self.fragments, None
            try:
                self.on_frame(memoryview(message) if self.as_memoryview else bytes(message), recv_ns)
            except BaseException as exc:
                self._fail(exc, WSCloseCode.INTERNAL_ERROR, "")

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.disconnected.done():
            self.disconnected.set_result(None)

    # --- failure ---------------------------------------------------------------------------
    def _protocol_error(self, what: str) -> None:
        self._fail(ConnectionFailedError(f"protocol error from the server: {what}"),
                   WSCloseCode.PROTOCOL_ERROR, "protocol error")

    def _fail(self, exc: BaseException, code: WSCloseCode, reason: str) -> None:
        """Record why and close: the close frame goes out now, the socket follows."""
        if self.failure is None:
            self.failure = exc
        self.fragments = None
        self.on_frame = self._discard
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            transport.send_close(code, reason)
            self.resume_reading()
            transport.disconnect()


class PicowsConnection(TransportConnection):
    """One picows client connection (see the module docstring for the data path and its rules)."""

    __slots__ = ("_transport", "_listener", "_reason", "_closing", "_running")

    def __init__(self, transport: WSTransport, listener: _PicowsListener):
        self._transport = transport
        self._listener = listener
        self._reason = ""
        self._closing = False
        self._running = False

    @property
    def ws_transport(self) -> WSTransport:
        """The underlying ``picows.WSTransport`` (for inspection: socket options, close handshake)."""
        return self._transport

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
        stash, listener.stash = listener.stash, []
        as_memoryview = listener.as_memoryview
        for payload, recv_ns in stash:
            if listener.failure is not None:
                break
            try:
                on_frame(memoryview(payload) if as_memoryview else payload, recv_ns)
            except BaseException as exc:
                listener._fail(exc, WSCloseCode.INTERNAL_ERROR, "")
        if listener.failure is None:
            listener.on_frame = on_frame
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
            listener.on_frame = listener._discard  # closing before run(): nobody wants the frames
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

    async def connect(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_frame_size: int = 16 * 1024 * 1024,
        connect_timeout: float = 10.0,
    ) -> PicowsConnection:
        host = redact_url(url)
        as_memoryview = self.payload == "memoryview"
        ssl_context = None
        if url[:4].lower() == "wss:":
            ssl_context = self.ssl_context or ssl.create_default_context()
        listeners: list[_PicowsListener] = []

        def listener_factory() -> _PicowsListener:
            listener = _PicowsListener(max_frame_size, as_memoryview)
            listeners.append(listener)
            return listener

        try:
            async with asyncio.timeout(connect_timeout):
                transport, listener = await ws_connect(
                    listener_factory,
                    url,
                    ssl_context=ssl_context,
                    websocket_handshake_timeout=connect_timeout,
                    enable_auto_pong=True,
                    enable_auto_ping=False,
                    max_frame_size=max_frame_size,
                    extra_headers=dict(headers) if headers else None,
                    max_redirects=0,
                    # Exceptions from on_frame are caught by the listener; picows never sees them.
                    disconnect_on_exception=True,
                )
        except (OSError, WSError, TimeoutError, ValueError, AssertionError) as exc:
            for listener in listeners:  # a handshake that completed just as the timeout fired
                if listener.transport is not None:
                    listener.transport.disconnect(False)
            # The query may hold a listen key: neither the message nor a chained cause or context
            # may carry it, so the error is raised outside this handler.
            detail = _redact_text(str(exc), url)
            kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            message = f"cannot connect to {host}: {kind}{': ' + detail if detail else ''}"
        else:
            return PicowsConnection(transport, listener)
        raise ConnectionFailedError(message)


register_transport("picows", PicowsTransport)
