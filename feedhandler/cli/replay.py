"""``feedhandler replay``: a recording through parser + sync + books, as fast as possible or at recorded speed."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from ..core import WebSocketStrategyFactory
from ..recording import KIND_SNAPSHOT, read_recording
from .feed import FeedWatch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a recording made by `feedhandler record`")
    parser.add_argument("--speed", choices=("max", "recorded"), default="max",
                        help="as fast as possible (default) or with the recorded gaps between frames")
    parser.add_argument("--books-out", help="write the final books (JSON) to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress")


def replay_into(parser: Any, records: Any, *, speed: str = "max", progress: Any = None) -> dict[str, int]:
    """Feed recorded frames and snapshots to ``parser`` (with books); returns counters."""
    books = parser.books
    books.request_snapshot = None  # snapshots come from the recording, at the moment they arrived
    counts = {"frames": 0, "snapshots": 0, "parse_errors": 0}
    first_ns = start = None
    for rec in records:
        if speed == "recorded":
            if first_ns is None:
                first_ns, start = rec.recv_ns, time.monotonic_ns()
            wait = (rec.recv_ns - first_ns) - (time.monotonic_ns() - start)
            if wait > 0:
                time.sleep(wait / 1e9)
        if rec.kind == KIND_SNAPSHOT:
            snap = rec.snapshot()
            sync = books.get(snap["symbol"])
            if not sync.is_valid:
                sync.load_snapshot(snap["last_update_id"], snap["bids"], snap["asks"], rec.recv_ns)
            counts["snapshots"] += 1
            continue
        counts["frames"] += 1
        try:
            parser.feed(rec.payload, rec.recv_ns)
        except ValueError:
            counts["parse_errors"] += 1
        if progress is not None and counts["frames"] % 10000 == 0:
            progress(counts)
    return counts


def books_json(parser: Any) -> dict[str, Any]:
    out = {}
    for symbol in parser.books.symbols():
        sync = parser.books[symbol]
        d = sync.book.to_dict()
        out[symbol] = {"valid": sync.is_valid, "last_update_id": d["last_update_id"],
                       "bids": [list(x) for x in d["bids"]], "asks": [list(x) for x in d["asks"]]}
    return out


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    header, records = read_recording(args.file)
    exchange = header.get("exchange")
    if not exchange:
        raise ValueError(f"{args.file}: the header names no exchange")
    _, _, parser = WebSocketStrategyFactory.create_strategies(exchange, False)
    watch = FeedWatch(exchange)
    parser.bind(watch, watch.on_error)

    def progress(c: dict[str, int]) -> None:
        if not args.quiet:
            print(f"\r{c['frames']} frames ...", end="", file=sys.stderr, flush=True)

    started = time.perf_counter()
    counts = replay_into(parser, records, speed=args.speed, progress=progress)
    elapsed = time.perf_counter() - started
    await parser.close()
    if not args.quiet:
        print("\r", end="", file=sys.stderr)
    rate = counts["frames"] / elapsed if elapsed > 0 else 0.0
    print(f"replayed {counts['frames']} frames and {counts['snapshots']} snapshots of {exchange} in {elapsed:.3f}s "
          f"({rate:,.0f} frames/s): {watch.events} events, {counts['parse_errors']} parse errors", file=out)
    for symbol, (bid, bq, ask, aq, uid) in sorted(watch.tops.items()):
        print(f"  {symbol}: bid {bid:.10g} x {bq:.10g}  ask {ask:.10g} x {aq:.10g}  update {uid}", file=out)
    if args.books_out:
        with open(args.books_out, "w") as f:
            json.dump(books_json(parser), f)
    return 0
