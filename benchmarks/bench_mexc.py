"""MEXC aggregated depth: compiled decoder + BookSync vs the seed's way (upb protobuf + float() + SortedDict).

Each case runs beside its baseline in the same run (group ``mexc-depth-<N>``). Frames carry N bids and
N asks; the book is preloaded so updates hit existing levels, as in a live stream. One round feeds all
64 frames in one Python loop on both sides, so the harness costs the same tiny amount per frame on both;
time per frame = round median / 64 (``frames_per_round``).
Run: ``python -m pytest benchmarks/bench_mexc.py --benchmark-only -q``.

Instructions per frame (stable on a loaded machine): ``python benchmarks/bench_mexc.py [--levels 1 20 100]``
replays the compiled case's rounds under ``valgrind --tool=callgrind``, counting only inside
``MexcDecoder.c_feed`` (decode, sync, book apply), the frames built outside valgrind.
"""
from __future__ import annotations

import argparse
import functools
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sortedcontainers import SortedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from protos import load_proto  # noqa: E402

from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.exchanges.mexc import MEXC_SPOT_RULE, MexcDecoder  # noqa: E402
from feedhandler.sync import BookSyncGroup  # noqa: E402

N_FRAMES = 64


@functools.cache
def _pb():
    """The generated MEXC messages (compiled on first use: the callgrind child never needs them)."""
    return load_proto("mexc")


def rounds_for(levels: int, seed: bool = False) -> int:
    """Rounds per case: enough for a stable median, bounded in time (the seed's way is ~15x slower)."""
    rounds = 2000 if levels <= 20 else 500
    return rounds // 5 if seed else rounds


def make_frames(levels: int) -> list[bytes]:
    frames = []
    version = 1001
    for k in range(N_FRAMES):
        w = _pb().PushDataV3ApiWrapper(channel="spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT",
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
    sync.load_snapshot(1000, [[117053.41 - i * 0.01, 1.0] for i in range(200)],
                       [[117145.49 + i * 0.01, 1.0] for i in range(200)])

    def run():
        # one round = all N_FRAMES frames in one loop (as the seed's way below); the version
        # sequence wraps without a snapshot reload (the levels stay valid)
        sync.book.last_update_id = 1000
        feed = dec.feed
        for f in frames:
            feed(f, 0)

    return run, sync


def seed_way(frames):
    Wrapper = _pb().PushDataV3ApiWrapper
    bids, asks = SortedDict(), SortedDict()

    def run():
        # one round = all N_FRAMES frames in one loop, symmetric with compiled()
        for raw in frames:
            w = Wrapper()
            w.ParseFromString(raw)
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
    benchmark.extra_info["frames_per_round"] = N_FRAMES
    benchmark.pedantic(run, rounds=rounds_for(levels), iterations=1, warmup_rounds=5)
    assert sync.is_valid and sync.book.last_update_id == 1000 + 4 * N_FRAMES


@pytest.mark.parametrize("levels", [1, 20, 100])
def test_seed_protobuf_sorteddict(benchmark, levels):
    benchmark.group = f"mexc-depth-{levels}"
    run = seed_way(make_frames(levels))
    benchmark.extra_info["frames_per_round"] = N_FRAMES
    benchmark.pedantic(run, rounds=rounds_for(levels, seed=True), iterations=1, warmup_rounds=5)


def callgrind_per_frame(levels: int, rounds: int) -> float:
    """Instructions per frame inside ``MexcDecoder.c_feed`` over ``rounds`` rounds of the compiled case."""
    with tempfile.TemporaryDirectory() as tmp:
        frames_file = f"{tmp}/frames.pickle"
        with open(frames_file, "wb") as fh:  # built here, outside valgrind
            pickle.dump(make_frames(levels), fh)
        out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
                              "--collect-atstart=no", "--toggle-collect=*MexcDecoder_c_feed",
                              sys.executable, __file__, "--child", frames_file, str(rounds)],
                             capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1)) / (rounds * N_FRAMES)


def _child(frames_file: str, rounds: int) -> None:
    with open(frames_file, "rb") as fh:
        run, sync = compiled(pickle.load(fh))
    for _ in range(rounds):
        run()
    assert sync.is_valid


def main() -> None:
    ap = argparse.ArgumentParser(description="MexcDecoder.c_feed instructions per frame (callgrind)")
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 20, 100])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    for levels in args.levels:
        print(f"mexc-depth-{levels}: {callgrind_per_frame(levels, args.rounds):,.1f} instructions/frame "
              f"in c_feed ({args.rounds} rounds of {N_FRAMES} frames)", flush=True)


if __name__ == "__main__":
    main()
