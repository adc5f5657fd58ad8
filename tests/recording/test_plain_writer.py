"""The plain ``.fhrec`` writer through the compiled tap: records in order, text/binary kinds, on disk within a
second, byte-identical to the documented layout."""
from __future__ import annotations

import struct
import time

from feedhandler.recording import KIND_BINARY, KIND_SNAPSHOT, KIND_TEXT, RecordingWriter, read_recording
from feedhandler.recording.format import MAGIC


def test_tap_and_python_paths_interleave_in_order(tmp_path):
    path = tmp_path / "x.fhrec"
    w = RecordingWriter(path, {"exchange": "binance"}, flush_interval=0.05, buffer_bytes=256)
    parsed = []
    tap = w.tap(lambda p, ns: parsed.append(p) or 1, 4)
    want = []
    for i in range(300):
        text, blob = b'{"i":%d}' % i, bytes([8, i % 256, 0xFF])
        assert tap(text, 1000 + i) == 1
        w.frame(blob, 2000 + i, 5)
        want += [(1000 + i, 4, KIND_TEXT, text), (2000 + i, 5, KIND_BINARY, blob)]
        if i == 150:
            w.snapshot("BTCUSDT", 7, [[1.5, 2.0]], [[2.5, 1.0]], 3000)
            want.append((3000, 0, KIND_SNAPSHOT, None))
    assert parsed == [r[3] for r in want if r[1] == 4]
    time.sleep(0.06)
    tap(b"{}", 9999)  # past the deadline: everything before it is written first
    _, recs = read_recording(path)
    got = [(r.recv_ns, r.connection_id, r.kind, r.payload) for r in recs]
    assert len(got) == len(want) and all(g[:3] == x[:3] and (x[3] is None or g[3] == x[3]) for g, x in zip(got, want))
    w.close()
    raw = path.read_bytes()
    assert raw.startswith(MAGIC)
    (n,) = struct.unpack_from("<I", raw, len(MAGIC))
    first = len(MAGIC) + 4 + n
    assert struct.unpack_from("<qIBI", raw, first) == (1000, 4, KIND_TEXT, len(b'{"i":0}'))
    assert len(list(read_recording(path)[1])) == len(want) + 1
