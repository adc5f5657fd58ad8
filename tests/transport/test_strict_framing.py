"""RFC 6455 framing rules, enforced the same way by both transports (issue 18, item 10).

A raw server (frames built from the RFC in ``raw_ws_server``, independently of both clients) sends one good
frame, then one protocol violation; the client must end the connection with the close code RFC 6455 and the
``websockets`` reference give for it, put that code on the wire, and report a ``ConnectionFailedError``.
Close frames with allowed codes are echoed, never replaced by a code that may not be sent (1005/1006/1015).
"""
from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from feedhandler import ConnectionFailedError  # noqa: E402
from feedhandler.transport.base import create_transport  # noqa: E402
from raw_ws_server import (  # noqa: E402
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    Peer,
    RawWsServer,
    close_payload,
    encode_frame,
    encode_frame_bits,
)

TRANSPORTS = ["websockets", "picows"]
PROTOCOL_ERROR, INVALID_DATA = 1002, 1007

VIOLATIONS = {
    "rsv1-text": (encode_frame_bits(OP_TEXT, b"x", rsv=4), PROTOCOL_ERROR),
    "rsv2-binary": (encode_frame_bits(OP_BINARY, b"x", rsv=2), PROTOCOL_ERROR),
    "rsv3-ping": (encode_frame_bits(OP_PING, b"p", rsv=1), PROTOCOL_ERROR),
    "rsv1-close": (encode_frame_bits(OP_CLOSE, close_payload(1000), rsv=4), PROTOCOL_ERROR),
    "reserved-data-opcode-3": (encode_frame_bits(0x3, b"x"), PROTOCOL_ERROR),
    "reserved-control-opcode-b": (encode_frame_bits(0xB, b"x"), PROTOCOL_ERROR),
    "fragmented-ping": (encode_frame_bits(OP_PING, b"p", fin=False), PROTOCOL_ERROR),
    "ping-126-bytes": (encode_frame_bits(OP_PING, b"p" * 126), PROTOCOL_ERROR),
    "close-126-bytes": (encode_frame_bits(OP_CLOSE, close_payload(1000, "r" * 124)), PROTOCOL_ERROR),
    "masked-from-server": (encode_frame_bits(OP_TEXT, b"masked", mask=b"\x01\x02\x03\x04"), PROTOCOL_ERROR),
    "close-one-byte": (encode_frame_bits(OP_CLOSE, b"\x03"), PROTOCOL_ERROR),
    "close-code-999": (encode_frame(OP_CLOSE, close_payload(999)), PROTOCOL_ERROR),
    "close-code-1004": (encode_frame(OP_CLOSE, close_payload(1004)), PROTOCOL_ERROR),
    "close-code-1005": (encode_frame(OP_CLOSE, close_payload(1005)), PROTOCOL_ERROR),
    "close-code-1006": (encode_frame(OP_CLOSE, close_payload(1006)), PROTOCOL_ERROR),
    "close-code-1015": (encode_frame(OP_CLOSE, close_payload(1015)), PROTOCOL_ERROR),
    "close-code-2999": (encode_frame(OP_CLOSE, close_payload(2999)), PROTOCOL_ERROR),
    "close-code-5000": (encode_frame(OP_CLOSE, close_payload(5000)), PROTOCOL_ERROR),
    "close-code-0": (encode_frame(OP_CLOSE, close_payload(0)), PROTOCOL_ERROR),
    "close-reason-not-utf8": (encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff\xfe"), INVALID_DATA),
}


async def _run_against(transport: str, violation: bytes):
    """Good frame, violation; returns (frames delivered, run()'s exception, close code the client sent)."""
    sent_codes: list[int] = []

    async def script(peer: Peer):
        peer.write(encode_frame(OP_TEXT, b"good") + violation)
        payload = await peer.read_until(OP_CLOSE)
        sent_codes.append(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else -1)
        peer.writer.close()  # a server drops TCP once it has the client's close frame (RFC 6455 7.1.1)

    async with asyncio.timeout(10), RawWsServer(script) as server:
        conn = await create_transport(transport).connect(server.url)
        frames: list[bytes] = []
        error = None
        try:
            await conn.run(lambda p, ns: frames.append(bytes(p)))
        except Exception as exc:  # asserted by the caller
            error = exc
        await conn.close()
        for _ in range(200):  # the close frame reaches the server script
            if sent_codes or server.errors:
                break
            await asyncio.sleep(0.01)
    assert server.errors == []
    return frames, error, sent_codes


@pytest.mark.timeout(20)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", list(VIOLATIONS))
async def test_protocol_violation_refused_with_the_right_close_code(transport, case):
    violation, code = VIOLATIONS[case]
    frames, error, sent_codes = await _run_against(transport, violation)
    assert frames == [b"good"]
    assert isinstance(error, ConnectionFailedError), error
    assert sent_codes == [code], (case, sent_codes)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("code", [1000, 1001, 1003, 1011, 1012, 1014, 3000, 4999])
async def test_allowed_close_codes_are_echoed(transport, code):
    frames, error, sent_codes = await _run_against(transport, encode_frame(OP_CLOSE, close_payload(code, "why")))
    assert frames == [b"good"]
    assert sent_codes == [code]
    if code in (1000, 1001):
        assert error is None
    else:
        assert isinstance(error, ConnectionFailedError) and str(code) in str(error)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_empty_close_is_answered_with_1000(transport):
    frames, error, sent_codes = await _run_against(transport, encode_frame(OP_CLOSE, b""))
    assert frames == [b"good"] and error is None
    assert sent_codes in ([1000], [-1])  # RFC 6455 5.5.1: an empty close may be answered empty
