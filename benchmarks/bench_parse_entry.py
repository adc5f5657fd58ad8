"""The manager's synchronous fast entry (``parser.feed``) against the migration guide's async generator
(``async for event in parser.parse_message(raw)``) on the same MEXC 20+20-level depth frames.

Both run the same compiled decoder and book; the difference is the cost of the compatibility form (an async
generator per frame, a copy of each pooled event). Group ``parse-entry-mexc-20``.
"""
from __future__ import annotations

import asyncio

import pytest

from bench_mexc import N_FRAMES, make_frames

from feedhandler.exchanges.mexc import MexcPublicMessageParser

ROUNDS = 300


def _parser():
    parser = MexcPublicMessageParser(rest_url="http://127.0.0.1:9")
    parser.bind(lambda event: None)
    parser.books.request_snapshot = None
    sync = parser.books.get("BTCUSDT")
    sync.load_snapshot(1000, [[117053.41 - i * 0.01, 1.0] for i in range(200)],
                       [[117145.49 + i * 0.01, 1.0] for i in range(200)])
    return parser, sync


@pytest.mark.benchmark(group="parse-entry-mexc-20")
def test_feed_sync_entry(benchmark):
    parser, sync = _parser()
    frames = make_frames(20)
    feed = parser.feed

    def run():
        sync.book.last_update_id = 1000  # the frames' versions start at 1001
        for frame in frames:
            feed(frame, 0)

    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=5)
    benchmark.extra_info["frames_per_round"] = N_FRAMES
    assert sync.is_valid


@pytest.mark.benchmark(group="parse-entry-mexc-20")
def test_parse_message_async_generator(benchmark):
    parser, sync = _parser()
    frames = make_frames(20)
    loop = asyncio.new_event_loop()
    out = []

    async def consume():
        sync.book.last_update_id = 1000
        for frame in frames:
            async for event in parser.parse_message(frame):
                out.append(event)
        out.clear()

    try:
        benchmark.pedantic(lambda: loop.run_until_complete(consume()), rounds=ROUNDS, warmup_rounds=5)
    finally:
        loop.close()
    benchmark.extra_info["frames_per_round"] = N_FRAMES
    assert sync.is_valid
