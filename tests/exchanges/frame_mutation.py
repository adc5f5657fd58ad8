"""One hypothesis-driven frame mutation for the decoders' hostile-frame tests: flipped bytes, cuts, inserted
JSON punctuation (the frame never becomes empty)."""
from __future__ import annotations

from hypothesis import strategies as st

INSERTS = [b",", b"]", b"{", b'"', b"9", b"-", b"\\", b"\xff"]


def mutate(frame: bytes, data: st.DataObject, times: tuple[int, int] = (1, 4), inserts: list[bytes] = INSERTS) -> bytes:
    """``frame`` with ``times`` random flips, cuts and insertions drawn from ``data``."""
    out = bytearray(frame)
    for _ in range(data.draw(st.integers(*times))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, len(out) - 1))
        if op == "flip":
            out[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del out[max(i, 1):]
        else:
            out[i:i] = data.draw(st.sampled_from(inserts))
    return bytes(out)
