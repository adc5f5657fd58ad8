"""Zero-copy access to a received frame's bytes, shared by every compiled decoder.

A frame may be ``bytes`` (what the transports hand over), ``str`` (its cached
UTF-8, no copy for ASCII text), or any object exporting a contiguous buffer
(``bytearray``, ``memoryview``: picows' memoryview mode). ``frame_acquire``
points a :c:type:`FrameBytes` at the bytes; ``frame_release`` must follow
(``try``/``finally``), and the pointer is valid only in between.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL


ctypedef struct FrameBytes:
    const char* p
    Py_ssize_t n
    bint has_view
    Py_buffer view


cdef inline int frame_acquire(object raw, FrameBytes* f) except -1:
    """Point ``f`` at ``raw``'s bytes; raises TypeError/BufferError/UnicodeError for anything else."""
    f.has_view = False
    if type(raw) is bytes:
        f.p = PyBytes_AS_STRING(raw)
        f.n = PyBytes_GET_SIZE(raw)
        return 0
    if isinstance(raw, str):
        f.p = PyUnicode_AsUTF8AndSize(raw, &f.n)
        return 0
    PyObject_GetBuffer(raw, &f.view, PyBUF_SIMPLE)
    f.has_view = True
    f.p = <const char*>f.view.buf
    f.n = f.view.len
    return 0


cdef inline void frame_release(FrameBytes* f) noexcept:
    if f.has_view:
        PyBuffer_Release(&f.view)
        f.has_view = False
