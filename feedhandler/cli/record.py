"""``feedhandler record``: raw frames (text and binary) with ``recv_ns`` and their connection, plus snapshots.

``--sim`` records from the built-in simulator instead of the real exchange.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any, TextIO

from ..recording import RecordingTransport, RecordingWriter
from ..sim import SimExchange
from ..transport import create_transport
from .feed import demo_symbols, FeedWatch, build_manager, parse_channels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", required=True, help="a registered exchange name")
    parser.add_argument("--symbols", help="comma-separated (default with --sim: the demo symbols)")
    parser.add_argument("--channels", default="orderbook,trades", help="comma-separated channel types")
    parser.add_argument("--out", required=True, help="recording file to write")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to record (default 10)")
    parser.add_argument("--url", help="WebSocket URL to use instead of the exchange's")
    parser.add_argument("--rest-url", help="REST base URL to use instead of the exchange's")
    parser.add_argument("--sim", action="store_true", help="record from the built-in simulator")
    parser.add_argument("--rate", type=float, default=50.0, help="with --sim: updates per second per symbol")
    parser.add_argument("--seed", type=int, default=1, help="with --sim: market seed")
    parser.add_argument("--books-out", help="write the live books at the end (JSON), to compare with a replay")


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stderr
    channels = parse_channels(args.channels)
    symbols = [s.strip() for s in (args.symbols or "").split(",") if s.strip()]
    async with contextlib.AsyncExitStack() as stack:
        ws_url, rest_url = args.url, args.rest_url
        if args.sim:
            symbols = symbols or demo_symbols(args.exchange)
            sim = await stack.enter_async_context(SimExchange(args.exchange, symbols, seed=args.seed, rate=args.rate))
            ws_url, rest_url = sim.ws_url, sim.rest_url
        if not symbols:
            raise ValueError("--symbols is required (unless --sim)")
        header = {"exchange": args.exchange, "symbols": symbols, "channels": [c.value for c in channels],
                  "started_unix_ns": time.time_ns(), "source": "sim" if args.sim else (ws_url or "exchange")}
        writer = stack.enter_context(RecordingWriter(args.out, header))
        watch = FeedWatch(args.exchange)
        manager = build_manager(args.exchange, channels, watch, watch.on_error, ws_url=ws_url, rest_url=rest_url)
        manager.transport = RecordingTransport(create_transport(manager.config.transport), writer)
        _record_snapshots(manager.message_parser, writer)
        await stack.enter_async_context(manager)
        print(f"recording {args.exchange} {', '.join(symbols)} to {args.out} for {args.duration:g}s ...",
              file=out, flush=True)
        await manager.initialize(symbols)
        await asyncio.sleep(args.duration)
        if args.books_out:
            from .replay import books_json

            with open(args.books_out, "w") as f:
                json.dump(books_json(manager.message_parser), f)
    print(f"recorded {writer.frames} frames ({writer.bytes} bytes) and {writer.snapshots} snapshots to {args.out}",
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
