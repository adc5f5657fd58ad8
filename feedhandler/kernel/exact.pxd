# cython: language_level=3
"""Exact-layout JSON tokens: the kernel's fast path for frames in an exchange's own wire layout.

A decoder that sees one byte layout frame after frame (no whitespace, keys in a fixed order,
numbers as plain decimal strings) can match it token by token instead of scanning it with the
general table scanner (``extract.pxd``). Every function here reads only inside ``[q, end)``,
returns the position after the token, and returns NULL when the bytes are not exactly the
expected token; a NULL ``q`` is passed through (NULL in, NULL out), so a layout is one straight
chain of calls with one NULL check at its end. The tokens accepted are valid JSON and convert to
exactly what the general path gives the same text (``float()`` bits, int64 values), so a decoder
that falls back to the general path on NULL decodes every frame the same way. These are inline
functions: each decoder that cimports them gets them compiled into its own code, as if
hand-written there. Tested against the general path in ``tests/kernel/test_exact.py`` and by
each decoder's differential fast-path tests.
"""
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from feedhandler.codec.json_scan cimport JSON_FALSE, JSON_NUMBER, JSON_STRING, JSON_TRUE, JsonSpan
from feedhandler.codec.numbers cimport (
    NUM_OK, fh_all_digits8, fh_decimal_dot8, fh_decimal_fast, fh_swar8, parse_double_inline,
)

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Length of "I.FFFFFFFF" (8 fraction digits) from the first dot in s[0:8], or -1 when
       s[0:8] has no dot (or the platform lacks the builtins). Reads exactly s[0:8]. */
    static inline Py_ssize_t fh_dot8_len(const char* s) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
        uint64_t v, x, dots;
        memcpy(&v, s, 8);
        x = v ^ 0x2E2E2E2E2E2E2E2EULL;                       /* '.' bytes become 0 */
        dots = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
        if (dots == 0) return -1;
        return (Py_ssize_t)(__builtin_ctzll(dots) >> 3) + 9;  /* the first zero byte is exact */
    #else
        (void)s;
        return -1;
    #endif
    }
    """
    Py_ssize_t fh_dot8_len(const char* s) noexcept nogil


cdef inline void fx_span(JsonSpan* span, const char* p, Py_ssize_t n, int kind) noexcept nogil:
    span.ptr = p
    span.len = n
    span.kind = kind
    span.has_escapes = False


cdef inline const char* fx_lit(const char* q, const char* end, const char* lit, Py_ssize_t n) noexcept nogil:
    """The literal lit[0:n] (n is a constant at every call: the compare is inlined)."""
    if q == NULL or end - q < n or memcmp(q, lit, n) != 0:
        return NULL
    return q + n


cdef inline const char* fx_str(const char* q, const char* end, JsonSpan* out) noexcept nogil:
    """A string of printable ASCII without quote or backslash (valid JSON, no escapes)."""
    cdef const char* s0
    cdef unsigned char c
    if q == NULL or q >= end or q[0] != b'"':
        return NULL
    q += 1
    s0 = q
    while q < end:
        c = <unsigned char>q[0]
        if c == b'"':
            fx_span(out, s0, q - s0, JSON_STRING)
            return q + 1
        if c < 0x20 or c > 0x7e or c == b'\\':
            return NULL
        q += 1
    return NULL


cdef inline bint fx_eq(const char* a, const char* b, Py_ssize_t n) noexcept nogil:
    """a[0:n] == b[0:n] (n >= 0) without a libc call: 8-byte words, the last one overlapping the one
    before (n >= 8), two overlapping 4-byte words for 4..7 bytes; only a[0:n] and b[0:n] are read."""
    cdef uint64_t x, y
    cdef uint32_t u, v
    cdef Py_ssize_t i = 0
    if n >= 8:
        while i + 8 < n:
            memcpy(&x, a + i, 8)
            memcpy(&y, b + i, 8)
            if x != y:
                return False
            i += 8
        memcpy(&x, a + n - 8, 8)
        memcpy(&y, b + n - 8, 8)
        return x == y
    if n >= 4:
        memcpy(&u, a, 4)
        memcpy(&v, b, 4)
        if u != v:
            return False
        memcpy(&u, a + n - 4, 4)
        memcpy(&v, b + n - 4, 4)
        return u == v
    while i < n:
        if a[i] != b[i]:
            return False
        i += 1
    return True


cdef inline const char* fx_str_same(const char* q, const char* end, const char* prev, Py_ssize_t prev_n,
                                    JsonSpan* out) noexcept nogil:
    """fx_str, but a string equal to ``prev`` (a string fx_str accepted before) is taken with one
    compare instead of a byte scan."""
    if q != NULL and prev_n > 0 and end - q >= prev_n + 2 and q[0] == b'"' and q[prev_n + 1] == b'"' \
            and fx_eq(q + 1, prev, prev_n):
        fx_span(out, q + 1, prev_n, JSON_STRING)
        return q + prev_n + 2
    return fx_str(q, end, out)


cdef inline const char* fx_str_cached(const char* q, const char* end, char* prev, Py_ssize_t* prev_n,
                                      Py_ssize_t cap, JsonSpan* out) noexcept nogil:
    """fx_str_same with its cache kept: a string that is not ``prev[0:prev_n]`` and is 1..cap bytes
    becomes the new ``prev`` (``prev`` holds cap bytes), so a name repeated frame after frame (a stream,
    a symbol) costs one compare."""
    cdef Py_ssize_t n = prev_n[0]
    if q != NULL and n > 0 and end - q >= n + 2 and q[0] == b'"' and q[n + 1] == b'"' and fx_eq(q + 1, prev, n):
        fx_span(out, q + 1, n, JSON_STRING)
        return q + n + 2
    q = fx_str(q, end, out)
    if q != NULL and 0 < out.len <= cap:
        memcpy(prev, out.ptr, out.len)
        prev_n[0] = out.len
    return q


cdef inline const char* fx_uint(const char* q, const char* end, int64_t* out, JsonSpan* span) noexcept nogil:
    """A JSON integer token of 1..18 digits without sign or leading zero (< 10**18: no overflow)."""
    cdef const char* s0 = q
    cdef int64_t v = 0
    cdef uint64_t w
    if q == NULL:
        return NULL
    # Eight digits at a time while eight bytes are readable and all digits, at most twice (v < 10**16).
    while end - q >= 8 and q - s0 <= 8:
        memcpy(&w, q, 8)
        if not fh_all_digits8(w):
            break
        v = v * 100000000 + <int64_t>fh_swar8(w)
        q += 8
    # At most 18 digits are accumulated (v < 10**17 before each multiply, so v * 10 + 9 < 10**18
    # fits int64): the count is checked before multiplying; a 19th digit is refused below.
    while q < end and q - s0 < 18 and <unsigned char>(q[0] - 48) < 10:
        v = v * 10 + (q[0] - 48)
        q += 1
    if q == s0 or (s0[0] == b'0' and q - s0 > 1):
        return NULL
    if q < end and <unsigned char>(q[0] - 48) < 10:
        return NULL
    out[0] = v
    fx_span(span, s0, q - s0, JSON_NUMBER)
    return q


cdef inline Py_ssize_t fx_dot8(const char* s0, const char* end, double* out) noexcept nogil:
    """Binance's "I.FFFFFFFF" at s0 (just after the opening quote), closed by a quote: its length n
    (10..16, the quote at s0[n]) with *out set, or 0 (any other text: the caller's slower path).

    fh_dot8_len reads s0[0:8] (inside: end - s0 >= 8) and sizes the string from its dot (n <= 16);
    s0[n] is read only when n < end - s0, and fh_decimal_dot8 reads s0[0:8] and s0[n-8:n], inside too.
    """
    cdef Py_ssize_t n
    if end - s0 < 8:
        return 0
    n = fh_dot8_len(s0)
    if n > 0 and n < end - s0 and s0[n] == b'"' and fh_decimal_dot8(s0, n - 9, out):
        return n
    return 0


cdef inline const char* fx_dec(const char* q, const char* end, double* out, JsonSpan* span) noexcept nogil:
    """A string holding a plain decimal "I.F" of at most 16 bytes (every Binance price/quantity).

    Binance's "I.FFFFFFFF" is sized from its dot (fx_dot8); otherwise only the closing quote is
    searched for, at most 17 bytes on: fh_decimal_fast accepts nothing but 3..16 bytes of digits
    around one dot, so the string is plain JSON without escapes.
    """
    cdef const char* s0
    cdef const char* lim
    cdef Py_ssize_t n
    if q == NULL or q >= end or q[0] != b'"':
        return NULL
    s0 = q + 1
    n = fx_dot8(s0, end, out)
    if n > 0:
        fx_span(span, s0, n, JSON_STRING)
        return s0 + n + 1
    lim = s0 + 17 if end - s0 > 17 else end
    q = s0
    while q < lim and q[0] != b'"':
        q += 1
    if q >= lim or not fh_decimal_fast(s0, q - s0, out):
        return NULL
    fx_span(span, s0, q - s0, JSON_STRING)
    return q + 1


cdef inline const char* fx_bool(const char* q, const char* end, bint* out, JsonSpan* span) noexcept nogil:
    """The literal ``true`` or ``false``."""
    if q != NULL and end - q >= 4 and memcmp(q, b"true", 4) == 0:
        out[0] = True
        fx_span(span, q, 4, JSON_TRUE)
        return q + 4
    if q != NULL and end - q >= 5 and memcmp(q, b"false", 5) == 0:
        out[0] = False
        fx_span(span, q, 5, JSON_FALSE)
        return q + 5
    return NULL


cdef inline const char* fx_level_num(const char* q, const char* end, double* out) noexcept:
    """A number-in-string of a level, converted as the general level parser does.

    "I.FFFFFFFF" is sized from its dot (as in fx_dec); otherwise only the closing quote is searched
    for: parse_double accepts nothing but ``[0-9+-.eE]`` (no quote, backslash or control byte), so
    NUM_OK also proves the string plain JSON, and its value is float()'s.
    """
    cdef const char* s0
    cdef Py_ssize_t n
    if q == NULL or q >= end or q[0] != b'"':
        return NULL
    q += 1
    s0 = q
    n = fx_dot8(s0, end, out)
    if n > 0:
        return s0 + n + 1
    while q < end and q[0] != b'"':
        q += 1
    if q >= end or parse_double_inline(s0, q - s0, out) != NUM_OK:
        return NULL
    return q + 1


cdef inline const char* fx_levels(const char* q, const char* end, double* px, double* qty,
                                  Py_ssize_t cap, Py_ssize_t* count) noexcept:
    """Levels in the exact shape ``[["p","q"],...]`` (or ``[]``) into px/qty, at most cap.

    Writes px[n]/qty[n] only for n < cap (checked before each level). NULL for any other shape
    (whitespace, number tokens, levels of other than two items, more than cap levels). *count is
    written only on success. The price/size rule is the caller's (kt_levels_ok).
    """
    cdef Py_ssize_t n = 0
    if q == NULL or q >= end or q[0] != b'[':
        return NULL
    q += 1
    if q < end and q[0] == b']':
        count[0] = 0
        return q + 1
    while True:
        if n >= cap or q >= end or q[0] != b'[':
            return NULL
        q = fx_level_num(q + 1, end, &px[n])
        if q == NULL or q >= end or q[0] != b',':
            return NULL
        q = fx_level_num(q + 1, end, &qty[n])
        # two bytes left: the level's ']' and the ',' or ']' after it are readable
        if q == NULL or end - q < 2 or q[0] != b']':
            return NULL
        n += 1
        q += 1
        if q[0] == b',':
            q += 1
            continue
        if q[0] == b']':
            count[0] = n
            return q + 1
        return NULL
