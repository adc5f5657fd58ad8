"""The exchange registry: built-in exchanges describe themselves, an installed package adds one.

The third-party case is real: a package with a ``feedhandler.exchanges`` entry point is put on ``sys.path``
(a module plus its ``.dist-info``, as pip installs it), discovered by ``importlib.metadata``, and then used
end to end: the factory builds its strategies, the simulator serves its protocol, a manager keeps its book
equal to the simulator's true book.
"""
from __future__ import annotations

import asyncio
import importlib
import re
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from feedhandler import ChannelType, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.core import registry
from feedhandler.core.errors import UnknownExchangeError
from feedhandler.events.events import BookUpdate
from feedhandler.sim.protocol import create_protocol, protocol_names
from feedhandler.sim.server import SimExchange

CORE_FILES = ["core/factory.py", "sim/protocol.py", "cli/feed.py", "cli/demo.py"]
PACKAGE = Path(registry.__file__).resolve().parents[1]


def test_builtin_exchanges_found_from_their_folders():
    names = registry.exchange_names()
    folders = sorted(p.name for p in (PACKAGE / "exchanges").iterdir() if (p / "__init__.py").exists())
    assert names == folders
    assert set(names) <= set(WebSocketStrategyFactory.exchanges())
    for name in names:
        info = registry.exchange_info(name)
        assert info.module == f"feedhandler.exchanges.{name}"
        assert info.demo_symbols, name
        assert registry.demo_symbols(name) == list(info.demo_symbols)
        # each exchange's simulator protocol lives in its own folder and registers under its name
        assert info.sim_protocol and info.sim_protocol.startswith(info.module + ".")
        assert name in protocol_names()
        assert create_protocol(name).name == name
    with pytest.raises(UnknownExchangeError, match="registered exchanges"):
        registry.exchange_info("no-such-exchange")


def test_core_files_name_no_exchange():
    names = registry.exchange_names()
    for rel in CORE_FILES:
        text = (PACKAGE / rel).read_text().lower()
        for name in names:  # a word, so that "SimExchange" does not count as "mexc"
            assert not re.search(rf"\b{name}\b", text), f"{rel} names {name!r}"


def test_register_exchange_package_finds_the_sides_by_name(monkeypatch):
    module = types.ModuleType("fh_test_pkg.demoex")

    class DemoexPublicConnectionStrategy: ...
    class DemoexPublicSubscriptionStrategy: ...
    class DemoexPublicMessageParser: ...

    for cls in (DemoexPublicConnectionStrategy, DemoexPublicSubscriptionStrategy, DemoexPublicMessageParser):
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(registry, "_EXCHANGES", dict(registry._EXCHANGES))
    monkeypatch.setattr(WebSocketStrategyFactory, "_registry", dict(WebSocketStrategyFactory._registry))
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)  # no sim_protocol module

    info = registry.register_exchange_package(module.__name__, "Demoex", demo_symbols=["X-Y"])
    assert info == registry.ExchangeInfo("demoex", ("X-Y",), None, module.__name__)
    assert WebSocketStrategyFactory._registry[("demoex", False)] is not None
    assert ("demoex", True) not in WebSocketStrategyFactory._registry  # no private side defined
    module.DemoexPrivateMessageParser = DemoexPublicMessageParser  # half a side is a mistake, said by name
    with pytest.raises(TypeError, match="DemoexPrivateConnectionStrategy, DemoexPrivateSubscriptionStrategy"):
        registry.register_exchange_package(module.__name__, "Demoex")


PLUGIN = '''
"""A third-party exchange: Binance's wire format under another name, registered through an entry point."""
from feedhandler.core.registry import register_exchange
from feedhandler.exchanges.binance.strategies import (
    BinancePublicConnectionStrategy, BinancePublicSubscriptionStrategy)
from feedhandler.exchanges.binance.parser import BinancePublicMessageParser

register_exchange("plugex", public=(BinancePublicConnectionStrategy, BinancePublicSubscriptionStrategy,
                                    BinancePublicMessageParser),
                  demo_symbols=("ETHUSDT",), sim_protocol="plugex_feed_sim", module=__name__)
'''
PLUGIN_SIM = '''
from typing import ClassVar
from feedhandler.exchanges.binance.sim_protocol import BinanceSimProtocol
from feedhandler.sim.protocol import register_protocol


@register_protocol
class PlugexSimProtocol(BinanceSimProtocol):
    name: ClassVar[str] = "plugex"
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    (tmp_path / "plugex_feed.py").write_text(PLUGIN)
    (tmp_path / "plugex_feed_sim.py").write_text(PLUGIN_SIM)
    dist = tmp_path / "plugex_feed-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugex-feed\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [feedhandler.exchanges]
        plugex = plugex_feed
        broken = plugex_feed_missing_module
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    # Registrations made by the test go into copies, restored afterwards.
    monkeypatch.setattr(registry, "_EXCHANGES", dict(registry._EXCHANGES))
    monkeypatch.setattr(WebSocketStrategyFactory, "_registry", dict(WebSocketStrategyFactory._registry))
    from feedhandler.sim import protocol as sim_protocol
    monkeypatch.setattr(sim_protocol, "_REGISTRY", dict(sim_protocol._REGISTRY))
    yield
    for module in ("plugex_feed", "plugex_feed_sim"):
        sys.modules.pop(module, None)


@pytest.mark.timeout(30)
async def test_entry_point_adds_an_exchange_end_to_end(installed_plugin):
    with pytest.warns(RuntimeWarning, match="'broken'.*failed to load"):
        registry.load_exchanges(refresh=True)
    assert "plugex" in registry.exchange_names()
    assert "plugex" in WebSocketStrategyFactory.exchanges()
    assert registry.demo_symbols("plugex") == ["ETHUSDT"]
    assert "plugex" in protocol_names()
    symbols = registry.demo_symbols("plugex")
    async with SimExchange("plugex", symbols, seed=3, rate=100.0) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            "plugex", ws_url=sim.ws_url, rest_url=sim.rest_url)
        checked, wrong, errors = [], [], []

        def handler(ev):
            if isinstance(ev, BookUpdate):
                true = sim.model.true_book(ev.symbol, ev.last_update_id)
                d = ev.book.to_dict()
                if ([tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]) != (list(true.bids),
                                                                                      list(true.asks)):
                    wrong.append(ev.last_update_id)
                checked.append(ev.last_update_id)

        mgr = WebSocketManager(WebSocketManagerConfig("plugex", channel_types=[ChannelType.ORDERBOOK]),
                               conn, sub, parser, handler, errors.append)
        try:
            await mgr.initialize(symbols)
            deadline = time.monotonic() + 10
            while len(checked) < 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            await mgr.close()
    assert len(checked) >= 10 and not wrong and not errors, (len(checked), wrong[:3], errors[:3])
