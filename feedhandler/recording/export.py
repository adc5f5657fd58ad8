"""Export a replayed recording to Parquet: one table per event type, partitioned by exchange, symbol and date.

Layout::

    OUT/<table>/<exchange>/<symbol>/<YYYY-MM-DD>.parquet

with tables ``book_updates``, ``book_snapshots``, ``trades``, ``bbo``, ``book_status`` (columns in
:mod:`feedhandler.recording.columns`). Every table has ``exchange`` and ``symbol`` (dictionary-encoded
strings), ``recv_ns`` and ``exchange_ts_ns`` (int64 ns; ``recv_ns`` is Unix time for cryptofeed and hftbacktest
recordings, the monotonic clock for fhrec ones). The date is the UTC day of ``exchange_ts_ns`` (the receive
time where the exchange gave none). ``pyarrow.parquet.read_table("OUT/trades")``, ``pandas.read_parquet`` and
``polars.read_parquet("OUT/trades/**/*.parquet")`` read a table whole.

Events are buffered by the compiled :class:`~feedhandler.recording.columns.EventColumns` handler into
preallocated numpy columns and written as Arrow record batches (one Parquet row group per batch and partition).
Needs ``pyarrow`` (``pip install 'feedhandler[parquet]'``).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .columns import TABLES, EventColumns
from .format import Record, RecordingError
from .replay import ReplaySummary, replay
from .sources import Recording

__all__ = ["ParquetSink", "ExportSummary", "export_parquet", "TABLES"]

_NS_PER_DAY = 86_400 * 1_000_000_000


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise RecordingError("export to Parquet needs pyarrow: pip install 'feedhandler[parquet]'") from None
    return pa, pq


def _safe(name: str) -> str:
    """A symbol as a folder name (``BTC/USDT`` -> ``BTC_USDT``)."""
    return re.sub(r"[^A-Za-z0-9._@-]", "_", name) or "_"


@dataclass
class ExportSummary:
    """Rows written per table, the files, and the replay's own summary."""

    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    replay: ReplaySummary | None = None
    elapsed_s: float = 0.0
    parser: Any = None

    @property
    def events(self) -> int:
        return sum(self.rows.get(t, 0) for t in ("book_updates", "trades", "bbo", "book_status"))


class ParquetSink:
    """Takes the full column buffers of :class:`EventColumns` and writes them, partitioned, as Parquet row groups.

    Parameters
    ----------
    out:
        The output folder.
    exchange:
        The exchange name (the ``exchange`` column and the second folder level).
    columns:
        Set after construction to the :class:`EventColumns` that calls this sink (its symbol dictionary).
    recv_is_unix:
        ``recv_ns`` is Unix time (foreign recordings): used for the date where ``exchange_ts_ns`` is 0.
    fallback_unix_ns:
        The date of rows with neither (the recording's start).
    compression:
        Parquet codec: ``lz4`` (default: ~25% less CPU than ``zstd`` for the writer), ``zstd`` (~35% smaller
        files), ``snappy``, ``gzip``, ``none``.
    """

    def __init__(self, out: str | Path, exchange: str, *, recv_is_unix: bool, fallback_unix_ns: int = 0,
                 compression: str = "lz4"):
        self.pa, self.pq = _pyarrow()
        self.out = Path(out)
        self.exchange = exchange
        self.columns: EventColumns | None = None
        self.recv_is_unix = recv_is_unix
        self.fallback_unix_ns = int(fallback_unix_ns)
        self.compression = compression
        self.rows: dict[str, int] = {t: 0 for t in TABLES}
        self._writers: dict[tuple[str, int, int], Any] = {}
        self._paths: list[Path] = []
        self._files: list[Any] = []
        self._exchange_dict = self.pa.array([exchange])

    def __call__(self, table: str, cols: dict[str, np.ndarray], n: int) -> None:
        assert self.columns is not None
        ts = cols["exchange_ts_ns"][:n]
        when = ts
        if not ts.all():
            fallback = cols["recv_ns"][:n] if self.recv_is_unix else np.full(n, self.fallback_unix_ns)
            when = np.where(ts > 0, ts, fallback)
        day = when // _NS_PER_DAY
        sym = cols["symbol"][:n]
        key = sym.astype(np.int64) * 1_000_000 + day
        # rows come in time order: usually one run per (symbol, day), written as zero-copy slices
        cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
        if len(cuts) < 16:
            bounds = [0, *cuts.tolist(), n]
            for a, b in zip(bounds[:-1], bounds[1:]):
                self._write(table, cols, a, b, int(sym[a]), int(day[a]), None)
        else:  # symbols interleaved: one gather per partition
            keys, inverse = np.unique(key, return_inverse=True)
            for i, k in enumerate(keys):
                rows = np.flatnonzero(inverse == i)
                self._write(table, cols, 0, n, int(k // 1_000_000), int(k % 1_000_000), rows)
        self.rows[table] += n

    def _batch(self, cols: dict[str, np.ndarray], start: int, end: int, code: int, rows: np.ndarray | None) -> Any:
        """Rows ``[start, end)`` (or the gathered ``rows``) of the buffers as one record batch."""
        pa = self.pa
        assert self.columns is not None

        def take(a: np.ndarray) -> np.ndarray:
            return a[start:end] if rows is None else a[rows]

        m = end - start if rows is None else len(rows)
        zeros = np.zeros(m, dtype=np.int32)
        arrays = {
            "exchange": pa.DictionaryArray.from_arrays(zeros, self._exchange_dict),
            "symbol": pa.DictionaryArray.from_arrays(zeros, pa.array([self.columns.symbols[code]])),
        }
        for name, a in cols.items():
            if name == "symbol":
                continue
            v = take(a)
            if name in ("is_snapshot", "valid"):
                arrays[name] = pa.array(v.astype(np.bool_))
            elif name == "reason":
                arrays[name] = pa.DictionaryArray.from_arrays(v, pa.array(self.columns.reasons or [""]))
            elif v.ndim == 2:
                arrays[name] = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(v).ravel()),
                                                                 v.shape[1])
            else:
                arrays[name] = pa.array(v)
        return pa.RecordBatch.from_pydict(arrays)

    def _write(self, table: str, cols: dict[str, np.ndarray], start: int, end: int, code: int, day: int,
               rows: np.ndarray | None) -> None:
        batch = self._batch(cols, start, end, code, rows)
        key = (table, code, day)
        writer = self._writers.get(key)
        if writer is None:
            assert self.columns is not None
            date = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
            path = self.out / table / _safe(self.exchange) / _safe(self.columns.symbols[code]) / f"{date}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            # dictionary pages only for the string columns (numbers rarely repeat, and encoding them costs time);
            # min/max statistics for the time and id columns (what a reader filters row groups on)
            stats = [n for n in batch.schema.names if n.endswith(("_ns", "_id"))]
            f = self.pa.OSFile(str(path), "wb")  # a file, not a path: no filesystem lookup per partition
            self._files.append(f)
            writer = self.pq.ParquetWriter(f, batch.schema, compression=self.compression,
                                           use_dictionary=["exchange", "symbol", "reason"], write_statistics=stats)
            self._writers[key] = writer
            self._paths.append(path)
        writer.write_batch(batch)

    def close(self) -> list[Path]:
        for w in self._writers.values():
            w.close()
        for f in self._files:  # ParquetWriter leaves a file object it was given open
            f.close()
        self._writers.clear()
        self._files.clear()
        return list(self._paths)


def export_parquet(recording: Recording, out: str | Path, *, depth: int = 10, snapshot_interval_s: float = 1.0,
                   capacity: int = 65536, progress: Callable[[int], None] | None = None,
                   records: Iterable[Record] | None = None, compression: str = "lz4") -> ExportSummary:
    """Replay ``recording`` and write its events as Parquet tables under ``out`` (see the module docstring).

    ``records``: pre-read records instead of the files (the benchmark). The replay runs unchecked (the export
    handler is bound to the parser directly); ``replay`` checks the same recording.
    """
    started = time.perf_counter()
    fallback = int(recording.header.get("started_unix_ns") or 0)
    sink = ParquetSink(out, recording.exchange, recv_is_unix=recording.format != "fhrec", fallback_unix_ns=fallback,
                       compression=compression)
    columns = EventColumns(sink, capacity, depth, int(snapshot_interval_s * 1e9))
    sink.columns = columns
    try:
        summary, parser = replay(recording, columns, check=False, progress=progress, records=records)
        columns.flush()
    finally:
        files = sink.close()
    return ExportSummary(Path(out), dict(sink.rows), files, summary, time.perf_counter() - started, parser)
