# cython: language_level=3
"""The shared symbol table: UTF-8 names from frame bytes -> interned ``str`` and a small int id.

One :class:`SymbolTable` is shared by a decoder and its ``BookSyncGroup`` (the group maps ids to
books), so a symbol seen in a frame is looked up once, by its bytes, with no allocation on a hit.
"""
from libc.stdint cimport int64_t, uint64_t


cdef inline uint64_t fnv1a(const char* p, Py_ssize_t n) noexcept nogil:
    """FNV-1a of the bytes p[0:n] (the hash of the symbol table and of the names a group reported)."""
    cdef uint64_t h = 14695981039346656037ULL
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ <unsigned char>p[i]) * 1099511628211ULL
    return h


cdef class SymbolTable:
    cdef list _keys                   # id -> UTF-8 bytes
    cdef list _names                  # id -> str
    cdef object _table_arr            # open addressing: int64 ids, -1 = empty (at most half full)
    cdef int64_t* _table
    cdef Py_ssize_t _mask
    cdef bytes _last_key              # one-entry cache: the last hit (frames of one symbol in a row)
    cdef Py_ssize_t _last_id
    cdef readonly Py_ssize_t max_symbols

    # id of data[0:n], -1 if unknown (never allocates, never adds)
    cdef Py_ssize_t c_find(self, const char* data, Py_ssize_t n) noexcept
    # id of data[0:n], added if new; -1 when the table is full (max_symbols)
    cdef Py_ssize_t c_add(self, const char* data, Py_ssize_t n) except -2
    # the interned str (added if new; a fresh str, not stored, when the table is full)
    cdef str c_intern(self, const char* data, Py_ssize_t n)
    cdef str c_name(self, Py_ssize_t sid)
    cpdef Py_ssize_t add(self, str name) except -2
    cdef void _rebuild(self, Py_ssize_t size)
