"""The OKX 2022 recording (../shared/data/okx, read in place; tests skip when it is absent)."""
from __future__ import annotations

import re
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
