"""A consumer process for the chaos test: follows the bus, writes what it was given to a file.

Lines: ``U symbol update_id digest`` for every BookUpdate (delivered only while valid), ``S symbol 0|1
reason`` for every BookStatus, and on SIGTERM ``F symbol update_id valid digest`` per book, then ``END``.
"""
from __future__ import annotations

import asyncio
import signal
import sys

from bookcheck import book_digest
from feedhandler.bus import BookFollower
from feedhandler.events import BookStatus, BookUpdate


async def main(url: str, out_path: str, jetstream: bool, depth: int) -> None:
    out = open(out_path, "w", buffering=1)

    def handler(ev):
        if isinstance(ev, BookUpdate):
            out.write(f"U {ev.symbol} {ev.last_update_id} {book_digest(ev.book, depth)}\n")
        elif isinstance(ev, BookStatus):
            out.write(f"S {ev.symbol} {int(ev.valid)} {ev.reason}\n")

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    follower = await BookFollower(url, handler, channels=("book",), depth=depth, jetstream=jetstream).start()
    out.write("READY\n")
    await stop.wait()
    for st in follower.streams():
        if st.book is not None:
            out.write(f"F {st.symbol} {st.book.last_update_id} {int(st.valid)} {book_digest(st.book, depth)}\n")
    await follower.close()
    out.write("END\n")
    out.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "js", int(sys.argv[4])))
