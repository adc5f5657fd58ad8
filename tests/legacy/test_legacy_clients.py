"""Legacy inheritance-style clients running on the new manager: MEXC public/private, wire walker."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler import ChannelType, ReconnectPolicy, WebSocketManagerConfig
from feedhandler.core.errors import ParseError
from feedhandler.events import BookUpdate, Fill, Trade
from feedhandler.legacy import MexcWebsocketPrivate, MexcWebsocketPublic
from feedhandler.legacy.protowire import fields
from feedhandler.sim import SimExchange
from protos import load_proto

FAST = ReconnectPolicy(base_delay=0.05, max_delay=0.3, jitter=0.0)


def sides(book):
    d = book.to_dict()
    return [tuple(x) for x in d["bids"]], [tuple(x) for x in d["asks"]]


@pytest.mark.timeout(30)
async def test_legacy_public_client_books_match_the_true_book_and_survive_a_drop():
    async with SimExchange("mexc", ["BTCUSDT"], seed=8, rate=150) as sim:
        bad, updates, trades, errors = [], [0], [0], []

        def handler(ev):
            if isinstance(ev, BookUpdate):
                updates[0] += 1
                t = sim.model.true_book(ev.symbol, ev.last_update_id)
                if sides(ev.book) != ([tuple(x) for x in t.bids], [tuple(x) for x in t.asks]):
                    bad.append(ev.last_update_id)
            elif isinstance(ev, Trade):
                trades[0] += 1

        cfg = WebSocketManagerConfig("mexc", channel_types=[ChannelType.ORDERBOOK, ChannelType.TRADES],
                                     reconnect=FAST, initialize_timeout=5.0)
        client = MexcWebsocketPublic(cfg, ws_url=sim.ws_url, rest_url=sim.rest_url, speed="10ms",
                                     message_handler=handler, error_handler=errors.append)
        async with client:
            await client.initialize(["BTCUSDT"])
            assert client.is_connected
            async with asyncio.timeout(10):
                while updates[0] < 20:
                    await asyncio.sleep(0.05)
            sim.faults.drop_after_frames = 5  # the server cuts the connection: the manager reconnects
            async with asyncio.timeout(10):
                while client.manager.metrics.reconnects < 1:
                    await asyncio.sleep(0.05)
            sim.faults.clear()
            before = updates[0]
            async with asyncio.timeout(10):
                while updates[0] < before + 20 or not client.is_book_valid("BTCUSDT"):
                    await asyncio.sleep(0.05)
        assert not bad and trades[0] > 0
        assert len(sim.connections) >= 2


@pytest.mark.timeout(30)
async def test_legacy_private_client_uses_a_listen_key_url_and_delivers_fills():
    async with SimExchange("mexc", ["BTCUSDT"], seed=3, rate=150) as sim:
        fills = []
        cfg = WebSocketManagerConfig("mexc", is_private=True, channel_types=[ChannelType.FILLS], initialize_timeout=5.0,
                                     api_key="sim-api-key", secret_key="sim-api-secret")
        client = MexcWebsocketPrivate(None, cfg, ws_url=sim.ws_url, rest_url=sim.rest_url,
                                      message_handler=lambda e: fills.append(e.copy()) if isinstance(e, Fill) else None)
        async with client:
            await client.initialize(["*"])
            assert "listenKey=" in sim.connections[0].path + "?" + "&".join(f"{k}={v}" for k, v in
                                                                             sim.connections[0].query.items())
            async with asyncio.timeout(10):
                while len(fills) < 3:
                    await asyncio.sleep(0.05)
        assert all(f.price > 0 and f.qty > 0 and f.trade_id for f in fills)
        methods = [m for m, ok, _ in sim.protocol.listen_key_log if ok]
        assert methods[0] == "POST" and "DELETE" in methods  # created per connection, deleted on close


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_wire_walker_never_crashes_on_garbage(data):
    try:
        for _ in fields(data):
            pass
    except ParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)), max_size=5),
       st.integers(0, 2**62), st.text(max_size=20))
def test_wire_walker_reads_what_the_official_library_writes(levels, version, channel):
    pb = load_proto("mexc")
    w = pb.PushDataV3ApiWrapper(channel=channel, sendTime=version)
    for p, q in levels:
        w.publicAggreDepths.asks.add(price=str(p), quantity=str(q))
    w.publicAggreDepths.toVersion = str(version)
    got = {n: v for n, _, v in fields(w.SerializeToString())}
    assert got.get(6, 0) == version
    if channel:
        assert bytes(got[1]).decode() == channel
    body = [(n, bytes(v)) for n, _, v in fields(got[313])]
    asks = [dict((n, bytes(v).decode()) for n, _, v in fields(b)) for n, b in body if n == 1]
    assert [(int(a[1]), int(a[2])) for a in asks] == levels


async def test_malformed_frame_is_a_parse_error_and_changes_nothing():
    cfg = WebSocketManagerConfig("mexc", channel_types=[ChannelType.ORDERBOOK])
    client = MexcWebsocketPublic(cfg, fetch_snapshots=False)
    from feedhandler.legacy import LegacyMessageParser
    parser = LegacyMessageParser(client)
    with pytest.raises(ParseError):
        parser.feed(b"\xca\x13\xff\xff\xff", 0)  # body 313 with a length past the end
    assert client.books == {}
