"""The run configuration: parsing, refusing credentials in the file, sharding over workers."""
from __future__ import annotations

import pytest

from feedhandler.core.errors import ConfigurationError
from feedhandler.workers import load_config, parse_config, shard

TOML = """
[run]
workers = 3
progress_interval = 0.5

[[feeds]]
exchange = "binance"
symbols = ["A", "B", "C", "D", "E"]
channels = ["orderbook", "trades"]
transport = "websockets"

[[feeds]]
exchange = "gateio"
symbols = ["X_USDT"]

[sinks.nats]
servers = "nats://127.0.0.1:4222"
jetstream = true
depth = 50

[sinks.shm]
name = "fh-test"
depth = 5
"""


def test_load_and_shard(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text(TOML)
    cfg = load_config(p)
    assert cfg.workers == 3 and cfg.progress_interval == 0.5
    assert cfg.nats.servers == ["nats://127.0.0.1:4222"] and cfg.nats.jetstream and cfg.nats.depth == 50
    assert cfg.shm.name == "fh-test" and cfg.shm.depth == 5
    assert cfg.feeds[0].transport == "websockets"
    shards = shard(cfg, 3)
    got = {s.index: [(f.exchange, f.symbols) for f in s.feeds] for s in shards}
    assert got == {0: [("binance", ["A", "D"])], 1: [("binance", ["B", "E"])],
                   2: [("binance", ["C"]), ("gateio", ["X_USDT"])]}
    every = sorted(sym for s in shards for f in s.feeds for sym in f.symbols)
    assert every == sorted(sym for f in cfg.feeds for sym in f.symbols)   # each symbol exactly once
    assert len(shard(cfg, 10)) == 6                                       # no empty workers


@pytest.mark.parametrize("snippet, message", [
    ('[[feeds]]\nexchange = "binance"\nsymbols = ["A"]\napi_key = "k"', "environment"),
    ('[[feeds]]\nexchange = "binance"\nsymbols = ["A"]\noptions = {secret_key = "s"}', "environment"),
    ('[[feeds]]\nexchange = "binance"\nsymbols = []', "symbols"),
    ('[[feeds]]\nexchange = "binance"\nsymbols = ["A"]\ntransport = "carrier-pigeon"', "transport"),
    ('[[feeds]]\nexchange = "binance"\nsymbols = ["A"]\nchannels = ["nosuch"]', "nosuch"),
    ('[[feeds]]\nexchange = "binance"\nsymbols = ["A"]\n[sinks.nats]\njetstream = true', "servers"),
    ('[run]\nworkers = 1', "feeds"),
])
def test_bad_configs_say_what_is_wrong(snippet, message):
    import tomllib

    with pytest.raises((ConfigurationError, ValueError)) as exc:
        parse_config(tomllib.loads(snippet))
    assert message in str(exc.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[feeds]\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config(bad)


def test_replay_repeat_is_kept_by_every_shard_and_checked():
    cfg = parse_config({"feeds": [{"exchange": "binance", "replay": ["a.fhrec", "b.fhrec"], "repeat": 0}]})
    assert [f.repeat for s in shard(cfg, 2) for f in s.feeds] == [0, 0]
    assert parse_config({"feeds": [{"exchange": "binance", "replay": ["a"]}]}).feeds[0].repeat == 1
    for bad in (-1, 1.5, "2"):
        with pytest.raises(ConfigurationError, match="repeat"):
            parse_config({"feeds": [{"exchange": "binance", "replay": ["a"], "repeat": bad}]})
