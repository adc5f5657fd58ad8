"""Command-line front end of the simulator: ``feedhandler sim`` (wired into the main CLI by the lead).

``add_sim_arguments(parser)`` declares the options; ``await run_sim(args)`` serves until cancelled
(Ctrl-C) and prints the WebSocket and REST URLs first, so another process can connect.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from feedhandler.sim.faults import FaultConfig
from feedhandler.sim.protocol import protocol_names
from feedhandler.sim.server import SimExchange

__all__ = ["add_sim_arguments", "faults_from_args", "run_sim"]


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability must be within [0, 1], got {text}")
    return value


def _non_negative(kind: type[int] | type[float]):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a valid {kind.__name__}: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    return parse


def _positive_int(text: str) -> int:
    value = _non_negative(int)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be >= 1")
    return int(value)


def _symbols(text: str) -> list[str]:
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise argparse.ArgumentTypeError("give at least one symbol, e.g. BTCUSDT,ETHUSDT")
    return symbols


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options (market, ports, protocol, fault switches) to ``parser``."""
    parser.add_argument(
        "--protocol",
        default="simjson",
        help=f"wire protocol to serve (available: {', '.join(protocol_names())}; default: simjson)",
    )
    parser.add_argument(
        "--symbols", type=_symbols, default=["BTCUSDT", "ETHUSDT"], help="comma-separated symbols (BTCUSDT,ETHUSDT)"
    )
    parser.add_argument("--seed", type=int, default=0, help="market seed (default 0)")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="book updates per second per symbol (default 10)"
    )
    parser.add_argument("--levels", type=_positive_int, default=50, help="target book levels per side (default 50)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=_non_negative(int), default=0, help="WebSocket port (default: ephemeral)")
    parser.add_argument("--rest-port", type=_non_negative(int), default=0, help="REST port (default: ephemeral)")
    parser.add_argument(
        "--full-snapshot-every",
        type=_non_negative(int),
        default=0,
        help="push a whole-book snapshot on depth streams every N updates (0: never)",
    )
    parser.add_argument(
        "--stats-interval", type=_non_negative(float), default=0.0, help="print counters every S seconds (0: never)"
    )
    faults = parser.add_argument_group("fault injection (all off by default)")
    faults.add_argument("--fault-seed", type=int, default=None, help="seed of fault decisions (default: --seed)")
    faults.add_argument("--drop-after", type=_positive_int, default=None, help="drop each connection after N data frames")
    faults.add_argument("--garbage", type=_probability, default=0.0, help="probability of a garbage frame per data frame")
    faults.add_argument("--truncate", type=_probability, default=0.0, help="probability a data frame is cut short")
    faults.add_argument("--oversize", type=_probability, default=0.0, help="probability of an oversized frame per data frame")
    faults.add_argument("--gap", type=_probability, default=0.0, help="probability a depth update is withheld (gap)")
    faults.add_argument("--duplicate", type=_probability, default=0.0, help="probability a data frame is sent twice")
    faults.add_argument("--reorder", type=_probability, default=0.0, help="probability a data frame swaps with the next")
    faults.add_argument("--rest-delay", type=_non_negative(float), default=0.0, help="seconds before a depth snapshot answers")
    faults.add_argument(
        "--stale-snapshot", type=_non_negative(int), default=0, help="depth snapshots are N update ids old"
    )
    faults.add_argument("--reject-auth", action="store_true", help="fail every auth check")


def faults_from_args(args: argparse.Namespace) -> FaultConfig:
    """The :class:`FaultConfig` described by parsed ``add_sim_arguments`` options."""
    return FaultConfig(
        seed=args.seed if args.fault_seed is None else args.fault_seed,
        drop_after_frames=args.drop_after,
        garbage_probability=args.garbage,
        truncate_probability=args.truncate,
        oversize_probability=args.oversize,
        gap_probability=args.gap,
        duplicate_probability=args.duplicate,
        reorder_probability=args.reorder,
        rest_delay=args.rest_delay,
        stale_snapshot_ids=args.stale_snapshot,
        reject_auth=args.reject_auth,
    )


async def run_sim(args: argparse.Namespace, out: TextIO | None = None) -> None:
    """Serve the simulator described by ``args`` until cancelled; print its URLs once it listens."""
    stream = out if out is not None else sys.stdout
    if args.rate is not None and not args.rate > 0:
        raise SystemExit(f"feedhandler sim: --rate must be > 0, got {args.rate}")
    try:
        exchange = SimExchange(
            args.protocol,
            args.symbols,
            seed=args.seed,
            rate=args.rate,
            faults=faults_from_args(args),
            levels=max(2, args.levels),
            host=args.host,
            ws_port=args.port,
            rest_port=args.rest_port,
            full_snapshot_every=args.full_snapshot_every,
        )
    except KeyError as exc:
        raise SystemExit(f"feedhandler sim: {exc.args[0]}") from None
    try:
        await exchange.start()
    except OSError as exc:
        raise SystemExit(f"feedhandler sim: cannot listen on {args.host}: {exc}") from None
    try:
        print(
            f"feedhandler sim: protocol {exchange.protocol.name}, symbols {','.join(exchange.symbols)}, "
            f"seed {args.seed}, {args.rate:g} updates/s per symbol",
            file=stream,
        )
        print(f"  WebSocket: {exchange.ws_url}", file=stream)
        print(f"  REST:      {exchange.rest_url}", file=stream, flush=True)
        while True:
            if args.stats_interval:
                await asyncio.sleep(args.stats_interval)
                s = exchange.stats
                print(
                    f"  connections {len(exchange.active_connections)} open / {s.connections_accepted} accepted, "
                    f"deltas {sum(s.deltas_published.values())}, gaps {sum(s.gaps.values())}, "
                    f"snapshots {sum(s.snapshots_served.values())}",
                    file=stream,
                    flush=True,
                )
            else:
                await asyncio.Event().wait()
    finally:
        await exchange.stop()


# The names the ``feedhandler`` command looks for in a subcommand module.
add_arguments = add_sim_arguments
run = run_sim
