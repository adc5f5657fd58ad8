"""``feedhandler export``: the Parquet tables read back (pyarrow, pandas, polars) equal the replayed events.

Oracles: the events the same replay hands a plain Python handler (copied), and for trades and best bid/offer
``json.loads`` + ``float()`` of the recorded frames themselves.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from feedhandler.cli.main import main
from feedhandler.events import BookStatus, BookTicker, BookUpdate, Trade
from feedhandler.recording import KIND_TEXT, open_recording, replay
from feedhandler.recording.export import export_parquet

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "binance"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared recordings not found at {DATA}")
ETH = DATA / "hftbacktest_2024-08-08" / "spot_ethusdt_20240808.gz"
CF_SPOT = DATA / "cryptofeed_spot_2021-10-11"


def _oracle(recording):
    """Every event of a plain replay, copied, with the top 10 levels at each book update."""
    events, tops = [], []

    def keep(ev):
        top = None
        if isinstance(ev, BookUpdate):
            top = tuple(np.column_stack([a.copy() for a in side(10)]) for side in (ev.book.top_bids, ev.book.top_asks))
        events.append(ev.copy())
        tops.append(top)

    summary, _ = replay(recording, keep, check=False)
    assert not summary.errors, summary.errors
    return events, tops


def _table(out: Path, name: str):
    return pq.read_table(out / name).sort_by([("recv_ns", "ascending")])


def test_tables_equal_the_replayed_events(tmp_path):
    recording = open_recording(ETH)
    events, tops = _oracle(recording)
    out = tmp_path / "pq"
    result = export_parquet(recording, out, capacity=4096, depth=10, snapshot_interval_s=1.0)
    assert result.replay.parse_errors == 0
    trades = [e for e in events if isinstance(e, Trade)]
    bbos = [e for e in events if isinstance(e, BookTicker)]
    updates = [(e, t) for e, t in zip(events, tops) if isinstance(e, BookUpdate)]
    statuses = [e for e in events if isinstance(e, BookStatus)]
    assert result.rows["trades"] == len(trades) == 6106 and result.rows["bbo"] == len(bbos) == 24077
    assert result.rows["book_updates"] == len(updates) and result.rows["book_status"] == len(statuses)

    t = _table(out, "trades").to_pydict()
    assert t["symbol"] == ["ETHUSDT"] * len(trades) and set(t["exchange"]) == {"binance"}
    assert t["recv_ns"] == [e.recv_ns for e in trades] and t["exchange_ts_ns"] == [e.exchange_ts_ns for e in trades]
    assert t["price"] == [e.price for e in trades] and t["qty"] == [e.qty for e in trades]
    assert t["side"] == [int(e.side) for e in trades] and t["trade_id"] == [e.trade_id for e in trades]

    # independent oracle: the recorded frames through json.loads + float()
    raw_trades, raw_bbo = [], []
    for rec in recording.records():
        if rec.kind != KIND_TEXT:
            continue
        d = json.loads(rec.payload)["data"]
        if d.get("e") == "trade":
            raw_trades.append((rec.recv_ns, d["T"] * 1_000_000, float(d["p"]), float(d["q"]), d["t"],
                               2 if d["m"] else 1))
        elif "u" in d and "b" in d and "e" not in d:
            raw_bbo.append((rec.recv_ns, float(d["b"]), float(d["B"]), float(d["a"]), float(d["A"]), d["u"]))
    assert list(zip(t["recv_ns"], t["exchange_ts_ns"], t["price"], t["qty"], t["trade_id"], t["side"])) == raw_trades
    b = _table(out, "bbo").to_pydict()
    assert list(zip(b["recv_ns"], b["bid_price"], b["bid_qty"], b["ask_price"], b["ask_qty"], b["update_id"])) == raw_bbo

    u = _table(out, "book_updates").to_pydict()
    assert u["first_update_id"] == [e.first_update_id for e, _ in updates]
    assert u["last_update_id"] == [e.last_update_id for e, _ in updates]
    assert u["is_snapshot"] == [bool(e.is_snapshot) for e, _ in updates]
    assert u["bid_price"] == [float(tb[0, 0]) for _, (tb, ta) in updates]
    assert u["ask_qty"] == [float(ta[0, 1]) for _, (tb, ta) in updates]

    # periodic top-10 snapshots: one per second of receive time, each equal to the book at that update
    s = _table(out, "book_snapshots")
    assert s.schema.field("bid_price").type == pa.list_(pa.float64(), 10)
    by_key = {(e.recv_ns, e.last_update_id): top for e, top in updates}
    rows = s.to_pydict()
    assert len(rows["recv_ns"]) >= 0.5 * (updates[-1][0].recv_ns - updates[0][0].recv_ns) / 1e9
    assert np.all(np.diff(rows["recv_ns"]) >= 1_000_000_000)
    for i in range(len(rows["recv_ns"])):
        tb, ta = by_key[(rows["recv_ns"][i], rows["last_update_id"][i])]
        assert rows["bid_price"][i] == list(tb[:, 0]) and rows["bid_qty"][i] == list(tb[:, 1])
        assert rows["ask_price"][i] == list(ta[:, 0]) and rows["ask_qty"][i] == list(ta[:, 1])

    st = _table(out, "book_status").to_pydict()
    assert st["valid"] == [bool(e.valid) for e in statuses] and st["update_id"] == [e.update_id for e in statuses]


def test_partitions_types_in_pandas_and_polars(tmp_path):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    out = tmp_path / "pq"
    # 4 symbols, tiny buffers: many hand-overs, rows split by symbol within one batch
    result = export_parquet(open_recording(CF_SPOT), out, capacity=16)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert "book_updates/binance/NKNUSDT/2021-10-12.parquet" in files
    assert {f.split("/")[2] for f in files if f.startswith("book_updates/")} == {"NKNUSDT", "LRCBTC", "BLZETH",
                                                                               "RUNEEUR"}
    df = pd.read_parquet(out / "book_updates")
    assert len(df) == result.rows["book_updates"]
    assert str(df["symbol"].dtype) == "category" and str(df["exchange"].dtype) == "category"
    for col in ("recv_ns", "exchange_ts_ns", "first_update_id", "last_update_id"):
        assert df[col].dtype == np.int64, col
    assert df["bid_price"].dtype == np.float64 and df["is_snapshot"].dtype == bool
    assert (df.groupby("symbol", observed=True)["last_update_id"].is_monotonic_increasing).all()
    lf = pl.read_parquet(str(out / "trades" / "**" / "*.parquet"))
    assert lf.schema["symbol"] == pl.Categorical and lf.schema["exchange"] == pl.Categorical
    assert lf.schema["recv_ns"] == pl.Int64 and lf.schema["exchange_ts_ns"] == pl.Int64
    assert lf.schema["price"] == pl.Float64 and lf.schema["side"] == pl.Int8 and len(lf) == result.rows["trades"]
    # the date folder is the UTC day of exchange_ts_ns
    for f in out.rglob("*.parquet"):
        ts = pq.read_table(f, columns=["exchange_ts_ns"]).column(0).to_numpy()
        days = {str(np.datetime64(int(x), "ns").astype("datetime64[D]")) for x in ts if x}
        assert days <= {f.stem}, (f, days)


def test_export_command(tmp_path, capsys):
    out = tmp_path / "pq"
    assert main(["export", str(CF_SPOT), "--format", "parquet", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "exported" in text and "0 parse errors" in text
    assert pq.read_table(out / "bbo").num_rows == 84
