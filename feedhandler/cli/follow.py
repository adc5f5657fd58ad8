"""``feedhandler follow``: books rebuilt from the bus (NATS) or read from shared memory, shown live.

``feedhandler follow --server nats://127.0.0.1:4222 [--exchange binance] [--symbols A,B] [--jetstream]``
follows what ``feedhandler run --config`` publishes; ``--shm NAME`` reads a run's shared-memory table
instead. ``--format json`` prints one JSON line per book update instead of the live view.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from ..core import ConfigurationError
from ..events import BookStatus, BookUpdate
from .feed import format_price, top_of_book


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", action="append", help="NATS URL (repeatable); default nats://127.0.0.1:4222")
    parser.add_argument("--shm", help="read the shared-memory table of this name instead of NATS")
    parser.add_argument("--exchange", help="only this exchange")
    parser.add_argument("--symbols", help="comma-separated: only these symbols")
    parser.add_argument("--jetstream", action="store_true", help="read through JetStream (replays the last snapshot on join)")
    parser.add_argument("--depth", type=int, default=100,
                        help="levels per side the books hold: at least the publisher's sinks.nats depth (default 20)")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between live views")
    parser.add_argument("--format", choices=("live", "json"), default="live", help="a live view (default) or JSON lines")


def _line(symbol: str, valid: bool, book_top: tuple[float, float, float, float], uid: int) -> str:
    bid, bq, ask, aq = book_top
    state = "valid  " if valid else "INVALID"
    return (f"{symbol:<14} {state} bid {format_price(bid)} x {format_price(bq)}  "
            f"ask {format_price(ask)} x {format_price(aq)}  id {uid}")


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols else None
    if args.shm:
        return await _follow_shm(args, symbols, out)
    from ..bus import BookFollower

    status: dict[str, str] = {}

    def handler(ev: Any) -> None:
        if isinstance(ev, BookUpdate) and args.format == "json":
            bid, bq, ask, aq = top_of_book(ev.book)
            out.write(json.dumps({"exchange": ev.exchange, "symbol": ev.symbol, "last_update_id": ev.last_update_id,
                                  "best_bid": bid, "best_bid_qty": bq, "best_ask": ask, "best_ask_qty": aq,
                                  "recv_ns": ev.recv_ns}) + "\n")
        elif isinstance(ev, BookStatus):
            status[ev.symbol] = "" if ev.valid else ev.reason
            if not ev.valid:
                print(f"{ev.symbol}: book invalid: {ev.reason}", file=sys.stderr, flush=True)

    follower = BookFollower(args.server or ["nats://127.0.0.1:4222"], handler, exchange=args.exchange,
                            symbols=symbols, depth=args.depth, jetstream=args.jetstream)
    try:
        await follower.start()
    except Exception as exc:
        raise ConfigurationError(f"cannot follow the bus at {', '.join(follower.servers)}: {exc}") from None
    started = time.monotonic()
    try:
        while not args.duration or time.monotonic() - started < args.duration:
            await asyncio.sleep(min(args.interval, args.duration or args.interval))
            if args.format == "live":
                lines = [_line(f"{st.exchange}:{st.symbol}", st.valid, top_of_book(st.book), st.book.last_update_id)
                         for st in sorted(follower.streams(), key=lambda s: (s.exchange, s.symbol)) if st.book is not None]
                out.write("\n".join(lines or ["(nothing on the bus yet)"]) +
                          f"\n{follower.messages} messages, {follower.decoder.gaps} gaps\n")
            out.flush()
    finally:
        await follower.close()
    return 0


async def _follow_shm(args: argparse.Namespace, symbols: list[str] | None, out: TextIO) -> int:
    from ..shm import ShmReader

    try:
        reader = ShmReader(args.shm)
    except FileNotFoundError:
        raise ConfigurationError(f"no shared-memory table named {args.shm!r} (is `feedhandler run --config` running?)") from None
    started = time.monotonic()
    try:
        while not args.duration or time.monotonic() - started < args.duration:
            await asyncio.sleep(min(args.interval, args.duration or args.interval))
            lines = []
            for key in sorted(reader.table.slots):
                exchange, symbol = key.split(":", 1)
                if (symbols and symbol not in symbols) or (args.exchange and exchange != args.exchange):
                    continue
                b = reader.read_book(symbol, exchange)
                nan = float("nan")
                top = (b["bids"][0][0] if len(b["bids"]) else nan, b["bids"][0][1] if len(b["bids"]) else nan,
                       b["asks"][0][0] if len(b["asks"]) else nan, b["asks"][0][1] if len(b["asks"]) else nan)
                if args.format == "json":
                    out.write(json.dumps({"exchange": exchange, "symbol": symbol, "valid": b["valid"],
                                          "last_update_id": b["last_update_id"], "best_bid": top[0],
                                          "best_ask": top[2]}) + "\n")
                else:
                    lines.append(_line(key, b["valid"], top, b["last_update_id"]))
            if lines:
                out.write("\n".join(lines) + "\n")
            out.flush()
    finally:
        reader.close()
    return 0
