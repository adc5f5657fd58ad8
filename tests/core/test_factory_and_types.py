"""Factory registry, config defaults, secrets hidden from reprs, CLI basics."""
from __future__ import annotations

import subprocess
import sys

import pytest

from feedhandler import (
    ChannelType,
    ConnectionContext,
    ReconnectPolicy,
    UnknownExchangeError,
    WebSocketManagerConfig,
    WebSocketStrategyFactory,
    __version__,
)
from manager_helpers import JsonTestConnectionStrategy, JsonTestParser, JsonTestSubscriptionStrategy


def test_register_and_create():
    WebSocketStrategyFactory.register(
        "unit-test-ex", False,
        lambda **kw: JsonTestConnectionStrategy(kw.get("url", "ws://127.0.0.1:1/")),
        lambda **kw: JsonTestSubscriptionStrategy(),
        lambda **kw: JsonTestParser(),
    )
    conn, sub, parser = WebSocketStrategyFactory.create_strategies("unit-test-ex", url="ws://127.0.0.1:2/")
    assert isinstance(conn, JsonTestConnectionStrategy) and conn.url == "ws://127.0.0.1:2/"
    assert isinstance(sub, JsonTestSubscriptionStrategy) and isinstance(parser, JsonTestParser)
    assert "unit-test-ex" in WebSocketStrategyFactory.exchanges()
    # each call builds fresh strategies
    assert WebSocketStrategyFactory.create_strategies("unit-test-ex")[2] is not parser


def test_unknown_exchange_lists_known():
    WebSocketStrategyFactory.register("unit-test-ex", False, JsonTestConnectionStrategy,
                                      JsonTestSubscriptionStrategy, JsonTestParser)
    with pytest.raises(UnknownExchangeError) as info:
        WebSocketStrategyFactory.create_strategies("nosuchexchange")
    assert "nosuchexchange" in str(info.value) and "unit-test-ex" in str(info.value)
    with pytest.raises(UnknownExchangeError, match="private"):
        WebSocketStrategyFactory.create_strategies("unit-test-ex", is_private=True)


def test_config_defaults_and_channel_parsing():
    cfg = WebSocketManagerConfig("mexc", channel_types=["trades", ChannelType.ORDERBOOK])
    assert cfg.channel_types == [ChannelType.TRADES, ChannelType.ORDERBOOK]
    assert cfg.stale_timeout > 0 and cfg.transport == "picows" and cfg.reconnect.max_attempts is None
    with pytest.raises(ValueError, match="unknown channel type"):
        WebSocketManagerConfig("mexc", channel_types=["nope"])
    assert ChannelType.ORDERS.is_private and not ChannelType.TRADES.is_private


def test_secrets_not_in_reprs():
    cfg = WebSocketManagerConfig("mexc", api_key="AK-SECRET-123", secret_key="SK-SECRET-456")
    ctx = ConnectionContext(url="wss://x/ws?listenKey=LK-SECRET-789", auth_params={"listen_key": "LK-SECRET-789"})
    for text in (repr(cfg), str(cfg), repr(ctx)):
        assert "SECRET" not in text


def test_backoff_policy():
    p = ReconnectPolicy(base_delay=1.0, max_delay=8.0, factor=2.0, jitter=0.5)
    assert p.delay(1, 0.9) == 0.0  # the first retry is immediate
    assert [p.delay(n, 0.0) for n in range(2, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert p.delay(3, 1.0) == pytest.approx(1.0)  # jitter scales down by at most half


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []])
def test_cli_help_and_version(argv):
    out = subprocess.run([sys.executable, "-m", "feedhandler", *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if argv == ["--version"]:
        assert out.stdout.strip() == f"feedhandler {__version__}"
    else:
        assert "usage: feedhandler" in out.stdout
