"""RecordBuffer against a plain Python reference of the fhrec record layout (``<qIBI`` header + payload).

The buffer gathers records in a 4 KiB stage inside the object and moves whole stages to its array with
non-temporal stores; records straddle stages, a record bigger than the array grows it, and ``swap``/``take``
must hand over every byte in order. Hypothesis drives sizes around those boundaries."""
from __future__ import annotations

import struct

from hypothesis import given, settings, strategies as st

from feedhandler.recording.tap import RecordBuffer, touched_buffer

HEADER = struct.Struct("<qIBI")

sizes = st.one_of(st.integers(0, 40), st.integers(4000, 4200), st.integers(0, 9000))
ops = st.lists(st.one_of(st.tuples(st.just("append"), sizes, st.integers(0, 1)),
                         st.tuples(st.just("swap"), st.just(0), st.just(0)),
                         st.tuples(st.just("take"), st.just(0), st.just(0))), min_size=1, max_size=60)


def _payload(i: int, n: int) -> bytes:
    return bytes((i * 31 + j) & 0xFF for j in range(n))


@settings(max_examples=150, deadline=None)
@given(ops=ops, capacity=st.sampled_from([64, 4096, 5000, 16384, 1 << 16]))
def test_every_byte_in_order_across_stages_swaps_and_growth(ops, capacity):
    buf = RecordBuffer(capacity)
    expected = bytearray()
    got = bytearray()
    for i, (op, n, kind) in enumerate(ops):
        if op == "append":
            data = _payload(i, n)
            buf.append(data, 1_000 + i, 7 + i, kind)
            expected += HEADER.pack(1_000 + i, 7 + i, kind, n) + data
            assert buf.size == len(expected) - len(got)
        elif op == "swap":
            array, size = buf.swap(touched_buffer(capacity))
            got += array[:size]
        else:
            got += buf.take()
        assert bytes(got) == bytes(expected[:len(got)])
    got += buf.take()
    assert bytes(got) == bytes(expected)
    assert buf.size == 0


def test_records_filling_the_stage_exactly_and_one_byte_over():
    for first in (4096 - 17 - 17, 4096 - 17 - 16, 4096 - 17 - 18):
        buf = RecordBuffer(1 << 16)
        expected = bytearray()
        for i, n in enumerate((first, 0, 1, 4096, 4079, 3)):
            data = _payload(i, n)
            buf.append(data, i, i, 1)
            expected += HEADER.pack(i, i, 1, n) + data
        assert buf.take() == bytes(expected)
