# cython: language_level=3
"""Python view of the exact-layout tokens (``exact.pxd``), for tests and tools.

The tokens themselves are inline C in ``exact.pxd`` (compiled into each decoder that cimports
them); :func:`match` runs a chain of them over one byte string, as a decoder's exact path does.
"""
from libc.stdint cimport int64_t

from feedhandler.codec.json_scan cimport JsonSpan


def match(bytes data, list steps, Py_ssize_t capacity=64):
    """Run the exact tokens ``steps`` over ``data``; the decoded values, or None if it declines.

    Parameters
    ----------
    data : bytes
        The frame.
    steps : list of tuple
        ``("lit", b"...")``, ``("uint",)``, ``("str",)``, ``("same", b"prev")``, ``("dec",)``,
        ``("bool",)``, ``("levels",)`` (at most ``capacity`` levels), in order; the chain must end
        exactly at the end of ``data``.

    Returns
    -------
    list or None
        One value per non-literal step: int, bytes (strings), float, bool, or a list of
        ``(price, size)`` pairs; None when the bytes are not exactly that layout.
    """
    cdef const char* q = data
    cdef const char* end = q + len(data)
    cdef JsonSpan sp
    cdef int64_t iv = 0
    cdef double dv = 0.0
    cdef bint bv = False
    cdef Py_ssize_t i, n = 0
    cdef bytes prev
    cdef double[::1] px, qty
    import numpy as np
    px = np.zeros(max(capacity, 1))
    qty = np.zeros(max(capacity, 1))
    out = []
    for step in steps:
        kind = step[0]
        if kind == "lit":
            q = fx_lit(q, end, <bytes>step[1], len(step[1]))
        elif kind == "uint":
            q = fx_uint(q, end, &iv, &sp)
            out.append(iv)
        elif kind == "str" or kind == "same":
            prev = step[1] if kind == "same" else b""
            q = fx_str_same(q, end, prev, len(prev), &sp)
            out.append(sp.ptr[:sp.len] if q != NULL else None)
        elif kind == "dec":
            q = fx_dec(q, end, &dv, &sp)
            out.append(dv)
        elif kind == "bool":
            q = fx_bool(q, end, &bv, &sp)
            out.append(bool(bv))
        elif kind == "levels":
            q = fx_levels(q, end, &px[0], &qty[0], capacity, &n)
            out.append([(px[i], qty[i]) for i in range(n)] if q != NULL else None)
        else:
            raise ValueError(f"unknown step {kind!r}")
        if q == NULL:
            return None
    return out if q == end else None
