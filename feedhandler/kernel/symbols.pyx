# cython: language_level=3
"""The shared symbol table (C API in ``symbols.pxd``).

FNV-1a over the UTF-8 bytes into an open-addressing table kept at most half
full (so a probe always ends at an empty slot), behind a one-entry cache of
the last hit. Ids are dense and never reused: a group that forgets a symbol
keeps its id (the name costs a few bytes; ``max_symbols`` bounds the table, so
a server inventing names cannot grow it without limit).
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp

import numpy as np


cdef class SymbolTable:
    """Interned symbol names by their UTF-8 bytes, each with a dense int id.

    Parameters
    ----------
    max_symbols : int
        Most names stored; beyond it ``c_add`` returns -1 and ``c_intern`` a fresh ``str``.
    """

    def __init__(self, Py_ssize_t max_symbols=65536):
        if max_symbols < 1:
            raise ValueError("max_symbols must be at least 1")
        self.max_symbols = max_symbols
        self._keys = []
        self._names = []
        self._last_key = None
        self._last_id = -1
        self._rebuild(16)

    cdef void _rebuild(self, Py_ssize_t size):
        cdef Py_ssize_t i, slot
        cdef bytes key
        self._table_arr = np.full(size, -1, dtype=np.int64)
        cdef int64_t[::1] view = self._table_arr
        self._table = &view[0]
        self._mask = size - 1
        for i in range(len(self._keys)):
            key = <bytes>self._keys[i]
            slot = <Py_ssize_t>(fnv1a(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) & <uint64_t>self._mask)
            while self._table[slot] >= 0:
                slot = (slot + 1) & self._mask
            self._table[slot] = i

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef Py_ssize_t c_find(self, const char* data, Py_ssize_t n) noexcept:
        cdef Py_ssize_t slot
        cdef int64_t sid
        cdef bytes key
        if self._last_key is not None and PyBytes_GET_SIZE(self._last_key) == n \
                and memcmp(PyBytes_AS_STRING(self._last_key), data, n) == 0:
            return self._last_id
        # Bound: slot is masked to [0, mask] and the table has mask + 1 entries; every stored id
        # indexes _keys (ids are appended with their key); the table is at most half full, so the
        # probe ends at an empty slot.
        slot = <Py_ssize_t>(fnv1a(data, n) & <uint64_t>self._mask)
        while True:
            sid = self._table[slot]
            if sid < 0:
                return -1
            key = <bytes>self._keys[sid]
            if PyBytes_GET_SIZE(key) == n and memcmp(PyBytes_AS_STRING(key), data, n) == 0:
                self._last_key = key
                self._last_id = sid
                return sid
            slot = (slot + 1) & self._mask

    cdef Py_ssize_t c_add(self, const char* data, Py_ssize_t n) except -2:
        cdef Py_ssize_t sid = self.c_find(data, n)
        cdef Py_ssize_t slot
        cdef bytes key
        if sid >= 0:
            return sid
        if len(self._keys) >= self.max_symbols:
            return -1
        key = data[:n]
        sid = len(self._keys)
        self._keys.append(key)
        self._names.append(key.decode("utf-8", "replace"))
        if 2 * (sid + 1) > self._mask + 1:
            self._rebuild(2 * (self._mask + 1))
        else:
            slot = <Py_ssize_t>(fnv1a(data, n) & <uint64_t>self._mask)
            while self._table[slot] >= 0:
                slot = (slot + 1) & self._mask
            self._table[slot] = sid
        return sid

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef str c_intern(self, const char* data, Py_ssize_t n):
        cdef bytes last = self._last_key
        cdef Py_ssize_t sid
        if last is not None and PyBytes_GET_SIZE(last) == n and memcmp(PyBytes_AS_STRING(last), data, n) == 0:
            # the one-entry cache (frames of one symbol in a row): _last_id is the id c_find stored
            # with _last_key, an index of _names (ids are appended with their names, never removed)
            return <str>self._names[self._last_id]
        sid = self.c_add(data, n)
        if sid < 0:
            return data[:n].decode("utf-8", "replace")
        return <str>self._names[sid]

    cdef str c_name(self, Py_ssize_t sid):
        return <str>self._names[sid]

    cpdef Py_ssize_t add(self, str name) except -2:
        """The id of ``name``, added if new (-1 when the table is full)."""
        cdef bytes b = name.encode("utf-8")
        return self.c_add(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    def find(self, name):
        """The id of ``name`` (str or UTF-8 bytes), -1 if unknown."""
        cdef bytes b = name.encode("utf-8") if isinstance(name, str) else bytes(name)
        return self.c_find(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    def intern(self, bytes name):
        """The interned str of the UTF-8 ``name`` (the same object on every call once stored)."""
        return self.c_intern(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))

    def name(self, Py_ssize_t sid):
        """The name of id ``sid``."""
        if not 0 <= sid < len(self._names):
            raise IndexError(f"no symbol id {sid}")
        return self._names[sid]

    def __len__(self):
        return len(self._keys)

    def __contains__(self, name):
        return self.find(name) >= 0

    def names(self):
        """Every stored name, in id order."""
        return list(self._names)
