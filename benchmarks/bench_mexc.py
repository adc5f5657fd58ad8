"""MEXC aggregated depth: compiled decoder + BookSync vs the seed's way (upb protobuf + float() + SortedDict).

Each case runs beside its baseline in the same run (group ``mexc-depth-<N>``). Frames carry N bids and
N asks; the book is preloaded so updates hit existing levels, as in a live stream.
Run: ``python -m pytest benchmarks/bench_mexc.py --benchmark-only -q``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sortedcontainers import SortedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from protos import load_proto  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.exchanges.mexc import MEXC_SPOT_RULE, MexcDecoder  # noqa: E402
from feedhandler.sync import BookSyncGroup  # noqa: E402

pb = load_proto("mexc")
N_FRAMES = 64


def make_frames(levels: int) -> list[bytes]:
    frames = []
    version = 1001
    for k in range(N_FRAMES):
        w = pb.PushDataV3ApiWrapper(channel="spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT",
                                    sendTime=1754741322152 + k)
        d = w.publicAggreDepths
        for i in range(levels):
            d.asks.add(price=f"{117145.49 + i * 0.01 + (k % 3) * 0.01:.2f}", quantity=f"{0.1 + (i + k) % 7:.8f}")
            d.bids.add(price=f"{117053.41 - i * 0.01 - (k % 3) * 0.01:.2f}", quantity=f"{0.2 + (i + k) % 5:.8f}")
        d.eventType = "spot@public.aggre.depth.v3.api.pb@100ms"
        d.fromVersion = str(version)
        d.toVersion = str(version + 3)
        version += 4
        frames.append(w.SerializeToString())
    return frames


def compiled(frames):
    dispatcher = EventDispatcher(lambda e: None)
    books = BookSyncGroup("mexc", MEXC_SPOT_RULE, dispatcher, depth=1000)
    sync = books.get("BTCUSDT")
    dec = MexcDecoder(dispatcher, books)
    feed = dec.feed
    state = {"i": 0}

    def reset():
        sync.invalidate("bench")
        sync.load_snapshot(1000, [[117053.41 - i * 0.01, 1.0] for i in range(200)],
                           [[117145.49 + i * 0.01, 1.0] for i in range(200)])

    reset()

    def run():
        i = state["i"]
        if i == len(frames):
            # wrap the version sequence without a snapshot reload (the levels stay valid)
            sync.book.last_update_id = 1000
            i = 0
        feed(frames[i], 0)
        state["i"] = i + 1

    return run, sync


def seed_way(frames):
    Wrapper = pb.PushDataV3ApiWrapper
    bids, asks = SortedDict(), SortedDict()
    state = {"i": 0}

    def run():
        i = state["i"]
        state["i"] = (i + 1) % len(frames)
        w = Wrapper()
        w.ParseFromString(frames[i])
        if w.HasField("publicAggreDepths"):
            d = w.publicAggreDepths
            for lvl in d.bids:
                p, q = float(lvl.price), float(lvl.quantity)
                if q == 0.0:
                    bids.pop(-p, None)
                else:
                    bids[-p] = q
            for lvl in d.asks:
                p, q = float(lvl.price), float(lvl.quantity)
                if q == 0.0:
                    asks.pop(p, None)
                else:
                    asks[p] = q
            int(d.fromVersion), int(d.toVersion)

    return run


@pytest.mark.parametrize("levels", [1, 20, 100])
def test_compiled_decode_apply(benchmark, levels):
    benchmark.group = f"mexc-depth-{levels}"
    run, sync = compiled(make_frames(levels))
    benchmark.pedantic(run, rounds=2000, iterations=N_FRAMES, warmup_rounds=20)
    assert sync.is_valid


@pytest.mark.parametrize("levels", [1, 20, 100])
def test_seed_protobuf_sorteddict(benchmark, levels):
    benchmark.group = f"mexc-depth-{levels}"
    run = seed_way(make_frames(levels))
    benchmark.pedantic(run, rounds=2000, iterations=N_FRAMES, warmup_rounds=20)
