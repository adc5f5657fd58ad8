"""``feedhandler compare``: run two implementations on the same frames and report the first divergence.

Offline, on a recording made by ``feedhandler record`` (``--sim`` or live)::

    feedhandler compare rec.fhrec                    # new strategies vs the legacy client
    feedhandler compare rec.fhrec --depth 0          # compare whole books, not the top 10

Live, both implementations fed from one connection (to the simulator, or the exchange / ``--url``)::

    feedhandler compare --live --sim --exchange mexc --duration 5

``primary`` is the new parser from the strategy factory; ``shadow`` is the exchange's legacy client
(``--shadow legacy``, default) or a second new parser (``--shadow new``, a self-check). Exit status:
0 identical, 2 diverged.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any, TextIO

from ..core import ChannelType, ConfigurationError, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from ..migration.parallel import EventComparator, ParallelParser, compare_recording
from .feed import add_source_arguments, open_source, parse_channels


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="a recording made by `feedhandler record` (offline comparison)")
    parser.add_argument("--live", action="store_true", help="compare on a live feed instead of a recording")
    parser.add_argument("--exchange", help="with --live: the exchange (a recording names its own)")
    parser.add_argument("--symbols", help="with --live: comma-separated symbols")
    parser.add_argument("--channels", default="orderbook,trades,book_ticker", help="with --live: channel types")
    parser.add_argument("--duration", type=float, default=5.0, help="with --live: seconds (default 5)")
    add_source_arguments(parser, when="with --live: ")
    parser.add_argument("--shadow", choices=("legacy", "new"), default="legacy",
                        help="what to compare the new parser with (default: the legacy client)")
    parser.add_argument("--depth", type=int, default=10, help="book levels per side to compare (0 = whole book)")
    parser.add_argument("--speed", default="10ms", help="MEXC/Gate.io stream speed for both sides")


def build_pair(exchange: str, shadow: str, config: WebSocketManagerConfig, *, ws_url: str | None = None,
               rest_url: str | None = None, speed: str | None = None) -> tuple[Any, Any, Any, Any]:
    """``(connection, subscription, primary parser, shadow parser)`` for ``exchange``."""
    options: dict[str, Any] = {k: v for k, v in (("ws_url", ws_url), ("rest_url", rest_url)) if v}
    if speed and exchange == "mexc":
        options["speed"] = speed
    conn, sub, primary = WebSocketStrategyFactory.create_strategies(exchange, config.is_private, **options)
    if shadow == "new":
        _, _, other = WebSocketStrategyFactory.create_strategies(exchange, config.is_private, **options)
        return conn, sub, primary, other
    from ..legacy.base import LegacyMessageParser
    from ..migration.flags import LEGACY_CLIENTS

    make = LEGACY_CLIENTS.get((exchange, config.is_private))
    if make is None:
        raise ConfigurationError(f"no legacy client for {exchange}; use --shadow new")
    client = make(config, **options)
    return conn, sub, primary, LegacyMessageParser(client)


async def _close_shadow(parser: Any) -> None:
    client = getattr(parser, "client", None)
    if client is not None:
        await client._close_client()
    with contextlib.suppress(Exception):
        await parser.close()


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.live:
        cmp = await _run_live(args)
    else:
        if not args.file:
            raise ConfigurationError("give a recording file, or --live")
        from ..recording import read_recording

        header, _ = read_recording(args.file)
        exchange = args.exchange or header.get("exchange")
        if not exchange:
            raise ConfigurationError(f"{args.file}: the header names no exchange; pass --exchange")
        channels = [ChannelType.parse(c) for c in header.get("channels", ["orderbook"])]
        config = WebSocketManagerConfig(exchange, channel_types=channels)
        _, _, primary, shadow = build_pair(exchange, args.shadow, config, speed=args.speed)
        try:
            cmp = compare_recording(args.file, primary, shadow, depth=args.depth)
        finally:
            await primary.close()
            await _close_shadow(shadow)
    print(cmp.summary(), file=out)
    return 0 if cmp.divergence is None else 2


async def _run_live(args: argparse.Namespace) -> EventComparator:
    if not args.exchange:
        raise ConfigurationError("--live needs --exchange")
    channels = parse_channels(args.channels)
    async with contextlib.AsyncExitStack() as stack:
        symbols, ws_url, rest_url = await open_source(stack, args)
        config = WebSocketManagerConfig(args.exchange, channel_types=channels, initialize_timeout=15.0)
        conn, sub, primary, shadow = build_pair(args.exchange, args.shadow, config, ws_url=ws_url,
                                                rest_url=rest_url, speed=args.speed)
        par = ParallelParser(primary, shadow, depth=args.depth)
        stack.push_async_callback(_close_shadow, shadow)
        manager = WebSocketManager(config, conn, sub, par, message_handler=None, error_handler=lambda e: None)
        await stack.enter_async_context(manager)
        await manager.initialize(symbols)
        await asyncio.sleep(args.duration)
        return par.comparator
    raise AssertionError("unreachable")
