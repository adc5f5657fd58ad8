# cython: language_level=3
"""``ReadTap``: the base of a tap on a picows connection's socket reads (see read_tap.pxd)."""


cdef class ReadTap:
    cdef int c_start(self, const char* tail, Py_ssize_t n) except -1:
        self.want_start = False
        return 0

    cdef int c_stop(self, bint keep_current) except -1:
        self.wire = False
        self.want_start = False
        return 0
