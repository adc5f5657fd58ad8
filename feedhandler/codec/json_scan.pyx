# cython: language_level=3
"""Strict, allocation-free JSON scanning kernel (C API and contract in ``json_scan.pxd``).

The scanner walks bytes once, left to right, with a string loop that checks
8 bytes at a time (SWAR) and an explicit 64-bit nesting stack (bit ``d`` set =
level ``d`` is an object), so hostile nesting costs an error code, never a
deep C stack.

Decoders walk a frame in a single pass with ``json_object_next_lazy``: nested
objects are iterated in place (``json_iter_child``) and level arrays parsed
where they are met (``json_iter_levels``), instead of validating each value
and then scanning it again. Level numbers in the usual shapes are validated
and converted in the same pass (``_fast_level_num``, bit-for-bit the
``parse_double`` result); all other texts take the general scanner and
``parse_double``.

Python helpers (``validate``, ``object_items``, ``array_items``,
``scan_levels``, ``value_to_float``, ``value_to_int``) wrap the kernel for
tests and users; they raise ``JsonScanError`` (a ``ValueError``) carrying the
code and the byte offset.
"""
cimport cython
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp, memcpy

from feedhandler.codec.numbers cimport NUM_OK, NUM_OVERFLOW, parse_double, parse_int64

import numpy as np

cnp.import_array()

cdef enum:
    # JsonIter.state values (>= 0); negative states are sticky error codes.
    _ST_OBJ_FIRST = 1    # just after '{'
    _ST_OBJ_NEXT = 2     # after a member: ',' or '}' expected
    _ST_ARR_FIRST = 3
    _ST_ARR_NEXT = 4
    _ST_DONE = 5
    _ST_OBJ_PENDING = 6  # lazy: it.p is at the opening bracket of a container value not yet scanned
    _ST_OBJ_CHILD = 7    # lazy: a child iterator is walking the pending container
    _ST_ARR_PENDING = 8  # json_array_next_lazy: it.p is at a container item not yet scanned
    _ST_ARR_CHILD = 9    # json_array_next_lazy: a child iterator is walking the pending item
    _SCRATCH_LEVELS = 512  # scan_levels parses into this scratch, then copies exact-size arrays

# 1 for bytes a string may contain as they are: 0x20..0x7f except '"' and '\\'.
# Everything else (quote, backslash, control characters, non-ASCII) takes the
# slow branch of the string loop.
cdef unsigned char _STR_PLAIN[256]
# Hex digit values, 255 for non-hex bytes.
cdef unsigned char _HEX[256]
# Exact powers of ten 10**0..10**22 (each an exact double; see numbers.pyx).
cdef double _POW10[23]
cdef uint64_t _TWO_POW_53 = (<uint64_t>1) << 53
cdef extern from *:
    """
    #define FH_JSON_ONES 0x0101010101010101ULL
    #define FH_JSON_HIGHS 0x8080808080808080ULL
    """
    # compile-time constants (a module variable would be loaded from memory in every string scan)
    const uint64_t _ONES "FH_JSON_ONES"
    const uint64_t _HIGHS "FH_JSON_HIGHS"


cdef void _init_tables() noexcept:
    cdef int c
    for c in range(256):
        _STR_PLAIN[c] = 1 if (0x20 <= c < 0x80 and c != 0x22 and c != 0x5C) else 0
        if 0x30 <= c <= 0x39:
            _HEX[c] = c - 0x30
        elif 0x61 <= c <= 0x66:
            _HEX[c] = c - 0x61 + 10
        elif 0x41 <= c <= 0x46:
            _HEX[c] = c - 0x41 + 10
        else:
            _HEX[c] = 255
    # Products of exact doubles with a representable result are exact: the
    # same table as numbers.pyx builds, so the fast level parse below gives
    # the bits parse_double gives.
    _POW10[0] = 1.0
    for c in range(1, 23):
        _POW10[c] = _POW10[c - 1] * 10.0


_init_tables()


# ---------------------------------------------------------------------------
# Token scanners. Each takes ``const char** pp`` pointing at the first byte of
# the token, returns 0 with *pp one past the token, or an error code with *pp
# at the offending byte. None reads at or beyond ``end``.

cdef inline const char* _skip_ws(const char* p, const char* end) noexcept nogil:
    # Every whitespace byte is <= 0x20, so the usual case (a token byte) costs one compare.
    while p < end and <unsigned char>p[0] <= 0x20 and (
            p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p += 1
    return p


cdef inline bint _is_digit(char c) noexcept nogil:
    return <unsigned char>(c - 48) < 10


cdef inline int _hex4(const char* p) noexcept nogil:
    """Value of 4 hex digits at p[0:4] (caller checked the bytes exist), -1 if not hex."""
    cdef unsigned char a = _HEX[<unsigned char>p[0]]
    cdef unsigned char b = _HEX[<unsigned char>p[1]]
    cdef unsigned char c = _HEX[<unsigned char>p[2]]
    cdef unsigned char d = _HEX[<unsigned char>p[3]]
    if (a | b | c | d) & 0xF0:       # only the 255 marker has high bits set
        return -1
    return (a << 12) | (b << 8) | (c << 4) | d


cdef inline bint _is_cont(unsigned char c) noexcept nogil:
    return (c & 0xC0) == 0x80


cdef inline int _utf8_len(const char* p, const char* end) noexcept nogil:
    """Length (2..4) of the valid UTF-8 sequence at p, 0 if invalid or cut short.

    The same rules as Python's strict UTF-8 decoder (RFC 3629): no overlong
    forms, no encoded surrogates, nothing above U+10FFFF.
    """
    cdef unsigned char c0 = <unsigned char>p[0]
    cdef unsigned char c1, lo = 0x80, hi = 0xBF   # the second byte's range (a continuation byte by default)
    cdef int n, i
    if 0xC2 <= c0 <= 0xDF:
        n = 2
    elif 0xE0 <= c0 <= 0xEF:
        n = 3
        if c0 == 0xE0:
            lo = 0xA0                 # E0 80..9F would be overlong
        elif c0 == 0xED:
            hi = 0x9F                 # ED A0..BF would be a surrogate
    elif 0xF0 <= c0 <= 0xF4:
        n = 4
        if c0 == 0xF0:
            lo = 0x90                 # F0 80..8F would be overlong
        elif c0 == 0xF4:
            hi = 0x8F                 # F4 90.. would exceed U+10FFFF
    else:
        return 0
    if end - p < n:
        return 0
    c1 = <unsigned char>p[1]
    if c1 < lo or c1 > hi:
        return 0
    for i in range(2, n):             # i < n <= end - p
        if not _is_cont(<unsigned char>p[i]):
            return 0
    return n


cdef extern from *:
    """
    /* Index (0..7) of the byte of a _word_special mask that flags the first byte in memory:
     * the lowest set bit on little-endian targets. Elsewhere 0, which only means "look from
     * the start of the word": the caller's byte loop then finds the byte itself. */
    static inline int fh_json_first_flagged(uint64_t mask) {
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return __builtin_ctzll(mask) >> 3;
    #else
        (void)mask;
        return 0;
    #endif
    }
    """
    int fh_json_first_flagged(uint64_t mask) nogil

cdef extern from *:
    """
    /* 1 and *acc = *acc * 10**8 + value if p[0:8] (inside [p, end)) are 8 decimal digits, else 0.
     * Byte b is a digit iff its high nibble is 3 and b + 6 keeps it 3 (a carry out of a byte
     * comes only from a non-digit byte); the 8 digits are combined by three SWAR multiplies. */
    static inline __attribute__((always_inline)) int fh_json_8digits(const char* p, const char* end, uint64_t* acc) {
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t w, v;
        if (end - p < 8)
            return 0;
        memcpy(&w, p, 8);
        if ((((w & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL)
             | (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL)) != 0)
            return 0;
        v = w & 0x0F0F0F0F0F0F0F0FULL;
        v = (v * 10) + (v >> 8);
        v = (((v & 0x000000FF000000FFULL) * 0x000F424000000064ULL)
             + (((v >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >> 32;
        *acc = *acc * 100000000ULL + v;
        return 1;
    #else
        (void)p; (void)end; (void)acc;
        return 0;
    #endif
    }
    """
    int fh_json_8digits(const char* p, const char* end, uint64_t* acc) nogil


cdef inline uint64_t _word_special(uint64_t w) noexcept nogil:
    """High bit of each byte of w that is not plain string content (0 if all 8 are plain; SWAR).

    Per byte x: x - 0x20 borrows (high bit set) iff x < 0x20; (x ^ 0x22) - 1
    and (x ^ 0x5C) - 1 borrow iff x is the quote / the backslash; x itself
    has the high bit iff non-ASCII. A borrow only spreads upwards (to later
    bytes) from a byte that already fails, so the flag of the first failing
    byte is exact, and a word of plain bytes has none.
    """
    cdef uint64_t q = w ^ (0x22 * _ONES)
    cdef uint64_t b = w ^ (0x5C * _ONES)
    return ((w - 0x20 * _ONES) | (q - _ONES) | (b - _ONES) | w) & _HIGHS


cdef int _scan_string(const char** pp, const char* end, JsonSpan* out) noexcept nogil:
    # *pp is at the opening quote (checked by the caller).
    cdef const char* p = pp[0] + 1
    cdef const char* start = p
    cdef bint esc = False
    cdef unsigned char c
    cdef int k
    cdef uint64_t w, special
    while True:
        # 8 bytes at a time while 8 remain (end - p >= 8 bounds the load); a word
        # with a special byte moves p onto it (or leaves p for the byte loop).
        while end - p >= 8:
            memcpy(&w, p, 8)
            special = _word_special(w)
            if special:
                p += fh_json_first_flagged(special)
                break
            p += 8
        while p < end and _STR_PLAIN[<unsigned char>p[0]]:
            p += 1
        if p >= end:
            pp[0] = p
            return JSON_ERR_EOF
        c = <unsigned char>p[0]
        if c == 0x22:  # '"'
            break
        if c == 0x5C:  # '\\'
            esc = True
            if end - p < 2:
                pp[0] = end
                return JSON_ERR_EOF
            c = <unsigned char>p[1]
            if (c == 0x22 or c == 0x5C or c == 0x2F or c == 0x62 or c == 0x66
                    or c == 0x6E or c == 0x72 or c == 0x74):  # " \ / b f n r t
                p += 2
            elif c == 0x75:  # 'u'
                if end - p < 6:
                    pp[0] = end
                    return JSON_ERR_EOF
                if _hex4(p + 2) < 0:
                    pp[0] = p
                    return JSON_ERR_STRING
                p += 6
            else:
                pp[0] = p
                return JSON_ERR_STRING
        elif c < 0x20:
            pp[0] = p
            return JSON_ERR_STRING
        else:
            k = _utf8_len(p, end)
            if k == 0:
                pp[0] = p
                return JSON_ERR_STRING
            p += k
    out.ptr = start
    out.len = p - start
    out.kind = JSON_STRING
    out.has_escapes = esc
    pp[0] = p + 1
    return JSON_OK


cdef inline int _digits(const char** pp, const char* end) noexcept nogil:
    """One or more decimal digits at *pp (passed); else JSON_ERR_EOF / JSON_ERR_NUMBER with *pp unchanged."""
    cdef const char* p = pp[0]
    if p >= end:
        return JSON_ERR_EOF
    if not _is_digit(p[0]):
        return JSON_ERR_NUMBER
    while p < end and _is_digit(p[0]):
        p += 1
    pp[0] = p
    return JSON_OK


cdef int _scan_number(const char** pp, const char* end) noexcept nogil:
    # JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    cdef const char* p = pp[0]
    cdef int rc
    if p < end and p[0] == b'-':
        p += 1
    if p >= end:
        pp[0] = p
        return JSON_ERR_EOF
    if p[0] == b'0':
        p += 1
        if p < end and _is_digit(p[0]):
            pp[0] = p                  # leading zero: "01"
            return JSON_ERR_NUMBER
    elif _is_digit(p[0]):
        p += 1
        while p < end and _is_digit(p[0]):
            p += 1
    else:
        pp[0] = p
        return JSON_ERR_NUMBER
    rc = JSON_OK
    if p < end and p[0] == b'.':
        p += 1
        rc = _digits(&p, end)
    if rc == JSON_OK and p < end and (p[0] == b'e' or p[0] == b'E'):
        p += 1
        if p < end and (p[0] == b'+' or p[0] == b'-'):
            p += 1
        rc = _digits(&p, end)
    pp[0] = p
    return rc


cdef inline int _scan_literal(const char** pp, const char* end, const char* lit, Py_ssize_t n) noexcept nogil:
    cdef const char* p = pp[0]
    if end - p < n:
        if memcmp(p, lit, <size_t>(end - p)) == 0:
            pp[0] = end
            return JSON_ERR_EOF        # a cut-off literal: "tr"
        return JSON_ERR_LITERAL
    if memcmp(p, lit, <size_t>n) != 0:
        return JSON_ERR_LITERAL
    pp[0] = p + n
    return JSON_OK


cdef inline int _expect_byte(const char* p, const char* end, char c) noexcept nogil:
    """JSON_OK if p holds c, JSON_ERR_EOF at the end, else JSON_ERR_SYNTAX."""
    if p >= end:
        return JSON_ERR_EOF
    return JSON_OK if p[0] == c else JSON_ERR_SYNTAX


cdef inline int _scan_key_colon(const char** pp, const char* end, JsonSpan* key) noexcept nogil:
    """Object member head: string key, ':' ; *pp left at the value (whitespace skipped), or at the error."""
    cdef const char* p = pp[0]
    cdef int rc = _expect_byte(p, end, b'"')
    if rc == JSON_OK:
        rc = _scan_string(&p, end, key)
    if rc == JSON_OK:
        p = _skip_ws(p, end)
        rc = _expect_byte(p, end, b':')
    if rc == JSON_OK:
        p = _skip_ws(p + 1, end)
    pp[0] = p
    return rc


cdef inline int _scan_scalar(const char** pp, const char* end, JsonSpan* out) noexcept nogil:
    """A string, number or literal at *pp (p < end checked by the caller)."""
    cdef const char* start = pp[0]
    cdef char c = start[0]
    cdef int rc
    out.has_escapes = False
    if c == b'"':
        return _scan_string(pp, end, out)
    if c == b'-' or _is_digit(c):
        rc = _scan_number(pp, end)
        out.kind = JSON_NUMBER
    elif c == b't':
        rc = _scan_literal(pp, end, b"true", 4)
        out.kind = JSON_TRUE
    elif c == b'f':
        rc = _scan_literal(pp, end, b"false", 5)
        out.kind = JSON_FALSE
    elif c == b'n':
        rc = _scan_literal(pp, end, b"null", 4)
        out.kind = JSON_NULL
    else:
        return JSON_ERR_SYNTAX
    out.ptr = start
    out.len = pp[0] - start
    return rc


cdef inline int _stop(const char** pp, const char* p, int rc) noexcept nogil:
    """Leave the walk: the position reached goes back to the caller, with ``rc``."""
    pp[0] = p
    return rc


cdef int _skip_container(const char** pp, const char* end, int maxdepth) noexcept nogil:
    """Validate the array/object at *pp ('[' or '{') without recursion; at most maxdepth levels."""
    cdef const char* p = pp[0]
    cdef uint64_t stack = 0      # bit d set: nesting level d is an object
    cdef int depth = 0
    cdef int rc
    cdef bint in_obj
    cdef char c
    cdef JsonSpan tmp
    while True:
        # p is at the start of a value (whitespace skipped).
        if p >= end:
            return _stop(pp, p, JSON_ERR_EOF)
        c = p[0]
        if c == b'{' or c == b'[':
            if depth >= maxdepth:
                return _stop(pp, p, JSON_ERR_DEPTH)
            in_obj = c == b'{'
            if in_obj:
                stack |= (<uint64_t>1) << depth
            else:
                stack &= ~((<uint64_t>1) << depth)
            depth += 1
            p = _skip_ws(p + 1, end)
            if p >= end:
                return _stop(pp, p, JSON_ERR_EOF)
            if p[0] == (0x7D if in_obj else 0x5D):  # '}' / ']'
                p += 1
                depth -= 1
                # fall through to the after-value loop: the empty container is a value
            elif in_obj:
                rc = _scan_key_colon(&p, end, &tmp)
                if rc != JSON_OK:
                    return _stop(pp, p, rc)
                continue
            else:
                continue
        else:
            rc = _scan_scalar(&p, end, &tmp)
            if rc != JSON_OK:
                return _stop(pp, p, rc)
        # After a complete value: close containers or move to the next item.
        while True:
            if depth == 0:
                return _stop(pp, p, JSON_OK)
            p = _skip_ws(p, end)
            if p >= end:
                return _stop(pp, p, JSON_ERR_EOF)
            in_obj = (stack >> (depth - 1)) & 1
            c = p[0]
            if c == b',':
                p = _skip_ws(p + 1, end)
                if in_obj:
                    rc = _scan_key_colon(&p, end, &tmp)
                    if rc != JSON_OK:
                        return _stop(pp, p, rc)
                break
            if c == (0x7D if in_obj else 0x5D):  # '}' / ']'
                p += 1
                depth -= 1
                continue
            return _stop(pp, p, JSON_ERR_SYNTAX)


cdef inline int _scan_value(const char** pp, const char* end, JsonSpan* out) noexcept nogil:
    """Any JSON value after optional whitespace, fully validated."""
    return _scan_value_lim(pp, end, out, JSON_MAX_DEPTH)


cdef int _scan_value_lim(const char** pp, const char* end, JsonSpan* out, int maxdepth) noexcept nogil:
    """_scan_value whose containers may nest at most maxdepth levels."""
    cdef const char* p = _skip_ws(pp[0], end)
    cdef const char* start = p
    cdef int rc
    if p >= end:
        pp[0] = p
        return JSON_ERR_EOF
    if p[0] == b'{' or p[0] == b'[':
        out.kind = JSON_OBJECT if p[0] == b'{' else JSON_ARRAY
        out.has_escapes = False
        rc = _skip_container(&p, end, maxdepth)
        out.ptr = start
        out.len = p - start
    else:
        rc = _scan_scalar(&p, end, out)
    pp[0] = p
    return rc


# ---------------------------------------------------------------------------
# Public kernel (declared in json_scan.pxd)

cdef int json_validate(const char* p, const char* end) noexcept nogil:
    cdef JsonSpan tmp
    return _document_value(&p, end, &tmp)


cdef int _document_value(const char** pp, const char* end, JsonSpan* out) noexcept nogil:
    """The one JSON value of the document [*pp, end) (whitespace around it allowed); *pp at the error."""
    cdef const char* p = pp[0]
    cdef int rc = _scan_value(&p, end, out)
    if rc == JSON_OK:
        p = _skip_ws(p, end)
        if p != end:
            rc = JSON_ERR_TRAILING
    pp[0] = p
    return rc


cdef int json_expect_end(const char* p, const char* end) noexcept nogil:
    return JSON_OK if _skip_ws(p, end) == end else JSON_ERR_TRAILING


cdef inline int _iter_begin(JsonIter* it, const char* p, const char* end, char open_char,
                            int first_state) noexcept nogil:
    p = _skip_ws(p, end)
    it.end = end
    it.depth = 0
    if p >= end:
        it.p = p
        it.state = JSON_ERR_EOF
        return JSON_ERR_EOF
    if p[0] != open_char:
        it.p = p
        it.state = JSON_ERR_TYPE
        return JSON_ERR_TYPE
    it.p = p + 1
    it.state = first_state
    return JSON_OK


cdef inline int _iter_fail(JsonIter* it, const char* p, int rc) noexcept nogil:
    it.p = p
    it.state = rc
    return rc


cdef int json_object_begin(JsonIter* it, const char* p, const char* end) noexcept nogil:
    return _iter_begin(it, p, end, b'{', _ST_OBJ_FIRST)


cdef int json_array_begin(JsonIter* it, const char* p, const char* end) noexcept nogil:
    return _iter_begin(it, p, end, b'[', _ST_ARR_FIRST)


cdef inline int _resolve_pending(JsonIter* it) noexcept nogil:
    """Validate and skip a pending (lazy) container value: the state becomes _ST_OBJ_NEXT."""
    cdef const char* p = it.p
    cdef int rc = _skip_container(&p, it.end, JSON_MAX_DEPTH - it.depth)
    if rc != JSON_OK:
        return _iter_fail(it, p, rc)
    it.p = p
    it.state = _ST_ARR_NEXT if it.state == _ST_ARR_PENDING else _ST_OBJ_NEXT
    return JSON_OK


cdef inline bint _is_pending(int state) noexcept nogil:
    return state == _ST_OBJ_PENDING or state == _ST_ARR_PENDING


cdef inline int _pending_state(const JsonIter* it) noexcept nogil:
    """JSON_OK if the iterator holds a pending container value, else its sticky error or JSON_ERR_STATE."""
    if it.state < 0:
        return it.state
    return JSON_OK if _is_pending(it.state) else JSON_ERR_STATE


cdef inline int _container_head(JsonIter* it, const char** pp, char close_char, int first_state,
                                int next_state, int pending_state) noexcept nogil:
    """Shared start of the _next functions: 1 with *pp at the next member/item, 0 at the end, < 0 error."""
    cdef const char* p
    cdef const char* end = it.end
    cdef int rc
    if it.state < 0:
        return it.state
    if it.state == _ST_DONE:
        return 0
    if it.state == pending_state:
        rc = _resolve_pending(it)
        if rc != JSON_OK:
            return rc
    elif it.state != first_state and it.state != next_state:
        return JSON_ERR_STATE
    p = _skip_ws(it.p, end)
    if p >= end:
        return _iter_fail(it, p, JSON_ERR_EOF)
    if p[0] == close_char:
        it.p = p + 1
        it.state = _ST_DONE
        return 0
    if it.state == next_state:
        if p[0] != b',':
            return _iter_fail(it, p, JSON_ERR_SYNTAX)
        p = _skip_ws(p + 1, end)
    pp[0] = p
    return 1


cdef inline int _object_head(JsonIter* it, JsonSpan* key, const char** pp) noexcept nogil:
    """Shared start of json_object_next(_lazy): 1 with *pp at the value, 0 at the end, < 0 error."""
    cdef const char* p = NULL
    cdef int rc = _container_head(it, &p, b'}', _ST_OBJ_FIRST, _ST_OBJ_NEXT, _ST_OBJ_PENDING)
    if rc != 1:
        return rc
    rc = _scan_key_colon(&p, it.end, key)
    if rc != JSON_OK:
        return _iter_fail(it, p, rc)
    pp[0] = p
    return 1


cdef inline int _lazy_value(JsonIter* it, const char* p, JsonSpan* value, int pending_state,
                            int next_state) noexcept nogil:
    """The value at p: a container is left pending (kind set, len 0), a scalar is scanned."""
    cdef int rc
    if p < it.end and (p[0] == b'{' or p[0] == b'['):
        value.kind = JSON_OBJECT if p[0] == b'{' else JSON_ARRAY
        value.ptr = p
        value.len = 0
        value.has_escapes = False
        it.p = p
        it.state = pending_state
        return 1
    rc = _scan_value(&p, it.end, value)   # a scalar (or EOF): no depth involved
    if rc != JSON_OK:
        return _iter_fail(it, p, rc)
    it.p = p
    it.state = next_state
    return 1


cdef inline int _strict_value(JsonIter* it, const char* p, JsonSpan* value, int next_state) noexcept nogil:
    """The value at p fully validated (containers within the depth left to this iterator): 1, or the error."""
    cdef int rc = _scan_value_lim(&p, it.end, value, JSON_MAX_DEPTH - it.depth)
    if rc != JSON_OK:
        return _iter_fail(it, p, rc)
    it.p = p
    it.state = next_state
    return 1


cdef int json_object_next_lazy(JsonIter* it, JsonSpan* key, JsonSpan* value) noexcept nogil:
    cdef const char* p = NULL
    cdef int rc = _object_head(it, key, &p)
    if rc != 1:
        return rc
    return _lazy_value(it, p, value, _ST_OBJ_PENDING, _ST_OBJ_NEXT)


cdef int json_iter_take(JsonIter* it, JsonSpan* value) noexcept nogil:
    cdef const char* start = it.p
    cdef int rc
    rc = _pending_state(it)
    if rc != JSON_OK:
        return rc
    rc = _resolve_pending(it)
    if rc != JSON_OK:
        return rc
    value.kind = JSON_OBJECT if start[0] == b'{' else JSON_ARRAY
    value.ptr = start
    value.len = it.p - start
    value.has_escapes = False
    return JSON_OK


cdef int json_iter_levels(JsonIter* it, double* prices, double* qtys,
                          Py_ssize_t capacity, Py_ssize_t* count) noexcept:
    cdef const char* p = it.p
    cdef int rc
    count[0] = 0
    rc = _pending_state(it)
    if rc != JSON_OK:
        return rc
    if p[0] != b'[':
        return JSON_ERR_TYPE      # still pending: the caller may take or skip it
    if it.depth + 2 > JSON_MAX_DEPTH:
        return _iter_fail(it, p, JSON_ERR_DEPTH)   # the level arrays would nest too deep
    # Values inside a level sit 2 levels below this iterator's members.
    rc = _levels_core(&p, it.end, prices, qtys, capacity, count, JSON_MAX_DEPTH - it.depth - 2)
    if rc != JSON_OK:
        count[0] = 0
        return _iter_fail(it, p, rc)
    it.p = p
    it.state = _ST_ARR_NEXT if it.state == _ST_ARR_PENDING else _ST_OBJ_NEXT
    return JSON_OK


cdef int json_iter_child(JsonIter* it, JsonIter* child) noexcept nogil:
    cdef const char* p = it.p
    cdef int rc = _pending_state(it)
    if rc != JSON_OK:
        return rc
    if it.depth + 1 > JSON_MAX_DEPTH:
        return _iter_fail(it, p, JSON_ERR_DEPTH)
    child.p = p + 1
    child.end = it.end
    child.depth = it.depth + 1
    child.state = _ST_OBJ_FIRST if p[0] == b'{' else _ST_ARR_FIRST
    it.state = _ST_ARR_CHILD if it.state == _ST_ARR_PENDING else _ST_OBJ_CHILD
    return JSON_OK


cdef int json_iter_child_end(JsonIter* it, const JsonIter* child) noexcept nogil:
    if it.state < 0:
        return it.state
    if it.state != _ST_OBJ_CHILD and it.state != _ST_ARR_CHILD:
        return JSON_ERR_STATE
    if child.state < 0:
        return _iter_fail(it, child.p, child.state)
    if child.state != _ST_DONE:
        return _iter_fail(it, child.p, JSON_ERR_STATE)   # the child was not walked to its end
    it.p = child.p
    it.state = _ST_ARR_NEXT if it.state == _ST_ARR_CHILD else _ST_OBJ_NEXT
    return JSON_OK


cdef int json_object_next(JsonIter* it, JsonSpan* key, JsonSpan* value) noexcept nogil:
    cdef const char* p = NULL
    cdef const char* end = it.end
    cdef int rc = _object_head(it, key, &p)
    if rc != 1:
        return rc
    return _strict_value(it, p, value, _ST_OBJ_NEXT)


cdef inline int _array_head(JsonIter* it, const char** pp) noexcept nogil:
    """Shared start of json_array_next(_lazy): 1 with *pp at the item, 0 at the end, < 0 error."""
    return _container_head(it, pp, b']', _ST_ARR_FIRST, _ST_ARR_NEXT, _ST_ARR_PENDING)


cdef int json_array_next_lazy(JsonIter* it, JsonSpan* value) noexcept nogil:
    cdef const char* p = NULL
    cdef int rc = _array_head(it, &p)
    if rc != 1:
        return rc
    return _lazy_value(it, p, value, _ST_ARR_PENDING, _ST_ARR_NEXT)


cdef int json_array_next(JsonIter* it, JsonSpan* value) noexcept nogil:
    cdef const char* p = NULL
    cdef const char* end = it.end
    cdef int rc = _array_head(it, &p)
    if rc != 1:
        return rc
    return _strict_value(it, p, value, _ST_ARR_NEXT)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline Py_ssize_t _digit_run(const char* p, Py_ssize_t i, Py_ssize_t n, uint64_t* m) noexcept nogil:
    """Index of the first non-digit of p[i:n] (n if none); *m = *m * 10**k + the k digits passed.

    Every p[i] read is guarded by i < n. *m wraps past 19 digits: callers refuse longer runs.
    """
    cdef uint64_t acc = m[0]
    cdef unsigned int d
    while i < n:
        d = <unsigned char>p[i] - 48
        if d >= 10:
            break
        acc = acc * 10 + d
        i += 1
    m[0] = acc
    return i


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline bint _fast_decimal(const char* p, Py_ssize_t n, double* out) noexcept nogil:
    """``[+-]?D*[.D*]`` filling p[0:n] exactly, within _fast_level_num's limits; False for anything else.

    Same arithmetic as _fast_level_num (hence parse_double's bits); every p[i]
    read is guarded by i < n.
    """
    cdef Py_ssize_t i = 0, nd, nf = 0, start
    cdef bint neg = False
    cdef uint64_t m = 0
    cdef double v
    if n <= 0 or n > 24:
        return False
    if p[0] == b'-' or p[0] == b'+':
        neg = p[0] == b'-'
        i = 1
    start = i
    i = _digit_run(p, i, n, &m)
    nd = i - start
    if i < n and p[i] == b'.':
        start = i + 1
        i = _digit_run(p, start, n, &m)
        nf = i - start
    if i != n or nd + nf == 0 or nd + nf > 19 or nf > 22 or m > _TWO_POW_53:
        return False
    if m == 0:
        v = 0.0
    else:
        v = <double>m
        if nf:
            v = v / _POW10[nf]
    out[0] = -v if neg else v
    return True


cdef int json_span_to_double(const JsonSpan* v, double* out) noexcept:
    # Plain decimals (prices, quantities) without the call into numbers; the
    # rest (exponents, long mantissas, invalid text) through parse_double.
    if (v.kind == JSON_STRING and not v.has_escapes) or v.kind == JSON_NUMBER:
        if _fast_decimal(v.ptr, v.len, out):
            return JSON_OK
    if v.kind == JSON_NUMBER:
        # A validated JSON number is always in parse_double's grammar.
        return JSON_OK if parse_double(v.ptr, v.len, out) == NUM_OK else JSON_ERR_NUMBER
    if v.kind == JSON_STRING:
        if v.has_escapes:
            return JSON_ERR_VALUE
        return JSON_OK if parse_double(v.ptr, v.len, out) == NUM_OK else JSON_ERR_VALUE
    return JSON_ERR_TYPE


cdef int json_span_to_int64(const JsonSpan* v, int64_t* out) noexcept nogil:
    cdef Py_ssize_t i, n = v.len
    cdef const char* p = v.ptr
    cdef int rc
    cdef uint64_t acc = 0
    cdef bint neg
    # Fast path: [+-]? and 1..18 digits, nothing else (ids, timestamps). 18 digits stay
    # below 10**18 < 2**63, so no overflow check; the value is what parse_int64 gives.
    # A JSON number token never starts with '+', and a string with escapes is refused.
    if (v.kind == JSON_NUMBER or (v.kind == JSON_STRING and not v.has_escapes)) and 0 < n <= 19:
        neg = p[0] == b'-'
        i = 1 if (neg or (p[0] == b'+' and v.kind == JSON_STRING)) else 0
        if 0 < n - i <= 18 and _digit_run(p, i, n, &acc) == n:
            out[0] = -<int64_t>acc if neg else <int64_t>acc   # acc < 10**18 < 2**63
            return JSON_OK
    if v.kind == JSON_NUMBER:
        for i in range(v.len):
            if v.ptr[i] == b'.' or v.ptr[i] == b'e' or v.ptr[i] == b'E':
                return JSON_ERR_VALUE  # 1.0 / 1e3 are not integer tokens
    elif v.kind != JSON_STRING:
        return JSON_ERR_TYPE
    elif v.has_escapes:
        return JSON_ERR_VALUE
    rc = parse_int64(v.ptr, v.len, out)
    if rc == NUM_OK:
        return JSON_OK
    return JSON_ERR_RANGE if rc == NUM_OVERFLOW else JSON_ERR_VALUE


cdef bint json_span_eq(const JsonSpan* v, const char* lit, Py_ssize_t n) noexcept nogil:
    cdef const char* p
    cdef const char* end
    cdef Py_ssize_t j = 0
    cdef int cp, lo, k, i
    cdef char c
    cdef char buf[4]
    if v.kind != JSON_STRING or not v.has_escapes:
        return v.len == n and memcmp(v.ptr, lit, <size_t>n) == 0
    # Decode escapes on the fly and compare with the UTF-8 literal. Bounds:
    # every read is checked against end, every lit index against n.
    p = v.ptr
    end = p + v.len
    while p < end:
        c = p[0]
        if c != b'\\':
            if j >= n or lit[j] != c:
                return False
            j += 1
            p += 1
            continue
        if end - p < 2:
            return False
        c = p[1]
        k = 1
        if c == b'"' or c == b'\\' or c == b'/':
            buf[0] = c
        elif c == b'b':
            buf[0] = 8
        elif c == b'f':
            buf[0] = 12
        elif c == b'n':
            buf[0] = 10
        elif c == b'r':
            buf[0] = 13
        elif c == b't':
            buf[0] = 9
        elif c == b'u':
            if end - p < 6:
                return False
            cp = _hex4(p + 2)
            if cp < 0:
                return False
            p += 4  # 2 more below
            if 0xD800 <= cp <= 0xDBFF and end - p >= 8 and p[2] == b'\\' and p[3] == b'u':
                # A high surrogate escape followed by a low one is one code
                # point, as json.loads decodes it.
                lo = _hex4(p + 4)
                if 0xDC00 <= lo <= 0xDFFF:
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    p += 6
            if cp < 0x80:
                buf[0] = <char>cp
            elif cp < 0x800:
                buf[0] = <char>(0xC0 | (cp >> 6))
                buf[1] = <char>(0x80 | (cp & 0x3F))
                k = 2
            elif cp < 0x10000:
                buf[0] = <char>(0xE0 | (cp >> 12))
                buf[1] = <char>(0x80 | ((cp >> 6) & 0x3F))
                buf[2] = <char>(0x80 | (cp & 0x3F))
                k = 3
            else:
                buf[0] = <char>(0xF0 | (cp >> 18))
                buf[1] = <char>(0x80 | ((cp >> 12) & 0x3F))
                buf[2] = <char>(0x80 | ((cp >> 6) & 0x3F))
                buf[3] = <char>(0x80 | (cp & 0x3F))
                k = 4
        else:
            return False
        p += 2
        if n - j < k:
            return False
        for i in range(k):
            if lit[j + i] != buf[i]:
                return False
        j += k
    return j == n


cdef int json_parse_levels(const JsonSpan* array_value, double* prices, double* qtys,
                           Py_ssize_t capacity, Py_ssize_t* count) noexcept:
    cdef const char* p
    cdef const char* end
    cdef int rc
    count[0] = 0
    if array_value.kind != JSON_ARRAY:
        return JSON_ERR_TYPE
    p = _skip_ws(array_value.ptr, array_value.ptr + array_value.len)
    end = array_value.ptr + array_value.len
    if p >= end:
        return JSON_ERR_EOF
    if p[0] != b'[':
        return JSON_ERR_TYPE
    rc = _levels_core(&p, end, prices, qtys, capacity, count, JSON_MAX_DEPTH)
    if rc != JSON_OK:
        count[0] = 0
        return rc
    if _skip_ws(p, end) != end:
        count[0] = 0
        return JSON_ERR_TRAILING
    return JSON_OK


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline bint _fast_level_num(const char** pp, const char* end, double* out, bint* wide) noexcept nogil:
    """The common price/quantity shapes, scanned, validated and converted in one pass.

    Accepts ``"[+-]?D*[.D*]"`` (a plain number-in-string, at least one digit)
    and the JSON number ``-?(0|[1-9]D*)(.D+)?`` not followed by an exponent,
    with at most 19 digits in all, a mantissa m <= 2**53 and at most 22
    fraction digits. Then m and 10**frac are exact doubles and ``m / 10**frac``
    is the correctly rounded value: exactly the operation (and bits) of
    ``numbers.parse_double``'s fast path, hence ``float()``. Returns False
    without consuming anything for every other text (escapes, exponents,
    long mantissas, errors), which then takes the general scanner +
    parse_double. _POW10 is indexed with 0 <= nf <= 22, checked first.
    ``*wide``: try 8 fraction digits at once (see below); cleared on a miss.
    """
    cdef const char* p = pp[0]
    cdef const char* d0
    cdef bint quoted, neg = False
    cdef uint64_t m = 0
    cdef Py_ssize_t nd, nf = 0
    cdef unsigned int d
    cdef double v
    if p >= end:
        return False
    quoted = p[0] == b'"'
    if quoted:
        p += 1
        if p < end and (p[0] == b'-' or p[0] == b'+'):
            neg = p[0] == b'-'
            p += 1
    elif p[0] == b'-':
        neg = True
        p += 1
    d0 = p
    # A byte loop: on short integer parts (and Gate.io's short fractions) it
    # measured faster than 8-byte SWAR, whose multiply chain does not pay there.
    while p < end:
        d = <unsigned char>p[0] - 48
        if d >= 10:
            break
        m = m * 10 + d                # wraps harmlessly past 19 digits: refused below
        p += 1
    nd = p - d0
    if not quoted and (nd == 0 or (nd > 1 and d0[0] == b'0')):
        return False                  # JSON grammar: "-", "01" (the scanner reports it)
    if p < end and p[0] == b'.':
        p += 1
        d0 = p
        if wide[0]:
            # Binance writes 8 fraction digits: take them in one step. The first
            # miss turns this off for the rest of the array (Gate.io's short
            # fractions would only pay for the failed tries).
            if fh_json_8digits(p, end, &m):
                p += 8
            else:
                wide[0] = False
        while p < end:
            d = <unsigned char>p[0] - 48
            if d >= 10:
                break
            m = m * 10 + d
            p += 1
        nf = p - d0
        if not quoted and nf == 0:
            return False              # "1." is not a JSON number
    if nd + nf == 0 or nd + nf > 19 or nf > 22 or m > _TWO_POW_53:
        return False
    if quoted:
        if p >= end or p[0] != b'"':
            return False              # exponent, escape, other bytes or EOF: general path
        p += 1
    elif p < end and (p[0] == b'e' or p[0] == b'E'):
        return False
    if m == 0:
        v = 0.0                       # +-0.0 as float("-0.0")
    else:
        v = <double>m
        if nf:
            v = v / _POW10[nf]
    out[0] = -v if neg else v
    pp[0] = p
    return True


cdef inline bint _fast_level(const char** pp, const char* end, double* px, double* qv, bint* wide) noexcept nogil:
    """The compact level ``["p","q"]`` (no whitespace, both numbers on the fast path) at *pp ('[').

    True with *pp one past its ']'; False with *pp unchanged for every other shape.
    """
    cdef const char* q = pp[0] + 1
    if _fast_level_num(&q, end, px, wide) and q < end and q[0] == b',':
        q += 1
        if _fast_level_num(&q, end, qv, wide) and q < end and q[0] == b']':
            pp[0] = q + 1
            return True
    return False


cdef inline int _level_gap(const char** pp, const char* end) noexcept nogil:
    """Whitespace in a level before its price or its first ',': *pp moved past it.

    JSON_ERR_EOF at the end, JSON_ERR_LEVEL at a ']' (a level of fewer than 2 items), else JSON_OK.
    """
    cdef const char* p = _skip_ws(pp[0], end)
    pp[0] = p
    if p >= end:
        return JSON_ERR_EOF
    return JSON_ERR_LEVEL if p[0] == b']' else JSON_OK


cdef inline int _level_number(const char** pp, const char* end, double* out, JsonSpan* text, bint* wide,
                              int value_depth) noexcept nogil:
    """A level's price or quantity at *pp: 1 when converted at once (_fast_level_num), JSON_OK when
    scanned into *text for the conversion after the level's ']', else the error; *pp moved past it."""
    if _fast_level_num(pp, end, out, wide):
        return 1
    return _scan_value_lim(pp, end, text, value_depth)


cdef inline bint _not_number_text(int converted, const JsonSpan* text) noexcept nogil:
    return not converted and text.kind != JSON_STRING and text.kind != JSON_NUMBER


cdef int _general_level(const char** pp, const char* end, double* px, double* qv, bint* wide,
                        int value_depth, bint full) noexcept:
    """A level ``[price, qty, extra...]`` at *pp ('[') in any valid shape; *pp moved past what was read.

    JSON_OK with *pp one past the ']' and *px, *qv set; else the error at *pp: the level's syntax first,
    then JSON_TOO_MANY if ``full``, then the kinds of price and quantity, then their conversions (the
    order the two-pass version reported them in).
    """
    cdef JsonSpan price, qty, extra
    cdef int pconv, qconv
    cdef int rc
    pp[0] += 1
    rc = _level_gap(pp, end)
    if rc != JSON_OK:
        return rc
    pconv = _level_number(pp, end, px, &price, wide, value_depth)
    if pconv < 0:
        return pconv
    rc = _level_gap(pp, end)
    if rc != JSON_OK:
        return rc
    if pp[0][0] != b',':
        return JSON_ERR_SYNTAX
    pp[0] = _skip_ws(pp[0] + 1, end)
    qconv = _level_number(pp, end, qv, &qty, wide, value_depth)
    if qconv < 0:
        return qconv
    pp[0] = _skip_ws(pp[0], end)
    while pp[0] < end and pp[0][0] == b',':
        pp[0] += 1
        rc = _scan_value_lim(pp, end, &extra, value_depth)
        if rc != JSON_OK:
            return rc
        pp[0] = _skip_ws(pp[0], end)
    if pp[0] >= end:
        return JSON_ERR_EOF
    if pp[0][0] != b']':
        return JSON_ERR_SYNTAX
    pp[0] += 1
    if full:
        return JSON_TOO_MANY
    if _not_number_text(pconv, &price) or _not_number_text(qconv, &qty):
        return JSON_ERR_TYPE
    rc = JSON_OK if pconv else json_span_to_double(&price, px)
    if rc == JSON_OK and not qconv:
        rc = json_span_to_double(&qty, qv)
    return rc


cdef inline int _next_item(const char** pp, const char* end) noexcept nogil:
    """After an array item: 1 with *pp at the next item (',' and whitespace passed), JSON_OK with *pp
    one past the array's ']', else the error at *pp."""
    cdef const char* p = _skip_ws(pp[0], end)
    cdef int rc = JSON_ERR_EOF
    if p < end:
        if p[0] == b']':
            p += 1
            rc = JSON_OK
        elif p[0] != b',':
            rc = JSON_ERR_SYNTAX
        else:
            p = _skip_ws(p + 1, end)
            if p < end:
                rc = 1
    pp[0] = p
    return rc


cdef int _levels_core(const char** pp, const char* end, double* prices, double* qtys,
                      Py_ssize_t capacity, Py_ssize_t* count, int value_depth) noexcept:
    """Levels array at *pp (its '[' checked by the caller); *pp left one past its ']'.

    The rules and error codes of json_parse_levels; value_depth bounds the
    nesting of the values inside a level. Numbers in the common shapes are
    converted while they are scanned (_fast_level_num); the others are
    scanned, then converted, in the original order, so every error is the
    one the two-pass version gave.
    """
    cdef const char* p = _skip_ws(pp[0] + 1, end)
    cdef const char* q
    cdef Py_ssize_t n = 0
    cdef double px, qv
    cdef bint wide = True
    cdef int rc = JSON_ERR_EOF
    count[0] = 0
    if p < end and p[0] == b']':
        p += 1
        rc = JSON_OK
    elif p < end:
        while True:
            if p[0] != b'[':
                rc = JSON_ERR_TYPE
                break
            if _fast_level(&p, end, &px, &qv, &wide):
                if n >= capacity:
                    rc = JSON_TOO_MANY
                    break
            else:
                q = p                 # p's address stays private to this loop (kept in a register)
                rc = _general_level(&q, end, &px, &qv, &wide, value_depth, n >= capacity)
                p = q
                if rc != JSON_OK:
                    break
            prices[n] = px
            qtys[n] = qv
            n += 1
            if p < end and p[0] == b',' and end - p > 1 and p[1] == b'[':
                p += 1                # compact separator: the next level starts at p
                continue
            rc = _next_item(&p, end)
            if rc != 1:
                break
    pp[0] = p
    if rc == JSON_OK:
        count[0] = n
    return rc


# ---------------------------------------------------------------------------
# Python helpers

_MESSAGES = {
    JSON_OK: "ok",
    JSON_ERR_EOF: "unexpected end of input",
    JSON_ERR_SYNTAX: "unexpected character",
    JSON_ERR_STRING: "invalid string (control character, bad escape or invalid UTF-8)",
    JSON_ERR_NUMBER: "malformed number",
    JSON_ERR_LITERAL: "invalid literal (expected true, false or null)",
    JSON_ERR_DEPTH: f"nesting deeper than {JSON_MAX_DEPTH}",
    JSON_ERR_TRAILING: "trailing data after the JSON value",
    JSON_ERR_TYPE: "value of the wrong type",
    JSON_ERR_VALUE: "string or number does not hold the expected number",
    JSON_ERR_RANGE: "integer out of int64 range",
    JSON_TOO_MANY: "more levels than the capacity",
    JSON_ERR_LEVEL: "price level with fewer than 2 items",
    JSON_ERR_STATE: "iterator used without the matching begin",
}


def json_error_message(int code):
    """Describe a ``JSON_ERR_*`` / ``JSON_TOO_MANY`` return code.

    Parameters
    ----------
    code : int
        A code returned by a kernel function.

    Returns
    -------
    str
        A short human-readable reason.
    """
    return _MESSAGES.get(code, f"unknown error code {code}")


class JsonScanError(ValueError):
    """Invalid JSON or an unexpected value, raised by the Python helpers.

    Attributes
    ----------
    code : int
        The kernel's ``JSON_ERR_*`` / ``JSON_TOO_MANY`` code.
    pos : int
        Byte offset of the error in the input, or -1 when not known.
    """

    def __init__(self, code, pos, context=""):
        self.code = code
        self.pos = pos
        where = f" at byte {pos}" if pos >= 0 else ""
        ctx = f" ({context})" if context else ""
        super().__init__(f"{json_error_message(code)}{where}{ctx}")


cdef object _kind(int kind):
    return JsonKind(kind)


cdef bytes _span_bytes(const JsonSpan* s):
    return s.ptr[:s.len]


def validate(bytes data not None):
    """Check that ``data`` is exactly one valid JSON document.

    Parameters
    ----------
    data : bytes
        UTF-8 JSON text; surrounding whitespace is allowed.

    Raises
    ------
    JsonScanError
        With the error code and byte offset when the document is invalid.
    """
    cdef JsonSpan tmp
    _single_value(data, &tmp)


def object_items(bytes data not None):
    """List the members of a JSON object document, each value validated.

    Parameters
    ----------
    data : bytes
        A JSON document whose top-level value is an object.

    Returns
    -------
    list of (bytes, JsonKind, bytes)
        ``(key, kind, raw)`` in document order (duplicates kept). ``key`` and,
        for strings, ``raw`` are the bytes between the quotes with escapes
        left as they are; for other kinds ``raw`` is the value's text.

    Raises
    ------
    JsonScanError
        If the document is not a valid JSON object (trailing data included).
    """
    return _items(data, True)


def array_items(bytes data not None):
    """List the items of a JSON array document ``data``, each validated: ``(kind, raw)`` per item.

    ``raw`` is as in ``object_items``; JsonScanError if ``data`` is not a valid JSON array (trailing data
    included).
    """
    return _items(data, False)


cdef int _check_walked(const JsonIter* it, int rc, const char* base) except -1:
    """Raise JsonScanError unless a top-level walk ended well (rc JSON_OK) with nothing after the value."""
    cdef const char* end = it.end
    if rc != JSON_OK:
        raise JsonScanError(rc, it.p - base)
    rc = json_expect_end(it.p, end)
    if rc != JSON_OK:
        raise JsonScanError(rc, _skip_ws(it.p, end) - base)
    return 0


cdef list _items(bytes data, bint is_object):
    """object_items (is_object) or array_items of ``data``."""
    cdef const char* base = data
    cdef const char* end = base + len(data)
    cdef JsonIter it
    cdef JsonSpan key, value
    cdef int rc = json_object_begin(&it, base, end) if is_object else json_array_begin(&it, base, end)
    out = []
    while rc == JSON_OK:
        rc = json_object_next(&it, &key, &value) if is_object else json_array_next(&it, &value)
        if rc != 1:
            break
        if is_object:
            out.append((_span_bytes(&key), _kind(value.kind), _span_bytes(&value)))
        else:
            out.append((_kind(value.kind), _span_bytes(&value)))
        rc = JSON_OK
    _check_walked(&it, rc, base)
    return out


cdef double _scratch_prices[_SCRATCH_LEVELS]
cdef double _scratch_qtys[_SCRATCH_LEVELS]


cdef cnp.ndarray _float_array(const double* src, Py_ssize_t n):
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    cdef cnp.ndarray arr = cnp.PyArray_EMPTY(1, dims, cnp.NPY_FLOAT64, 0)
    if n > 0:
        memcpy(cnp.PyArray_DATA(arr), src, <size_t>n * sizeof(double))
    return arr


def scan_levels(bytes data not None, bytes key not None, Py_ssize_t capacity=-1):
    """Parse the price levels under the top-level member ``key`` of a JSON object.

    Parameters
    ----------
    data : bytes
        A JSON object document, e.g. a Binance depth frame's ``data``.
    key : bytes
        The member name as UTF-8 (compared with escapes decoded). If the key
        occurs more than once the last one wins, as with ``json.loads``.
    capacity : int, default -1
        Maximum number of levels accepted; -1 for no limit.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float64 prices and quantities, one entry per level, each equal to
        ``float()`` of the level's text.

    Raises
    ------
    JsonScanError
        Invalid document, or a level that is not ``[price, qty, ...]`` with
        numeric or numeric-string entries, or more levels than ``capacity``
        (code ``JSON_TOO_MANY``).
    KeyError
        If the object has no member ``key``.
    """
    cdef const char* base = data
    cdef const char* end = base + len(data)
    cdef const char* kp = key
    cdef Py_ssize_t kn = len(key)
    cdef JsonIter it
    cdef JsonSpan k, v, found
    cdef bint have = False
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t cap
    cdef cnp.ndarray prices, qtys
    cdef int rc
    # Single pass first (json_object_next_lazy + json_iter_levels into the
    # scratch); any error, a missing key or more levels than the scratch
    # holds sends the document through the two-pass path below, which
    # reports exactly what is wrong.
    cap = _SCRATCH_LEVELS if capacity < 0 or capacity > _SCRATCH_LEVELS else capacity
    rc = json_object_begin(&it, base, end)
    while rc == JSON_OK:
        rc = json_object_next_lazy(&it, &k, &v)
        if rc != 1:
            break
        rc = JSON_OK
        if json_span_eq(&k, kp, kn):
            # each occurrence is parsed (the last one wins); a non-array one is the slow path's error
            rc = json_iter_levels(&it, _scratch_prices, _scratch_qtys, cap, &count) \
                if v.kind == JSON_ARRAY else JSON_ERR_TYPE
            have = rc == JSON_OK
    if rc == JSON_OK and have and json_expect_end(it.p, end) == JSON_OK:
        return _float_array(_scratch_prices, count), _float_array(_scratch_qtys, count)
    have = False
    rc = json_object_begin(&it, base, end)
    while rc == JSON_OK:
        rc = json_object_next(&it, &k, &v)
        if rc != 1:
            break
        if json_span_eq(&k, kp, kn):
            found = v
            have = True
        rc = JSON_OK
    _check_walked(&it, rc, base)
    if not have:
        raise KeyError(key)
    # A level takes at least 6 bytes ("[0,0]," ), so this bounds the count.
    cap = found.len // 6 + 1
    if 0 <= capacity < cap:
        cap = capacity
    context = f"levels of {key!r}"
    if cap <= _SCRATCH_LEVELS:
        rc = json_parse_levels(&found, _scratch_prices, _scratch_qtys, cap, &count)
        if rc != JSON_OK:
            raise JsonScanError(rc, -1, context)
        return _float_array(_scratch_prices, count), _float_array(_scratch_qtys, count)
    prices = np.empty(cap, dtype=np.float64)
    qtys = np.empty(cap, dtype=np.float64)
    rc = json_parse_levels(&found, <double*>cnp.PyArray_DATA(prices), <double*>cnp.PyArray_DATA(qtys),
                           cap, &count)
    if rc != JSON_OK:
        raise JsonScanError(rc, -1, context)
    return prices[:count], qtys[:count]


cdef int _single_value(bytes data, JsonSpan* v) except -1:
    """*v = the one JSON value ``data`` holds (whitespace around it allowed); JsonScanError if not."""
    cdef const char* base = data
    cdef const char* p = base
    cdef int rc = _document_value(&p, base + len(data), v)
    if rc != JSON_OK:
        raise JsonScanError(rc, p - base)
    return 0


cdef inline int _check_converted(int rc) except -1:
    if rc != JSON_OK:
        raise JsonScanError(rc, 0)
    return 0


def value_to_float(bytes data not None):
    """Convert one JSON number or number-in-string document to float.

    Parameters
    ----------
    data : bytes
        E.g. ``b'1.5'`` or ``b'"0.35130000"'``.

    Returns
    -------
    float
        Equal, bit for bit, to ``float()`` of the number's text.

    Raises
    ------
    JsonScanError
        Invalid JSON, wrong kind, or a string that is not a number.
    """
    cdef JsonSpan v
    cdef double out
    _single_value(data, &v)
    _check_converted(json_span_to_double(&v, &out))
    return out


def value_to_int(bytes data not None):
    """Convert one JSON integer or int-in-string document (``b'1633998512068'``, ``b'"499869750"'``) to an int.

    The value is within the int64 range; JsonScanError for invalid JSON, the wrong kind, non-integer text
    or a value out of the int64 range.
    """
    cdef JsonSpan v
    cdef int64_t out
    _single_value(data, &v)
    _check_converted(json_span_to_int64(&v, &out))
    return out
