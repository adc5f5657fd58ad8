"""Fixtures for the REST client tests: a local fake exchange and a refused port."""
from __future__ import annotations

import socket

import pytest
from aiohttp import web

from rest_server import FakeExchange


@pytest.fixture
async def exchange():
    server = FakeExchange()
    # No access log: it is the fake server's, and it would print the secrets the tests send.
    runner = web.AppRunner(server.app, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


@pytest.fixture
def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port bound, read, then freed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
