"""``feedhandler demo``: the local exchange simulator, real managers and live books, on one machine.

For each supported exchange it starts the simulator in-process (the exchange's
real wire protocol on 127.0.0.1), connects a ``WebSocketManager`` built by the
factory exactly as for the real exchange, keeps books for a few symbols, shows a
live view (top of book, messages per second, latency percentiles) and prints a
summary, including how many books were checked against the simulator's true book.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO

from ..core import ChannelType, WebSocketStrategyFactory
from ..sim import SimExchange
from ..sim.protocol import protocol_names
from .feed import demo_symbols, FeedWatch, build_manager, format_price


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=0.0,
                        help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--exchanges", default="",
                        help="comma-separated exchanges (default: every registered exchange with a simulator)")
    parser.add_argument("--rate", type=float, default=100.0, help="book updates per second per symbol")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated markets")
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds between screen updates")
    parser.add_argument("--no-live", action="store_true", help="no live view, only the summary")


class _Feed:
    def __init__(self, exchange: str, sim: SimExchange, watch: FeedWatch, manager: Any):
        self.exchange, self.sim, self.watch, self.manager = exchange, sim, watch, manager
        self.started = time.monotonic()
        self.last_frames = 0
        self.last_t = self.started
        self.rate = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        frames = self.manager.metrics.frames
        self.rate = (frames - self.last_frames) / max(now - self.last_t, 1e-9)
        self.last_frames, self.last_t = frames, now


def _verifier(sim: SimExchange):
    def verify(ev: Any) -> bool:
        truth = sim.model.true_book(ev.symbol, sim.protocol.book_update_id(ev.symbol, ev.last_update_id))
        book = ev.book.to_dict()
        n_b, n_a = len(book["bids"]), len(book["asks"])
        return ([tuple(x) for x in book["bids"]] == [tuple(x) for x in truth.bids[:n_b]]
                and [tuple(x) for x in book["asks"]] == [tuple(x) for x in truth.asks[:n_a]])
    return verify


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    available = set(WebSocketStrategyFactory.exchanges()) & set(protocol_names())
    wanted = [e.strip() for e in args.exchanges.split(",") if e.strip()] or sorted(available)
    missing = [e for e in wanted if e not in available]
    if missing:
        raise ValueError(f"no simulator or strategies for {', '.join(missing)}; available: {', '.join(sorted(available))}")
    feeds: list[_Feed] = []
    async with contextlib.AsyncExitStack() as stack:
        for i, exchange in enumerate(wanted):
            symbols = demo_symbols(exchange)
            print(f"starting the {exchange} simulator ({', '.join(symbols)}) ...", file=out, flush=True)
            sim = await stack.enter_async_context(
                SimExchange(exchange, symbols, seed=args.seed + i, rate=args.rate))
            watch = FeedWatch(exchange, verify=_verifier(sim))
            manager = build_manager(exchange, [ChannelType.ORDERBOOK, ChannelType.TRADES], watch, watch.on_error,
                                    ws_url=sim.ws_url, rest_url=sim.rest_url, stale_timeout=10.0)
            await stack.enter_async_context(manager)
            manager.message_parser.books.set_profiling(True)
            await manager.initialize(symbols)
            print(f"  connected to {sim.ws_url} ({manager.connection_count} connection)", file=out, flush=True)
            feeds.append(_Feed(exchange, sim, watch, manager))
        live = not args.no_live
        started = time.monotonic()
        try:
            while not args.duration or time.monotonic() - started < args.duration:
                await asyncio.sleep(min(args.refresh, max(0.05, (args.duration or 1e9) - (time.monotonic() - started))))
                for f in feeds:
                    f.tick()
                if live:
                    _render(feeds, out, clear=out.isatty())
        except asyncio.CancelledError:
            pass
        elapsed = time.monotonic() - started
        _summary(feeds, elapsed, out)
        bad = sum(f.watch.mismatches for f in feeds)
    return 1 if bad else 0


def _render(feeds: list[_Feed], out: TextIO, clear: bool) -> None:
    lines = []
    for f in feeds:
        w = f.watch
        lines.append(f"{f.exchange:<8} {f.rate:8.0f} msg/s  receive->handler {w.to_handler.summary()}")
        for symbol, (bid, bq, ask, aq, uid) in sorted(w.tops.items()):
            lines.append(f"  {symbol:<10} bid {format_price(bid):>12} x {format_price(bq):<10} "
                         f"ask {format_price(ask):>12} x {format_price(aq):<10} id {uid}")
    text = "\n".join(lines)
    if clear:
        out.write("\x1b[H\x1b[2J" + text + "\n")
    else:
        out.write(text + "\n")
    out.flush()


def _summary(feeds: list[_Feed], elapsed: float, out: TextIO) -> None:
    print(f"\nsummary after {elapsed:.1f}s", file=out)
    for f in feeds:
        m, w = f.manager.metrics, f.watch
        print(f"{f.exchange}: {m.frames} frames ({m.frames / max(elapsed, 1e-9):.0f}/s), {w.events} events "
              f"({w.book_updates} book updates, {w.trades} trades), {m.parse_errors} parse errors, "
              f"{m.reconnects} reconnects", file=out)
        print(f"  receive -> parsed:  {w.to_parsed.summary()}", file=out)
        print(f"  parsed -> applied:  {w.to_applied.summary()}", file=out)
        print(f"  receive -> handler: {w.to_handler.summary()}", file=out)
        print(f"  books checked against the simulator's true book: {w.verified} equal, {w.mismatches} different",
              file=out)
        if w.errors:
            print(f"  errors: {w.errors} (last: {w.last_error})", file=out)
    out.flush()
