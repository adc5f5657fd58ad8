"""A log-linear (HDR-style) latency histogram.

Values ``< 2**sub_bucket_bits`` get a bucket each; above that, every power of
two is split into ``2**sub_bucket_bits`` equal buckets, so the relative error
of a reported percentile is at most ``2**-sub_bucket_bits`` (3.1 % with the
default 5 bits) from 1 ns to ``max_value``. Counts live in one preallocated
int64 array: recording a sample is a few integer operations and never
allocates, so it can sit on the hot path of a profiling build.
"""
cimport cython
from libc.math cimport ceil
from libc.stdint cimport int64_t, uint64_t

import numpy as np


cdef inline int _bit_length(uint64_t v) noexcept nogil:
    cdef int n = 0
    while v:
        v >>= 1
        n += 1
    return n


cdef class LatencyHistogram:
    """Counts of latencies (ns by convention) in log-linear buckets.

    Parameters
    ----------
    max_value:
        Largest trackable value; larger samples count in the last bucket and in
        ``overflow``.
    sub_bucket_bits:
        Precision: ``2**sub_bucket_bits`` buckets per power of two.
    """

    def __init__(self, int64_t max_value=60_000_000_000, int sub_bucket_bits=5):
        if max_value < 1 or not 1 <= sub_bucket_bits <= 12:
            raise ValueError("max_value must be >= 1 and sub_bucket_bits in [1, 12]")
        self.sub_bucket_bits = sub_bucket_bits
        self.max_value = max_value
        self._n_buckets = self._index(max_value) + 1
        self._counts_arr = np.zeros(self._n_buckets, dtype=np.int64)
        cdef int64_t[::1] view = self._counts_arr
        self._counts = &view[0]
        self.reset()

    cdef Py_ssize_t _index(self, int64_t value) noexcept:
        cdef int s = self.sub_bucket_bits
        cdef int b
        if value < (1 << s):
            return <Py_ssize_t>value
        b = _bit_length(<uint64_t>value)  # > s
        # bucket group (b - s), position inside it from the s bits below the leading one
        return <Py_ssize_t>(((b - s) << s) + ((value >> (b - s - 1)) & ((1 << s) - 1)))

    cdef int64_t _lower_bound(self, Py_ssize_t index) noexcept:
        cdef int s = self.sub_bucket_bits
        cdef int64_t group, pos
        if index < (1 << s):
            return index
        group = index >> s          # = b - s >= 1
        pos = index & ((1 << s) - 1)
        return ((1 << s) + pos) << (group - 1)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void c_record(self, int64_t value) noexcept:
        # Bound: value is clamped to [0, max_value] and _index is monotonic, so the index is
        # in [0, _index(max_value)] = [0, _n_buckets - 1].
        if value < 0:
            value = 0
        if value > self.max_value:
            self.overflow += 1
            value = self.max_value
        self._counts[self._index(value)] += 1
        self.count += 1
        self._sum += value
        if value < self.min_value:
            self.min_value = value
        if value > self.max_seen:
            self.max_seen = value

    def record(self, int64_t value):
        """Add one sample (negative values count as 0)."""
        self.c_record(value)

    def record_many(self, values):
        """Add every sample of an int64 array-like."""
        cdef int64_t[::1] v = np.ascontiguousarray(values, dtype=np.int64)
        cdef Py_ssize_t i
        for i in range(v.shape[0]):
            self.c_record(v[i])

    def reset(self):
        """Forget every sample."""
        self._counts_arr[:] = 0
        self.count = 0
        self._sum = 0.0
        self.min_value = 0x7FFFFFFFFFFFFFFF
        self.max_seen = 0
        self.overflow = 0

    def merge(self, LatencyHistogram other):
        """Add the samples of ``other`` (same shape)."""
        if other.sub_bucket_bits != self.sub_bucket_bits or other._n_buckets != self._n_buckets:
            raise ValueError("histograms of different shapes cannot be merged")
        self._counts_arr += other._counts_arr
        self.count += other.count
        self._sum += other._sum
        self.overflow += other.overflow
        if other.count:
            self.min_value = min(self.min_value, other.min_value)
            self.max_seen = max(self.max_seen, other.max_seen)

    def percentile(self, double q):
        """The value below which ``q`` percent of samples fall (upper edge of its bucket, capped at max)."""
        if not 0.0 <= q <= 100.0:
            raise ValueError("q must be in [0, 100]")
        if self.count == 0:
            return 0
        # the rank of the smallest sample with at least q% of samples at or below it (inverted CDF)
        cdef int64_t target = <int64_t>ceil(q / 100.0 * self.count - 1e-9)
        if target < 1:
            target = 1
        cdef int64_t seen = 0
        cdef Py_ssize_t i
        for i in range(self._n_buckets):
            seen += self._counts[i]
            if seen >= target:
                upper = self._lower_bound(i + 1) - 1 if i + 1 < self._n_buckets else self.max_value
                return min(max(upper, self.min_value), self.max_seen)
        return self.max_seen

    def percentiles(self, qs=(50.0, 90.0, 99.0, 99.9)):
        """``{q: value}`` for each ``q``."""
        return {q: self.percentile(q) for q in qs}

    @property
    def mean(self):
        return self._sum / self.count if self.count else 0.0

    @property
    def min(self):
        return self.min_value if self.count else 0

    @property
    def max(self):
        return self.max_seen

    def buckets(self):
        """``(lower_edges, counts)`` of the non-empty buckets, as numpy arrays (for plots)."""
        idx = np.nonzero(self._counts_arr)[0]
        edges = np.array([self._lower_bound(i) for i in idx], dtype=np.int64)
        return edges, self._counts_arr[idx].copy()

    def summary(self, str unit="us", double scale=1e-3):
        """One line: count and p50/p90/p99/p99.9/max scaled (ns -> us by default)."""
        if self.count == 0:
            return "no samples"
        p = self.percentiles((50.0, 90.0, 99.0, 99.9))
        return (f"n={self.count} p50={p[50.0] * scale:.2f}{unit} p90={p[90.0] * scale:.2f}{unit} "
                f"p99={p[99.0] * scale:.2f}{unit} p99.9={p[99.9] * scale:.2f}{unit} "
                f"max={self.max_seen * scale:.2f}{unit}")
