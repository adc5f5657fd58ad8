"""The run configuration (TOML) of ``feedhandler run --config FILE``.

Example::

    [run]
    workers = 2                 # processes; --workers overrides
    progress_interval = 1.0     # seconds between progress lines

    [[feeds]]
    exchange = "binance"
    symbols = ["BTCUSDT", "ETHUSDT"]
    channels = ["orderbook", "trades"]
    transport = "picows"        # or "websockets"
    # ws_url / rest_url: another endpoint (the simulator); options: the factory's per-exchange options
    # replay = ["a.fhrec"]     # instead of a connection: frames replayed from recordings (one shard each)
    # repeat = 1               # replay feeds: passes over the recordings (0: until the run stops)

    [sinks.nats]
    servers = ["nats://127.0.0.1:4222"]
    jetstream = true
    depth = 20                  # levels per side on the bus (followers need --depth >= this)
    snapshot_interval = 1.0

    [sinks.shm]
    name = "fh-md"              # /dev/shm/fh-md.table and /dev/shm/fh-md.ring<worker>
    depth = 10
    ring_slots = 65536

Credentials are never in the file: private channels read ``<EXCHANGE>_API_KEY`` and
``<EXCHANGE>_API_SECRET`` from the environment (a key that looks like a secret is refused).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigurationError

_SECRET_KEYS = {"api_key", "secret_key", "api_secret", "secret", "passphrase", "password", "token", "listen_key"}
_TRANSPORTS = ("picows", "websockets")


@dataclass
class FeedConfig:
    exchange: str
    symbols: list[str]
    channels: list[str] = field(default_factory=lambda: ["orderbook"])
    transport: str = "picows"
    ws_url: str | None = None
    rest_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    replay: list[str] = field(default_factory=list)
    repeat: int = 1             # replay feeds: passes over the recordings; 0: until the run is stopped


@dataclass
class NatsConfig:
    servers: list[str]
    jetstream: bool = False
    depth: int = 20
    snapshot_interval: float = 1.0
    prefix: str = "md"
    stream_name: str = "FH_MD"


@dataclass
class ShmConfig:
    name: str
    depth: int = 10
    ring_slots: int = 65536


@dataclass
class RunConfig:
    feeds: list[FeedConfig]
    nats: NatsConfig | None = None
    shm: ShmConfig | None = None
    workers: int = 1
    progress_interval: float = 1.0

    def symbols(self) -> list[tuple[str, str]]:
        """Every (exchange, symbol) the run serves, in file order (the shared-memory slot order)."""
        return [(f.exchange, s) for f in self.feeds for s in f.symbols]


def _check_no_secrets(where: str, table: dict[str, Any]) -> None:
    for key in table:
        if key.lower() in _SECRET_KEYS:
            raise ConfigurationError(
                f"{where}: '{key}' must not be in the config file: credentials come only from the "
                f"environment (<EXCHANGE>_API_KEY / <EXCHANGE>_API_SECRET)")


def load_config(path: str | Path) -> RunConfig:
    """Read and check a run configuration; ConfigurationError says what is wrong and where."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, str(path))


def parse_config(raw: dict[str, Any], where: str = "config") -> RunConfig:
    from ..cli.feed import parse_channels

    feeds_raw = raw.get("feeds")
    if not isinstance(feeds_raw, list) or not feeds_raw:
        raise ConfigurationError(f"{where}: needs at least one [[feeds]] table")
    feeds = []
    for i, f in enumerate(feeds_raw):
        at = f"{where}: feeds[{i}]"
        _check_no_secrets(at, f)
        _check_no_secrets(at + ".options", f.get("options", {}))
        unknown = set(f) - set(FeedConfig.__dataclass_fields__)
        if unknown:
            raise ConfigurationError(f"{at}: unknown keys {sorted(unknown)}")
        if "exchange" not in f:
            raise ConfigurationError(f"{at}: 'exchange' is missing")
        replay = f.get("replay", [])
        replay = [replay] if isinstance(replay, str) else list(replay)
        symbols = list(f.get("symbols", []))
        if not symbols and not replay:
            raise ConfigurationError(f"{at}: 'symbols' is empty")
        transport = f.get("transport", "picows")
        if transport not in _TRANSPORTS:
            raise ConfigurationError(f"{at}: transport {transport!r} is not one of {', '.join(_TRANSPORTS)}")
        channels = f.get("channels", ["orderbook"])
        parse_channels(channels)  # raises on an unknown channel
        repeat = f.get("repeat", 1)
        if not isinstance(repeat, int) or repeat < 0:
            raise ConfigurationError(f"{at}: repeat must be an integer >= 0 (0: until stopped), got {repeat!r}")
        feeds.append(FeedConfig(exchange=f["exchange"], symbols=symbols, channels=list(channels), transport=transport,
                                ws_url=f.get("ws_url"), rest_url=f.get("rest_url"), options=dict(f.get("options", {})),
                                replay=replay, repeat=repeat))
    sinks = raw.get("sinks", {})
    nats_cfg = shm_cfg = None
    if "nats" in sinks:
        n = dict(sinks["nats"])
        _check_no_secrets(f"{where}: sinks.nats", n)
        servers = n.pop("servers", None)
        if not servers:
            raise ConfigurationError(f"{where}: sinks.nats needs 'servers'")
        try:
            nats_cfg = NatsConfig(servers=[servers] if isinstance(servers, str) else list(servers), **n)
        except TypeError as exc:
            raise ConfigurationError(f"{where}: sinks.nats: {exc}") from None
    if "shm" in sinks:
        try:
            shm_cfg = ShmConfig(**sinks["shm"])
        except TypeError as exc:
            raise ConfigurationError(f"{where}: sinks.shm: {exc}") from None
    run = raw.get("run", {})
    workers = int(run.get("workers", 1))
    if workers < 1:
        raise ConfigurationError(f"{where}: run.workers must be >= 1, got {workers}")
    return RunConfig(feeds=feeds, nats=nats_cfg, shm=shm_cfg, workers=workers,
                     progress_interval=float(run.get("progress_interval", 1.0)))


@dataclass
class Shard:
    """What one worker runs: per feed, its symbols (or recordings)."""

    index: int
    feeds: list[FeedConfig]


def shard(config: RunConfig, workers: int) -> list[Shard]:
    """Symbols (and recordings) dealt round-robin over ``workers``; a worker with nothing is left out."""
    shards = [Shard(i, []) for i in range(workers)]
    k = 0
    for feed in config.feeds:
        parts: list[FeedConfig | None] = [None] * workers
        units = [("replay", r) for r in feed.replay] or [("symbol", s) for s in feed.symbols]
        for kind, unit in units:
            w = k % workers
            k += 1
            part = parts[w]
            if part is None:
                part = parts[w] = FeedConfig(exchange=feed.exchange, symbols=[] if kind == "symbol" else list(feed.symbols),
                                             channels=feed.channels, transport=feed.transport, ws_url=feed.ws_url,
                                             rest_url=feed.rest_url, options=feed.options, replay=[],
                                             repeat=feed.repeat)
            (part.symbols if kind == "symbol" else part.replay).append(unit)
        for w, part in enumerate(parts):
            if part is not None:
                shards[w].feeds.append(part)
    return [s for s in shards if s.feeds]
