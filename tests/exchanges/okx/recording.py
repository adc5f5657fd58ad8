"""The OKX 2022 recording (../shared/data/okx, read in place; tests skip when it is absent)."""
from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RECORDING = ROOT.parent / "shared" / "data" / "okx" / "cryptofeed_2022-05-13" / "OKX.ws.1.0"
_LINE = re.compile(r"^(?:\S+ <- )?(\d+\.\d+): (.*)$")


def frames() -> list[bytes]:
    """Every received frame of the recording, in order (the client's own requests and connects left out)."""
    if not RECORDING.exists():
        pytest.skip(f"recording not present: {RECORDING}")
    out = []
    for line in RECORDING.read_text().splitlines():
        m = _LINE.match(line)
        if m and not m.group(2).startswith('{"op"'):
            out.append(m.group(2).encode())
    return out


def reference_checksum(bids: list, asks: list) -> int:
    """OKX's documented checksum, computed independently with zlib over wire strings.

    ``bids``/``asks``: ``(price_text, size_text)`` pairs, best first; the top 25 of each side interleaved
    as ``bidPx:bidSz:askPx:askSz:...`` (a shorter side just ends), CRC32 as a signed 32-bit integer.
    """
    b, a = bids[:25], asks[:25]
    parts: list[str] = []
    for i in range(max(len(b), len(a))):
        if i < len(b):
            parts += b[i]
        if i < len(a):
            parts += a[i]
    c = zlib.crc32(":".join(parts).encode())
    return c - (1 << 32) if c >= 1 << 31 else c
