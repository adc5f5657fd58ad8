"""Parallel run: legacy MEXC client vs the new MEXC strategies, on the simulator and on a recording."""
from __future__ import annotations

import argparse
import asyncio
import io

import pytest

from feedhandler import ChannelType, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.legacy import LegacyMessageParser, MexcWebsocketPublic
from feedhandler.migration import EventComparator, ParallelParser, compare_recording
from feedhandler.recording import KIND_SNAPSHOT, read_recording
from feedhandler.sim import SimExchange
from protos import load_proto

CHANNELS = [ChannelType.ORDERBOOK, ChannelType.TRADES, ChannelType.BOOK_TICKER]


class DropLastAsk(MexcWebsocketPublic):
    """A deliberately wrong legacy parser: loses the last ask level of every depth frame."""

    def _ask_levels(self, items):
        return super()._ask_levels(items)[:-1]


def _pair(sim, legacy_cls=MexcWebsocketPublic):
    cfg = WebSocketManagerConfig("mexc", channel_types=CHANNELS, initialize_timeout=5.0)
    conn, sub, parser = WebSocketStrategyFactory.create_strategies(
        "mexc", False, ws_url=sim.ws_url, rest_url=sim.rest_url, speed="10ms")
    legacy = legacy_cls(cfg, ws_url=sim.ws_url, rest_url=sim.rest_url, speed="10ms")
    return cfg, conn, sub, parser, legacy


@pytest.mark.timeout(30)
async def test_legacy_and_new_emit_identical_events_on_the_simulator():
    async with SimExchange("mexc", ["BTCUSDT", "ETHUSDT"], seed=11, rate=150) as sim:
        cfg, conn, sub, parser, legacy = _pair(sim)
        par = ParallelParser(parser, LegacyMessageParser(legacy), depth=0)  # whole books
        seen = []
        errors = []
        async with WebSocketManager(cfg, conn, sub, par, message_handler=lambda e: seen.append(type(e).__name__),
                                    error_handler=errors.append) as manager:
            await manager.initialize(["BTCUSDT", "ETHUSDT"])
            async with asyncio.timeout(10):
                while par.comparator.matched["book"] < 100 or par.comparator.matched["trade"] < 10:
                    await asyncio.sleep(0.05)
        await legacy._close_client()
    cmp = par.comparator
    assert cmp.divergence is None, str(cmp.divergence)
    assert cmp.matched["ticker"] > 0
    assert not par.shadow_errors and not errors
    # the user's handler got the primary's events only, undisturbed by the shadow
    assert seen.count("BookUpdate") >= cmp.matched["book"]


async def _record(tmp_path, seed):
    from feedhandler.cli import record

    path = tmp_path / "mexc.fhrec"
    args = argparse.Namespace(exchange="mexc", symbols="BTCUSDT", channels="orderbook,trades,book_ticker",
                              out=str(path), duration=1.0, url=None, rest_url=None, sim=True, rate=80.0,
                              seed=seed, books_out=None)
    assert await record.run(args, out=io.StringIO()) == 0
    return path


def _expected_first_bad_record(path) -> int:
    """Independent oracle (official protobuf library): the first record at which a depth update with asks
    is applied to the book: a live frame after the snapshot, or the snapshot record that applies
    buffered ones."""
    wrapper_cls = load_proto("mexc").PushDataV3ApiWrapper
    _, records = read_recording(path)
    snapshot = None
    buffered_with_asks: list[int] = []
    for i, rec in enumerate(records):
        if rec.kind == KIND_SNAPSHOT:
            if snapshot is None:
                snapshot = rec.snapshot()["last_update_id"]
                if any(to > snapshot for to in buffered_with_asks):
                    return i
            continue
        if rec.payload[:1] == b"{":
            continue
        w = wrapper_cls()
        w.ParseFromString(rec.payload)
        if w.WhichOneof("body") != "publicAggreDepths" or not len(w.publicAggreDepths.asks):
            continue
        to = int(w.publicAggreDepths.toVersion)
        if snapshot is None:
            buffered_with_asks.append(to)
        elif to > snapshot:
            return i
    raise AssertionError("no applied depth frame with asks in the recording")


@pytest.mark.timeout(30)
async def test_wrong_legacy_parser_is_caught_at_the_right_frame(tmp_path):
    path = await _record(tmp_path, seed=5)
    cfg = WebSocketManagerConfig("mexc", channel_types=CHANNELS)
    _, _, good = WebSocketStrategyFactory.create_strategies("mexc", False, speed="10ms")
    cmp = compare_recording(path, good, LegacyMessageParser(DropLastAsk(cfg, speed="10ms")), depth=0)
    await good.close()
    d = cmp.divergence
    assert d is not None
    assert d.kind == "book" and d.symbol == "BTCUSDT"
    assert d.frame_index == _expected_first_bad_record(path)
    primary_bids, primary_asks = d.primary
    shadow_bids, shadow_asks = d.shadow
    assert primary_bids == shadow_bids and primary_asks != shadow_asks
    assert set(shadow_asks) - set(primary_asks) or len(shadow_asks) != len(primary_asks)
    assert d.frame  # a description of the frame

    # the correct legacy client on the same recording: identical
    _, _, good2 = WebSocketStrategyFactory.create_strategies("mexc", False, speed="10ms")
    ok = compare_recording(path, good2, LegacyMessageParser(MexcWebsocketPublic(cfg, speed="10ms")), depth=0)
    await good2.close()
    assert ok.divergence is None, str(ok.divergence)
    assert ok.matched["book"] > 10 and ok.matched["trade"] > 0


@pytest.mark.timeout(30)
async def test_compare_cli_exit_status(tmp_path):
    from feedhandler.cli import compare

    path = await _record(tmp_path, seed=9)
    out = io.StringIO()
    args = argparse.Namespace(file=str(path), live=False, sim=False, exchange=None, symbols=None,
                              channels="orderbook", duration=1.0, url=None, rest_url=None, rate=50.0, seed=1,
                              shadow="legacy", depth=0, speed="10ms")
    assert await compare.run(args, out=out) == 0
    assert out.getvalue().startswith("identical")
    live = argparse.Namespace(**{**vars(args), "file": None, "live": True, "sim": True, "exchange": "mexc",
                                 "symbols": "BTCUSDT", "channels": "orderbook,trades", "duration": 1.0,
                                 "rate": 100.0})
    out = io.StringIO()
    assert await compare.run(live, out=out) == 0, out.getvalue()


def test_comparator_reports_a_rejected_frame_and_skips_states_the_other_side_never_had():
    from feedhandler.book import OrderBook
    from feedhandler.events import BookUpdate

    cmp = EventComparator(depth=5)

    def upd(uid, ask):
        b = OrderBook("X", 10)
        b.load_snapshot([(1.0, 1.0)], [(ask, 1.0)], uid)
        return BookUpdate(symbol="X", book=b, last_update_id=uid)

    cmp.begin_frame(b"a")
    cmp.add("primary", upd(1, 2.0))      # the shadow synced later: never emits 1
    cmp.begin_frame(b"b")
    cmp.add("shadow", upd(2, 2.0))
    cmp.add("primary", upd(2, 2.0))
    assert cmp.divergence is None and cmp.matched["book"] == 1 and cmp.unpaired_dropped == 1
    cmp.begin_frame(b"c")
    cmp.add("primary", upd(3, 2.0))
    cmp.add("shadow", upd(3, 2.5))
    assert cmp.divergence is not None and cmp.divergence.frame_index == 2 and cmp.divergence.key == 3
