"""The picows transport: manager behaviours on both transports, then picows' protocol handling."""
from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
sys.path.insert(0, str(Path(__file__).parent))

from feedhandler import (  # noqa: E402
    ConnectionFailedError,
    ConnectionState,
    ParseError,
    ReconnectPolicy,
    StaleConnectionError,
    WebSocketManager,
    WebSocketManagerConfig,
)
from feedhandler.transport.base import create_transport  # noqa: E402
from feedhandler.transport.picows_transport import PicowsConnection, PicowsTransport, redact_url  # noqa: E402
from manager_helpers import (  # noqa: E402
    TRADES,
    JsonTestConnectionStrategy,
    JsonTestParser,
    JsonTestSubscriptionStrategy,
    ScriptedServer,
    symbols,
    wait_until,
)
from raw_ws_server import (  # noqa: E402
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Peer,
    RawWsServer,
    close_payload,
    encode_frame,
)

TRANSPORTS = ["websockets", "picows"]
FAST_RECONNECT = ReconnectPolicy(base_delay=0.01, max_delay=0.05, jitter=0.0)


def make_manager(transport, url, events, errors, *, max_per_conn=100, stale=0.0, ping=0.0, keep_alive=0.0):
    config = WebSocketManagerConfig(exchange_name="test", channel_types=TRADES, reconnect=FAST_RECONNECT,
                                    stale_timeout=stale, initialize_timeout=5.0, transport=transport)
    conn = JsonTestConnectionStrategy(url, ping_interval=ping, keep_alive_interval=keep_alive)
    return WebSocketManager(config, conn, JsonTestSubscriptionStrategy(max_per_conn), JsonTestParser(),
                            message_handler=events.append, error_handler=errors.append)


def own_tasks() -> set[asyncio.Task]:
    return {t for t in asyncio.all_tasks() if t.get_name().startswith("feedhandler-")}


# --- the manager on both transports ----------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_delivers_frames_in_order(transport):
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(transport, server.url, events, errors) as manager:
            assert manager.transport.name == transport
            await manager.initialize(["BTCUSDT", "ETHUSDT"])
            await wait_until(lambda: server.live() and len(server.live()[0].streams) == 2)
            assert [json.loads(m) for m in server.live()[0].received] == [
                {"op": "sub", "args": ["trades:BTCUSDT", "trades:ETHUSDT"]}]
            before = time.monotonic_ns()
            await server.push("BTCUSDT", 30)
            await server.push("ETHUSDT", 20)
            await wait_until(lambda: len(events) == 50)
            after = time.monotonic_ns()
            assert [e["seq"] for e in events if e["symbol"] == "BTCUSDT"] == list(range(1, 31))
            assert [e["seq"] for e in events if e["symbol"] == "ETHUSDT"] == list(range(1, 21))
            assert all(before <= e["recv_ns"] <= after for e in events)
            await wait_until(lambda: all(v == "confirmed" for v in manager.metrics.connections[0].subscriptions.values()))
            assert manager.metrics.parse_errors == 0
    assert errors == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_reconnects_and_resubscribes_after_drop(transport):
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(transport, server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT"])
            await server.wait_streams(1)
            await server.push("BTCUSDT", 5)
            await wait_until(lambda: len(events) == 5)
            await server.drop_all()
            await wait_until(lambda: server.accepted == 2 and server.live() and server.live()[0].streams)
            await wait_until(lambda: manager.is_connected)
            assert [json.loads(m)["op"] for m in server.live()[0].received] == ["sub"]
            await server.push("BTCUSDT", 5)
            await wait_until(lambda: len(events) == 10)
            assert [e["seq"] for e in events] == list(range(1, 11))
            assert manager.metrics.reconnects == 1
    failures = [e for e in errors if isinstance(e, ConnectionFailedError)]
    assert failures and "1011" in str(failures[0])


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_reconnects_stale_connection(transport):
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(transport, server.url, events, errors, stale=0.3) as manager:
            await manager.initialize(["BTCUSDT"])
            await wait_until(lambda: server.accepted >= 2, timeout=5)
            assert any(isinstance(e, StaleConnectionError) for e in errors)
            await wait_until(lambda: manager.is_connected)
            await server.wait_streams(1)
            await server.push("BTCUSDT", 1)
            await wait_until(lambda: len(events) >= 1)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_spreads_symbols_over_connections(transport):
    events, errors = [], []
    syms = symbols(5)
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(transport, server.url, events, errors, max_per_conn=2) as manager:
            await manager.initialize(syms)
            assert manager.connection_count == 3
            await wait_until(lambda: sum(len(c.streams) for c in server.live()) == 5)
            for s in syms:
                await server.push(s, 2)
            await wait_until(lambda: len(events) == 10)
            assert sorted({e["symbol"] for e in events}) == syms


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_reports_garbage_and_goes_on(transport):
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        async with make_manager(transport, server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT"])
            await server.wait_streams(1)
            await server.push("BTCUSDT", 1)
            await server.send_raw("\x00garbage{{{")
            await server.send_raw(b"\xff\xfe binary junk")
            await server.push("BTCUSDT", 1)
            await wait_until(lambda: len(events) == 2)
            assert manager.metrics.parse_errors == 2
            assert manager.is_connected
    assert sum(isinstance(e, ParseError) for e in errors) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_close_leaves_no_task_or_socket(transport):
    events, errors = [], []
    async with asyncio.timeout(10), ScriptedServer() as server:
        manager = make_manager(transport, server.url, events, errors, max_per_conn=2, stale=5, ping=0.05,
                               keep_alive=0.05)
        await manager.initialize(symbols(5))
        assert len(own_tasks()) > 0
        await manager.close()
        assert own_tasks() == set()
        assert all(c.state == ConnectionState.CLOSED.value for c in manager.metrics.connections) or \
            manager.metrics.connections == []
        await wait_until(lambda: server.live() == [])


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_many_frames_fast(transport):
    events, errors = [], []
    n = 5000
    async with asyncio.timeout(30), ScriptedServer() as server:
        async with make_manager(transport, server.url, events, errors) as manager:
            await manager.initialize(["BTCUSDT"])
            await server.wait_streams(1)
            await server.push("BTCUSDT", n)
            await wait_until(lambda: len(events) == n, timeout=20)
            assert [e["seq"] for e in events] == list(range(1, n + 1))
            assert manager.metrics.frames == n + 1  # and the ack
    assert errors == []


# --- picows protocol handling, against hand-built frames ---------------------------------------

async def _collect(url: str, *, payload="bytes", max_frame_size=1 << 20, **kw):
    """Connect, run until the connection ends; returns (frames, exception from run or None, conn)."""
    conn = await PicowsTransport(payload).connect(url, max_frame_size=max_frame_size, **kw)
    frames: list[tuple[bytes, int]] = []
    error = None
    try:
        await conn.run(lambda p, ns: frames.append((bytes(p), ns)))
    except Exception as exc:  # the caller asserts on it
        error = exc
    return frames, error, conn


async def test_registered_as_picows():
    t = create_transport("picows")
    assert isinstance(t, PicowsTransport) and t.name == "picows"
    with pytest.raises(ValueError, match="payload"):
        PicowsTransport("str")


async def test_text_and_binary_frames_as_bytes_then_clean_close():
    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, "héllo".encode()) + encode_frame(OP_BINARY, b"\x00\x01\xff"))
        peer.write(encode_frame(OP_CLOSE, close_payload(1000, "bye now")))
        assert await peer.read_until(OP_CLOSE) == close_payload(1000)

    async with asyncio.timeout(10), RawWsServer(script) as server:
        before = time.monotonic_ns()
        frames, error, conn = await _collect(server.url)
        assert error is None
        assert [f for f, _ in frames] == ["héllo".encode(), b"\x00\x01\xff"]
        assert all(type(f) is bytes for f, _ in frames)
        assert all(before <= ns <= time.monotonic_ns() for _, ns in frames)
        assert frames[0][1] <= frames[1][1]
        assert "1000" in conn.close_reason and "bye now" in conn.close_reason
        await conn.close()
    assert server.errors == []


async def test_error_close_code_raises_with_reason():
    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, b"x") + encode_frame(OP_CLOSE, close_payload(1013, "try later")))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        frames, error, conn = await _collect(server.url)
        assert [f for f, _ in frames] == [b"x"]
        assert isinstance(error, ConnectionFailedError)
        assert "1013" in str(error) and "try later" in str(error)
        assert conn.close_reason == str(error)


async def test_drop_without_close_frame_raises():
    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, b"last"))
        await peer.writer.drain()
        peer.writer.transport.abort()

    async with asyncio.timeout(10), RawWsServer(script) as server:
        frames, error, conn = await _collect(server.url)
        assert [f for f, _ in frames] == [b"last"]
        assert isinstance(error, ConnectionFailedError) and "without a close frame" in str(error)


async def test_ping_answered_with_pong_and_pong_ignored():
    pongs = []

    async def script(peer: Peer):
        peer.write(encode_frame(OP_PING, b"are-you-there") + encode_frame(OP_PONG, b"unsolicited")
                   + encode_frame(OP_TEXT, b"data"))
        pongs.append(await peer.read_until(OP_PONG))
        peer.write(encode_frame(OP_CLOSE, close_payload(1000)))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        frames, error, _ = await _collect(server.url)
        assert error is None
        assert [f for f, _ in frames] == [b"data"]
        assert pongs == [b"are-you-there"]


async def test_fragmented_message_reassembled_around_control_frames():
    parts = [b'{"a":', b'[1,2,', b"3]}"]

    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, parts[0], fin=False) + encode_frame(OP_PING, b"p")
                   + encode_frame(OP_CONT, parts[1], fin=False))
        await peer.writer.drain()
        await asyncio.sleep(0.02)  # the rest in a later TCP segment
        peer.write(encode_frame(OP_CONT, parts[2]) + encode_frame(OP_BINARY, b"next"))
        peer.write(encode_frame(OP_CLOSE, close_payload(1000)))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        frames, error, _ = await _collect(server.url)
        assert error is None
        assert [f for f, _ in frames] == [b"".join(parts), b"next"]


@pytest.mark.parametrize("payload", ["bytes", "memoryview"])
async def test_oversized_frame_closes_with_1009(payload):
    got_close = []

    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, b"ok") + encode_frame(OP_BINARY, b"x" * 2000))
        got_close.append(await peer.read_until(OP_CLOSE))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        frames, error, _ = await _collect(server.url, payload=payload, max_frame_size=1000)
        assert [f for f, _ in frames] == [b"ok"]
        assert isinstance(error, ConnectionFailedError) and "1009" in str(error)
        await wait_until(lambda: got_close)
        assert got_close[0][:2] == (1009).to_bytes(2, "big")


async def test_oversized_fragmented_message_closes_with_1009():
    got_close = []

    async def script(peer: Peer):
        for _ in range(5):  # each fragment fits, the message does not
            peer.write(encode_frame(OP_TEXT if not got_close and _ == 0 else OP_CONT, b"y" * 300, fin=False))
        got_close.append(await peer.read_until(OP_CLOSE))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        frames, error, _ = await _collect(server.url, max_frame_size=1000)
        assert frames == []
        assert isinstance(error, ConnectionFailedError) and "max_frame_size" in str(error)
        await wait_until(lambda: got_close)
        assert got_close[0][:2] == (1009).to_bytes(2, "big")


async def test_continuation_without_start_is_a_protocol_error():
    async def script(peer: Peer):
        peer.write(encode_frame(OP_CONT, b"orphan"))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        frames, error, _ = await _collect(server.url)
        assert frames == []
        assert isinstance(error, ConnectionFailedError) and "continuation" in str(error)


async def test_frames_before_run_are_delivered_first_and_in_order():
    early = b"".join(encode_frame(OP_TEXT, f"early-{i}".encode()) for i in range(50))

    async def script(peer: Peer):
        await peer.read_until(OP_TEXT)
        peer.write(encode_frame(OP_TEXT, b"late") + encode_frame(OP_CLOSE, close_payload(1000)))

    async with asyncio.timeout(10), RawWsServer(script, after_handshake=early) as server:
        conn = await PicowsTransport().connect(server.url)
        await asyncio.sleep(0.05)  # the early frames arrive while nobody runs the connection
        ran_at = time.monotonic_ns()
        frames = []
        task = asyncio.create_task(conn.run(lambda p, ns: frames.append((p, ns))))
        await wait_until(lambda: len(frames) == 50)
        await conn.send("go")
        await asyncio.wait_for(task, 5)
        assert [f for f, _ in frames] == [f"early-{i}".encode() for i in range(50)] + [b"late"]
        assert all(ns < ran_at for _, ns in frames[:50])  # stamped on arrival, not on delivery


async def test_memoryview_payload_mode():
    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, b'{"k":1}') + encode_frame(OP_BINARY, b"\x01\x02"))
        peer.write(encode_frame(OP_CLOSE, close_payload(1000)))

    seen = []

    def on_frame(p, ns):
        seen.append((type(p), p.readonly, bytes(p), json.loads(bytes(p)) if p[:1] == b"{" else None))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        conn = await PicowsTransport("memoryview").connect(server.url)
        await conn.run(on_frame)
    assert seen == [(memoryview, True, b'{"k":1}', {"k": 1}), (memoryview, True, b"\x01\x02", None)]


async def test_handler_exception_ends_run_with_it():
    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, b"1") + encode_frame(OP_TEXT, b"2"))
        await peer.read_until(OP_CLOSE)

    calls = []

    def on_frame(p, ns):
        calls.append(p)
        raise KeyError("consumer bug")

    async with asyncio.timeout(10), RawWsServer(script) as server:
        conn = await PicowsTransport().connect(server.url)
        with pytest.raises(KeyError, match="consumer bug"):
            await conn.run(on_frame)
        assert calls == [b"1"]  # nothing delivered after the failure
        with pytest.raises(ConnectionFailedError, match="send failed"):
            await conn.send("after")


async def test_send_text_binary_and_headers():
    async def script(peer: Peer):
        got = [await peer.read_frame(), await peer.read_frame()]
        peer.write(encode_frame(OP_TEXT, json.dumps([[op, p.decode("latin-1")] for op, p in got]).encode()))
        peer.write(encode_frame(OP_CLOSE, close_payload(1000)))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        conn = await PicowsTransport().connect(server.url, headers={"X-Api-Key": "k123"})
        frames = []
        task = asyncio.create_task(conn.run(lambda p, ns: frames.append(p)))
        await conn.send('{"op":"sub"}')
        await conn.send(b"\x00\xff")
        await asyncio.wait_for(task, 5)
        assert json.loads(frames[0]) == [[OP_TEXT, '{"op":"sub"}'], [OP_BINARY, "\x00\xff"]]
        assert b"\r\nx-api-key: k123\r\n" in server.peers[0].request.lower()


async def test_tcp_nodelay_and_close_from_client():
    async def script(peer: Peer):
        payload = await peer.read_until(OP_CLOSE)
        assert payload[:2] == (1000).to_bytes(2, "big")
        peer.write(encode_frame(OP_CLOSE, payload[:2]))

    async with asyncio.timeout(10), RawWsServer(script) as server:
        conn = await PicowsTransport().connect(server.url)
        sock = conn.ws_transport.underlying_transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        task = asyncio.create_task(conn.run(lambda p, ns: None))
        await asyncio.sleep(0.01)
        await conn.close()
        await asyncio.wait_for(task, 5)  # a client-initiated close ends run() normally
        assert conn.close_reason == "closed by client"
        assert conn.ws_transport.is_disconnected
    assert server.errors == []


async def test_close_aborts_when_peer_never_answers(monkeypatch):
    import feedhandler.transport.picows_transport as mod

    monkeypatch.setattr(mod, "_CLOSE_TIMEOUT", 0.1)
    async with asyncio.timeout(10), RawWsServer(None) as server:  # reads nothing, answers nothing
        conn = await PicowsTransport().connect(server.url)
        await conn.close()
        assert conn.ws_transport.is_disconnected


# --- connecting: timeouts, TLS, errors that keep the query string secret ------------------------

SECRET = "listenKey=pqR5tUvWxYz0123456789secret"


async def test_connect_timeout_when_handshake_never_answered():
    async with asyncio.timeout(10), RawWsServer(handshake=False) as server:
        with pytest.raises(ConnectionFailedError, match="timed out|Timeout") as info:
            await PicowsTransport().connect(f"{server.url}?{SECRET}", connect_timeout=0.2)
    assert SECRET not in str(info.value) and "secret" not in str(info.value)
    assert server.url in str(info.value)


async def test_unreachable_error_is_clear_and_redacted():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/ws?{SECRET}"
    with pytest.raises(ConnectionFailedError) as info:
        await PicowsTransport().connect(url, connect_timeout=2)
    err = info.value
    assert str(err).startswith(f"cannot connect to ws://127.0.0.1:{port}/ws: ")
    assert "secret" not in str(err)
    assert err.__cause__ is None and err.__context__ is None


async def test_rejected_handshake_does_not_leak_query():
    async with asyncio.timeout(10), RawWsServer(reject="403 Forbidden") as server:
        with pytest.raises(ConnectionFailedError) as info:
            await PicowsTransport().connect(f"{server.url}?{SECRET}")
    text = str(info.value)
    assert "secret" not in text and "403" in text
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_redact_url():
    assert redact_url("wss://h:1/ws?listenKey=abc#frag") == "wss://h:1/ws"
    assert redact_url("ws://h/ws") == "ws://h/ws"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 made by the openssl command line (skipped without it)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    return cert, key


async def test_wss_uses_tls(self_signed):
    cert, key = self_signed
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, b"over tls") + encode_frame(OP_CLOSE, close_payload(1000)))

    async with asyncio.timeout(10), RawWsServer(script, ssl_context=server_ctx) as server:
        assert server.url.startswith("wss://")
        conn = await PicowsTransport(ssl_context=client_ctx).connect(server.url)
        assert conn.ws_transport.is_secure
        frames = []
        await conn.run(lambda p, ns: frames.append(p))
        assert frames == [b"over tls"]
        # The default context verifies the certificate against the system CAs: this one is unknown.
        with pytest.raises(ConnectionFailedError, match="CERTIFICATE_VERIFY_FAILED|certificate") as info:
            await PicowsTransport().connect(f"{server.url}?{SECRET}")
        assert "secret" not in str(info.value)


async def test_close_before_run_reads_the_peers_close_reply(monkeypatch):
    import feedhandler.transport.picows_transport as mod

    # Were reading left paused by the early frames, the reply would never be read and close()
    # would hang for this long; the test's own timeout is far shorter.
    monkeypatch.setattr(mod, "_CLOSE_TIMEOUT", 60.0)
    replies = []

    async def script(peer: Peer):
        payload = await peer.read_until(OP_CLOSE)
        peer.write(encode_frame(OP_TEXT, b"after-close") + encode_frame(OP_CLOSE, payload[:2]))
        replies.append(payload)

    early = encode_frame(OP_TEXT, b"early")
    async with asyncio.timeout(10), RawWsServer(script, after_handshake=early) as server:
        conn = await PicowsTransport().connect(server.url)
        await wait_until(lambda: conn._listener.stash)
        async with asyncio.timeout(5):
            await conn.close()
        assert conn.ws_transport.is_disconnected
        assert conn.ws_transport.close_handshake.recv.code == 1000
        assert replies and replies[0][:2] == (1000).to_bytes(2, "big")
