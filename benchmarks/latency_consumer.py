"""A consumer process for ``bench_bus_latency``: records ``update_id monotonic_ns`` for each book event.

``python latency_consumer.py shm NAME OUT SECONDS`` spins on the shared-memory ring;
``python latency_consumer.py nats|jetstream URL OUT SECONDS`` follows the bus.
"""
from __future__ import annotations

import asyncio
import sys
import time


def shm(name: str, out_path: str, seconds: float) -> None:
    from feedhandler.shm import ShmReader

    reader = ShmReader(name, 0)
    now = time.monotonic_ns
    got = []
    print("READY", flush=True)
    deadline = time.monotonic() + seconds
    nxt = reader.next
    while time.monotonic() < deadline:
        for _ in range(1000):
            rec = nxt()
            if rec is not None and rec[0] == "book":
                got.append((rec[2], now()))
    with open(out_path, "w") as f:
        f.writelines(f"{u} {t}\n" for u, t in got)


async def bus(url: str, out_path: str, seconds: float, jetstream: bool) -> None:
    from feedhandler.bus import BookFollower
    from feedhandler.events import BookUpdate

    got = []
    now = time.monotonic_ns

    def handler(ev):
        if type(ev) is BookUpdate:
            got.append((ev.last_update_id, now()))

    follower = await BookFollower(url, handler, channels=("book",), depth=20, jetstream=jetstream,
                                  replay_seconds=0.0).start()
    print("READY", flush=True)
    await asyncio.sleep(seconds)
    await follower.close()
    with open(out_path, "w") as f:
        f.writelines(f"{u} {t}\n" for u, t in got)


if __name__ == "__main__":
    kind, target, out, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    if kind == "shm":
        shm(target, out, secs)
    else:
        asyncio.run(bus(target, out, secs, kind == "jetstream"))
