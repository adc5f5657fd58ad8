"""Each fault does what it says, counted at a plain client; faults never corrupt the true book."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from _sim_testkit import DictBook, fetch_depth, request, subscribe
from feedhandler.sim import FaultConfig, MarketModel, SimExchange


def _parse(raw: str | bytes) -> dict | None:
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return msg if isinstance(msg, dict) else None


async def _drain(ws, count: int) -> list[str | bytes]:
    return [await ws.recv() for _ in range(count)]


async def test_drop_after_n_frames() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=FaultConfig(drop_after_frames=7)) as ex:
            for attempt in range(2):  # every new connection is dropped again
                async with connect(ex.ws_url) as ws:
                    await subscribe(ws, ["depth:BTCUSDT"])
                    await ex.pump(20)
                    data = 0
                    with pytest.raises(ConnectionClosed) as closed:
                        for _ in range(100):
                            assert _parse(await ws.recv())["ch"] == "depth"
                            data += 1
                    assert data == 7
                    assert closed.value.rcvd is None  # TCP cut, no close frame: an abnormal closure
                assert ex.connections[attempt].stats.dropped
            assert ex.stats.connections_dropped == 2
            ex.faults.drop_after_frames = None  # switched off at run time
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(20)
                assert len(await _drain(ws, 20)) == 20


async def test_silence_keeps_socket_open_and_sends_nothing() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=1) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(3)
                before = [_parse(m) for m in await _drain(ws, 3)]
                ex.faults.silent = True
                silent = await ex.pump(10)
                await ws.send(json.dumps({"op": "ping"}))  # not answered while silent
                await (await ws.ping())  # the socket itself is alive: WebSocket pings are answered
                for _ in range(1000):  # bounded wait until the server handled the JSON ping
                    if ex.stats.messages_received == 2:
                        break
                    await asyncio.sleep(0.005)
                ex.faults.silent = False
                after = await ex.pump(1)
                msg = _parse(await ws.recv())
                # The first frame after the silence is the next delta: the 10 silent ones never came.
                assert msg["U"] == after[0].first_id == silent[-1].last_id + 1
                assert before[-1]["u"] == silent[0].first_id - 1
                stats = ex.connections[0].stats
                assert stats.suppressed == 11 and stats.data_frames_sent == 4
                ex.faults.silence(3600)
                assert ex.faults.is_silent
                ex.faults.silent_until = 0.0
                assert not ex.faults.is_silent


async def test_garbage_frames_before_data() -> None:
    async with asyncio.timeout(30):
        faults = FaultConfig(seed=4, garbage_probability=0.3)
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=faults) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(100)
                stats = ex.connections[0].stats
                frames = [_parse(m) for m in await _drain(ws, 100 + stats.garbage_sent)]
                garbage = sum(m is None for m in frames)
                assert garbage == stats.garbage_sent and 10 < garbage < 60
                ids = [m["u"] for m in frames if m is not None]
                assert ids == sorted(ids) and len(ids) == 100  # no data lost


async def test_truncated_frames_replace_data() -> None:
    async with asyncio.timeout(30):
        faults = FaultConfig(seed=4, truncate_probability=0.25)
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=faults) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                deltas = await ex.pump(100)
                frames = await _drain(ws, 100)
                stats = ex.connections[0].stats
                sub = ex.connections[0].subscriptions["depth:BTCUSDT"]
                cut = 0
                for raw, delta in zip(frames, deltas):
                    whole = ex.protocol.encode_delta(delta, sub)
                    if _parse(raw) is None:  # a strict prefix of the frame that should have come
                        assert len(raw) < len(whole) and whole.startswith(raw)
                        cut += 1
                    else:
                        assert raw == whole
                assert cut == stats.truncated_sent and 10 < cut < 60


async def test_oversized_frame_closes_a_default_client() -> None:
    async with asyncio.timeout(30):
        faults = FaultConfig(oversize_probability=1.0)
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=faults) as ex:
            async with connect(ex.ws_url) as ws:  # websockets' default max_size is 1 MiB
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(1)
                assert _parse(await ws.recv())["ch"] == "depth"
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.sent is not None and closed.value.sent.code == 1009
            async with connect(ex.ws_url, max_size=None) as ws:  # a client that accepts it sees its size
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(1)
                await ws.recv()
                assert len(await ws.recv()) == faults.oversize_bytes
            assert sum(c.stats.oversized_sent for c in ex.connections) >= 2


async def test_gaps_are_seen_by_every_client_exactly_where_withheld() -> None:
    async with asyncio.timeout(30):
        faults = FaultConfig(seed=2, gap_probability=0.2)
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=faults) as ex:
            async with connect(ex.ws_url) as ws1, connect(ex.ws_url) as ws2:
                await subscribe(ws1, ["depth:BTCUSDT"])
                await subscribe(ws2, ["depth:BTCUSDT"])
                await ex.pump(200)
                withheld = ex.stats.gaps["BTCUSDT"]
                assert 10 < withheld < 80
                missing_expected = {i for a, b in ex.stats.gap_ids["BTCUSDT"] for i in range(a, b + 1)}
                for ws in (ws1, ws2):
                    frames = [_parse(m) for m in await _drain(ws, 200 - withheld)]
                    received = {i for m in frames for i in range(m["U"], m["u"] + 1)}
                    span = set(range(frames[0]["U"], frames[-1]["u"] + 1))
                    missing = span - received
                    assert missing and missing <= missing_expected
                    assert sum(1 for a, b in zip(frames, frames[1:]) if b["U"] != a["u"] + 1) > 0


async def test_duplicates_are_counted() -> None:
    async with asyncio.timeout(30):
        faults = FaultConfig(seed=3, duplicate_probability=0.3)
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=faults) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(100)
                dup = ex.connections[0].stats.duplicated
                frames = await _drain(ws, 100 + dup)
                repeats = sum(1 for a, b in zip(frames, frames[1:]) if a == b)
                assert repeats == dup and 10 < dup < 60
                assert len(set(frames)) == 100


async def test_reordered_adjacent_frames() -> None:
    async with asyncio.timeout(30):
        faults = FaultConfig(seed=5, reorder_probability=0.3)
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=faults) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT"])
                deltas = ex.step(100)  # queued at once, so every frame has a successor to swap with
                await ex.flush()
                frames = [_parse(m) for m in await _drain(ws, 100)]
                swaps = ex.connections[0].stats.reordered
                inversions = sum(1 for a, b in zip(frames, frames[1:]) if b["U"] < a["U"])
                assert inversions == swaps and swaps > 5
                assert sorted(m["U"] for m in frames) == [d.first_id for d in deltas]


async def test_slow_rest_snapshot_reflects_state_after_the_delay() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=FaultConfig(rest_delay=1.0)) as ex:
            pending = asyncio.ensure_future(fetch_depth(ex.rest_url, "BTCUSDT"))
            for _ in range(1000):  # bounded wait until the server holds the request
                if ex.stats.rest_requests["/depth"]:
                    break
                await asyncio.sleep(0.005)
            await ex.pump(5)
            assert not pending.done()
            status, body = await pending
            assert status == 200 and body["lastUpdateId"] == ex.model.last_update_id("BTCUSDT")


async def test_stale_snapshot_is_older_than_buffered_deltas() -> None:
    async with asyncio.timeout(30):
        faults = FaultConfig(stale_snapshot_ids=40)
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=faults) as ex:
            async with connect(ex.ws_url) as ws:
                ex.step(30)  # history before the subscription
                await subscribe(ws, ["depth:BTCUSDT"])
                await ex.pump(5)  # at most 15 ids buffered, fewer than the 40 the snapshot lags
                first = _parse(await ws.recv())
                status, snap = await fetch_depth(ex.rest_url, "BTCUSDT")
                assert snap["lastUpdateId"] == ex.model.last_update_id("BTCUSDT") - 40
                assert snap["lastUpdateId"] < first["U"] - 1  # the client must refetch
                book = DictBook()
                book.load(snap["lastUpdateId"], snap["bids"], snap["asks"])
                assert book.sides() == tuple(ex.model.true_book("BTCUSDT", snap["lastUpdateId"]))
                ex.faults.stale_snapshot_ids = 10**9  # clamped to the retained history
                _, snap = await fetch_depth(ex.rest_url, "BTCUSDT")
                assert snap["lastUpdateId"] == ex.model.oldest_update_id("BTCUSDT")


async def test_reject_auth() -> None:
    import hashlib
    import hmac

    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=FaultConfig(reject_auth=True)) as ex:
            sig = hmac.new(b"sim-api-secret", b"sim-api-key:1", hashlib.sha256).hexdigest()
            msg = {"op": "auth", "id": 1, "key": "sim-api-key", "ts": 1, "sig": sig}
            async with connect(ex.ws_url) as ws:
                assert (await request(ws, msg))["msg"] == "auth rejected"
                ex.faults.reject_auth = False
                assert (await request(ws, msg))["op"] == "ack"
            assert ex.stats.auth_rejected == 1 and ex.stats.auth_accepted == 1


async def test_refuse_connections() -> None:
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT"], seed=1, faults=FaultConfig(refuse_connections=True)) as ex:
            with pytest.raises(InvalidStatus) as info:
                async with connect(ex.ws_url):
                    pass
            assert info.value.response.status_code == 503
            status, _ = await fetch_depth(ex.rest_url, "BTCUSDT")
            assert status == 503
            assert ex.stats.connections_refused == 1 and ex.stats.rest_refused == 1
            assert ex.stats.connections_accepted == 0
            ex.faults.refuse_connections = False
            async with connect(ex.ws_url) as ws:
                assert await request(ws, {"op": "ping"}) == {"op": "pong"}
            ex.faults.refuse(3600)
            with pytest.raises(InvalidStatus):
                async with connect(ex.ws_url):
                    pass
            ex.faults.refuse_until = 0.0
            status, _ = await fetch_depth(ex.rest_url, "BTCUSDT")
            assert status == 200


async def test_faults_do_not_change_the_market() -> None:
    everything = FaultConfig(
        seed=9,
        garbage_probability=0.2,
        truncate_probability=0.2,
        gap_probability=0.2,
        duplicate_probability=0.2,
        reorder_probability=0.2,
        stale_snapshot_ids=5,
    )
    reference = MarketModel(["BTCUSDT", "ETHUSDT"], 17, levels=50)
    async with asyncio.timeout(30):
        async with SimExchange("simjson", ["BTCUSDT", "ETHUSDT"], seed=17, faults=everything, wall_clock=False) as ex:
            async with connect(ex.ws_url) as ws:
                await subscribe(ws, ["depth:BTCUSDT", "depth:ETHUSDT", "trade:BTCUSDT"])
                got = await ex.pump(150)
                await fetch_depth(ex.rest_url, "BTCUSDT")
                await _drain(ws, ex.connections[0].stats.frames_sent - 1)  # everything after the ack
    expected = [reference.step(s) for _ in range(150) for s in ("BTCUSDT", "ETHUSDT")]
    assert got == expected
    for symbol in ("BTCUSDT", "ETHUSDT"):
        assert ex.model.true_book(symbol) == reference.true_book(symbol)


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError, match="within"):
        FaultConfig(gap_probability=1.5)
    faults = FaultConfig()
    with pytest.raises(ValueError):
        faults.duplicate_probability = -0.1
    with pytest.raises(ValueError):
        faults.drop_after_frames = 0
    with pytest.raises(ValueError):
        faults.rest_delay = -1
    faults.garbage_probability = 0.5
    faults.silent = True
    faults.clear()
    assert faults == FaultConfig()


# ---- issue 18: the situations where a stale book used to stay valid ------------------------------------


async def _depth(ws, n: int) -> list[dict]:
    out = []
    while len(out) < n:
        msg = _parse(await ws.recv())
        if msg is not None and msg.get("ch") == "depth":
            out.append(msg)
    return out


async def test_id_restart_numbers_the_wire_from_one_and_maps_back() -> None:
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT"], seed=2) as ex:
        async with connect(ex.ws_url) as ws:
            await subscribe(ws, ["depth:BTCUSDT"])
            before = await ex.pump(3)
            assert [m["u"] for m in await _depth(ws, 3)] == [d.last_id for d in before]
            ex.faults.id_restart = True
            during = await ex.pump(5)
            frames = await _depth(ws, 5)
            assert frames[0]["U"] == 1 and frames[-1]["u"] == during[-1].last_id - during[0].first_id + 1
            assert all(b["U"] == a["u"] + 1 for a, b in zip(frames, frames[1:]))   # contiguous in the new space
            # the REST snapshot speaks the new numbering; the truth maps back to the model's ids
            _, snap = await fetch_depth(ex.rest_url, "BTCUSDT")
            assert snap["lastUpdateId"] == frames[-1]["u"]
            assert ex.model_update_id("BTCUSDT", frames[-1]["u"]) == during[-1].last_id
            ex.faults.clear()
            after = await ex.pump(2)
            assert [m["u"] for m in await _depth(ws, 2)] == [d.last_id for d in after]   # the model's ids again
            assert ex.model_update_id("BTCUSDT", frames[2]["u"]) == during[2].last_id     # still maps back
            assert ex.stats.id_restarts["BTCUSDT"] == 1


async def test_ids_past_int64_and_snapshot_ahead() -> None:
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT"], seed=3) as ex:
        async with connect(ex.ws_url) as ws:
            await subscribe(ws, ["depth:BTCUSDT"])
            ex.faults.ids_past_int64 = True
            deltas = await ex.pump(2)
            frames = await _depth(ws, 2)
            assert [m["u"] for m in frames] == [d.last_id + 2**63 for d in deltas]
            assert all(m["U"] > 2**63 - 1 for m in frames)
            ex.faults.clear()
            ex.faults.snapshot_ahead_ids = 10_000
            _, snap = await fetch_depth(ex.rest_url, "BTCUSDT")
            truth = ex.model.true_book("BTCUSDT")   # the current book, labelled 10,000 ids ahead
            assert snap["lastUpdateId"] == ex.model.last_update_id("BTCUSDT") + 10_000
            assert [(float(p), float(q)) for p, q in snap["bids"]] == truth.bids


async def test_unknown_symbol_flood_and_one_silent_symbol() -> None:
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT", "ETHUSDT"], seed=4) as ex:
        async with connect(ex.ws_url) as ws:
            await subscribe(ws, ["depth:BTCUSDT", "depth:ETHUSDT"])
            ex.faults.unknown_symbols = 7
            ex.faults.unknown_frames_per_delta = 3
            ex.faults.silent_symbols = ["ETHUSDT"]
            deltas = await ex.pump(5)
            frames = await _depth(ws, 5 * 4)   # per BTC delta: itself and 3 fabricated names
            names = [m["s"] for m in frames]
            assert names.count("BTCUSDT") == 5 and "ETHUSDT" not in names
            fake = {n for n in names if n != "BTCUSDT"}
            assert len(fake) == 7 and all(n.startswith("X") and n.endswith("BTCUSDT") for n in fake)
            assert ex.stats.unknown_frames_sent == 15 and ex.stats.silenced_frames["ETHUSDT"] == 5
            # the silent symbol's model went on: its truth moved while nothing was sent
            assert ex.model.last_update_id("ETHUSDT") == [d for d in deltas if d.symbol == "ETHUSDT"][-1].last_id


async def test_unsubscribed_stream_lingers() -> None:
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT"], seed=5) as ex:
        async with connect(ex.ws_url) as ws:
            await subscribe(ws, ["depth:BTCUSDT"])
            ex.faults.linger_after_unsubscribe = 0.3
            reply = await request(ws, {"op": "unsubscribe", "id": 2, "args": ["depth:BTCUSDT"]})
            assert reply["op"] == "ack"
            await ex.pump(3)
            assert len(await _depth(ws, 3)) == 3       # frames in flight after the unsubscribe
            await asyncio.sleep(0.35)
            await ex.pump(3)
            await ws.send(json.dumps({"op": "ping"}))
            assert _parse(await ws.recv()) == {"op": "pong"}   # then the stream stops: no depth frame first


@pytest.mark.parametrize("status", [429, 503])
async def test_refusal_status_and_retry_after(status: int) -> None:
    async with asyncio.timeout(30), SimExchange("simjson", ["BTCUSDT"], seed=6) as ex:
        ex.faults.refuse_status = status
        ex.faults.refuse_retry_after = 2.5
        ex.faults.refuse(5)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ex.ws_url):
                pass
        assert refused.value.response.status_code == status
        assert refused.value.response.headers["Retry-After"] == "2.5"
        code, body = await fetch_depth(ex.rest_url, "BTCUSDT")
        assert code == status
