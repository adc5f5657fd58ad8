"""``feedhandler profile``: per-stage latency of the hot path, as percentiles and (optionally) a PNG plot.

Stages, in monotonic ns: receive -> parsed (the transport handed the frame
over -> the decoder has the delta in its scratch arrays), parsed -> applied
(sequence check and book update), receive -> handler (for every event), and
the handler's own time. Sources: the built-in simulator (default), a
recording (frames re-stamped as they are fed, as if they arrived now) or a
live feed (``--url``/the exchange).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO

from ..core import ChannelType
from ..profiling import LatencyHistogram
from ..recording import KIND_SENT, KIND_SNAPSHOT, Record, load_recorded_snapshot, open_recording
from ..sim import SimExchange
from .feed import demo_symbols, FeedWatch, build_manager, parse_channels, parse_symbols

QUANTILES = (50.0, 90.0, 99.0, 99.9)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", default="binance", help="a registered exchange (default binance)")
    parser.add_argument("--recording", help="profile a recording instead of the simulator")
    parser.add_argument("--live", action="store_true", help="profile the real exchange (or --url)")
    parser.add_argument("--url", help="with --live: WebSocket URL to use")
    parser.add_argument("--symbols", help="comma-separated (default: the demo symbols)")
    parser.add_argument("--channels", default="orderbook,trades", help="comma-separated channel types")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds to measure (simulator/live)")
    parser.add_argument("--rate", type=float, default=500.0, help="simulator: updates per second per symbol")
    parser.add_argument("--plot", help="write a PNG of the latency distributions (needs matplotlib)")


def stages(watch: FeedWatch) -> dict[str, LatencyHistogram]:
    return {
        "receive -> parsed": watch.to_parsed,
        "parsed -> applied": watch.to_applied,
        "receive -> handler": watch.to_handler,
        "handler": watch.handler_time,
    }


def report(watch: FeedWatch, out: TextIO) -> None:
    print(f"{'stage':<20}{'count':>9}" + "".join(f"{'p' + format(q, 'g'):>10}" for q in QUANTILES)
          + f"{'max':>10}   (us)", file=out)
    for name, h in stages(watch).items():
        p = h.percentiles(QUANTILES)
        print(f"{name:<20}{h.count:>9}" + "".join(f"{p[q] / 1e3:>10.2f}" for q in QUANTILES)
              + f"{h.max / 1e3:>10.2f}", file=out)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'feedhandler[plot]'") from None
    return plt


def draw_latency(ax: Any, watch: FeedWatch, title: str) -> None:
    """The per-stage latency distributions on ``ax`` (shared by ``profile --plot`` and ``plot``)."""
    for name, h in stages(watch).items():
        if h.count == 0:
            continue
        edges, counts = h.buckets()
        ax.step(edges / 1e3, counts / h.count, where="post", label=f"{name} (p99 {h.percentile(99) / 1e3:.1f} us)")
    ax.set_xscale("log")
    ax.set_xlabel("latency (us, log scale)")
    ax.set_ylabel("fraction of samples")
    ax.set_title(title)
    ax.legend()


def plot(watch: FeedWatch, path: str, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    draw_latency(ax, watch, title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    watch = FeedWatch(args.exchange)
    if args.recording:
        source = f"recording {args.recording}"
        _profile_recording(args.recording, watch)
    else:
        source = await _profile_feed(args, watch, out)
    print(f"{args.exchange} hot-path latency, {source}:", file=out)
    report(watch, out)
    if args.plot:
        plot(watch, args.plot, f"feedhandler {args.exchange}: {source}")
        print(f"plot written to {args.plot}", file=out)
    return 0


async def _profile_feed(args: argparse.Namespace, watch: FeedWatch, out: TextIO) -> str:
    channels = parse_channels(args.channels)
    symbols = parse_symbols(args.symbols) or demo_symbols(args.exchange)
    async with contextlib.AsyncExitStack() as stack:
        ws_url = rest_url = None
        source = f"live {args.url or args.exchange}"
        if not args.live:
            sim = await stack.enter_async_context(SimExchange(args.exchange, symbols, seed=1, rate=args.rate))
            ws_url, rest_url = sim.ws_url, sim.rest_url
            source = f"simulator at {args.rate:g} updates/s per symbol, {len(symbols)} symbols"
        elif args.url:
            ws_url = args.url
        manager = build_manager(args.exchange, channels, watch, watch.on_error, ws_url=ws_url, rest_url=rest_url)
        await stack.enter_async_context(manager)
        manager.message_parser.books.set_profiling(True)
        await manager.initialize(symbols)
        print(f"measuring for {args.duration:g}s ...", file=sys.stderr, flush=True)
        await asyncio.sleep(args.duration)
    return source


def _profile_recording(path: str, watch: FeedWatch) -> None:
    recording = open_recording(path)  # any format replay reads
    profile_records(recording.create_parser(), recording.records(), watch, recording.snapshot_symbol_hint())


def profile_records(parser: Any, records: Any, watch: FeedWatch, hint: str | None = None) -> None:
    """Feed ``records`` with profiling on, each frame stamped as if it arrived now."""
    parser.bind(watch, watch.on_error)
    parser.books.request_snapshot = None
    parser.books.set_profiling(True)
    now = time.monotonic_ns
    for rec in records:
        if rec.kind == KIND_SNAPSHOT:
            load_recorded_snapshot(parser.books, Record(now(), 0, KIND_SNAPSHOT, rec.payload), hint)
            continue
        if rec.kind == KIND_SENT:
            continue
        try:
            parser.feed(rec.payload, now())  # as if the frame arrived now
        except ValueError:
            pass
