"""Reader of cryptofeed v3 raw captures (zstd-compressed JSON lines), the format of the 2026 Bybit and
Coinbase recordings in ../shared/data (see their PROVENANCE.md): one object a line with ``t`` one of
``header``, ``http``, ``connect``, ``send``, ``recv`` (``conn``, ``ts``, ``data`` = the frame text)."""
from __future__ import annotations

import io
import json
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def read_capture(path: Path) -> list[dict]:
    """Every record of the capture, in order."""
    import zstandard

    with path.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as reader:
        text = io.TextIOWrapper(reader, encoding="utf-8").read()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def frames_by_connection(records: list[dict]) -> dict[str, list[str]]:
    """The received frame texts of each WebSocket connection, in order."""
    out: dict[str, list[str]] = {}
    for r in records:
        if r["t"] == "recv":
            out.setdefault(r["conn"], []).append(r["data"])
    return out
