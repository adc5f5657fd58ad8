"""Bounded random-mutation loop over every compiled decoder (run under ASan + UBSan by run.sh).

Seed frames are real wire frames of the simulator (every public channel of every exchange, recorded
over a raw WebSocket client on 127.0.0.1), so the mutations start from what the decoders' fast paths
expect. Each mutated frame goes through the exchange's parser (books included); a ``FeedError`` is the
expected answer to a broken frame, anything else is a failure, and a sanitizer report aborts the process.

Usage: ``python tests/sanitize/mutate.py --seconds 60 [--seed 1]``; exit status 0 when clean.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

from websockets.asyncio.client import connect

from feedhandler import ChannelType, FeedError, WebSocketStrategyFactory
from feedhandler.sim import SimExchange

EXCHANGES = {"binance": ["BTCUSDT", "ETHUSDT"], "gateio": ["BTC_USDT", "ETH_USDT"], "mexc": ["BTCUSDT", "ETHUSDT"],
             "okx": ["BTC-USDT", "ETH-USDT"], "bybit": ["BTCUSDT", "ETHUSDT"], "coinbase": ["BTC-USD", "ETH-USD"]}
CHANNELS = [ChannelType.ORDERBOOK, ChannelType.TRADES, ChannelType.BOOK_TICKER, ChannelType.KLINE,
            ChannelType.TICKER]
# bytes that matter to JSON and protobuf scanners: quotes, escapes, signs, exponents, digits, varint bits
SPECIAL = b'"\\:,[]{}-+eE.0123456789 \x00\x7f\x80\xff'


async def record(exchange: str, symbols: list[str], seconds: float = 1.0) -> list[bytes]:
    """Frames of every channel the exchange's strategies subscribe, straight from the simulator's socket."""
    frames: list[bytes] = []
    async with SimExchange(exchange, symbols, seed=1, rate=200) as sim:
        conn, sub, _ = WebSocketStrategyFactory.create_strategies(exchange, False, ws_url=sim.ws_url,
                                                                  rest_url=sim.rest_url)
        ctx = await conn.create_connection_context(False, None, None)
        channels = [c for c in CHANNELS if _supported(sub, c)]
        async with connect(ctx.url, max_size=1 << 22) as ws:
            for channel in channels:   # one request per channel: a channel the simulator lacks fails alone
                for message in sub.create_subscription_messages(symbols, [channel], True):
                    await ws.send(message)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    raw = await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
                except TimeoutError:
                    break
                frames.append(raw if isinstance(raw, bytes) else raw.encode())
        await conn.close()
    return frames


def _supported(sub, channel) -> bool:
    try:
        return bool(sub.subscription_keys(["BTCUSDT"], [channel]))
    except Exception:
        return False


def mutate(rng: random.Random, frame: bytes) -> bytes:
    b = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        i = rng.randrange(len(b) + 1) if b else 0
        if op == 0 and b:                       # flip a byte
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op == 1:                           # insert a significant byte
            b[i:i] = bytes([rng.choice(SPECIAL)])
        elif op == 2 and b:                     # delete a span
            del b[i:i + rng.randint(1, 8)]
        elif op == 3:                           # a long digit run (integer/decimal overflow)
            b[i:i] = rng.choice([b"9" * rng.randint(15, 40), b"1" + b"0" * rng.randint(17, 25), b"e999", b"-"])
        elif op == 4 and b:                     # truncate
            del b[i:]
        elif op == 5 and b:                     # duplicate a span
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randint(1, 32)]
        elif op == 6 and b:                     # varint continuation bits (protobuf lengths)
            b[min(i, len(b) - 1)] |= 0x80
    return bytes(b)


def run(seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    seeds = {ex: asyncio.run(record(ex, syms)) for ex, syms in EXCHANGES.items()}
    failures: list[str] = []
    counts = {ex: 0 for ex in EXCHANGES}
    rejected = {ex: 0 for ex in EXCHANGES}
    parsers = {}
    for ex, frames in seeds.items():
        if not frames:
            failures.append(f"{ex}: the simulator sent no frame to mutate")
            continue
        _, _, parser = WebSocketStrategyFactory.create_strategies(ex, False)
        parsers[ex] = parser
        for frame in frames:   # the originals first: they must all decode
            try:
                parser.feed(frame, 1)
            except FeedError:
                pass
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not failures:
        for ex, parser in parsers.items():
            frames = seeds[ex]
            for _ in range(200):
                frame = mutate(rng, rng.choice(frames))
                counts[ex] += 1
                try:
                    parser.feed(frame, 1)
                except FeedError:
                    rejected[ex] += 1
                except Exception as exc:   # not a clear error: a decoder bug
                    failures.append(f"{ex}: {type(exc).__name__}: {exc} on {frame[:200]!r}")
                    break
    for ex in parsers:
        print(f"{ex}: {len(seeds[ex])} seed frames, {counts[ex]} mutated frames, {rejected[ex]} rejected")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.exit(run(args.seconds, args.seed))


if __name__ == "__main__":
    main()
