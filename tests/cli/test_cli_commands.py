"""Every command, run as a user would (a subprocess), against the built-in simulator, bounded in time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def fh(*args: str, timeout: float = 90, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MEXC_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "feedhandler", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=full_env)


def one_clear_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("feedhandler")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_demo_runs_and_books_match_the_simulator():
    proc = fh("demo", "--duration", "3", "--no-live")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = proc.stdout
    for exchange in ("mexc", "gateio", "binance"):
        if f"starting the {exchange} simulator" not in out:
            pytest.fail(f"{exchange} missing from the demo:\n{out}")
        assert f"{exchange}: " in out
    assert "receive -> handler: n=" in out
    assert " 0 different" in out and "different" in out
    assert "equal, 0 different" in out


def test_run_against_url_prints_json_events(tmp_path):
    # a simulator in a background process, then `run --url` against it
    sim = subprocess.Popen([sys.executable, "-m", "feedhandler", "sim", "--protocol", "binance", "--symbols",
                            "BTCUSDT", "--rate", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=REPO)
    try:
        urls = {}
        for _ in range(20):
            line = sim.stdout.readline()
            if "WebSocket:" in line:
                urls["ws"] = line.split()[-1]
            if "REST:" in line:
                urls["rest"] = line.split()[-1]
                break
        assert "ws" in urls and "rest" in urls
        proc = fh("run", "--exchange", "binance", "--symbols", "BTCUSDT", "--url", urls["ws"].rstrip("/") ,
                  "--rest-url", urls["rest"], "--duration", "2")
        assert proc.returncode == 0, proc.stderr
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        kinds = {e["type"] for e in events}
        assert {"BookUpdate", "Trade", "BookStatus"} <= kinds, kinds
        book_updates = [e for e in events if e["type"] == "BookUpdate"]
        assert all(e["best_bid"] < e["best_ask"] for e in book_updates)
        ids = [e["last_update_id"] for e in book_updates]
        assert ids == sorted(ids)
    finally:
        sim.terminate()
        sim.wait(10)


def test_record_then_replay_gives_identical_books(tmp_path):
    rec, live, replayed = tmp_path / "feed.fhrec", tmp_path / "live.json", tmp_path / "replay.json"
    proc = fh("record", "--exchange", "binance", "--sim", "--duration", "2", "--out", str(rec),
              "--books-out", str(live))
    assert proc.returncode == 0, proc.stderr
    assert "recorded" in proc.stderr
    proc = fh("replay", str(rec), "--books-out", str(replayed), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "replayed" in proc.stdout and " 0 parse errors" in proc.stdout
    a, b = json.loads(live.read_text()), json.loads(replayed.read_text())
    assert a.keys() == b.keys() and a
    for symbol in a:
        assert a[symbol]["valid"] and b[symbol]["valid"]
        assert a[symbol] == b[symbol], symbol


def test_profile_prints_percentiles_and_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "latency.png"
    proc = fh("profile", "--exchange", "gateio", "--duration", "2", "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    for stage in ("receive -> parsed", "parsed -> applied", "receive -> handler"):
        line = next(line for line in proc.stdout.splitlines() if line.startswith(stage))
        count = int(line[len(stage):].split()[0])
        assert count > 100, line
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_exchange_is_one_clear_line():
    one_clear_line(fh("run", "--exchange", "nosuch", "--symbols", "X", "--duration", "1"), "unknown exchange",
                   "binance")


def test_unreachable_url_is_one_clear_line():
    proc = fh("run", "--exchange", "binance", "--symbols", "BTCUSDT", "--url", "ws://127.0.0.1:9/stream",
              "--connect-timeout", "1", "--duration", "1")
    one_clear_line(proc, "not connected within", "127.0.0.1:9")


def test_missing_credentials_is_one_clear_line():
    proc = fh("run", "--exchange", "gateio", "--symbols", "BTC_USDT", "--channels", "orders", "--duration", "1",
              env={"GATEIO_API_KEY": "", "GATEIO_API_SECRET": ""})
    one_clear_line(proc, "GATEIO_API_KEY")


def test_corrupt_recording_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.fhrec"
    bad.write_bytes(b"not a recording at all")
    one_clear_line(fh("replay", str(bad)), "not a feedhandler recording")
    good = tmp_path / "good.fhrec"
    assert fh("record", "--exchange", "binance", "--sim", "--duration", "1", "--out", str(good)).returncode == 0
    data = good.read_bytes()
    truncated = tmp_path / "truncated.fhrec"
    truncated.write_bytes(data[: len(data) - 7])
    one_clear_line(fh("replay", str(truncated)), "truncated record")


@pytest.mark.parametrize("command, option", [("demo", "--duration"), ("run", "--exchange"), ("record", "--out"),
                                             ("replay", "--books-out"), ("profile", "--plot"), ("sim", "--protocol"),
                                             ("compare", "--shadow")])
def test_each_command_help_lists_its_options(command, option):
    proc = fh(command, "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"usage: feedhandler {command}" in proc.stdout and option in proc.stdout


def test_replay_into_a_closed_pipe_stops_quietly(tmp_path):
    """``feedhandler replay X | head``: the reader has gone before the summary is written; no traceback."""
    from feedhandler.recording import RecordingWriter

    rec = tmp_path / "t.fhrec"
    with RecordingWriter(rec, {"exchange": "binance"}) as w:
        for i in range(100):
            w.frame(b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":%d,"p":"1.0",'
                    b'"q":"1.0","T":1,"m":true}}' % i, i + 1, 1)
    proc = subprocess.Popen([sys.executable, "-m", "feedhandler", "replay", str(rec), "--quiet"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    proc.stdout.close()  # nothing read: the first write finds the pipe broken
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141, err
    assert b"Traceback" not in err and b"Broken pipe" not in err and b"BrokenPipe" not in err, err
