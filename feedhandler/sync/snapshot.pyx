# cython: language_level=3
"""REST depth snapshots decoded in C, bounded: body bytes -> float64 level arrays.

The body goes through the compiled JSON scanner (``feedhandler.codec.json_scan``)
and the exact decimal parser straight into preallocated C arrays: no Python
list, dict or msgspec object per level, and at most ``max_levels`` levels per
side are ever kept, however large the body.

One decoder per exchange endpoint, configured with the body's layout::

    DepthSnapshotDecoder("binance")                                   # {"lastUpdateId":..,"bids":[[p,q],..],"asks":..}
    DepthSnapshotDecoder("gateio", update_id="id")                    # {"id":..,"current":..,"bids":..,"asks":..}
    DepthSnapshotDecoder("bybit", path=("result",), bids="b", asks="a", update_id="u")
    DepthSnapshotDecoder("okx", path=("data", 0), update_id="seqId")

Rules (documented in the README)
--------------------------------
* The document must be strict JSON (``json.loads`` would accept it); the
  object at ``path`` must hold the ``bids`` and ``asks`` arrays and an
  integer (or integer-in-string) ``update_id``.  Each level is ``[price,
  qty, ...]`` (numbers or numbers in strings; extra items are ignored).
  Prices must be finite and > 0, quantities finite and >= 0.
* Bounded: a side with more than ``max_levels`` levels keeps its first
  ``max_levels`` (exchanges send snapshots best first, which is checked: a
  truncated side that is not strictly best first is refused); the rest are
  validated as JSON, counted in ``truncated`` and dropped.  Memory is
  ``4 x max_levels`` doubles per decoder plus the result; time is linear in
  the body, which the REST fetchers cap (``snapshot_body_limit``) before
  reading it.
* Any violation raises ``RestError`` naming the exchange, the field and the
  byte offset (or the level index).
"""
cimport cython
from libc.math cimport INFINITY
from libc.stdint cimport int64_t

cimport numpy as cnp
import json

import numpy as np

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_ERR_LEVEL, JSON_ERR_TYPE, JSON_OBJECT, JSON_OK, JSON_TOO_MANY, JsonIter, JsonSpan,
    json_array_begin, json_array_next, json_expect_end, json_iter_child, json_iter_child_end, json_iter_error,
    json_iter_levels, json_object_begin, json_object_next, json_object_next_lazy, json_span_eq, json_span_to_double,
    json_span_to_int64)

from feedhandler.codec.json_scan import json_error_message
from feedhandler.core.errors import RestError

cnp.import_array()

__all__ = ["DepthSnapshotDecoder", "decode_depth_body", "snapshot_body_limit"]

# Bytes one level may take in a body, generously (Binance: ``["61837.63000000","3.78826000"],`` is 32).
cdef Py_ssize_t _BYTES_PER_LEVEL = 128


def snapshot_body_limit(int levels_per_side):
    """The largest body a snapshot of ``levels_per_side`` levels a side may need (bytes).

    ``2 x levels x 128`` bytes plus 64 KiB of envelope: about 4x what real
    exchanges send, and a bound a REST client can enforce while reading
    (a 1.66 M-level body for ``limit=1000`` is refused at 320 KiB instead of
    being read, decoded and held).
    """
    if levels_per_side < 1:
        raise ValueError(f"levels_per_side must be >= 1, got {levels_per_side}")
    return 2 * levels_per_side * _BYTES_PER_LEVEL + 65536


#: (exchange, max_levels) -> decoder, for decode_depth_body (decode() is synchronous and returns fresh
#: arrays, so one decoder serves every caller).
_SHARED = {}


def decode_depth_body(str exchange not None, body, Py_ssize_t max_levels):
    """``(update_id, bids, asks)`` of a ``{"lastUpdateId", "bids", "asks"}`` body with a shared decoder.

    ``body`` is bytes (the raw HTTP body), str, or a dict (an already decoded body, re-encoded first).
    See :class:`DepthSnapshotDecoder` for the rules and errors.
    """
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = (<str>body).encode()
    key = (exchange, max_levels)
    decoder = _SHARED.get(key)
    if decoder is None:
        decoder = _SHARED.setdefault(key, DepthSnapshotDecoder(exchange, max_levels))
    return decoder.decode(body)


cdef inline bint _better(double a, double b, bint is_bid) noexcept nogil:
    return a > b if is_bid else a < b


@cython.final
cdef class DepthSnapshotDecoder:
    """Decodes one exchange's REST depth snapshot bodies (see the module docstring).

    Parameters
    ----------
    exchange : str
        Name used in error messages.
    max_levels : int, default 5000
        Levels kept per side (the book's capacity, or the requested limit).
    bids, asks, update_id : str
        Member names of the bid and ask arrays and of the snapshot's update id.
    path : tuple of str | int
        Members (str) and array indices (int) leading from the document to
        the object holding them; ``()`` for a top-level object.
    """
    cdef readonly str exchange
    cdef readonly Py_ssize_t max_levels
    cdef readonly tuple path
    cdef readonly int64_t truncated     # levels dropped beyond max_levels by the last decode (both sides)
    cdef readonly int64_t decoded       # bodies decoded successfully
    cdef tuple _keys                    # bids, asks, update_id as UTF-8 bytes
    cdef object _scratch                # four float64 arrays of max_levels
    cdef double* _px[2]
    cdef double* _qty[2]

    def __init__(self, str exchange not None, Py_ssize_t max_levels=5000, str bids="bids", str asks="asks",
                 str update_id="lastUpdateId", tuple path=()):
        cdef double[::1] view
        cdef int s
        if max_levels < 1:
            raise ValueError(f"max_levels must be >= 1, got {max_levels}")
        for step in path:
            if not isinstance(step, (str, int)) or isinstance(step, bool):
                raise TypeError(f"path steps must be str (a member) or int (an index), got {step!r}")
        self.exchange = exchange
        self.max_levels = max_levels
        self.path = path
        self._keys = (bids.encode(), asks.encode(), update_id.encode())
        self._scratch = tuple(np.empty(max_levels, dtype=np.float64) for _ in range(4))
        for s in range(2):
            view = self._scratch[2 * s]
            self._px[s] = &view[0]
            view = self._scratch[2 * s + 1]
            self._qty[s] = &view[0]

    def decode(self, body):
        """``(update_id, bids, asks)`` from a snapshot body; levels as fresh ``(n, 2)`` float64 arrays.

        Parameters
        ----------
        body : bytes, bytearray or memoryview
            The raw HTTP body.

        Raises
        ------
        RestError
            Not a snapshot of the configured layout (see the module rules).
        """
        cdef const unsigned char[::1] buf = body
        cdef const char* base
        cdef const char* end
        cdef const char* p
        cdef JsonSpan span
        cdef Py_ssize_t counts[2]
        cdef Py_ssize_t drops[2]
        cdef int64_t uid = 0
        cdef int rc
        cdef int s
        self.truncated = 0
        if buf.shape[0] == 0:
            raise RestError(f"{self.exchange}: depth snapshot body is empty")
        base = <const char*>&buf[0]
        end = base + buf.shape[0]
        p = base
        # Descend the path (each step validated in full by json_object_next / json_array_next).
        span.ptr = p
        span.len = end - p
        span.kind = JSON_OBJECT
        for step in self.path:
            self._descend(&span, step, base)
        rc = self._walk(&span, base, &uid, counts, drops, False)
        if rc == JSON_TOO_MANY:
            # More levels than kept on a side: the bounded, truncating pass.
            rc = self._walk(&span, base, &uid, counts, drops, True)
        self.truncated = drops[0] + drops[1]
        out = []
        for s in range(2):
            self._check_levels(s, counts[s], drops[s] > 0)
            arr = np.empty((counts[s], 2), dtype=np.float64)
            if counts[s]:
                _interleave(<double*>cnp.PyArray_DATA(arr), self._px[s], self._qty[s], counts[s])
            out.append(arr)
        self.decoded += 1
        return uid, out[0], out[1]

    cdef int _descend(self, JsonSpan* span, object step, const char* base) except -1:
        # Replace *span by its member ``step`` (str) or item ``step`` (int); last duplicate member wins.
        cdef JsonIter it
        cdef JsonSpan k, v, found
        cdef bint have = False
        cdef bytes key
        cdef Py_ssize_t index = 0, want
        if isinstance(step, str):
            key = (<str>step).encode()
            json_object_begin(&it, span.ptr, span.ptr + span.len)
            while json_object_next(&it, &k, &v) == 1:
                if json_span_eq(&k, key, len(key)):
                    found = v
                    have = True
            self._fail_if(json_iter_error(&it), &it, base, f"object holding {step!r}")
            if not have:
                raise RestError(f"{self.exchange}: depth snapshot has no {step!r} member")
        else:
            want = step
            json_array_begin(&it, span.ptr, span.ptr + span.len)
            while json_array_next(&it, &v) == 1:
                if index == want:
                    found = v
                    have = True
                index += 1
            self._fail_if(json_iter_error(&it), &it, base, f"array holding item {step}")
            if not have:
                raise RestError(f"{self.exchange}: depth snapshot array has no item {step} ({index} items)")
        if json_expect_end(it.p, span.ptr + span.len) != 0:     # the walk ended cleanly (_fail_if)
            raise RestError(f"{self.exchange}: invalid depth snapshot: trailing data after the JSON value at byte "
                            f"{_skip_ws(it.p, span.ptr + span.len) - base}")
        span[0] = found
        return 0

    cdef int _fail_if(self, int rc, JsonIter* it, const char* base, str what) except -1:
        if rc < 0:
            raise RestError(f"{self.exchange}: invalid depth snapshot ({what}): {json_error_message(rc)} "
                            f"at byte {it.p - base}")
        return 0

    cdef int _walk(self, JsonSpan* span, const char* base, int64_t* uid, Py_ssize_t* counts, Py_ssize_t* drops,
                   bint truncate) except? -1:
        """One pass over the object: levels into the scratch. Returns 0, or JSON_TOO_MANY (fast pass only)."""
        cdef JsonIter it
        cdef JsonSpan k, v
        cdef int rc, s
        cdef bint seen[3]
        cdef const char* end = span.ptr + span.len
        seen[0] = seen[1] = seen[2] = False
        counts[0] = counts[1] = drops[0] = drops[1] = 0
        cdef bytes key
        rc = json_object_begin(&it, span.ptr, end)
        if rc == JSON_ERR_TYPE:
            raise RestError(f"{self.exchange}: depth snapshot is not a JSON object (at byte {span.ptr - base})")
        while json_object_next_lazy(&it, &k, &v) == 1:
            for s in range(3):
                key = <bytes>self._keys[s]
                if json_span_eq(&k, key, len(key)):
                    break
            else:
                continue   # another member: validated and skipped by the next call
            seen[s] = True
            if s == 2:
                if json_span_to_int64(&v, uid) != 0:
                    raise RestError(f"{self.exchange}: depth snapshot {self._keys[2].decode()!r} is not an int64 "
                                    f"(at byte {v.ptr - base})")
                continue
            if v.kind != JSON_ARRAY:
                raise RestError(f"{self.exchange}: depth snapshot {self._keys[s].decode()!r} is not an array "
                                f"(at byte {v.ptr - base})")
            if not truncate:
                rc = json_iter_levels(&it, self._px[s], self._qty[s], self.max_levels, &counts[s])
                if rc == JSON_TOO_MANY:
                    return JSON_TOO_MANY
                if rc != 0:
                    raise RestError(f"{self.exchange}: invalid depth snapshot {self._keys[s].decode()!r}: "
                                    f"{json_error_message(rc)} at byte {it.p - base}")
            else:
                self._levels_truncating(&it, s, &counts[s], &drops[s], base)
        self._fail_if(json_iter_error(&it), &it, base, "snapshot object")
        rc = json_expect_end(it.p, end)
        if rc != 0:
            raise RestError(f"{self.exchange}: invalid depth snapshot: {json_error_message(rc)} at byte "
                            f"{_skip_ws(it.p, end) - base}")
        for s in range(3):
            if not seen[s]:
                raise RestError(f"{self.exchange}: depth snapshot has no {self._keys[s].decode()!r} member")
        return 0

    cdef int _levels_truncating(self, JsonIter* it, int s, Py_ssize_t* count, Py_ssize_t* dropped,
                                const char* base) except -1:
        # The pending array under *it: the first max_levels levels parsed, the rest validated and counted.
        cdef JsonIter child, lv
        cdef JsonSpan item, a, b
        cdef Py_ssize_t n = 0, extra = 0
        cdef int rc = json_iter_child(it, &child)
        while rc == 0 and json_array_next(&child, &item) == 1:
            if n < self.max_levels:
                if item.kind != JSON_ARRAY or json_array_begin(&lv, item.ptr, item.ptr + item.len) != 0 \
                        or json_array_next(&lv, &a) != 1 or json_array_next(&lv, &b) != 1:
                    raise RestError(f"{self.exchange}: depth snapshot {self._keys[s].decode()!r}[{n}] is not a "
                                    f"[price, qty] pair (at byte {item.ptr - base})")
                if json_span_to_double(&a, &self._px[s][n]) != 0 or json_span_to_double(&b, &self._qty[s][n]) != 0:
                    raise RestError(f"{self.exchange}: depth snapshot {self._keys[s].decode()!r}[{n}] holds a "
                                    f"non-number (at byte {item.ptr - base})")
                n += 1
            else:
                extra += 1
        if rc == 0:
            rc = json_iter_error(&child)
        if rc < 0:
            raise RestError(f"{self.exchange}: invalid depth snapshot {self._keys[s].decode()!r}: "
                            f"{json_error_message(rc)} at byte {child.p - base}")
        rc = json_iter_child_end(it, &child)
        if rc < 0:
            raise RestError(f"{self.exchange}: invalid depth snapshot {self._keys[s].decode()!r}: "
                            f"{json_error_message(rc)} at byte {it.p - base}")
        count[0] = n
        dropped[0] = extra
        return 0

    cdef int _check_levels(self, int s, Py_ssize_t n, bint truncated) except -1:
        # Finite prices > 0 and quantities >= 0 (the book's rule, named here with the index); a
        # truncated side must be strictly best first, or the kept levels would not be the best.
        cdef Py_ssize_t i
        cdef double* px = self._px[s]
        cdef double* qv = self._qty[s]
        cdef str name
        for i in range(n):
            if not (px[i] > 0.0 and px[i] < INFINITY and qv[i] >= 0.0 and qv[i] < INFINITY):
                name = self._keys[s].decode()
                raise RestError(f"{self.exchange}: depth snapshot {name}[{i}] = ({px[i]!r}, {qv[i]!r}): price "
                                "must be finite and > 0, quantity finite and >= 0")
            if truncated and i > 0 and not _better(px[i - 1], px[i], s == 0):
                name = self._keys[s].decode()
                raise RestError(f"{self.exchange}: depth snapshot {name} has more than {self.max_levels} levels "
                                f"and is not sorted best first ({name}[{i}]): refused, the best levels are unknown")
        return 0

    def __repr__(self):
        return (f"DepthSnapshotDecoder({self.exchange!r}, max_levels={self.max_levels}, "
                f"keys={tuple(k.decode() for k in self._keys)}, path={self.path!r})")


cdef inline const char* _skip_ws(const char* p, const char* end) noexcept nogil:
    while p < end and (p[0] == b' ' or p[0] == b'\t' or p[0] == b'\n' or p[0] == b'\r'):
        p += 1
    return p


cdef void _interleave(double* out, const double* px, const double* qty, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[2 * i] = px[i]
        out[2 * i + 1] = qty[i]
