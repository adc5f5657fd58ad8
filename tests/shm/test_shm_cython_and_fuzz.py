"""The reader is cimportable from Cython (a module compiled here reads the ring and a slot through the
C entry points), and the writer's unchecked copies are fuzzed against the book they copy."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as hst

from feedhandler.book import OrderBook
from feedhandler.events import BookUpdate, Trade
from feedhandler.shm import ShmReader, ShmTable, ShmWriter

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this host")

CONSUMER = textwrap.dedent("""
    # cython: language_level=3
    from feedhandler.shm.table cimport ShmReader, RingRecord, BookMeta

    def drain(ShmReader reader):
        cdef RingRecord rec
        out = []
        while reader.c_next(&rec) == 1:
            out.append((rec.kind, rec.slot, rec.update_id, rec.a))
        return out

    def best_bid(ShmReader reader, Py_ssize_t slot):
        cdef double bids[64]
        cdef double asks[64]
        cdef BookMeta meta
        n = reader.c_read_book(slot, bids, asks, 32, &meta)
        return n, meta.last_update_id, meta.valid, bids[0], asks[0]
""")


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    repo = Path(__file__).resolve().parents[2]
    build = tmp_path_factory.mktemp("shm_cimport")
    (build / "shm_consumer.pyx").write_text(CONSUMER)
    (build / "setup.py").write_text(textwrap.dedent(f"""
        from setuptools import setup, Extension
        from Cython.Build import cythonize
        setup(ext_modules=cythonize([Extension("shm_consumer", ["shm_consumer.pyx"])],
              include_path=[{str(repo)!r}], compiler_directives={{"language_level": 3}}, quiet=True))
    """))
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=build,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sys.path.insert(0, str(build))
    try:
        import shm_consumer  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(build))
    return shm_consumer


def test_cython_consumer_reads_ring_and_slot(consumer):
    name = f"fhcy-{uuid.uuid4().hex[:8]}"
    table = ShmTable.create(name, [("sim", "AAA")], depth=4, ring_slots=32)
    try:
        sink = ShmWriter(table, 0).sink("sim")
        reader = ShmReader(name, 0)
        book = OrderBook("AAA", 16)
        book.load_snapshot([(10.0, 1.0), (9.0, 2.0)], [(11.0, 3.0)], 5)
        sink.deliver(BookUpdate(exchange="sim", symbol="AAA", book=book, last_update_id=5))
        sink.deliver(Trade(exchange="sim", symbol="AAA", price=10.5, qty=1.0, side=1, trade_id=77))
        assert consumer.drain(reader) == [(1, 0, 5, 10.0), (3, 0, 77, 10.5)]
        assert consumer.best_bid(reader, 0) == (2, 5, 1, 10.0, 11.0)
        reader.close()
    finally:
        table.close()


levels = hst.lists(hst.tuples(hst.integers(1, 400), hst.integers(0, 30)), max_size=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bids=levels, asks=levels, depth=hst.integers(1, 40))
def test_slot_equals_the_books_top(bids, asks, depth):
    name = f"fhfz-{uuid.uuid4().hex[:8]}"
    table = ShmTable.create(name, [("sim", "AAA")], depth=depth, ring_slots=4)
    try:
        sink = ShmWriter(table, 0).sink("sim")
        reader = ShmReader(name, 0)
        book = OrderBook("AAA", 64)   # smaller than some inputs: the book's own capacity bound applies
        book.load_snapshot([(p * 0.5, float(q)) for p, q in bids], [(200.0 + p * 0.5, float(q)) for p, q in asks], 3)
        sink.deliver(BookUpdate(exchange="sim", symbol="AAA", book=book, last_update_id=3))
        got = reader.read_book("AAA")
        d = book.to_dict()
        assert got["bids"].tolist() == [list(x) for x in d["bids"][:depth]]
        assert got["asks"].tolist() == [list(x) for x in d["asks"][:depth]]
        reader.close()
    finally:
        table.close()
