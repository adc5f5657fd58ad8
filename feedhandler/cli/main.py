"""Entry point of the ``feedhandler`` command.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so
``feedhandler --help`` stays fast. A subcommand whose module is not there yet
is simply not offered.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
from typing import Sequence

from .._version import __version__

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("feedhandler.cli.demo", "run the local exchange simulator and live books for MEXC, Gate.io, Binance"),
    "run": ("feedhandler.cli.run", "connect to a real exchange (or --url) and print events; --config: sharded workers"),
    "follow": ("feedhandler.cli.follow", "show books rebuilt from the bus (NATS) or a shared-memory table"),
    "sim": ("feedhandler.sim.cli", "serve the local exchange simulator on 127.0.0.1"),
    "record": ("feedhandler.cli.record", "record raw frames with receive timestamps"),
    "replay": ("feedhandler.cli.replay", "replay a recording (ours, cryptofeed's, hftbacktest's) through parser, "
                                         "sync and books, checked"),
    "export": ("feedhandler.cli.export", "export a recording's events to Parquet tables"),
    "plot": ("feedhandler.cli.plot", "plot a recording: mid, spread, message rate, gaps/resyncs, latency"),
    "profile": ("feedhandler.cli.profile", "per-stage latency percentiles of the hot path"),
    "compare": ("feedhandler.cli.compare", "run two implementations on the same frames, report the first divergence"),
}


def _available() -> dict[str, tuple[str, str]]:
    found = {}
    for name, (module, help_text) in SUBCOMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = (module, help_text)
    return found


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per available subcommand.

    Only the chosen ``command``'s module is imported (to add its arguments), so
    ``feedhandler --help`` stays fast and ``feedhandler COMMAND --help`` is complete.
    """
    parser = argparse.ArgumentParser(
        prog="feedhandler",
        description="Cython-optimized market-data feed handler (MEXC, Gate.io, Binance).",
    )
    parser.add_argument("--version", action="version", version=f"feedhandler {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug information and show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _available().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(args._module)
    _setup_logging(args.verbose)
    try:
        result = module.run(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `feedhandler replay X | head`: the reader has gone; stop quietly, as a pipe should
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a process the signal ended would return
    except Exception as exc:  # one clear line, never a traceback, unless --verbose
        if args.verbose:
            raise
        print(f"feedhandler {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush at exit does not fail on the broken pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (a test's capture): nothing to flush there
        pass


def _setup_logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


if __name__ == "__main__":
    raise SystemExit(main())
