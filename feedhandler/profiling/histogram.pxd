from libc.stdint cimport int64_t

cdef class LatencyHistogram:
    """Log-linear latency histogram over preallocated counts (no allocation per sample)."""
    cdef readonly int sub_bucket_bits
    cdef readonly int64_t max_value
    cdef readonly int64_t count
    cdef readonly int64_t min_value
    cdef readonly int64_t max_seen
    cdef readonly int64_t overflow
    cdef double _sum
    cdef object _counts_arr
    cdef int64_t* _counts
    cdef Py_ssize_t _n_buckets

    cdef void c_record(self, int64_t value) noexcept
    cdef Py_ssize_t _index(self, int64_t value) noexcept
    cdef int64_t _lower_bound(self, Py_ssize_t index) noexcept
