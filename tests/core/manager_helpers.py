"""Test strategies and a scriptable WebSocket server on 127.0.0.1 for manager tests."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from websockets.asyncio.server import ServerConnection, serve

from feedhandler import (
    ChannelType,
    ConnectionContext,
    ConnectionStrategy,
    MessageParser,
    MessageType,
    ParseError,
    SubscriptionAck,
    SubscriptionStrategy,
)


class JsonTestConnectionStrategy(ConnectionStrategy):
    """Connects to a fixed URL; counts contexts; optional app-level ping."""

    def __init__(self, url: str, ping_interval: float = 0.0, keep_alive_interval: float = 0.0,
                 auth_ok: bool = True):
        self.url = url
        self.ping_interval = ping_interval
        self.keep_alive_interval = keep_alive_interval
        self.auth_ok = auth_ok
        self.contexts = 0
        self.keep_alives = 0
        self.auth_attempts = 0
        self.closed = False

    async def create_connection_context(self, is_private=False, api_key=None, secret_key=None):
        self.contexts += 1
        return ConnectionContext(url=self.url, ping_interval=self.ping_interval,
                                 keep_alive_interval=self.keep_alive_interval)

    async def authenticate(self, send_func, context):
        self.auth_attempts += 1
        return self.auth_ok

    async def handle_keep_alive(self, send_func, context):
        self.keep_alives += 1

    def create_ping_message(self):
        return json.dumps({"op": "ping"})

    def create_pong_message(self, ping_frame):
        return json.dumps({"op": "pong"})

    async def close(self):
        self.closed = True


class JsonTestSubscriptionStrategy(SubscriptionStrategy):
    """``{"op":"sub","args":["trades:SYM",...]}``; one stream per symbol and channel."""

    def __init__(self, max_per_connection: int = 100, rate: float = 1000.0):
        self.max_subscriptions_per_connection = max_per_connection
        self.max_messages_per_second = rate

    def subscription_keys(self, symbols, channels):
        return [f"{c.value}:{s}" for s in symbols for c in channels]

    def create_subscription_messages(self, symbols, channels, is_subscribe):
        op = "sub" if is_subscribe else "unsub"
        return [json.dumps({"op": op, "args": self.subscription_keys(symbols, channels)})]

    def parse_ack(self, frame):
        msg = json.loads(frame)
        if msg.get("op") == "ack":
            return SubscriptionAck(confirmed=msg["args"])
        if msg.get("op") == "error":
            return SubscriptionAck(failed=msg.get("args", []), reason=msg.get("msg"))
        return None


class JsonTestParser(MessageParser):
    """Pure-Python parser: data frames become dict events."""

    def get_message_type(self, raw):
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        if '"op":"ack"' in raw.replace(" ", ""):
            return MessageType.SUBSCRIPTION_ACK
        if '"op":"pong"' in raw.replace(" ", ""):
            return MessageType.PONG
        if '"op":"ping"' in raw.replace(" ", ""):
            return MessageType.PING
        if '"op":"error"' in raw.replace(" ", ""):
            return MessageType.ERROR
        return MessageType.DATA

    def feed(self, raw, recv_ns):
        mt = self.get_message_type(raw)
        if mt != MessageType.DATA:
            return mt
        try:
            msg = json.loads(raw)
            event = {"symbol": msg["s"], "seq": int(msg["n"]), "recv_ns": recv_ns}
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"bad test frame: {exc}") from exc
        self.emit(event)
        return mt


@dataclass
class ServerConn:
    ws: ServerConnection
    received: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)


class ScriptedServer:
    """A real ``websockets`` server that acks subscriptions and pushes numbered frames.

    ``push(symbol, n)`` sends the next ``n`` sequence numbers of ``symbol`` to every
    connection subscribed to it.
    """

    def __init__(self):
        self.conns: list[ServerConn] = []
        self.accepted = 0
        self.seq: dict[str, int] = {}
        self.silent = False
        self.ack = True
        self.extra_frames: list[str] = []
        self._server = None
        self.url = ""

    async def __aenter__(self):
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws"
        return self

    async def __aexit__(self, *exc):
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection):
        conn = ServerConn(ws)
        self.conns.append(conn)
        self.accepted += 1
        try:
            async for message in ws:
                conn.received.append(message)
                msg = json.loads(message)
                if msg.get("op") == "sub":
                    conn.streams.extend(msg["args"])
                    if self.ack:
                        await ws.send(json.dumps({"op": "ack", "args": msg["args"]}))
                elif msg.get("op") == "unsub":
                    conn.streams = [s for s in conn.streams if s not in msg["args"]]
                elif msg.get("op") == "ping":
                    await ws.send(json.dumps({"op": "pong"}))
        except Exception:
            pass
        finally:
            if conn in self.conns:
                self.conns.remove(conn)

    def live(self) -> list[ServerConn]:
        return list(self.conns)

    def streams(self) -> list[str]:
        """Every stream subscribed on any live connection (sorted)."""
        return sorted(s for c in self.conns for s in c.streams)

    async def wait_streams(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` streams are subscribed over all connections."""
        await wait_until(lambda: len(self.streams()) == n, timeout)

    async def push(self, symbol: str, n: int = 1, channel: str = "trades") -> None:
        for _ in range(n):
            self.seq[symbol] = self.seq.get(symbol, 0) + 1
            frame = json.dumps({"s": symbol, "n": self.seq[symbol]})
            for conn in self.live():
                if f"{channel}:{symbol}" in conn.streams and not self.silent:
                    await conn.ws.send(frame)

    async def send_raw(self, frame: str | bytes) -> None:
        for conn in self.live():
            await conn.ws.send(frame)

    async def drop_all(self) -> None:
        for conn in self.live():
            await conn.ws.close(code=1011, reason="test drop")


async def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(interval)


def symbols(n: int) -> Sequence[str]:
    return [f"S{i:03d}" for i in range(n)]


TRADES = [ChannelType.TRADES]
