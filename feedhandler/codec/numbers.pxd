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

cdef extern from *:
    """
    #ifndef FH_NUMBERS_FAST_INCLUDED
    #define FH_NUMBERS_FAST_INCLUDED
    #include <string.h>
    #include <stdint.h>
    /* SWAR fast path for the common market-data shape "I.F": 1..7 integer
       digits, a dot in the first 8 bytes, 1..8 fraction digits, n >= 8
       ("117145.49", "0.10000000", "60000.12000000"); n 3..7 goes to fh_short_decimal.  Eight digits are
       converted with three multiplies (Lemire) instead of a serial
       multiply-add chain per digit.  Only s[0:n] is read: the two 8-byte
       loads are at s and s + n - 8, both inside since n >= 8.  Returns 1 and
       sets *m (< 10**15 < 2**53) and *frac (1..8) when the text has exactly
       that shape; 0 otherwise (sign, exponent, other shapes, any non-digit),
       and the caller then runs the general parser.  Same (m, exponent) as the
       general parser, so the result is the same bits. */
    static inline uint64_t fh_swar8(uint64_t v) {
        v -= 0x3030303030303030ULL;
        v = (v * 10) + (v >> 8);
        return (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)))
                + (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
    }
    static inline int fh_all_digits8(uint64_t v) {
        return (((v & 0xF0F0F0F0F0F0F0F0ULL)
                 | (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4))
                == 0x3333333333333333ULL);
    }
    /* The same "I.F" shape when it is shorter than 8 bytes ("0.010", "43000.1": USD-M futures
       quote fewer decimals than spot): a byte loop over s[0:n] (n < 8), so *m < 10**7. */
    static inline int fh_short_decimal(const char* s, Py_ssize_t n, uint64_t* m, int* frac) {
        uint64_t v = 0;
        Py_ssize_t i, dot = -1;
        if (n < 3) return 0;
        for (i = 0; i < n; i++) {
            unsigned int c = (unsigned char)s[i] - 48u;
            if (c < 10u) v = v * 10 + c;
            else if (s[i] == '.' && dot < 0) dot = i;
            else return 0;
        }
        if (dot < 1 || dot == n - 1) return 0;
        *m = v;
        *frac = (int)(n - 1 - dot);
        return 1;
    }
    static inline int fh_swar_decimal(const char* s, Py_ssize_t n, uint64_t* m, int* frac) {
        if (n < 8) return fh_short_decimal(s, n, m, frac);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        static const uint64_t pow10[9] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL,
                                          1000000ULL, 10000000ULL, 100000000ULL};
        uint64_t lo, hi, x, dots, pad;
        Py_ssize_t d, b;
        if (n < 8 || n > 16) return 0;
        memcpy(&lo, s, 8);
        memcpy(&hi, s + n - 8, 8);
        x = lo ^ 0x2E2E2E2E2E2E2E2EULL;                       /* '.' bytes become 0 */
        dots = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
        if (dots == 0) return 0;
        d = __builtin_ctzll(dots) >> 3;                       /* the first zero byte is exact */
        b = n - d - 1;
        if (d < 1 || b < 1 || b > 8) return 0;
        /* integer digits s[0:d] right-aligned, '0' above them (d in 1..7) */
        pad = (d < 8) ? (0x3030303030303030ULL >> (8 * d)) : 0;
        lo = (lo << (8 * (8 - d))) | pad;
        /* fraction digits s[n-b:n] are the top b bytes of hi; '0' below them */
        if (b < 8) {
            uint64_t low = (1ULL << (8 * (8 - b))) - 1;
            hi = (hi & ~low) | (0x3030303030303030ULL & low);
        }
        if (!fh_all_digits8(lo) || !fh_all_digits8(hi)) return 0;
        *m = fh_swar8(lo) * pow10[b] + fh_swar8(hi);
        *frac = (int)b;
        return 1;
    #else
        (void)s; (void)n; (void)m; (void)frac;
        return 0;
    #endif
    }
    /* m / 10**frac for the "I.F" shape: m < 10**15 < 2**53 and 10**frac (frac <= 8) are
       exact doubles, so one IEEE division is the correctly rounded result (Clinger's
       fast path), the same bits as float().  The literals 1e0..1e8 are exact. */
    static inline int fh_decimal_fast(const char* s, Py_ssize_t n, double* out) {
        static const double p10[9] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
        uint64_t m;
        int frac;
        if (!fh_swar_decimal(s, n, &m, &frac)) return 0;
        *out = (double)m / p10[frac];
        return 1;
    }
    /* The exact Binance shape "I.FFFFFFFF" once the caller knows the dot's index d (1..7):
       s[0:d] integer digits, s[d] == '.', s[d+1:d+9] eight fraction digits.  Reads exactly
       s[0:8] and s[d+1:d+9] (both inside s[0:d+9]).  Same (m, 8) as fh_swar_decimal for the
       same text, so the same bits; 0 for any non-digit (the caller then runs the general
       parser). */
    static inline int fh_decimal_dot8(const char* s, Py_ssize_t d, double* out) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        uint64_t lo, hi;
        if (d < 1 || d > 7) return 0;
        memcpy(&lo, s, 8);
        memcpy(&hi, s + d + 1, 8);
        lo = (lo << (8 * (8 - d))) | (0x3030303030303030ULL >> (8 * d));
        if (!fh_all_digits8(lo) || !fh_all_digits8(hi)) return 0;
        *out = (double)(fh_swar8(lo) * 100000000ULL + fh_swar8(hi)) / 1e8;
        return 1;
    #else
        (void)s; (void)d; (void)out;
        return 0;
    #endif
    }
    #endif
    """
    bint fh_decimal_dot8(const char* s, Py_ssize_t d, double* out) noexcept nogil
    uint64_t fh_swar8(uint64_t v) noexcept nogil          # the value of 8 ASCII digits (little-endian load)
    bint fh_all_digits8(uint64_t v) noexcept nogil        # all 8 bytes are '0'..'9'
    bint fh_swar_decimal(const char* s, Py_ssize_t n, uint64_t* m, int* frac) noexcept nogil
    bint fh_decimal_fast(const char* s, Py_ssize_t n, double* out) noexcept nogil

cdef enum:
    NUM_OK = 0
    NUM_EMPTY = -1      # zero-length input
    NUM_SYNTAX = -2     # text outside the grammar (sign only, "1e", "12a", " 1", "inf", "1_0", ...)
    NUM_OVERFLOW = -3   # integer outside int64 / uint64 range
    NUM_NOMEM = -4      # parse_double fallback could not allocate a buffer for a very long text

cdef int parse_double(const char* s, Py_ssize_t n, double* out) noexcept
cdef int parse_int64(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil
cdef int parse_uint64(const char* s, Py_ssize_t n, uint64_t* out) noexcept nogil
# ISO-8601 / RFC 3339 UTC instant ``YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)``
# (Coinbase ``"2023-02-09T20:32:50.714964855Z"``) -> ns since the epoch. A fraction
# may have 1..9 digits (more is NUM_SYNTAX: nanoseconds are the resolution);
# fields are range-checked (a real calendar date, hour < 24, minute and second
# < 60, offset < 24:00); NUM_OVERFLOW outside the int64 nanosecond range.
cdef int parse_iso8601_ns(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil


cdef inline int parse_double_inline(const char* s, Py_ssize_t n, double* out) noexcept:
    """``parse_double`` with its common-shape fast path inlined into the caller.

    Same contract and the same bits as ``parse_double`` (needs the GIL for the
    rare fallback). Decoders call it in their level loops: the "I.F" shape
    (``"117145.49"``, ``"0.10000000"``) is parsed without a cross-module call;
    every other text goes to ``parse_double``.
    """
    if fh_decimal_fast(s, n, out):
        return NUM_OK
    return parse_double(s, n, out)
