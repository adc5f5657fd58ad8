"""What the ``demo``, ``run``, ``record`` and ``profile`` commands share: building a feed and watching it."""
from __future__ import annotations

import argparse
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..core import registry
from ..core import (
    ChannelType, ConfigurationError, FeedError, SubscriptionError, WebSocketManager, WebSocketManagerConfig,
    WebSocketStrategyFactory,
)
from ..events import BookStatus, BookUpdate, Trade
from ..profiling import LatencyHistogram

# Each exchange declares the symbols the tools follow by default in its own package (register_exchange).
demo_symbols = registry.demo_symbols


def credentials_from_env(exchange: str) -> tuple[str | None, str | None]:
    """API key and secret from ``<EXCHANGE>_API_KEY``/``<EXCHANGE>_API_SECRET`` (never from the command line)."""
    prefix = exchange.upper()
    return os.environ.get(f"{prefix}_API_KEY"), os.environ.get(f"{prefix}_API_SECRET")


def parse_channels(text: str | Sequence[str]) -> list[ChannelType]:
    """``"orderbook,trades"`` -> channel types; a clear error names the accepted ones."""
    names = text.split(",") if isinstance(text, str) else list(text)
    try:
        return [ChannelType.parse(n.strip()) for n in names if n.strip()]
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def parse_symbols(text: str | None) -> list[str]:
    """``"BTCUSDT, ETHUSDT"`` -> ``["BTCUSDT", "ETHUSDT"]`` (empty entries dropped; None -> [])."""
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def add_source_arguments(parser: argparse.ArgumentParser, *, when: str = "") -> None:
    """``--url``, ``--rest-url``, ``--sim``, ``--rate`` and ``--seed``: where the feed comes from (see
    :func:`open_source`); ``when`` prefixes the URL helps (``"with --live: "``)."""
    parser.add_argument("--url", help=f"{when}WebSocket URL to use instead of the exchange's")
    parser.add_argument("--rest-url", help=f"{when}REST base URL to use instead of the exchange's")
    parser.add_argument("--sim", action="store_true", help=f"{when}use the built-in simulator")
    parser.add_argument("--rate", type=float, default=50.0, help="with --sim: updates per second per symbol")
    parser.add_argument("--seed", type=int, default=1, help="with --sim: market seed")


async def open_source(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> tuple[list[str], str | None, str | None]:
    """``(symbols, ws_url, rest_url)`` of the arguments of :func:`add_source_arguments` and ``--symbols``.

    With ``--sim`` a simulator of ``args.exchange`` is started on ``stack`` (the exchange's demo symbols
    unless ``--symbols``); otherwise ``--symbols`` is required (ConfigurationError).
    """
    symbols = parse_symbols(args.symbols)
    ws_url, rest_url = args.url, args.rest_url
    if args.sim:
        from ..sim import SimExchange

        symbols = symbols or demo_symbols(args.exchange)
        sim = await stack.enter_async_context(SimExchange(args.exchange, symbols, seed=args.seed, rate=args.rate))
        ws_url, rest_url = sim.ws_url, sim.rest_url
    if not symbols:
        raise ConfigurationError("--symbols is required (unless --sim)")
    return symbols, ws_url, rest_url


def build_manager(
    exchange: str,
    channels: Sequence[ChannelType],
    handler: Callable[[Any], Any],
    error_handler: Callable[[BaseException], Any],
    *,
    ws_url: str | None = None,
    rest_url: str | None = None,
    **config: Any,
) -> WebSocketManager:
    """A manager for ``exchange`` built through the factory, private when a private channel is asked for."""
    is_private = any(c.is_private for c in channels)
    if is_private and any(not c.is_private for c in channels):
        raise ConfigurationError("public and private channels need separate feeds; run them as two commands")
    api_key = secret_key = None
    if is_private:
        api_key, secret_key = credentials_from_env(exchange)
        if not api_key or not secret_key:
            raise ConfigurationError(
                f"private channels need credentials: set {exchange.upper()}_API_KEY and {exchange.upper()}_API_SECRET"
            )
    options: dict[str, Any] = {}
    if ws_url:
        options["ws_url"] = ws_url
    if rest_url:
        options["rest_url"] = rest_url
    if api_key:
        options.update(api_key=api_key, secret_key=secret_key)
    conn, sub, parser = WebSocketStrategyFactory.create_strategies(exchange, is_private, **options)
    cfg = WebSocketManagerConfig(exchange, is_private=is_private, channel_types=list(channels),
                                 api_key=api_key, secret_key=secret_key, **config)
    return WebSocketManager(cfg, conn, sub, parser, message_handler=handler, error_handler=error_handler)


def top_of_book(book: Any) -> tuple[float, float, float, float]:
    """(bid, bid size, ask, ask size); NaN for an empty side."""
    bid = book.best_bid or (float("nan"), float("nan"))
    ask = book.best_ask or (float("nan"), float("nan"))
    return bid[0], bid[1], ask[0], ask[1]


@dataclass
class FeedWatch:
    """The demo's and profiler's handler: counts, latency per stage, top of book, errors.

    Stages (monotonic ns): receive -> parsed and parsed -> applied from the
    profiling stamps of book updates; receive -> handler for every event.
    """

    exchange: str
    verify: Callable[[Any], bool] | None = None
    verify_every: int = 25
    events: int = 0
    book_updates: int = 0
    trades: int = 0
    verified: int = 0
    mismatches: int = 0
    invalidations: int = 0
    fatal: list[BaseException] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    last_error: str = ""
    tops: dict[str, tuple[float, float, float, float, int]] = field(default_factory=dict)
    last_trade: dict[str, tuple[float, float]] = field(default_factory=dict)
    to_handler: LatencyHistogram = field(default_factory=LatencyHistogram)
    to_parsed: LatencyHistogram = field(default_factory=LatencyHistogram)
    to_applied: LatencyHistogram = field(default_factory=LatencyHistogram)
    handler_time: LatencyHistogram = field(default_factory=LatencyHistogram)

    def __call__(self, ev: Any) -> None:
        now = time.monotonic_ns()
        self.events += 1
        if ev.recv_ns:
            self.to_handler.record(now - ev.recv_ns)
        if isinstance(ev, BookUpdate):
            self.book_updates += 1
            if ev.parsed_ns:
                self.to_parsed.record(ev.parsed_ns - ev.recv_ns)
                self.to_applied.record(ev.applied_ns - ev.parsed_ns)
            book = ev.book
            self.tops[ev.symbol] = (*top_of_book(book), ev.last_update_id)
            if self.verify is not None and self.book_updates % self.verify_every == 0:
                if self.verify(ev):
                    self.verified += 1
                else:
                    self.mismatches += 1
        elif isinstance(ev, Trade):
            self.trades += 1
            self.last_trade[ev.symbol] = (ev.price, ev.qty)
        elif isinstance(ev, BookStatus) and not ev.valid:
            self.invalidations += 1
        self.handler_time.record(time.monotonic_ns() - now)

    def on_error(self, error: BaseException) -> None:
        name = type(error).__name__
        self.errors[name] = self.errors.get(name, 0) + 1
        self.last_error = f"{name}: {error}"
        if isinstance(error, SubscriptionError):
            self.fatal.append(error)


def format_price(x: float) -> str:
    return "-" if x != x else f"{x:,.4f}".rstrip("0").rstrip(".")


def is_feed_error(exc: BaseException) -> bool:
    return isinstance(exc, FeedError)
