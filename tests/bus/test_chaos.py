"""The chaos test: simulator -> publisher process (``feedhandler run --config``) -> NATS -> two consumer
processes (one on core NATS, one through JetStream). The NATS server is killed and restarted, then the
publishing worker is killed (its supervisor restarts it), mid-stream. Every consumer book ends equal to
the simulator's true book, and no consumer was ever given a book as valid while it was wrong (each
BookUpdate's digest is checked against ``sim.model.true_book(symbol, update_id)``).
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bookcheck import true_digest
from conftest import start_server
from feedhandler.sim import SimExchange

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
DEPTH = 200          # more than the simulator's books ever hold: the whole book is compared
HERE = Path(__file__).parent


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def last_valid_id(lines: list[str], symbol: str) -> int:
    """The update id of the last BookUpdate after the last status (0 if the book is invalid now)."""
    uid = 0
    for line in lines:
        parts = line.split(" ", 3)
        if parts[0] == "U" and parts[1] == symbol:
            uid = int(parts[2])
        elif parts[0] == "S" and parts[1] == symbol and parts[2] == "0":
            uid = 0
    return uid


async def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("transport", ["picows", "websockets"])
async def test_chaos_nats_restart_and_publisher_kill(tmp_path, transport):
    server = start_server()
    procs: list[subprocess.Popen] = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    try:
        async with SimExchange("binance", SYMBOLS, seed=11, rate=None, history_ids=50_000) as sim:
            cfg = tmp_path / "run.toml"
            cfg.write_text(f"""
[run]
workers = 1
progress_interval = 0.2

[[feeds]]
exchange = "binance"
symbols = {SYMBOLS!r}
channels = ["orderbook"]
transport = "{transport}"
ws_url = "{sim.ws_url}"
rest_url = "{sim.rest_url}"

[sinks.nats]
servers = ["{server.url}"]
jetstream = true
depth = {DEPTH}
snapshot_interval = 0.5
""".replace("'", '"'))
            outs = [tmp_path / "core.txt", tmp_path / "js.txt"]
            for out, mode in zip(outs, ("core", "js")):
                procs.append(subprocess.Popen([sys.executable, str(HERE / "follower_proc.py"), server.url, str(out),
                                               mode, str(DEPTH)], env=env))
            await wait_for(lambda: all("READY" in read_lines(o) for o in outs), 30, "the consumers")
            pub_log = tmp_path / "publisher.log"
            pub = subprocess.Popen([sys.executable, "-m", "feedhandler", "run", "--config", str(cfg)],
                                   stdout=subprocess.DEVNULL, stderr=open(pub_log, "w"), env=env)
            procs.append(pub)

            async def drive():
                while True:
                    await sim.pump(1)
                    await asyncio.sleep(0.01)

            driver = asyncio.create_task(drive())

            def all_valid_past(uid_floor: dict[str, int]) -> bool:
                return all(last_valid_id(read_lines(o), s) > uid_floor.get(s, 0) for o in outs for s in SYMBOLS)

            await wait_for(lambda: all_valid_past({}), 30, "valid books on both consumers")
            await asyncio.sleep(1.0)   # a stream of deltas (and periodic snapshots) before each fault

            # 1. the NATS server dies and comes back on the same port
            server.stop()
            await asyncio.sleep(0.5)
            server.start()
            floor = {s: sim.model.last_update_id(s) for s in SYMBOLS}
            await wait_for(lambda: all_valid_past(floor), 30, "valid books after the NATS restart")
            await asyncio.sleep(1.0)

            # 2. the publishing worker dies (SIGKILL); the supervisor starts a new one
            pids = re.findall(r"w0 pid (\d+)", pub_log.read_text())
            assert pids, "the supervisor reported no worker pid"
            os.kill(int(pids[-1]), signal.SIGKILL)
            await wait_for(lambda: "restarting" in pub_log.read_text(), 20, "the supervisor's restart")
            floor = {s: sim.model.last_update_id(s) for s in SYMBOLS}
            await wait_for(lambda: all_valid_past(floor), 30, "valid books after the publisher restart")
            await asyncio.sleep(1.0)

            # the market stops; every consumer catches up to the last update id
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)
            final = {s: sim.model.last_update_id(s) for s in SYMBOLS}
            await wait_for(lambda: all(last_valid_id(read_lines(o), s) == final[s] for o in outs for s in SYMBOLS),
                           20, "the consumers to reach the final update ids")
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs[:2]:
                assert p.wait(timeout=20) == 0
            assert pub.wait(timeout=20) == 0
            # the supervisor stopped its workers: none is left running as an orphan
            for pid in set(re.findall(r"w0 pid (\d+)", pub_log.read_text())):
                with pytest.raises(ProcessLookupError):
                    os.kill(int(pid), 0)
            await wait_for(lambda: all("END" in read_lines(o) for o in outs), 10, "the consumers' final report")

            for out in outs:
                lines = read_lines(out)
                updates = [l.split() for l in lines if l.startswith("U ")]
                assert len(updates) > 100
                wrong = [(s, uid) for _, s, uid, dig in updates if dig != true_digest(sim, s, int(uid), DEPTH)]
                assert wrong == [], f"{out.name}: books delivered as valid while wrong: {wrong[:5]}"
                statuses = [l for l in lines if l.startswith("S ")]
                assert any(" 0 " in l for l in statuses), f"{out.name}: the losses were never reported"
                finals = {p[1]: p for p in (l.split() for l in lines if l.startswith("F "))}
                for s in SYMBOLS:
                    _, _, uid, valid, dig = finals[s]
                    assert valid == "1" and int(uid) == final[s]
                    assert dig == true_digest(sim, s, final[s], DEPTH)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        server.close()
