"""The OKX 2022 recording (../shared/data/okx, read in place; tests skip when it is absent)."""
from __future__ import annotations

import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RECORDING = ROOT.parent / "shared" / "data" / "okx" / "cryptofeed_2022-05-13" / "OKX.ws.1.0"


def frames() -> list[bytes]:
    """Every received frame of the recording, in order, as the product's reader gives them (the client's own
    requests and connects left out)."""
    if not RECORDING.exists():
        pytest.skip(f"recording not present: {RECORDING}")
    from feedhandler.recording import KIND_TEXT, open_recording

    return [r.payload for r in open_recording(RECORDING).records() if r.kind == KIND_TEXT]


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
