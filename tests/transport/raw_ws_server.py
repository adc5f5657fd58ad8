"""A scriptable WebSocket server on 127.0.0.1 that writes hand-built frames (RFC 6455).

Transport tests need frames no library server sends on request: fragments,
pings between fragments, oversized frames, close frames with chosen codes, a
connection dropped without a close frame, frames in the same segment as the
handshake response. Frames are encoded here from the RFC, independently of
both transports under test.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import struct
from dataclasses import dataclass, field
from typing import Awaitable, Callable

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def encode_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """An unmasked (server to client) frame."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 126, n)
    else:
        header = struct.pack("!BBQ", first, 127, n)
    return header + payload


def encode_frame_bits(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
                      mask: bytes | None = None) -> bytes:
    """A frame with chosen reserved bits (``rsv``: 0-7, RSV1 the highest) and optionally masked: the
    protocol violations a strict client must refuse (RFC 6455 sections 5.1-5.2)."""
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode
    n = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        header = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if mask is None:
        return header + payload
    return header + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


@dataclass
class Peer:
    """One accepted client: read its (masked) frames, write raw bytes."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    request: bytes = b""
    received: list[tuple[int, bytes]] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_frame(self) -> tuple[int, bytes]:
        """Read one client frame; returns (opcode, unmasked payload)."""
        b1, b2 = await self.reader.readexactly(2)
        n = b2 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        assert b2 & 0x80, "client frames must be masked"
        mask = await self.reader.readexactly(4)
        data = await self.reader.readexactly(n)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        frame = (b1 & 0x0F, payload)
        self.received.append(frame)
        return frame

    async def read_until(self, opcode: int, limit: int = 100) -> bytes:
        for _ in range(limit):
            op, payload = await self.read_frame()
            if op == opcode:
                return payload
        raise AssertionError(f"no frame with opcode {opcode:#x} in {limit} frames")


Script = Callable[[Peer], Awaitable[None]]


class RawWsServer:
    """Accepts connections, completes the handshake, then runs ``script(peer)``.

    ``after_handshake`` bytes are written in the same ``write`` as the 101
    response. ``handshake=False`` accepts TCP but never answers (connect timeout);
    ``reject`` answers the upgrade with that HTTP status line and a body echoing the request line.
    """

    def __init__(self, script: Script | None = None, *, after_handshake: bytes = b"", handshake: bool = True,
                 reject: str | None = None, ssl_context: ssl.SSLContext | None = None):
        self.script = script
        self.after_handshake = after_handshake
        self.handshake = handshake
        self.reject = reject
        self.ssl_context = ssl_context
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stop = asyncio.Event()

    async def __aenter__(self) -> "RawWsServer":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.ssl_context)
        port = self._server.sockets[0].getsockname()[1]
        scheme = "wss" if self.ssl_context else "ws"
        self.url = f"{scheme}://127.0.0.1:{port}/stream"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Stop the handlers by event, not cancel(): asyncio logs cancelled stream-handler tasks.
        self._stop.set()
        for peer in self.peers:
            peer.writer.close()
        async with asyncio.timeout(5):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())
        peer = Peer(reader, writer)
        self.peers.append(peer)
        try:
            if not self.handshake:
                await self._stop.wait()
                return
            peer.request = await reader.readuntil(b"\r\n\r\n")
            if self.reject is not None:
                request_line = peer.request.split(b"\r\n", 1)[0]
                body = b"rejected " + request_line
                writer.write(f"HTTP/1.1 {self.reject}\r\nContent-Length: {len(body)}\r\n"
                             f"Connection: close\r\n\r\n".encode() + body)
                await writer.drain()
                writer.close()
                return
            key = next(line.split(b":", 1)[1].strip() for line in peer.request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + self.after_handshake)
            await writer.drain()
            if self.script is not None:
                await self.script(peer)
                await writer.drain()
            await self._stop.wait()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except AssertionError as exc:
            self.errors.append(exc)
        finally:
            self._tasks.discard(asyncio.current_task())
