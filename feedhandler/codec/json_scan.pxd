# cython: language_level=3
"""Strict, allocation-free JSON scanning kernel over (pointer, end): the C-level API.

Exchange parsers (Binance, Gate.io) ``cimport`` this to pull fields straight
out of frame bytes without building Python objects::

    cdef JsonIter it
    cdef JsonSpan key, val
    json_object_begin(&it, p, end)
    while json_object_next(&it, &key, &val) == 1:   # 0: end of object, < 0: error code
        if json_span_eq(&key, b"u", 1) and json_span_to_int64(&val, &last_id) != 0:
            ...
    rc = json_iter_error(&it)                # the walk's error (its begin's included), or 0
    if rc == 0:
        rc = json_expect_end(it.p, it.end)   # whole frame consumed?

Contract
--------
* Strict RFC 8259 JSON: the accepted documents are exactly those
  ``json.loads(data.decode("utf-8"))`` accepts, minus ``NaN``/``Infinity``
  (refused) and minus documents nested deeper than ``JSON_MAX_DEPTH``.
  Whitespace is `` \\t\\n\\r``; strings must be valid UTF-8 with no raw
  control characters and only the JSON escapes.
* Every value returned by ``json_object_next``/``json_array_next`` has been
  fully validated (nested containers included) before it is returned.
  ``json_object_next_lazy`` differs only for containers, which are validated
  when they are consumed or skipped (see below), so a caller that walks an
  object to its end (and checks ``json_expect_end``) has still validated every
  byte exactly once before it acts on anything.
* Nothing is read outside ``[p, end)`` (or ``[span.ptr, span.ptr+span.len)``);
  hostile input gives a negative ``JSON_ERR_*`` code, never a crash. Nesting
  is walked with a 64-bit stack, never recursion: a value may nest at most
  ``JSON_MAX_DEPTH`` arrays/objects (the container being iterated by a
  ``JsonIter`` is not counted).
* On error, ``it.p`` points at the offending byte (so ``it.p - base`` is a
  byte offset for messages) and ``it.state`` holds the error code; further
  ``_next`` calls return the same code. After the end (``_next`` returned 0)
  ``it.p`` is one past the closing bracket and ``_next`` keeps returning 0.
* Spans point into the caller's buffer: they are valid as long as it is.
* Number conversion goes through ``numbers.parse_double``/``parse_int64``, so
  doubles are bit-for-bit ``float()`` of the text; ``1e400`` is ``inf`` as
  with ``float()``. Functions that convert numbers need the GIL (the rare
  exact fallback calls CPython); the pure scanners are also ``nogil``.
"""
from libc.stdint cimport int64_t

cpdef enum JsonKind:
    JSON_ERROR = 0       # no value (what a span holds after an error)
    JSON_STRING = 1      # span: the content between the quotes
    JSON_NUMBER = 2      # span: the number's text
    JSON_OBJECT = 3      # span: '{' .. '}' (len 0 while a lazy walk leaves it pending)
    JSON_ARRAY = 4       # span: '[' .. ']' (the same)
    JSON_TRUE = 5        # true, false, null: the literal's text
    JSON_FALSE = 6
    JSON_NULL = 7

cpdef enum:
    # Return codes (0 is success; _next returns 1 for "one more item").
    JSON_OK = 0
    JSON_ERR_EOF = -1        # input ended inside a value
    JSON_ERR_SYNTAX = -2     # unexpected byte (missing ',' ':' or bracket, bad token start)
    JSON_ERR_STRING = -3     # raw control character, bad escape or invalid UTF-8 in a string
    JSON_ERR_NUMBER = -4     # malformed number token ("01", "1.", "-", "1e+")
    JSON_ERR_LITERAL = -5    # not exactly true/false/null
    JSON_ERR_DEPTH = -6      # nesting deeper than JSON_MAX_DEPTH
    JSON_ERR_TRAILING = -7   # bytes other than whitespace after the value
    JSON_ERR_TYPE = -8       # value of the wrong kind (an object expected, a price that is null, ...)
    JSON_ERR_VALUE = -9      # string that does not hold a number (or has escapes), non-integer for int64
    JSON_ERR_RANGE = -10     # integer outside int64
    JSON_TOO_MANY = -11      # more levels than the caller's capacity
    JSON_ERR_LEVEL = -12     # a level array with fewer than 2 items
    JSON_ERR_STATE = -13     # iterator not initialised by the matching _begin

    JSON_MAX_DEPTH = 64

ctypedef struct JsonSpan:
    const char* ptr      # strings: content between the quotes (escapes left raw); others: the raw value text
    Py_ssize_t len
    int kind             # a JsonKind
    bint has_escapes     # strings only: a backslash occurs in the content

ctypedef struct JsonIter:
    const char* p        # next byte to look at (error position after an error)
    const char* end      # one past the last readable byte
    int state            # internal; < 0 is the sticky error code
    int depth            # nesting level of the iterated container (0: begun by _begin; child: parent + 1)

# Iteration. _begin: 0 ok, < 0 error. _next: 1 item, 0 end, < 0 error.
cdef int json_object_begin(JsonIter* it, const char* p, const char* end) noexcept nogil
cdef int json_object_next(JsonIter* it, JsonSpan* key, JsonSpan* value) noexcept nogil
cdef int json_array_begin(JsonIter* it, const char* p, const char* end) noexcept nogil
cdef int json_array_next(JsonIter* it, JsonSpan* value) noexcept nogil

# After a walk (``while json_object_next(&it, &k, &v) == 1: ...``): the iterator's sticky error code
# (the one _begin or _next returned), 0 if it ended cleanly or the loop left it early.
cdef inline int json_iter_error(const JsonIter* it) noexcept nogil:
    return it.state if it.state < 0 else 0

# Single-pass (lazy) object iteration, for decoders that walk an envelope and
# its nested objects once. json_object_next_lazy is json_object_next except for
# container values: those are NOT scanned yet; the value has kind
# JSON_OBJECT/JSON_ARRAY, ptr at its opening bracket and len 0, and stays
# "pending" in the iterator. The caller then does one of:
#   * nothing: the next _next_lazy/_next call validates and skips it (one pass,
#     depth limit as if it had been scanned by json_object_next);
#   * json_iter_take: validate it now and get its complete span (len set);
#   * json_iter_levels: parse it as price levels (json_parse_levels rules);
#   * json_iter_child + ..._next on the child + json_iter_child_end: iterate it
#     in place (the parent may not be used until child_end).
# Every byte is still validated exactly once; errors are sticky in the parent
# as usual (child errors are passed on by json_iter_child_end).
cdef int json_object_next_lazy(JsonIter* it, JsonSpan* key, JsonSpan* value) noexcept nogil
cdef int json_iter_take(JsonIter* it, JsonSpan* value) noexcept nogil
# JSON_ERR_TYPE (iterator unchanged, the value still pending) if the pending
# value is not an array; other errors are sticky in ``it``.
cdef int json_iter_levels(JsonIter* it, double* prices, double* qtys,
                          Py_ssize_t capacity, Py_ssize_t* count) noexcept
cdef int json_iter_child(JsonIter* it, JsonIter* child) noexcept nogil
cdef int json_iter_child_end(JsonIter* it, const JsonIter* child) noexcept nogil
# The same for array items: json_array_next_lazy leaves a container item pending
# (kind set, len 0) exactly as json_object_next_lazy does for member values;
# json_iter_take / json_iter_levels / json_iter_child work on either.
cdef int json_array_next_lazy(JsonIter* it, JsonSpan* value) noexcept nogil

# [["p","q"], ...] or [[p,q], ...] (mixed allowed) into prices[i], qtys[i].
# Inner arrays with > 2 items: extra items validated and ignored; < 2 items:
# JSON_ERR_LEVEL; more than ``capacity`` levels: JSON_TOO_MANY. 0 on success
# with *count levels written; on any error *count and the arrays are
# undefined and must not be used.
cdef int json_parse_levels(const JsonSpan* array_value, double* prices, double* qtys,
                           Py_ssize_t capacity, Py_ssize_t* count) noexcept

# Number token or "number-in-string" (string content in numbers.parse_double's
# grammar, no escapes). 0 ok, else JSON_ERR_TYPE / JSON_ERR_VALUE.
cdef int json_span_to_double(const JsonSpan* v, double* out) noexcept
# Integer number token (no fraction/exponent) or "int-in-string".
# 0 ok, else JSON_ERR_TYPE / JSON_ERR_VALUE / JSON_ERR_RANGE.
cdef int json_span_to_int64(const JsonSpan* v, int64_t* out) noexcept nogil

# Strings: the decoded content (escapes resolved, \\u to UTF-8) equals lit[0:n].
# Other kinds: the raw value text equals lit[0:n].
cdef bint json_span_eq(const JsonSpan* v, const char* lit, Py_ssize_t n) noexcept nogil

# Whole-document check: 0 if [p, end) is exactly one valid JSON value with
# optional surrounding whitespace, else the error code.
cdef int json_validate(const char* p, const char* end) noexcept nogil
# 0 if only whitespace remains in [p, end), else JSON_ERR_TRAILING.
cdef int json_expect_end(const char* p, const char* end) noexcept nogil
