"""Shared-memory table and rings: a reader in another process sees consistent books and every event.

Consistency is checked with books whose every level encodes the writer's update counter: a torn read
(levels of two different updates) is detected by construction.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from feedhandler.book import OrderBook
from feedhandler.events import BookStatus, BookUpdate, Trade
from feedhandler.shm import ShmReader, ShmTable, ShmWriter

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm") and "FEEDHANDLER_SHM_DIR" not in os.environ,
                                reason="no /dev/shm on this host (set FEEDHANDLER_SHM_DIR)")


@pytest.fixture
def name():
    n = f"fhtest-{uuid.uuid4().hex[:10]}"
    yield n


def counter_book(book: OrderBook, k: int, depth: int) -> None:
    """Every level of both sides carries k: bids k*1000 - i (qty k), asks k*1000 + 1 + i (qty k)."""
    book.clear()
    book.load_snapshot([(k * 1000.0 - i, float(k)) for i in range(depth)],
                       [(k * 1000.0 + 1 + i, float(k)) for i in range(depth)], k)


def test_table_roundtrip_and_validity(name):
    table = ShmTable.create(name, [("sim", "AAA"), ("sim", "BBB")], depth=5, ring_slots=64)
    try:
        sink = ShmWriter(table, 0).sink("sim")
        reader = ShmReader(name, 0)
        assert reader.read_book("AAA")["valid"] is False      # a new writer's slots start invalid
        book = OrderBook("AAA", 64)
        counter_book(book, 7, 8)
        sink.deliver(BookUpdate(exchange="sim", symbol="AAA", book=book, last_update_id=7, recv_ns=11,
                                exchange_ts_ns=12))
        got = reader.read_book("AAA")
        assert got["valid"] and got["last_update_id"] == 7 and got["recv_ns"] == 11
        assert got["bids"].tolist() == [[7000.0 - i, 7.0] for i in range(5)]   # top 5 of 8, best first
        assert got["asks"].tolist() == [[7001.0 + i, 7.0] for i in range(5)]
        sink.deliver(BookStatus(exchange="sim", symbol="AAA", valid=False, reason="gap", update_id=8))
        assert reader.read_book("AAA")["valid"] is False
        sink.deliver(Trade(exchange="sim", symbol="BBB", price=2.5, qty=1.5, side=2, trade_id=99))
        sink.deliver(Trade(exchange="sim", symbol="ZZZ", price=2.5, qty=1.5, side=2, trade_id=99))  # not in table
        expected = [("book", "sim:AAA", 7), ("status", "sim:AAA", 8), ("trade", "sim:BBB", 99)]
        assert [(r[0], r[1], r[2]) for r in reader.poll()] == expected
        assert ShmReader(name, 0).poll() == []   # a reader starts "now" ...
        r2 = ShmReader(name, 0, from_start=True)  # ... or from the oldest retained record
        assert [(r[0], r[1], r[2]) for r in r2.poll()] == expected
        assert sink.unknown == 1
        reader.close()
        r2.close()
    finally:
        table.close()
    assert not os.path.exists(f"/dev/shm/{name}.table")


def test_ring_overrun_is_counted_never_torn(name):
    table = ShmTable.create(name, [("sim", "AAA")], depth=1, ring_slots=16)
    try:
        sink = ShmWriter(table, 0).sink("sim")
        reader = ShmReader(name, 0)
        for i in range(40):
            sink.deliver(Trade(exchange="sim", symbol="AAA", price=1.0 + i, qty=1.0, side=1, trade_id=i))
        recs = reader.poll(100)
        assert [r[2] for r in recs] == list(range(24, 40))   # the 16 retained, in order
        assert reader.overruns == 24
    finally:
        table.close()


WRITER = textwrap.dedent("""
    import sys, time
    from feedhandler.book import OrderBook
    from feedhandler.events import BookUpdate, Trade
    from feedhandler.shm import ShmWriter
    name, n = sys.argv[1], int(sys.argv[2])
    w = ShmWriter.attach(name, 0)
    sink = w.sink("sim")
    book = OrderBook("AAA", 64)
    BLOCK = int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    for k in range(1, n + 1):
        book.clear()
        book.load_snapshot([(k * 1000.0 - i, float(k)) for i in range(20)],
                           [(k * 1000.0 + 1 + i, float(k)) for i in range(20)], k)
        sink.deliver(BookUpdate(exchange="sim", symbol="AAA", book=book, last_update_id=k, recv_ns=k))
        sink.deliver(Trade(exchange="sim", symbol="AAA", price=float(k), qty=1.0, side=1, trade_id=k))
        if k % BLOCK == 0 and k < n:
            sys.stdin.readline()   # paced by the reader: it has seen this block's last book
    w.close()
""")
# the writer waits for the reader after every BLOCK updates, so reads overlap writes however the two
# processes are scheduled (a loaded machine cannot let the writer finish before the reader has read)
BLOCK = 1000


def test_reader_in_another_process_never_sees_a_torn_book(name):
    n = 20000
    table = ShmTable.create(name, [("sim", "AAA")], depth=20, ring_slots=1 << 16)
    try:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, name, str(n), str(BLOCK)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        reader = ShmReader(name, 0)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        reads = torn = 0
        ids = []
        deadline = time.monotonic() + 60
        last = 0
        block_end = BLOCK
        while time.monotonic() < deadline and last < n:
            b = reader.read_book("AAA")
            if b["valid"]:
                k = b["last_update_id"]
                reads += 1
                if not (b["bids"][:, 1] == k).all() or b["bids"][0, 0] != k * 1000.0 or len(b["bids"]) != 20:
                    torn += 1
                last = max(last, k)
                if last >= block_end and last < n:   # the writer waits there: let it go on
                    proc.stdin.write("next\n")
                    proc.stdin.flush()
                    block_end += BLOCK
            for rec in reader.poll(4096):
                ids.append(rec[2])
        proc.wait(timeout=30)
        for rec in reader.poll(1 << 17):
            ids.append(rec[2])
        assert torn == 0 and reads > 10
        # every event, in order, once: books and trades interleaved k, k
        assert ids == [k for k in range(1, n + 1) for _ in range(2)][-len(ids):]
        assert reader.overruns == 0 and len(ids) == 2 * n
        reader.close()
    finally:
        table.close()
