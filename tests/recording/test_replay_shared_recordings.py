"""Every real recording in ../shared/data replays from the command line with the counts its PROVENANCE.md gives.

``feedhandler replay FILE --json`` detects the format (cryptofeed v1/v3, hftbacktest) and the exchange, runs the
exchange's parser, sync and books, and checks every best bid/offer that names an update id against the rebuilt
top of book (held until the book reaches that id, the counting PROVENANCE.md documents).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from feedhandler.cli.main import main
from feedhandler.core import WebSocketStrategyFactory
from feedhandler.recording import RecordingError, detect_format, open_recording

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared recordings not found at {DATA}")

B = "binance/"
HFT = B + "hftbacktest_2024-08-08/"

# (files, format, exchange, frames, snapshots, books, deltas applied (None: not given), bbo checks, exact?)
CASES = [
    ([HFT + "spot_btcusdt_20240808.gz", HFT + "spot_btcusdt_20240809.gz"], "hftbacktest", "binance",
     41_248 + 58_325, 1, 1, 6_493, 1_072, True),
    ([HFT + "spot_ethusdt_20240808.gz"], "hftbacktest", "binance", 33_617, 1, 1, 3_432, 577, True),
    ([HFT + "usdm_btcusdt_20240808.gz"], "hftbacktest", "binance", 93_953, 1, 1, 6_547, 629, True),
    # cryptofeed v1: PROVENANCE counts only bookTickers that arrive after their depth event (a lower bound)
    ([B + "cryptofeed_spot_2021-10-11/BINANCE.ws.1.0"], "cryptofeed-v1", "binance", 265, 4, 4, None, 26, False),
    ([B + "cryptofeed_binance_us_2021-10-11/BINANCE_US.ws.1.0"], "cryptofeed-v1", "binance", 480, 4, 4, None, 56,
     False),
    ([B + "cryptofeed_usdm_futures_2021-07-22/BINANCE_FUTURES.ws.1.0"], "cryptofeed-v1", "binance", 1_535, 4, 4,
     None, 50, False),
    ([B + "cryptofeed_coinm_delivery_2021-07-22/BINANCE_DELIVERY.ws.1.0"], "cryptofeed-v1", "binance", 4_371, 10,
     10, None, 212, False),
    # 172 updates + 9 trades + 22 tickers + 14 candles + 22 subscribe acks received; 159 updates applied
    (["gateio/cryptofeed_spot_2021-04-22/GATEIO.ws.1.0"], "cryptofeed-v1", "gateio", 239, 10, 10, 159, 0, True),
    # USDT futures (futures.*, {"p","s"} levels, contract sizes): 352 updates + 75 book tickers + 1 candle + 22 acks;
    # PROVENANCE: 316 of 352 applied, 0 gaps; book_ticker u == update u in 16 cases, all exact
    (["gateio/cryptofeed_usdt_futures_2023-05-24/GATEIO_FUTURES.ws.1.0"], "cryptofeed-v1", "gateio", 450, 10, 10, 316,
     16, True),
    # in-band snapshots: linear + spot connections, each through its own parser (BTCUSDT and ETHUSDT on both);
    # PROVENANCE: 6 snapshots, 2,142 deltas, 0 gaps
    (["bybit/cryptofeed_v3_2026-08-09/BYBIT.jsonl.zst"], "cryptofeed-v3", "bybit", 3_227, 0, 6, 2_142, 0, True),
    # 3 books snapshots + 287 updates (290 checksums, each verified by the parser)
    (["okx/cryptofeed_2022-05-13/OKX.ws.1.0"], "cryptofeed-v1", "okx", 410, 0, 3, 287, 0, True),
    # the retired MEXC spot v3 JSON push: limit.depth@10 (the first is the snapshot, the later two are checked),
    # increase.depth r = 4474505331..334 contiguous
    (["mexc/hftbacktest_spot_v3_json_SOLUSDT_2025-01-12.txt"], "hftbacktest", "mexc", 7, 0, 1, 4, 2, True),
    # one real MEXC protobuf push (a kline), as bytes and as hex text
    (["mexc/osslabz_pb_kline_BTCUSDT_Min1_2026-09-25T171926Z.bin"], "frame", "mexc", 1, 0, 0, None, 0, True),
    (["mexc/osslabz_pb_kline_BTCUSDT_Min1_2026-09-25T171926Z.hex"], "frame", "mexc", 1, 0, 0, None, 0, True),
    # 24 single MEXC messages (futures JSON, retired spot v2, REST bodies), one a line, no timestamps: the two
    # contract books are loaded by their push.depth.full (the stale deltas skipped, none applied)
    (["mexc/crypto-crawler-rs_mexc_messages.txt"], "frame-lines", "mexc", 24, 0, 2, 0, 0, True),
    # level2: 2 snapshots + 773 updates (sequence_num contiguous over all 1,030 frames)
    (["coinbase/cryptofeed_v3_2026-08-09/COINBASE.jsonl.zst"], "cryptofeed-v3", "coinbase", 1_030, 0, 2, None, 0,
     True),
]


#: files beside a recording that replay reads with it (the REST answers, the samples' line index), and documents
_COMPANIONS = re.compile(r"(\.http\.\d+\.\d+|/OKX\.0|\.index\.tsv)$")
_DOCUMENTS = re.compile(r"(^|/)(README\.md|PROVENANCE\.md|LICENSE[^/]*)$")


def test_every_file_in_shared_data_is_a_replayed_case_or_beside_one():
    """Nothing in ../shared/data is left out of CASES: every file is replayed by a case, is read with one (a
    cryptofeed ``.http.`` answers file, the samples' index), or is a document."""
    replayed = {f for case in CASES for f in case[0]}
    for path in sorted(p for p in DATA.rglob("*") if p.is_file()):
        rel = path.relative_to(DATA).as_posix()
        if _DOCUMENTS.search(rel):
            continue
        if _COMPANIONS.search(rel):
            ws = [r for r in replayed if Path(r).parent == Path(rel).parent]
            assert ws, f"{rel}: no replayed recording beside it"
            continue
        assert rel in replayed, f"{rel}: not replayed by any case of CASES"


def _replay_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["replay", "--json", "--quiet", *args])
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("files, fmt, exchange, frames, snapshots, books, applied, checks, exact", CASES,
                         ids=lambda v: (Path(v[0]).parent.name + ("-" + Path(v[0]).suffix.lstrip(".") if "osslabz" in v[0]
                                                                   else "")) if isinstance(v, list) else None)
def test_shared_recording_replays_with_expected_counts(capsys, files, fmt, exchange, frames, snapshots, books,
                                                       applied, checks, exact):
    if exchange not in WebSocketStrategyFactory.exchanges():
        pytest.skip(f"{exchange} is not on this branch yet")
    paths = [str(DATA / f) for f in files]
    assert detect_format(paths[0]) == fmt
    code, s = _replay_json(capsys, *paths)
    assert code == 0, s
    assert (s["format"], s["exchange"]) == (fmt, exchange)
    assert s["frames"] == frames and s["snapshots"] == snapshots and s["snapshots_unused"] == 0
    # LIVE, or (issue 18) SYNCING: a quiet pair whose snapshot is ahead of every delta it recorded is not
    # valid until one connects to it, which never happened in the recording (nothing applied)
    assert len(s["books"]) == books and all(
        b["state"] == "LIVE" or (b["state"] == "SYNCING" and b["applied"] == 0) for b in s["books"].values()
    ), s["books"]
    assert s["gaps"] == 0 and s["crossed"] == 0 and s["resyncs"] == 0 and s["parse_errors"] == 0
    assert s["bbo_mismatches"] == 0
    if applied is not None:
        assert sum(b["applied"] for b in s["books"].values()) == applied
    assert s["bbo_checked"] == checks if exact else s["bbo_checked"] >= checks
    if fmt == "hftbacktest" and exchange == "binance":
        # every trade and bookTicker frame gave its event; only the few depth frames buffered before the REST
        # snapshot was written into the file did not (their update comes out when the snapshot is loaded, or never
        # when the snapshot is newer)
        assert 0 < s["silent_frames"] <= 10


def test_frames_the_parser_does_not_decode_are_reported(capsys):
    """The Gate.io USDT futures capture read as spot (``--option market=spot``): no ``futures.*`` frame is
    decoded by the spot parser, and the summary says so."""
    code, s = _replay_json(capsys, str(DATA / "gateio" / "cryptofeed_usdt_futures_2023-05-24"), "--option",
                           "market=spot")
    assert s["frames"] == 450 and s["silent_frames"] == 450 and s["snapshots"] == 10
    assert sum(b["applied"] for b in s["books"].values()) == 0


def test_gateio_futures_recording_is_read_as_usdt_futures(capsys):
    """Folder, ws file and REST file all open the futures capture with ``market=usdt``; every book is LIVE at
    the last update id of its contract in the capture."""
    folder = DATA / "gateio" / "cryptofeed_usdt_futures_2023-05-24"
    for path in (folder, folder / "GATEIO_FUTURES.ws.1.0", folder / "GATEIO_FUTURES.http.0.0"):
        rec = open_recording(path)
        assert (rec.exchange, rec.options) == ("gateio", {"market": "usdt"})
    last_u: dict[str, int] = {}
    for line in (folder / "GATEIO_FUTURES.ws.1.0").read_text().splitlines():
        body = line.partition(": ")[2]
        if '"futures.order_book_update","event":"update"' in body:
            r = json.loads(body)["result"]
            last_u[r["s"]] = r["u"]
    code, s = _replay_json(capsys, str(folder))
    assert code == 0
    assert {k: b["last_update_id"] for k, b in s["books"].items()} == last_u
    assert s["events"]["Kline"] == 1 and s["events"]["BookTicker"] == 75


def test_cryptofeed_folder_and_rest_file_open_the_frames():
    folder = DATA / B / "cryptofeed_usdm_futures_2021-07-22"
    by_folder = open_recording(folder)
    by_rest = open_recording(folder / "BINANCE_FUTURES.http.0.0")
    assert by_folder.paths == by_rest.paths == [folder / "BINANCE_FUTURES.ws.1.0"]
    assert (by_folder.exchange, by_folder.options) == ("binance", {"market": "usdm"})


@pytest.mark.parametrize("path, exchange, n_frames", [
    ("bybit/cryptofeed_v3_2026-08-09/BYBIT.jsonl.zst", "bybit", 3227),  # the file's "recv" lines
    ("coinbase/cryptofeed_v3_2026-08-09/COINBASE.jsonl.zst", "coinbase", 1030),  # PROVENANCE: 1,030 frames
    ("okx/cryptofeed_2022-05-13/OKX.ws.1.0", "okx", 410),  # the file's received-frame lines
])
def test_other_exchanges_recordings_are_read(path, exchange, n_frames):
    rec = open_recording(DATA / path)
    assert rec.exchange == exchange
    recs = list(rec.records())
    frames = [r for r in recs if r.kind == 0]
    assert len(frames) == n_frames and all(r.payload[:1] == b"{" for r in frames)
    if exchange not in WebSocketStrategyFactory.exchanges():
        pytest.skip(f"{exchange} is not on this branch yet: the frames are read, the replay waits for its parser")


def test_not_a_recording_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.txt"
    bad.write_text("hello\n")
    with pytest.raises(RecordingError, match="not a feedhandler recording"):
        open_recording(bad)
    broken = tmp_path / "y.gz"
    import gzip

    with gzip.open(broken, "wb") as f:
        f.write(b"1723161253937085768 {\"a\":1}\nnot-a-timestamp {}\n")
    with pytest.raises(RecordingError, match="line 2"):
        list(open_recording(broken, exchange="binance").records())


@pytest.mark.parametrize("suffix", ["bin", "hex"])
def test_the_captured_mexc_frame_gives_the_kline_provenance_describes(suffix):
    from feedhandler.recording import replay

    events = []
    rec = open_recording(DATA / "mexc" / f"osslabz_pb_kline_BTCUSDT_Min1_2026-09-25T171926Z.{suffix}")
    summary, _ = replay(rec, lambda e: events.append(e.copy()))
    assert summary.frames == 1 and summary.parse_errors == 0 and len(events) == 1
    k = events[0]
    assert (k.symbol, k.interval, k.open, k.close, k.high, k.low, k.volume) == (
        "BTCUSDT", "Min1", 83958.21, 83961.21, 83961.21, 83955.09, 0.35388633)
    assert k.open_time_ns == 1790356740 * 10**9


def _crawler_lines() -> list[tuple[str, str, dict | list]]:
    """(market type, channel, parsed message) of each line of the crypto-crawler-rs MEXC samples (index TSV)."""
    txt = DATA / "mexc" / "crypto-crawler-rs_mexc_messages.txt"
    index = (DATA / "mexc" / "crypto-crawler-rs_mexc_messages.index.tsv").read_text().splitlines()[1:]
    lines = txt.read_text().splitlines()
    assert len(lines) == len(index) == 24
    return [(row.split("\t")[2], row.split("\t")[3], json.loads(line)) for row, line in zip(index, lines)]


def test_crypto_crawler_mexc_samples_replay_through_the_contract_json_parser(capsys):
    """The 24 MEXC samples (PROVENANCE section 3: single messages, not a sequence): every futures / spot v2 push is
    decoded to the event its index line names, with the numbers ``float()`` gives for the JSON; the 3 REST depth
    bodies and the spot v2 depth pushes are validated but kept in no book; the futures depth pushes go to the
    contract books (``push.depth.full`` loads them; the older, non-contiguous deltas are skipped, never applied)."""
    from feedhandler.events import Kline, Ticker, Trade
    from feedhandler.recording import replay

    lines = _crawler_lines()
    path = DATA / "mexc" / "crypto-crawler-rs_mexc_messages.txt"
    assert detect_format(path) == "frame-lines"
    code, s = _replay_json(capsys, str(path))
    assert code == 0, s
    assert (s["format"], s["exchange"], s["frames"], s["parse_errors"]) == ("frame-lines", "mexc", 24, 0)
    assert s["gaps"] == 0 and s["crossed"] == 0 and s["bbo_mismatches"] == 0
    trades = [m for kind, ch, m in lines if "deal" in ch or ("push.symbol" in ch and "deals" in json.dumps(m))]
    assert s["events"]["Trade"] == len(trades) == 6
    assert s["events"]["Kline"] == sum("push.kline" in ch for _, ch, _ in lines) == 4
    assert s["events"]["Ticker"] == sum("push.ticker" in ch for _, ch, _ in lines) == 2
    # the two contracts' books are LIVE at their push.depth.full versions
    full = {m["symbol"]: m["data"]["version"] for _, ch, m in lines if ch == "push.depth.full"}
    assert {k: (b["state"], b["last_update_id"], b["applied"]) for k, b in s["books"].items()} == {
        k: ("LIVE", v, 0) for k, v in full.items()}

    events = []
    summary, parser = replay(open_recording(path), lambda e: events.append(e.copy()))
    assert parser.rest_bodies == 3 and parser.spot_v2_depth == 3  # lines 4, 7, 13
    got_trades = [e for e in events if isinstance(e, Trade)]
    for ev, m in zip(got_trades, trades):
        body = m[1] if isinstance(m, list) else m
        d = body["data"]["deals"][0] if "deals" in body["data"] else body["data"]
        assert (ev.symbol, ev.price, ev.qty, ev.side, ev.exchange_ts_ns) == (
            body["symbol"], float(d["p"]), float(d.get("v", d.get("q"))), 1 if d["T"] == 1 else 2, d["t"] * 10**6)
    klines = [e for e in events if isinstance(e, Kline)]
    for ev, (kind, ch, m) in zip(klines, [x for x in lines if "push.kline" in x[1]]):
        body = m[1] if isinstance(m, list) else m
        d = body["data"]
        assert (ev.symbol, ev.interval, ev.open, ev.high, ev.low, ev.close, ev.volume) == (
            d["symbol"], d["interval"], float(d["o"]), float(d["h"]), float(d["l"]), float(d["c"]), float(d["q"]))
        assert ev.quote_volume == float(d["a"] if kind != "spot" else d["v"])
        assert ev.close_time_ns - ev.open_time_ns == {"Min1": 60, "Min5": 300}[d["interval"]] * 10**9
    tickers = [e for e in events if isinstance(e, Ticker)]
    for ev, (_, _, m) in zip(tickers, [x for x in lines if "push.ticker" in x[1]]):
        d = m["data"]
        assert (ev.symbol, ev.last, ev.high, ev.low, ev.volume, ev.exchange_ts_ns) == (
            m["symbol"], float(d["lastPrice"]), float(d["high24Price"]), float(d["lower24Price"]),
            float(d["volume24"]), d["timestamp"] * 10**6)
    # the loaded top-3 books are the push.depth.full levels exactly
    for _, ch, m in lines:
        if ch == "push.depth.full":
            book = parser.books[m["symbol"]].book.to_dict()
            assert [list(x) for x in book["bids"]] == [[float(p), float(q)] for p, q, _ in m["data"]["bids"]]
            assert [list(x) for x in book["asks"]] == [[float(p), float(q)] for p, q, _ in m["data"]["asks"]]
