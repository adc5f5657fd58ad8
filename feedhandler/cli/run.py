"""``feedhandler run``: a real exchange (or any endpoint with ``--url``), events as JSON lines or a live view;
or, with ``--config FILE [--workers N]``, a sharded multi-process run publishing into the configured sinks
(``feedhandler.workers``).

Credentials for private channels come from ``<EXCHANGE>_API_KEY`` and
``<EXCHANGE>_API_SECRET`` in the environment, never from the command line.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from ..core import ConfigurationError, SubscriptionError
from ..events import BookStatus, BookUpdate
from .feed import FeedWatch, build_manager, parse_channels, parse_symbols, top_of_book


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="a TOML run configuration (feeds, sinks): a sharded multi-process run")
    parser.add_argument("--workers", type=int, help="worker processes for --config (default: the file's run.workers)")
    parser.add_argument("--exchange", help="a registered exchange name (without --config)")
    parser.add_argument("--symbols", help="comma-separated, in the exchange's spelling (without --config)")
    parser.add_argument("--channels", default="orderbook,trades",
                        help="comma-separated: orderbook, trades, book_ticker, kline, ticker (private: orders, fills, balances)")
    parser.add_argument("--url", help="WebSocket URL to use instead of the exchange's")
    parser.add_argument("--rest-url", help="REST base URL to use instead of the exchange's")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--format", choices=("json", "live"), default="json", help="JSON lines (default) or a live view")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to get connected")


def event_json(ev: Any) -> str:
    """One JSON line for an event; a book update shows the top of book instead of the whole book."""
    d = ev.to_dict() if hasattr(ev, "to_dict") else dict(ev)
    d["type"] = type(ev).__name__
    if isinstance(ev, BookUpdate):
        d.pop("book", None)
        bid, bq, ask, aq = top_of_book(ev.book)
        d.update(best_bid=bid, best_bid_qty=bq, best_ask=ask, best_ask_qty=aq)
    return json.dumps(d, default=str, allow_nan=True)


def run(args: argparse.Namespace, out: TextIO | None = None) -> Any:
    if args.config:
        return run_config(args, out)
    if not args.exchange or not args.symbols:
        raise ConfigurationError("give --exchange and --symbols, or --config FILE")
    return run_single(args, out)


def run_config(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The sharded run: workers supervised until --duration (or Ctrl-C, or every replay finished)."""
    from ..workers import Supervisor, load_config

    config = load_config(args.config)
    workers = args.workers or config.workers
    if workers < 1:
        raise ConfigurationError(f"--workers must be >= 1, got {workers}")
    supervisor = Supervisor(config, workers, out=out or sys.stderr)
    summary = supervisor.run(args.duration)
    elapsed = summary["elapsed"]
    print(f"{summary['workers']} workers, {summary['frames']:,} frames in {elapsed:.2f}s "
          f"({summary['frames'] / elapsed if elapsed > 0 else 0:,.0f} frames/s), {summary['restarts']} restarts",
          file=out or sys.stdout, flush=True)
    return 0


async def run_single(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    symbols = parse_symbols(args.symbols)
    if not symbols:
        raise ConfigurationError("--symbols is empty")
    channels = parse_channels(args.channels)
    watch = FeedWatch(args.exchange)

    def handler(ev: Any) -> None:
        watch(ev)
        if args.format == "json":
            out.write(event_json(ev) + "\n")
        elif isinstance(ev, BookStatus) and not ev.valid:
            out.write(f"{ev.symbol}: book invalid: {ev.reason}\n")

    manager = build_manager(args.exchange, channels, handler, watch.on_error, ws_url=args.url,
                            rest_url=args.rest_url, initialize_timeout=args.connect_timeout)
    started = time.monotonic()
    async with manager:
        print(f"connecting to {args.exchange} ...", file=sys.stderr, flush=True)
        await manager.initialize(symbols)
        print(f"connected: {', '.join(symbols)} ({', '.join(c.value for c in channels)})", file=sys.stderr, flush=True)
        while not args.duration or time.monotonic() - started < args.duration:
            await asyncio.sleep(0.25 if args.duration else 1.0)
            if watch.fatal:
                raise SubscriptionError(f"{watch.fatal[0]} (is the symbol right for {args.exchange}?)")
            if args.format == "live":
                lines = [f"{s:<12} bid {b:.8g} x {bq:.8g}  ask {a:.8g} x {aq:.8g}  id {uid}"
                         for s, (b, bq, a, aq, uid) in sorted(watch.tops.items())]
                out.write("\n".join(lines) + f"\n{manager.metrics.frames} frames\n")
            out.flush()
    out.flush()
    return 0
