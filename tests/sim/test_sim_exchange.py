"""SimExchange + simjson over real sockets, with plain websockets/aiohttp clients.

The oracle is ``MarketModel.true_book``: a client that syncs from the REST snapshot and replays the
depth frames it received must hold exactly the true book at the same update id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from _sim_testkit import DictBook, depth_frames_until, fetch_depth, request, send_json, subscribe
from feedhandler.sim import Channel, SimExchange, SimProtocol, Subscription, create_protocol, protocol_names
from feedhandler.sim.protocol import Reply, register_protocol

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def _sync(book: DictBook, snapshot: dict, frames: list[dict], model, symbol: str) -> int:
    """Binance-style sync of buffered frames on a snapshot; compares with the truth after every frame."""
    book.load(snapshot["lastUpdateId"], snapshot["bids"], snapshot["asks"])
    assert book.sides() == tuple(model.true_book(symbol, book.update_id))
    applied = 0
    for msg in frames:
        if msg["u"] <= book.update_id:
            continue  # older than the snapshot
        assert msg["U"] <= book.update_id + 1 <= msg["u"], "gap between snapshot/previous frame and this frame"
        book.apply(msg["u"], msg["b"], msg["a"])
        assert book.sides() == tuple(model.true_book(symbol, msg["u"])), f"book differs at {msg['u']}"
        applied += 1
    return applied


async def test_replay_from_rest_snapshot_reproduces_true_book() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", SYMBOLS, seed=21, levels=40) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, [f"depth:{s}" for s in SYMBOLS])
                ex.step(20)  # deltas the client must buffer and partly discard
                snapshots = {s: await fetch_depth(ex.rest_url, s) for s in SYMBOLS}
                await ex.pump(300)
                last = {s: ex.model.last_update_id(s) for s in SYMBOLS}
                by_symbol: dict[str, list[dict]] = {s: [] for s in SYMBOLS}
                while any(not by_symbol[s] or by_symbol[s][-1]["u"] < last[s] for s in SYMBOLS):
                    msg = json.loads(await ws.recv())
                    by_symbol[msg["s"]].append(msg)
                for symbol in SYMBOLS:
                    status, snap = snapshots[symbol]
                    assert status == 200
                    frames = by_symbol[symbol]
                    assert frames[0]["U"] <= snap["lastUpdateId"]  # the buffer started before the snapshot
                    book = DictBook()
                    assert _sync(book, snap, frames, ex.model, symbol) >= 250
                    assert book.update_id == ex.model.last_update_id(symbol)
                    assert book.sides() == tuple(ex.model.true_book(symbol))
                    assert ex.stats.last_update_id_sent[symbol] == book.update_id


async def test_live_rate_driven_sync_matches_true_book() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=5, rate=400) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                status, snap = await fetch_depth(ex.rest_url, "BTCUSDT")
                assert status == 200
                frames: list[dict] = []
                while len(frames) < 150 or frames[-1]["u"] <= snap["lastUpdateId"]:
                    msg = json.loads(await ws.recv())
                    frames.append(msg)
                book = DictBook()
                assert _sync(book, snap, frames, ex.model, "BTCUSDT") > 0


async def test_full_snapshot_pushes_reset_the_book() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=9, full_snapshot_every=7) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(50)
                book, fulls = None, 0
                last = ex.model.last_update_id("BTCUSDT")
                while book is None or book.update_id < last:
                    msg = json.loads(await ws.recv())
                    if msg.get("full"):
                        fulls += 1
                        book = DictBook()
                        book.load(msg["u"], msg["b"], msg["a"])
                    elif book is not None:
                        assert msg["U"] == book.update_id + 1
                        book.apply(msg["u"], msg["b"], msg["a"])
                    if book is not None:
                        assert book.sides() == tuple(ex.model.true_book("BTCUSDT", book.update_id))
                assert fulls == 50 // 7


async def test_trades_bbo_and_partial_depth_follow_the_model() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["ETHUSDT"], seed=2) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["trade:ETHUSDT", "bbo:ETHUSDT", "book5:ETHUSDT"])
                deltas = await ex.pump(400)
                expected_trades = [t for d in deltas for t in d.trades]
                assert expected_trades
                last = ex.model.last_update_id("ETHUSDT")
                trades, bbos, books = [], [], []
                while not books or books[-1]["u"] < last:
                    msg = json.loads(await ws.recv())
                    {"trade": trades, "bbo": bbos, "book5": books}[msg["ch"]].append(msg)
                assert [(m["id"], m["p"], m["q"], m["side"]) for m in trades] == [
                    (t.trade_id, t.price, t.qty, t.side) for t in expected_trades
                ]
                assert len(books) == 400
                for msg in books:
                    truth = ex.model.true_book("ETHUSDT", msg["u"])
                    assert [(float(p), float(q)) for p, q in msg["b"]] == truth.bids[:5]
                    assert [(float(p), float(q)) for p, q in msg["a"]] == truth.asks[:5]
                for msg in bbos:
                    truth = ex.model.true_book("ETHUSDT", msg["u"])
                    assert (float(msg["b"]), float(msg["B"])) == truth.bids[0]
                    assert (float(msg["a"]), float(msg["A"])) == truth.asks[0]
                # A bbo frame is sent exactly when the top changed over a step.
                tops = [(m["b"], m["B"], m["a"], m["A"]) for m in bbos]
                assert all(a != b for a, b in zip(tops, tops[1:]))


async def test_control_messages_and_counters() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", SYMBOLS, seed=1) as ex:
            async with connect(ex.ws_url) as ws:
                sent = [await send_json(ws, {"op": "ping"})]
                assert json.loads(await ws.recv()) == {"op": "pong"}
                sent.append(await send_json(ws, {"op": "hello", "id": 4}))
                err = json.loads(await ws.recv())
                assert err["op"] == "error" and err["id"] == 4 and "hello" in err["msg"]
                await ws.send("{not json")
                sent.append("{not json")
                assert json.loads(await ws.recv())["op"] == "error"
                await ws.send(b"\x01\x02")
                sent.append(b"\x01\x02")
                assert "binary" in json.loads(await ws.recv())["msg"]
                sent.append(await send_json(ws, {"op": "subscribe", "id": 5, "args": ["depth:NOPE"]}))
                assert "unknown stream" in json.loads(await ws.recv())["msg"]
                sent.append(await send_json(ws, {"op": "subscribe", "id": 6, "args": "depth:BTCUSDT"}))
                assert json.loads(await ws.recv())["op"] == "error"
                sent.append(await send_json(ws, {"op": "subscribe", "id": 7, "args": ["depth:BTCUSDT", "depth:ETHUSDT"]}))
                assert json.loads(await ws.recv()) == {"op": "ack", "id": 7, "args": ["depth:BTCUSDT", "depth:ETHUSDT"]}
                sent.append(await send_json(ws, {"op": "unsubscribe", "id": 8, "args": ["depth:ETHUSDT"]}))
                assert json.loads(await ws.recv())["op"] == "ack"
                await ex.pump(30)
                frames = await depth_frames_until(ws, "BTCUSDT", ex.model.last_update_id("BTCUSDT"))
                stats = ex.connections[0].stats
                assert stats.messages_received == sent
                assert stats.control_frames_sent == 8
                assert stats.frames_by_symbol == {"BTCUSDT": len(frames)} and len(frames) == 30
                assert stats.last_update_id == {"BTCUSDT": frames[-1]["u"]}
                assert ex.stats.connections_accepted == 1 and ex.stats.messages_received == len(sent)


async def test_unsubscribed_symbol_gets_no_frames() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", SYMBOLS, seed=3) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT", "depth:ETHUSDT"])
                await request(ws, {"op": "unsubscribe", "id": 2, "args": ["depth:ETHUSDT"]})
                await ex.pump(20)
                # The BTC frames mark the end: any ETH frame would have been queued before the last one.
                seen = set()
                while True:
                    msg = json.loads(await ws.recv())
                    seen.add(msg["s"])
                    if msg["s"] == "BTCUSDT" and msg["u"] == ex.model.last_update_id("BTCUSDT"):
                        break
                assert seen == {"BTCUSDT"}


async def test_max_50_subscriptions_per_connection() -> None:
    symbols = [f"S{i:02d}USDT" for i in range(26)]
    async with asyncio.timeout(30):
        async with SimExchange("simjson", symbols, seed=1, levels=5) as ex:
            async with connect(ex.ws_url) as ws:
                first = [f"{ch}:{s}" for s in symbols[:25] for ch in ("depth", "trade")]
                assert len(first) == 50
                await subscribe(ws, first)
                reply = await request(ws, {"op": "subscribe", "id": 2, "args": ["depth:S25USDT"]})
                assert reply["op"] == "error" and reply["id"] == 2 and "50" in reply["msg"]
                # Re-subscribing to held streams does not count twice.
                await subscribe(ws, first[:3], req_id=3)
                assert len(ex.active_connections[0].subscriptions) == 50
                await ex.pump(1, symbols=["S25USDT"])
                assert ex.active_connections[0].stats.frames_by_symbol["S25USDT"] == 0


async def test_rest_errors_and_limits() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=1) as ex:
            status, body = await fetch_depth(ex.rest_url, "NOPE", 10)
            assert status == 400 and "unknown symbol" in body["msg"]
            for bad in (0, 5001):
                status, body = await fetch_depth(ex.rest_url, "BTCUSDT", bad)
                assert status == 400
            status, body = await fetch_depth(ex.rest_url, "BTCUSDT", 3)
            assert status == 200 and len(body["bids"]) == 3 and len(body["asks"]) == 3
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{ex.rest_url}/depth", params={"symbol": "BTCUSDT", "limit": "x"}) as resp:
                    assert resp.status == 400
            assert ex.stats.rest_requests["/depth"] == 5
            assert ex.stats.snapshots_served["BTCUSDT"] == 1


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def test_auth_and_listen_keys() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, credentials={"k1": "s1"}) as ex:
            async with connect(ex.ws_url) as ws:
                good = {"op": "auth", "id": 1, "key": "k1", "ts": 1000, "sig": _sign("s1", "k1:1000")}
                assert await request(ws, good) == {"op": "ack", "id": 1, "args": ["auth"]}
                bad = dict(good, id=2, sig=_sign("wrong", "k1:1000"))
                assert (await request(ws, bad))["msg"] == "auth rejected"
                assert (await request(ws, dict(good, id=3, key="nobody")))["msg"] == "auth rejected"
                assert (await request(ws, {"op": "auth", "id": 9}))["op"] == "error"
            async with aiohttp.ClientSession() as session:
                params = {"ts": "77", "sig": _sign("s1", "ts=77")}
                async with session.post(f"{ex.rest_url}/listenKey", params=params, headers={"X-SIM-APIKEY": "k1"}) as r:
                    assert r.status == 200
                    key = (await r.json())["listenKey"]
                async with session.post(f"{ex.rest_url}/listenKey", params=dict(params, sig="00")) as r:
                    assert r.status == 401
            async with connect(f"{ex.ws_url}?listenKey={key}") as ws:
                assert await request(ws, {"op": "ping"}) == {"op": "pong"}
                assert ex.active_connections[-1].authenticated
            async with connect(f"{ex.ws_url}?listenKey=bogus") as ws:
                assert json.loads(await ws.recv())["msg"] == "invalid listen key"
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
            assert ex.stats.auth_accepted == 3 and ex.stats.auth_rejected == 4


async def test_unknown_path_is_404() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"]) as ex:
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"{ex.ws_base_url}/nope"):
                    pass
            assert info.value.response.status_code == 404


async def _record(seed: int, fault_seed: int) -> tuple[list, list]:
    from feedhandler.sim import FaultConfig

    faults = FaultConfig(seed=fault_seed, duplicate_probability=0.2, garbage_probability=0.1, gap_probability=0.1)
    async with SimExchange("simjson", SYMBOLS, seed=seed, wall_clock=False, faults=faults) as ex:
        async with connect(ex.ws_url) as ws:
            await subscribe(ws, [f"{ch}:{s}" for s in SYMBOLS for ch in ("depth", "trade", "bbo")])
            status, snap = await fetch_depth(ex.rest_url, "BTCUSDT")
            await ex.pump(100)
            expected = ex.connections[0].stats.frames_sent - 1  # minus the ack
            frames = [await ws.recv() for _ in range(expected)]
            return [snap], frames


async def test_same_seed_same_frames() -> None:
    async with asyncio.timeout(60):
        a = await _record(33, 1)
        b = await _record(33, 1)
        c = await _record(34, 1)
        assert a == b
        assert a[1] != c[1]


async def test_stop_leaves_no_tasks_and_closes_clients() -> None:
    async with asyncio.timeout(30):
        before = asyncio.all_tasks()
        ex = SimExchange("simjson", SYMBOLS, seed=1, rate=200)
        await ex.start()
        ws = await connect(ex.ws_url)
        await subscribe(ws, ["depth:BTCUSDT"])
        await ws.recv()  # the driver is running
        status, _ = await fetch_depth(ex.rest_url, "BTCUSDT")
        assert status == 200
        ws_port, rest_url = ex.ws_port, ex.rest_url
        await ex.stop()
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(100_000):
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        await ws.close()
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before == set()
        with pytest.raises(OSError):
            await connect(f"ws://127.0.0.1:{ws_port}/ws")
        with pytest.raises(aiohttp.ClientConnectionError):
            await fetch_depth(rest_url, "BTCUSDT")
        await ex.stop()  # idempotent
        with pytest.raises(RuntimeError, match="not started"):
            _ = ex.ws_url


def test_protocol_registry() -> None:
    assert "simjson" in protocol_names()
    proto = create_protocol("simjson")
    assert Channel.DEPTH in proto.channels and proto.max_subscriptions == 50
    with pytest.raises(KeyError, match="available: .*simjson"):
        create_protocol("nope")

    class Other(SimProtocol):
        name = "simjson"

        def handle_message(self, conn, message):  # pragma: no cover - never served
            return Reply()

        def encode_delta(self, delta, sub):  # pragma: no cover
            return None

    with pytest.raises(ValueError, match="already registered"):
        register_protocol(Other)


async def test_custom_binary_protocol_plugs_in() -> None:
    """A minimal binary protocol using URL-named streams, as Binance/MEXC plug-ins will."""

    class Tiny(SimProtocol):
        name = "tiny-test"
        ws_paths = ("/stream",)
        binary_data = True

        def on_connect(self, conn):
            sym = conn.query.get("s", "")
            return Reply(subscribe=[Subscription(Channel.DEPTH, sym, f"d@{sym}")] if sym else [])

        def handle_message(self, conn, message):
            raise RuntimeError("boom")  # a protocol bug: the exchange must survive it

        def encode_delta(self, delta, sub):
            return delta.last_id.to_bytes(8, "big")

    async with asyncio.timeout(30):
        async with SimExchange(Tiny(), ["BTCUSDT"], seed=1) as ex:
            assert ex.ws_url.endswith("/stream")
            async with connect(f"{ex.ws_url}?s=BTCUSDT") as ws:
                deltas = await ex.pump(5)
                got = [int.from_bytes(await ws.recv(), "big") for _ in range(5)]
                assert got == [d.last_id for d in deltas]
                await ws.send("anything")
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
            async with connect(f"{ex.ws_url}?s=BTCUSDT") as ws:  # still serving
                await ex.pump(1)
                assert len(await ws.recv()) == 8
