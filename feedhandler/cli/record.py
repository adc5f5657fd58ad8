"""``feedhandler record``: raw frames (text and binary) with ``recv_ns`` and their connection, plus snapshots.

``--sim`` records from the built-in simulator instead of the real exchange. ``--out X.fhrec.zst`` or a folder
(or ``--compress``) writes zstd-compressed segments rotated by ``--rotate-mb`` / ``--rotate-minutes``, flushed
at least every second (:mod:`feedhandler.recording.compressed`); each new segment starts with the live books as
snapshots, so it replays on its own. ``--duration 0`` records until interrupted.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any, TextIO

from ..recording import RecordingTransport, RecordingWriter, RotatingRecordingWriter
from ..transport import create_transport
from .feed import FeedWatch, add_source_arguments, build_manager, open_source, parse_channels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", required=True, help="a registered exchange name")
    parser.add_argument("--symbols", help="comma-separated (default with --sim: the demo symbols)")
    parser.add_argument("--channels", default="orderbook,trades", help="comma-separated channel types")
    parser.add_argument("--out", required=True, help="recording file to write")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to record (default 10; 0: until ^C)")
    parser.add_argument("--compress", action="store_true",
                        help="zstd segments (implied by --out *.zst or a folder)")
    parser.add_argument("--rotate-mb", type=float, default=256.0, help="compressed: new segment after this many MB")
    parser.add_argument("--rotate-minutes", type=float, default=60.0, help="compressed: new segment after this long")
    parser.add_argument("--flush-interval", type=float, default=1.0,
                        help="compressed: longest time a frame stays in memory (seconds, default 1)")
    add_source_arguments(parser)
    parser.add_argument("--books-out", help="write the live books at the end (JSON), to compare with a replay")


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stderr
    channels = parse_channels(args.channels)
    async with contextlib.AsyncExitStack() as stack:
        symbols, ws_url, rest_url = await open_source(stack, args)
        header = {"exchange": args.exchange, "symbols": symbols, "channels": [c.value for c in channels],
                  "started_unix_ns": time.time_ns(), "source": "sim" if args.sim else (ws_url or "exchange")}
        writer = stack.enter_context(_open_writer(args, header))
        watch = FeedWatch(args.exchange)
        manager = build_manager(args.exchange, channels, watch, watch.on_error, ws_url=ws_url, rest_url=rest_url)
        recorder = RecordingTransport(create_transport(manager.config.transport), writer)
        manager.transport = recorder
        _record_snapshots(manager.message_parser, writer)
        if isinstance(writer, RotatingRecordingWriter):
            writer.on_rotate = lambda w: _write_live_books(manager.message_parser, w)
        await stack.enter_async_context(manager)
        print(f"recording {args.exchange} {', '.join(symbols)} to {args.out} for {args.duration:g}s ...",
              file=out, flush=True)
        await manager.initialize(symbols)
        await _wait(args.duration, writer)
        # the books and the end of the recording are taken in one step, with no frame between them
        recorder.stop()
        if args.books_out:
            from .replay import books_json

            with open(args.books_out, "w") as f:
                json.dump(books_json(manager.message_parser), f)
    where = args.out if isinstance(writer, RecordingWriter) else f"{len(writer.segments)} segment(s) in {writer.folder}"
    print(f"recorded {writer.frames} frames ({writer.bytes} bytes) and {writer.snapshots} snapshots to {where}",
          file=out, flush=True)
    return 0


def _record_snapshots(parser: Any, writer: RecordingWriter) -> None:
    """Wrap the parser's snapshot fetcher so each snapshot it loads is also written, at its arrival time."""
    service = getattr(parser, "snapshots", None)
    if service is None:
        return
    fetch = service.fetch

    async def fetch_and_record(symbol: str) -> Any:
        update_id, bids, asks = await fetch(symbol)
        writer.snapshot(symbol, update_id, bids, asks, time.monotonic_ns())
        return update_id, bids, asks

    service.fetch = fetch_and_record


def _open_writer(args: argparse.Namespace, header: dict[str, Any]) -> RecordingWriter | RotatingRecordingWriter:
    out = str(args.out)
    # getattr: callers that build the Namespace themselves (tests, the migration tools) may predate these options
    if getattr(args, "compress", False) or out.endswith(".zst") or out.endswith("/") or os.path.isdir(out):
        return RotatingRecordingWriter(out, header, max_bytes=int(getattr(args, "rotate_mb", 256.0) * (1 << 20)),
                                       max_seconds=getattr(args, "rotate_minutes", 60.0) * 60.0,
                                       flush_interval=getattr(args, "flush_interval", 1.0))
    return RecordingWriter(out, header)


async def _wait(duration: float, writer: Any) -> None:
    """Sleep ``duration`` (forever if 0), ticking a rotating writer so it flushes and rotates on time."""
    tick = getattr(writer, "tick", None)
    deadline = time.monotonic() + duration if duration > 0 else float("inf")
    step = min(0.25, getattr(writer, "flush_interval", 1.0) / 4) if tick else 3600.0
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(step, left))
        if tick is not None:
            tick()


def _write_live_books(parser: Any, writer: Any) -> None:
    """Each valid book as a snapshot record at the start of a new segment (so the segment replays alone)."""
    books = getattr(parser, "books", None)
    if books is None:
        return
    now = time.monotonic_ns()
    for symbol in books.symbols():
        sync = books[symbol]
        if sync.is_valid:
            d = sync.book.to_dict()
            writer.snapshot(symbol, d["last_update_id"], d["bids"], d["asks"], now)
