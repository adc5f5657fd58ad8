"""``feedhandler record`` into rotated zstd segments replays into the same books as live, and each segment alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("zstandard")

from feedhandler.recording import open_recording, segment_paths

REPO = Path(__file__).resolve().parents[2]


def fh(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "feedhandler", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=dict(os.environ))


def test_record_compressed_rotated_then_replay_gives_identical_books(tmp_path):
    out, live, replayed = tmp_path / "feed.fhrec.zst", tmp_path / "live.json", tmp_path / "replay.json"
    proc = fh("record", "--exchange", "binance", "--sim", "--duration", "3", "--rate", "200", "--out", str(out),
              "--rotate-mb", "0.02", "--books-out", str(live))
    assert proc.returncode == 0, proc.stderr
    segments = segment_paths(tmp_path, "feed")
    assert len(segments) >= 2, proc.stderr
    proc = fh("replay", *map(str, segments), "--books-out", str(replayed), "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 gaps" in proc.stdout and " 0 parse errors" in proc.stdout
    a, b = json.loads(live.read_text()), json.loads(replayed.read_text())
    assert a.keys() == b.keys() and a
    for symbol in a:
        assert a[symbol]["valid"] and b[symbol]["valid"]
        assert a[symbol] == b[symbol], symbol
    # the last segment starts with the live books as snapshots: it replays alone into the same final books
    proc = fh("replay", str(segments[-1]), "--books-out", str(replayed), "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(replayed.read_text()) == a
    assert open_recording(segments[-1]).format == "fhrec"
