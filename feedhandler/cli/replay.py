"""``feedhandler replay``: a recording (ours, cryptofeed's, hftbacktest's) through parser + sync + books, checked.

The format and the exchange are detected from the file (see :mod:`feedhandler.recording.sources`); the summary
says how many frames and events went through, how many best bid/offer events were compared with the rebuilt
top of book, and the gaps and resyncs of every book. Exit status 2 when a book had a gap or was crossed, a
check mismatched, or a frame did not parse.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ..recording import open_recording, progress_printer, replay

__all__ = ["add_arguments", "run", "books_json", "parse_options", "open_from_args"]


def add_recording_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every command that reads a recording shares (replay, export, plot)."""
    parser.add_argument("file", nargs="+", help="recording file(s), replayed back to back: .fhrec[.zst], a folder of "
                        "segments, cryptofeed *.ws.* / *.jsonl.zst, hftbacktest *.gz")
    parser.add_argument("--exchange", help="override the exchange the recording names (mexc, gateio, binance, ...)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="parser option, e.g. market=usdm (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_recording_arguments(parser)
    parser.add_argument("--speed", choices=("max", "recorded"), default="max",
                        help="as fast as possible (default) or with the recorded gaps between frames")
    parser.add_argument("--books-out", help="write the final books (JSON) to this file")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def parse_options(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {item!r}: expected KEY=VALUE")
        out[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return out


def open_from_args(args: argparse.Namespace) -> Any:
    return open_recording(args.file, exchange=args.exchange, **parse_options(args.option))


def books_json(parser: Any) -> dict[str, Any]:
    out = {}
    for symbol in parser.books.symbols():
        sync = parser.books[symbol]
        d = sync.book.to_dict()
        out[symbol] = {"valid": sync.is_valid, "last_update_id": d["last_update_id"],
                       "bids": [list(x) for x in d["bids"]], "asks": [list(x) for x in d["asks"]]}
    return out


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    recording = open_from_args(args)
    progress = None if args.quiet else progress_printer(recording, sys.stderr)
    summary, parser = replay(recording, speed=args.speed, progress=progress)
    await parser.close()
    if progress is not None:
        progress(summary.frames, final=True)
    if args.json:
        json.dump(summary.to_dict(), out)
        print(file=out)
    else:
        print("\n".join(summary.report()), file=out)
    if args.books_out:
        with open(args.books_out, "w") as f:
            json.dump(books_json(parser), f)
    return 0 if summary.ok else 2
