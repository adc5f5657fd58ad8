"""``feedhandler plot``: the series it draws are the replay's, and it writes a PNG."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from feedhandler.cli.main import main
from feedhandler.cli.plot import collect
from feedhandler.events import BookUpdate
from feedhandler.recording import open_recording, replay

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "binance" / "cryptofeed_coinm_delivery_2021-07-22"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared recordings not found at {DATA}")


def test_series_are_the_replayed_books():
    rec = open_recording(DATA)
    mids: dict[str, list[float]] = {}

    def keep(ev):
        if isinstance(ev, BookUpdate):
            (bp, _), (ap, _) = ev.book.best_bid, ev.book.best_ask
            mids.setdefault(ev.symbol, []).append((bp + ap) / 2)

    summary, _ = replay(rec, keep, check=False)
    most = max(len(v) for v in mids.values())
    data = collect(rec, latency=True)
    assert len(mids[data.symbol]) == most and list(data.mid) == mids[data.symbol]
    assert len(data.frame_t) == summary.frames == 4371 and data.frame_t[0] == 0 and np.all(np.diff(data.t) >= 0)
    assert np.all(data.spread_bps > 0)
    assert len(data.valid_t) == 1 and len(data.invalid_t) == 0  # synced once, never lost
    assert data.latency is not None and data.latency.to_parsed.count > 1000
    other = collect(rec, symbol="ETHUSD_210924", latency=False)
    assert other.symbol == "ETHUSD_210924" and list(other.mid) == mids["ETHUSD_210924"]


def test_plot_command_writes_a_png(tmp_path, capsys):
    png = tmp_path / "report.png"
    assert main(["plot", str(DATA), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "written to" in capsys.readouterr().out
