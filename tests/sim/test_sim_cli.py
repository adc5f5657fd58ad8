"""``feedhandler sim`` options and the serve-until-cancelled runner."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re

import pytest
from websockets.asyncio.client import connect

from _sim_testkit import fetch_depth, subscribe
from feedhandler.sim.cli import add_sim_arguments, faults_from_args, run_sim


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedhandler sim", exit_on_error=False)
    add_sim_arguments(parser)
    return parser


def test_options_map_to_fault_config() -> None:
    args = _parser().parse_args(
        ["--symbols", "btcusdt, ethusdt", "--seed", "4", "--gap", "0.1", "--drop-after", "5", "--reject-auth"]
    )
    assert args.symbols == ["BTCUSDT", "ETHUSDT"]
    faults = faults_from_args(args)
    assert faults.seed == 4 and faults.gap_probability == 0.1
    assert faults.drop_after_frames == 5 and faults.reject_auth
    assert faults.duplicate_probability == 0.0


@pytest.mark.parametrize("argv", [["--gap", "1.5"], ["--drop-after", "0"], ["--port", "-1"], ["--symbols", ","]])
def test_bad_options_are_rejected(argv: list[str]) -> None:
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        _parser().parse_args(argv)


async def test_run_sim_prints_urls_serves_and_stops_on_cancel() -> None:
    args = _parser().parse_args(["--symbols", "BTCUSDT", "--seed", "3", "--rate", "100"])
    out = io.StringIO()
    before = asyncio.all_tasks()
    async with asyncio.timeout(30):
        task = asyncio.ensure_future(run_sim(args, out=out))
        for _ in range(2000):  # bounded wait for the banner
            if "REST:" in out.getvalue():
                break
            await asyncio.sleep(0.005)
        text = out.getvalue()
        assert "protocol simjson" in text and "seed 3" in text
        ws_url = re.search(r"WebSocket: (\S+)", text).group(1)
        rest_url = re.search(r"REST:\s+(\S+)", text).group(1)
        async with connect(ws_url) as ws:
            await subscribe(ws, ["depth:BTCUSDT"])
            assert json.loads(await ws.recv())["ch"] == "depth"
        status, body = await fetch_depth(rest_url, "BTCUSDT", 5)
        assert status == 200 and len(body["bids"]) == 5
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


async def test_unknown_protocol_is_a_clear_error() -> None:
    args = _parser().parse_args(["--protocol", "nope"])
    with pytest.raises(SystemExit, match="unknown simulator protocol 'nope'"):
        await run_sim(args, out=io.StringIO())
