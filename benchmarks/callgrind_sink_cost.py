"""The sinks' cost to the feed in instructions (callgrind), stable on a loaded machine.

    python benchmarks/callgrind_sink_cost.py [--frames N]

For each stream of ``bench_bus.py`` (the real BTCUSDT recording, the book-only depth stream) it runs
the replay of N frames under ``valgrind --tool=callgrind`` twice, counting only inside the decoder's
``feed`` (decode, sync, book, dispatch, handler) and the encoder's ``take`` (start-up, imports and the
replay loop are not counted): with a no-op Python handler (the feed alone), and through
``SinkTap([BusEncoder])`` (batches taken every 256 frames, as ``NatsSink`` does; no network). The
encoder's cost is the ratio of the two counts, minus 1. Kernel work (the socket writes of
``NatsSink``) is not counted by callgrind: ``bench_bus.py``'s paired CPU-time cases include it.
"""
from __future__ import annotations

import argparse
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(items_file: str, mode: str) -> None:
    sys.path.insert(0, str(HERE))
    import bench_bus as bb
    from feedhandler.sinks.encoder import BusEncoder, SinkTap

    with open(items_file, "rb") as fh:
        items = pickle.load(fh)
    if mode == "feed":
        bb.replay(items, bb._noop)
    else:
        enc = BusEncoder("binance", depth=20)
        bb.replay(items, SinkTap([enc]), enc.take)


def instructions(items_file: str, mode: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
                              "--collect-atstart=no", "--toggle-collect=*FrameDecoder_5feed",
                              "--toggle-collect=*BusEncoder_*take", sys.executable,
                              __file__, "--child", items_file, mode],
                             capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(HERE))
    import bench_bus as bb

    for stream in ("recording", "depth"):
        items = (bb._load_recording() if stream == "recording" else bb._depth_stream())[:args.frames]
        with tempfile.NamedTemporaryFile(suffix=".pickle") as fh:   # built once, outside valgrind
            pickle.dump(items, fh)
            fh.flush()
            feed = instructions(fh.name, "feed")
            enc = instructions(fh.name, "encoder")
        print(f"{stream}: {args.frames} frames, feed alone {feed / args.frames:,.0f} instructions/frame, "
              f"with the encoder {enc / args.frames:,.0f}: +{(enc / feed - 1) * 100:.1f}%", flush=True)


if __name__ == "__main__":
    main()
