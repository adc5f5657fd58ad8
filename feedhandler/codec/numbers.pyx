# cython: language_level=3
"""Exact decimal number parsing: ``float()``-identical doubles, range-checked integers.

The C-level API is documented in ``numbers.pxd``. This module also offers
small Python wrappers (``parse_float``, ``parse_int``) for tests and users,
and ``parse_many`` for the benchmark.

How ``parse_double`` stays exact
--------------------------------
One pass over the text validates the grammar and collects up to 19
significant digits into a ``uint64`` mantissa ``m`` and a decimal exponent
``e`` (value = m * 10**e). When ``m <= 2**53`` and ``-22 <= e <= 22`` both
``m`` and ``10**|e|`` are exact doubles, so one IEEE multiply or divide gives
the correctly rounded result (Clinger's fast path). Trailing zeros are
stripped from ``m`` and, for ``e > 22``, powers of ten are moved into ``m``
while it stays ``<= 2**53``, which widens the fast path (``"1e23"``,
``"123000000000000000000000"``, ``"1.5000000000e-25"``). Everything else
(more than 19 significant nonzero digits, larger exponents, mantissas above
2**53) goes to CPython's ``PyOS_string_to_double``, David Gay's correctly
rounded ``strtod`` that ``float()`` itself uses, so the answer is the same
bits as ``float()`` in every case.
"""
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject
from libc.stdint cimport INT64_MAX, int64_t, uint64_t, UINT64_MAX
from libc.string cimport memcpy

cimport cython

cdef extern from "Python.h":
    # Not wrapped by Cython's cpython/ headers. With overflow_exception NULL an
    # overflow returns +-HUGE_VAL (inf) like float(); with endptr non-NULL a
    # partial parse sets *endptr instead of raising. It may still set an
    # exception (MemoryError, or ValueError when nothing parsed), so callers
    # check PyErr_Occurred.
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception)

# The SWAR fast path (fh_swar_decimal / fh_decimal_fast) is C code in numbers.pxd, so that
# parse_double_inline can be inlined into the decoders that cimport it.


cdef enum:
    _MAX_MANT_DIGITS = 19         # 10**19 - 1 < 2**64: 19 decimal digits always fit a uint64
    _MAX_EXACT_POW10 = 22         # 10**22 is the largest power of ten that is an exact double
    _EXP_SATURATE = 100000000     # exponent digits beyond this cannot change the result
    _STACK_BUF = 128              # fallback copies shorter texts to the stack

cdef uint64_t _TWO_POW_53 = (<uint64_t>1) << 53
cdef double _POW10[23]


cdef void _init_pow10() noexcept:
    # 10**k for k <= 22 is exactly representable and each product of two
    # exact doubles whose true result is representable is exact, so this
    # table holds the exact powers of ten (no decimal-literal rounding).
    cdef int k
    _POW10[0] = 1.0
    for k in range(1, 23):
        _POW10[k] = _POW10[k - 1] * 10.0


_init_pow10()


cdef inline bint _is_digit(char c) noexcept nogil:
    return <unsigned char>(c - 48) < 10


cdef int _fallback_double(const char* s, Py_ssize_t n, double* out) noexcept:
    """Exact conversion of an already validated text with CPython's strtod."""
    cdef char stack_buf[_STACK_BUF]
    cdef char* buf = stack_buf
    cdef char* endp = NULL
    cdef double value
    cdef int rc = NUM_OK
    if n >= _STACK_BUF:
        # Texts this long are hostile or exotic, never market data; the heap
        # copy keeps them exact instead of refusing them.
        buf = <char*>PyMem_Malloc(<size_t>n + 1)
        if buf == NULL:
            return NUM_NOMEM
    memcpy(buf, s, <size_t>n)
    buf[n] = 0
    value = PyOS_string_to_double(buf, &endp, NULL)
    if PyErr_Occurred() != NULL:
        # Cannot happen for grammar-checked text except MemoryError; the
        # noexcept contract means no exception may escape.
        PyErr_Clear()
        rc = NUM_NOMEM if endp == buf else NUM_SYNTAX
    elif endp != buf + n:
        rc = NUM_SYNTAX
    else:
        out[0] = value
    if buf != stack_buf:
        PyMem_Free(buf)
    return rc


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline int _from_decimal(bint neg, uint64_t m, int64_t e10, const char* s, Py_ssize_t n,
                              double* out) noexcept:
    """The double nearest to (-1)**neg * m * 10**e10; s[0:n] is the validated text for the fallback."""
    # _POW10 is indexed with 0 <= e10 <= 22 or 0 <= -e10 <= 22, checked just before.
    cdef double value
    if m == 0:
        # All digits zero: +-0.0 whatever the exponent, like float("-0e999").
        out[0] = -0.0 if neg else 0.0
        return NUM_OK
    if m > _TWO_POW_53 or e10 < -_MAX_EXACT_POW10:
        # Trailing zeros of the mantissa move into the exponent: "1.50000e-25".
        while m % 10 == 0:           # m != 0 here, so this ends
            m //= 10
            e10 += 1
    if e10 > _MAX_EXACT_POW10:
        # Move surplus powers of ten into m while m stays exact: "1e23".
        while e10 > _MAX_EXACT_POW10 and m <= _TWO_POW_53 // 10:
            m *= 10
            e10 -= 1
    if m <= _TWO_POW_53 and -_MAX_EXACT_POW10 <= e10 <= _MAX_EXACT_POW10:
        value = <double>m            # exact: m <= 2**53
        if e10 >= 0:
            value = value * _POW10[e10]
        else:
            value = value / _POW10[-e10]
        out[0] = -value if neg else value
        return NUM_OK
    return _fallback_double(s, n, out)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline int _parse_exponent(const char* s, Py_ssize_t i, Py_ssize_t n, int64_t* exp10) noexcept nogil:
    """``[eE][+-]?digits`` must fill s[i:n] exactly; saturates huge exponents."""
    # Every s[i] read is guarded by i < n.
    cdef bint neg = False
    cdef int64_t v = 0
    cdef Py_ssize_t start
    if i >= n or (s[i] != b'e' and s[i] != b'E'):
        return NUM_SYNTAX
    i += 1
    if i < n and (s[i] == b'-' or s[i] == b'+'):
        neg = s[i] == b'-'
        i += 1
    start = i
    while i < n and _is_digit(s[i]):
        if v < _EXP_SATURATE:        # beyond this no double changes: keep the sum from overflowing
            v = v * 10 + (s[i] - 48)
        i += 1
    if i == start or i != n:
        return NUM_SYNTAX            # "1e", "1e+", "1e5x"
    exp10[0] = -v if neg else v
    return NUM_OK


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int parse_double(const char* s, Py_ssize_t n, double* out) noexcept:
    # The common case: at most 19 mantissa digits in all, so the digits can
    # be accumulated without tracking significance (leading zeros add
    # nothing; 10**19 - 1 fits a uint64). Longer texts go to the general
    # parser, which keeps 19 significant digits and notes what it drops.
    # Every s[i] read is guarded by i < n.
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t start
    cdef Py_ssize_t ndigits
    cdef bint neg = False
    cdef uint64_t m = 0              # wraps harmlessly when ndigits > 19: then it is not used
    cdef int64_t e10 = 0
    cdef int64_t exp10 = 0
    cdef int rc
    cdef int frac
    if fh_swar_decimal(s, n, &m, &frac):
        # "I.F" with at most 15 digits: m < 2**53 and 1 <= frac <= 8, so
        # this is Clinger's exact case (one correctly rounded division).
        out[0] = <double>m / _POW10[frac]
        return NUM_OK
    if n <= 0:
        return NUM_EMPTY
    if s[0] == b'-' or s[0] == b'+':
        neg = s[0] == b'-'
        i = 1
    start = i
    while i < n and _is_digit(s[i]):
        m = m * 10 + <unsigned int>(s[i] - 48)
        i += 1
    ndigits = i - start
    if i < n and s[i] == b'.':
        i += 1
        start = i
        while i < n and _is_digit(s[i]):
            m = m * 10 + <unsigned int>(s[i] - 48)
            i += 1
        e10 = -(i - start)
        ndigits += i - start
    if ndigits == 0:
        return NUM_SYNTAX            # "", "+", ".", "e5", "inf", ...
    if ndigits > _MAX_MANT_DIGITS:
        return _parse_double_general(s, n, out)
    if i != n:
        rc = _parse_exponent(s, i, n, &exp10)
        if rc != NUM_OK:
            return rc
        e10 += exp10
    return _from_decimal(neg, m, e10, s, n, out)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _parse_double_general(const char* s, Py_ssize_t n, double* out) noexcept:
    # Every s[i] read below is guarded by i < n.
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef bint inexact = False        # a nonzero digit fell beyond the 19 kept
    cdef Py_ssize_t ndigits = 0      # digits in the mantissa part (int + frac), for the grammar
    cdef int nsig = 0                # significant digits kept in m
    cdef uint64_t m = 0
    cdef int64_t e10 = 0             # decimal exponent adjustment from the digit positions
    cdef int64_t exp10 = 0
    cdef unsigned int d
    cdef int rc
    if n <= 0:
        return NUM_EMPTY
    if s[0] == b'-' or s[0] == b'+':
        neg = s[0] == b'-'
        i = 1
    # Integer part.
    while i < n and _is_digit(s[i]):
        d = <unsigned int>(s[i] - 48)
        if nsig < _MAX_MANT_DIGITS:
            if m != 0 or d != 0:     # leading zeros are not significant
                m = m * 10 + d
                nsig += 1
        else:
            e10 += 1                 # dropped integer digit still scales the value
            if d != 0:
                inexact = True
        ndigits += 1
        i += 1
    # Fraction part.
    if i < n and s[i] == b'.':
        i += 1
        while i < n and _is_digit(s[i]):
            d = <unsigned int>(s[i] - 48)
            if nsig < _MAX_MANT_DIGITS:
                if m != 0 or d != 0:
                    m = m * 10 + d
                    nsig += 1
                e10 -= 1             # leading fraction zeros shift the exponent too
            elif d != 0:
                inexact = True
            ndigits += 1
            i += 1
    if ndigits == 0:
        return NUM_SYNTAX
    if i != n:
        rc = _parse_exponent(s, i, n, &exp10)
        if rc != NUM_OK:
            return rc
    if inexact:
        return _fallback_double(s, n, out)
    return _from_decimal(neg, m, e10 + exp10, s, n, out)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline int _parse_magnitude(const char* s, Py_ssize_t n, bint* neg, uint64_t* mag,
                                 uint64_t pos_max, uint64_t neg_max) noexcept nogil:
    """``[+-]? digits`` into a uint64 magnitude and its sign.

    NUM_OVERFLOW beyond 2**64-1, or beyond ``pos_max`` (a positive value) / ``neg_max`` (a negative one).
    """
    # Every s[i] read is guarded by i < n.
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t start
    cdef uint64_t v = 0
    cdef unsigned int d
    cdef bint overflow = False
    if n <= 0:
        return NUM_EMPTY
    neg[0] = False
    if s[0] == b'-' or s[0] == b'+':
        neg[0] = s[0] == b'-'
        i = 1
    start = i
    while i < n and _is_digit(s[i]):
        d = <unsigned int>(s[i] - 48)
        # v * 10 + d <= UINT64_MAX  <=>  v <= (UINT64_MAX - d) / 10
        if v > (UINT64_MAX - d) // 10:
            overflow = True          # keep scanning: "999...9x" is a syntax error
        else:
            v = v * 10 + d
        i += 1
    if i == start or i != n:
        return NUM_SYNTAX
    if overflow or v > (neg_max if neg[0] else pos_max):
        return NUM_OVERFLOW
    mag[0] = v
    return NUM_OK


cdef int parse_int64(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    cdef bint neg
    cdef uint64_t mag
    cdef int rc = _parse_magnitude(s, n, &neg, &mag, <uint64_t>INT64_MAX, (<uint64_t>INT64_MAX) + 1)
    if rc == NUM_OK:
        # -(2**63) has no positive int64 twin: negate in unsigned arithmetic.
        out[0] = <int64_t>(0 - mag) if neg else <int64_t>mag
    return rc


cdef int parse_uint64(const char* s, Py_ssize_t n, uint64_t* out) noexcept nogil:
    cdef bint neg
    cdef uint64_t mag
    # below zero is out of range, like a too-large value ("-0" is 0)
    cdef int rc = _parse_magnitude(s, n, &neg, &mag, UINT64_MAX, 0)
    if rc == NUM_OK:
        out[0] = mag
    return rc


cdef inline int _fixed_digits(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """s[0:n] as exactly n decimal digits (n <= 4 here, so no overflow); -1 if one is not a digit."""
    cdef int64_t v = 0
    cdef Py_ssize_t i
    for i in range(n):
        if not _is_digit(s[i]):
            return -1
        v = v * 10 + (s[i] - 48)
    out[0] = v
    return 0


cdef inline int64_t _days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    # Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef int parse_iso8601_ns(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    cdef int64_t year, month, day, hour, minute, second, oh, om, days, secs, frac = 0
    cdef int64_t mdays
    cdef Py_ssize_t i = 19, nd = 0
    cdef int64_t ns
    if n == 0:
        return NUM_EMPTY
    # Fixed part "YYYY-MM-DDTHH:MM:SS": 19 bytes, each checked before it is read.
    if n < 20 or s[4] != b'-' or s[7] != b'-' or (s[10] != b'T' and s[10] != b't') \
            or s[13] != b':' or s[16] != b':':
        return NUM_SYNTAX
    if _fixed_digits(s, 4, &year) or _fixed_digits(s + 5, 2, &month) or _fixed_digits(s + 8, 2, &day) \
            or _fixed_digits(s + 11, 2, &hour) or _fixed_digits(s + 14, 2, &minute) \
            or _fixed_digits(s + 17, 2, &second):
        return NUM_SYNTAX
    if month < 1 or month > 12 or day < 1 or hour > 23 or minute > 59 or second > 59:
        return NUM_SYNTAX
    if month == 2:
        mdays = 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28
    elif month == 4 or month == 6 or month == 9 or month == 11:
        mdays = 30
    else:
        mdays = 31
    if day > mdays:
        return NUM_SYNTAX
    if s[i] == b'.':
        i += 1
        while i < n and _is_digit(s[i]):
            if nd == 9:
                return NUM_SYNTAX      # finer than a nanosecond
            frac = frac * 10 + (s[i] - 48)   # at most 9 digits: < 10**9
            nd += 1
            i += 1
        if nd == 0:
            return NUM_SYNTAX
        while nd < 9:
            frac *= 10
            nd += 1
    if i >= n:
        return NUM_SYNTAX
    oh = 0
    om = 0
    if s[i] == b'Z' or s[i] == b'z':
        i += 1
    elif s[i] == b'+' or s[i] == b'-':
        if n - i != 6 or s[i + 3] != b':' or _fixed_digits(s + i + 1, 2, &oh) \
                or _fixed_digits(s + i + 4, 2, &om) or oh > 23 or om > 59:
            return NUM_SYNTAX
        if s[i] == b'-':
            oh = -oh
            om = -om
        i += 6
    else:
        return NUM_SYNTAX
    if i != n:
        return NUM_SYNTAX
    # |secs| < 400 * 10**9 for years 0..9999: no int64 overflow up to here.
    days = _days_from_civil(year, month, day)
    secs = days * 86400 + hour * 3600 + minute * 60 + second - oh * 3600 - om * 60
    # Range check before multiplying: secs * 10**9 + frac must fit int64.
    if secs > 9223372035LL or secs < -9223372036LL:
        return NUM_OVERFLOW
    ns = secs * 1000000000LL
    if secs == 9223372035LL and frac > 854775807LL:
        return NUM_OVERFLOW
    out[0] = ns + frac
    return NUM_OK


def parse_iso8601(text):
    """Nanoseconds since the epoch of an ISO-8601 UTC instant (``numbers.pxd`` grammar).

    Parameters
    ----------
    text : str or bytes
        E.g. ``"2023-02-09T20:32:50.714964855Z"``.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        Text outside the grammar, an impossible date, or out of the int64 range.
    """
    cdef bytes b = text.encode() if isinstance(text, str) else bytes(text)
    cdef int64_t out = 0
    cdef int rc = parse_iso8601_ns(b, len(b), &out)
    if rc != NUM_OK:
        raise ValueError(f"{_reason(rc)}: {text!r} is not an ISO-8601 UTC instant")
    return out


# ---------------------------------------------------------------------------
# Python wrappers

cdef str _reason(int rc):
    if rc == NUM_EMPTY:
        return "empty text"
    if rc == NUM_SYNTAX:
        return "invalid syntax"
    if rc == NUM_OVERFLOW:
        return "out of range"
    if rc == NUM_NOMEM:
        return "out of memory"
    return f"error {rc}"


cdef str _describe(bytes data):
    # Long hostile inputs must not make huge messages.
    if len(data) > 60:
        return repr(data[:60]) + f"... ({len(data)} bytes)"
    return repr(data)


def error_message(int code):
    """Describe a ``NUM_*`` return code.

    Parameters
    ----------
    code : int
        A value returned by ``parse_double``/``parse_int64``/``parse_uint64``.

    Returns
    -------
    str
        A short reason such as ``"invalid syntax"``.
    """
    if code == NUM_OK:
        return "ok"
    return _reason(code)


def parse_float(bytes data not None):
    """Parse a decimal text exactly as ``float()`` would.

    Parameters
    ----------
    data : bytes
        ASCII text in the grammar ``[+-]?(digits[.digits?]|.digits)([eE][+-]?digits)?``.

    Returns
    -------
    float
        The same value, bit for bit, as ``float(data)``. Overflow gives
        ``inf``/``-inf`` as ``float()`` does.

    Raises
    ------
    ValueError
        If the text is empty or outside the grammar (whitespace, underscores,
        ``inf``/``nan`` are refused); the message names the text and reason.
    """
    cdef double value
    cdef int rc = parse_double(data, len(data), &value)
    if rc != NUM_OK:
        raise ValueError(f"cannot parse float from {_describe(data)}: {_reason(rc)}")
    return value


def parse_int(bytes data not None, bint signed=True):
    """Parse ``[+-]?digits`` into a 64-bit integer.

    Parameters
    ----------
    data : bytes
        ASCII decimal integer text; leading zeros are allowed.
    signed : bool, default True
        ``True`` for the int64 range, ``False`` for the uint64 range.

    Returns
    -------
    int
        The same value as ``int(data)``.

    Raises
    ------
    ValueError
        If the text is empty, outside the grammar, or out of range; the
        message names the text and the reason.
    """
    cdef int64_t i64
    cdef uint64_t u64
    cdef int rc
    cdef const char* s = data
    cdef Py_ssize_t n = len(data)
    if signed:
        rc = parse_int64(s, n, &i64)
        if rc == NUM_OK:
            return i64
    else:
        rc = parse_uint64(s, n, &u64)
        if rc == NUM_OK:
            return u64
    kind = "int64" if signed else "uint64"
    raise ValueError(f"cannot parse {kind} from {_describe(data)}: {_reason(rc)}")


def parse_many(list items not None):
    """Sum ``parse_double`` over a list of bytes (benchmark helper).

    Parameters
    ----------
    items : list of bytes
        Decimal texts.

    Returns
    -------
    float
        The sum of the parsed values, added in list order.

    Raises
    ------
    ValueError
        At the first text that does not parse.
    """
    cdef double total = 0.0
    cdef double value
    cdef int rc
    cdef object item
    for item in items:
        rc = parse_double(<bytes?>item, len(<bytes>item), &value)
        if rc != NUM_OK:
            raise ValueError(f"cannot parse float from {_describe(item)}: {_reason(rc)}")
        total += value
    return total
