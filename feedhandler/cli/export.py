"""``feedhandler export REC --format parquet --out DIR``: a recording's events as Parquet tables.

REC is anything ``replay`` reads. One table per event type (book updates with first/last update id, periodic
top-N book snapshots, trades, best bid/offer, book status), partitioned ``DIR/<table>/<exchange>/<symbol>/
<date>.parquet`` (:mod:`feedhandler.recording.export`).
"""
from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..recording import progress_printer
from ..recording.export import export_parquet
from .replay import add_recording_arguments, open_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_recording_arguments(parser)
    parser.add_argument("--format", choices=("parquet",), default="parquet", help="output format (parquet)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--depth", type=int, default=10, help="levels per side in book_snapshots (default 10)")
    parser.add_argument("--compression", default="lz4", choices=("lz4", "zstd", "snappy", "gzip", "none"),
                        help="Parquet codec (default lz4: the fastest to write; zstd: ~35%% smaller files)")
    parser.add_argument("--snapshot-interval", type=float, default=1.0,
                        help="seconds between two book_snapshots rows of a symbol (default 1; 0: none)")


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    recording = open_from_args(args)
    progress = None if args.quiet else progress_printer(recording, sys.stderr)
    result = export_parquet(recording, args.out, depth=args.depth, snapshot_interval_s=args.snapshot_interval,
                            progress=progress, compression=args.compression)
    await result.parser.close()
    if progress is not None:
        progress(result.replay.frames, final=True)
    rate = result.events / result.elapsed_s if result.elapsed_s > 0 else 0.0
    print(f"exported {result.events:,} events of {result.replay.frames:,} frames ({recording.format}, "
          f"{recording.exchange}) to {args.out} in {result.elapsed_s:.3f}s ({rate:,.0f} events/s)", file=out)
    for table, n in result.rows.items():
        print(f"  {table}: {n:,} rows", file=out)
    print(f"  {len(result.files)} files, {result.replay.parse_errors} parse errors", file=out)
    return 0 if not result.replay.parse_errors else 2
