# cython: language_level=3
"""Exact decimal number parsing from (pointer, length): the C-level API.

Other Cython modules ``cimport`` these functions to turn the digits of a frame
straight into float64 / int64 / uint64 without creating Python objects.

Contract
--------
* ``parse_double`` gives bit-for-bit the float64 that Python's ``float()``
  gives for the same text, for every text it accepts. Accepted grammar (no
  whitespace, no underscores, no ``inf``/``nan``)::

      [+-]? (digits ['.' digits?] | '.' digits) ([eE] [+-]? digits)?

  Decimal overflow follows ``float()``: ``"1e400"`` gives ``inf`` (``-inf``
  with a minus sign) and ``NUM_OK``; underflow gives ``0.0``/``-0.0`` or the
  correctly rounded subnormal, as ``float()`` does. Callers that must refuse
  infinities check ``isinf`` themselves.
* ``parse_int64`` / ``parse_uint64`` accept ``[+-]? digits`` (leading zeros
  allowed, as ``int()`` does) and give ``NUM_OVERFLOW`` when the value is out
  of range. ``parse_uint64`` accepts a minus sign only for a zero value
  (``"-0"`` is 0, which is in range); any other negative is ``NUM_OVERFLOW``.
* Return value: ``NUM_OK`` (0) or a negative ``NUM_*`` code. ``*out`` is
  written only on ``NUM_OK``.
* Nothing is ever read outside ``s[0:n]``; ``s`` need not be NUL-terminated.
* ``parse_double`` must be called with the GIL held: the rare fallback
  (more than 19 significant digits, or an exponent outside the exact fast
  path) calls CPython's ``PyOS_string_to_double``, the routine ``float()``
  uses. It never leaves a Python exception set. The integer parsers are
  ``nogil``.
"""
from libc.stdint cimport int64_t, uint64_t

cdef enum:
    NUM_OK = 0
    NUM_EMPTY = -1      # zero-length input
    NUM_SYNTAX = -2     # text outside the grammar (sign only, "1e", "12a", " 1", "inf", "1_0", ...)
    NUM_OVERFLOW = -3   # integer outside int64 / uint64 range
    NUM_NOMEM = -4      # parse_double fallback could not allocate a buffer for a very long text

cdef int parse_double(const char* s, Py_ssize_t n, double* out) noexcept
cdef int parse_int64(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil
cdef int parse_uint64(const char* s, Py_ssize_t n, uint64_t* out) noexcept nogil
