"""``feedhandler plot REC --out report.png``: what happened in a recording, as one picture.

Panels: mid price of the busiest book (or ``--symbol``) with book invalidations (red) and resyncs (green)
marked; its spread in basis points; the message rate (frames per second, all symbols); the per-stage latency
distributions of ``feedhandler profile`` (the recording's frames fed again, stamped as they are fed). REC is
anything ``replay`` reads. Needs matplotlib (``pip install 'feedhandler[plot]'``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, TextIO

import numpy as np

from ..recording import Record, Recording, replay
from ..recording.columns import EventColumns
from .feed import FeedWatch
from .profile import _pyplot, draw_latency, profile_records
from .replay import add_recording_arguments, open_from_args

__all__ = ["add_arguments", "run", "collect", "render"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_recording_arguments(parser)
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--symbol", help="the book to plot (default: the one with the most updates)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency pass")


@dataclass
class PlotData:
    """What the picture shows, as numpy arrays (times in seconds since the first frame)."""

    title: str
    symbol: str = ""
    t: np.ndarray = field(default_factory=lambda: np.empty(0))
    mid: np.ndarray = field(default_factory=lambda: np.empty(0))
    spread_bps: np.ndarray = field(default_factory=lambda: np.empty(0))
    frame_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    invalid_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    valid_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    gaps: int = 0
    resyncs: int = 0
    latency: FeedWatch | None = None


class _Collect:
    """A sink for :class:`EventColumns` keeping copies of the book-update and book-status columns."""

    def __init__(self) -> None:
        self.parts: dict[str, list[dict[str, np.ndarray]]] = {"book_updates": [], "book_status": []}

    def __call__(self, table: str, cols: dict[str, np.ndarray], n: int) -> None:
        if table in self.parts:
            self.parts[table].append({k: v[:n].copy() for k, v in cols.items()})

    def column(self, table: str, name: str) -> np.ndarray:
        parts = self.parts[table]
        return np.concatenate([p[name] for p in parts]) if parts else np.empty(0)


def _tap(records: Iterable[Record], times: list[int]) -> Iterator[Record]:
    for rec in records:
        if rec.kind <= 1:
            times.append(rec.recv_ns)
        yield rec


def collect(recording: Recording, symbol: str | None = None, latency: bool = True) -> PlotData:
    """Replay ``recording`` once for the series (and once more, profiled, for the latency)."""
    sink = _Collect()
    columns = EventColumns(sink, 65536, 1, 0)
    frame_ns: list[int] = []
    summary, _ = replay(recording, columns, check=False, records=_tap(recording.records(), frame_ns))
    columns.flush()
    sym = sink.column("book_updates", "symbol")
    names = list(columns.symbols)
    data = PlotData(title=f"{recording.exchange} {recording.format}: {', '.join(p.name for p in recording.paths)}")
    data.gaps, data.resyncs = summary.gaps, summary.resyncs
    if frame_ns:
        t0 = frame_ns[0]
        data.frame_t = (np.asarray(frame_ns, dtype=np.int64) - t0) / 1e9
    else:
        t0 = 0
    if len(sym):
        code = names.index(symbol) if symbol in names else int(np.bincount(sym).argmax())
        if symbol and symbol not in names:
            raise ValueError(f"--symbol {symbol}: no book updates for it (books: {', '.join(sorted(names))})")
        data.symbol = names[code]
        pick = sym == code
        bid, ask = sink.column("book_updates", "bid_price")[pick], sink.column("book_updates", "ask_price")[pick]
        data.t = (sink.column("book_updates", "recv_ns")[pick] - t0) / 1e9
        data.mid = (bid + ask) / 2
        data.spread_bps = (ask - bid) / data.mid * 1e4
        st_sym = sink.column("book_status", "symbol")
        st_t = (sink.column("book_status", "recv_ns") - t0) / 1e9
        valid = sink.column("book_status", "valid").astype(bool)
        mine = st_sym == code
        data.invalid_t = st_t[mine & ~valid]
        data.valid_t = st_t[mine & valid]
    if latency and getattr(summary, "frames", 0):
        watch = FeedWatch(recording.exchange)
        profile_records(recording.create_parser(), recording.records(), watch, recording.snapshot_symbol_hint())
        data.latency = watch
    return data


def render(data: PlotData, path: str) -> None:
    """Write the PNG."""
    plt = _pyplot()
    rows = 4 if data.latency is not None else 3
    fig, axes = plt.subplots(rows, 1, figsize=(11, 3.0 * rows), gridspec_kw={"hspace": 0.45})
    ax = axes[0]
    if len(data.t):
        ax.plot(data.t, data.mid, lw=0.8, color="tab:blue", drawstyle="steps-post", label=f"{data.symbol} mid")
        for i, x in enumerate(data.invalid_t):
            ax.axvline(x, color="tab:red", lw=1.2, ls="--", label="book invalid (gap / lost)" if i == 0 else None)
        # the first valid status is the initial sync; later ones are resyncs
        for i, x in enumerate(data.valid_t[1:]):
            ax.axvline(x, color="tab:green", lw=1.2, ls=":", label="resynced" if i == 0 else None)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.legend(loc="upper left", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no book updates in this recording", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(f"{data.title}\nmid price ({data.gaps} gaps, {data.resyncs} resyncs)", fontsize=10)
    ax.set_ylabel("price")
    ax = axes[1]
    if len(data.t):
        ax.plot(data.t, data.spread_bps, lw=0.6, color="tab:orange", drawstyle="steps-post")
        hi = np.nanpercentile(data.spread_bps, 99.5) if np.isfinite(data.spread_bps).any() else 1.0
        ax.set_ylim(0, max(hi * 1.2, 1e-6))
    ax.set_title(f"{data.symbol} spread (bps; y axis clipped at the 99.5th percentile)", fontsize=10)
    ax.set_ylabel("bps")
    ax = axes[2]
    if len(data.frame_t):
        span = max(float(data.frame_t[-1]), 1e-9)
        width = 1.0 if span >= 20 else max(span / 20, 1e-3)
        bins = np.arange(0.0, span + width, width)
        counts, edges = np.histogram(data.frame_t, bins=bins)
        ax.plot(edges[:-1], counts / width, lw=0.8, color="tab:purple", drawstyle="steps-post")
        ax.set_title(f"message rate (all symbols, {width:g} s bins): {len(data.frame_t):,} frames", fontsize=10)
    ax.set_ylabel("frames / s")
    span = float(data.frame_t[-1]) if len(data.frame_t) else 1.0
    for a in axes[:3]:
        a.set_xlabel("seconds since the first frame")
        a.set_xlim(0, max(span, 1e-3))  # the same time axis on the three series
        a.grid(alpha=0.3)
    if data.latency is not None:
        draw_latency(axes[3], data.latency, "hot-path latency per stage (frames fed again, stamped as fed)")
        axes[3].title.set_fontsize(10)
        axes[3].grid(alpha=0.3)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    recording = open_from_args(args)
    data = collect(recording, args.symbol, latency=not args.no_latency)
    render(data, args.out)
    print(f"plot of {data.symbol or recording.exchange} written to {args.out}", file=out)
    return 0
