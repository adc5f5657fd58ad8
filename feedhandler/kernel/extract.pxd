# cython: language_level=3
"""Table-driven JSON extraction: the C-level API (``cimport feedhandler.kernel.extract``).

An exchange declares the keys it reads and the slot each lands in (a
:class:`FieldTable`, built once from a Python list); ``kt_scan`` walks a frame
once and fills a :c:type:`KtOut`: spans, int64, doubles, level arrays, nested
objects, arrays of objects. Every byte is validated exactly once; nothing is
allocated. See ``feedhandler/kernel/README.md`` for the guide.
"""
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t

from feedhandler.codec.json_scan cimport JsonIter, JsonSpan

cpdef enum:  # field kinds
    KT_SPAN = 1      # any value as a span (containers validated; a string's content without quotes)
    KT_STR = 2       # a string (span of its raw content; span.has_escapes tells if it needs decoding)
    KT_INT64 = 3     # integer number or integer-in-string -> i64[slot]
    KT_DOUBLE = 4    # finite number or number-in-string -> f64[slot] (bit-for-bit float())
    KT_PRICE = 5     # KT_DOUBLE that must be > 0 (the one rule for every price)
    KT_SIZE = 6      # KT_DOUBLE that must be >= 0 (the one rule for every size/quantity)
    KT_BOOL = 7      # true/false -> i64[slot] 1/0
    KT_TIME_ISO = 8  # ISO-8601 UTC string -> i64[slot] ns since the epoch
    KT_OBJECT = 9    # nested object: its members are scanned with the child table, in place
    KT_LEVELS = 10   # [[p, q, ...], ...] or [{p, q}, ...] (child table) -> levels[lv]
    KT_EACH = 11     # array of objects: each scanned with the child table, then out.on_item is called
    KT_SELECT = 12   # object (or array of objects, as KT_EACH) scanned with the table out.select returns,
                     # chosen from the slots seen so far (e.g. the channel that came before it)
    KT_INT64_MS = 13 # KT_INT64 in milliseconds, 0 <= v <= int64 ns range -> i64[slot] in ns
    KT_INT64_S = 14  # KT_INT64 in seconds -> ns, the same range check

cpdef enum:  # field flags
    KF_REQUIRED = 1   # missing -> KT_ERR_MISSING naming the key
    KF_NULLABLE = 2   # null accepted (the slot stays unseen)
    KF_KEEP_TEXT = 4  # KT_LEVELS: also keep each level's price/size text spans (OKX checksums)
    KF_EMPTY_NULL = 8 # an empty string "" counts as null: the slot stays unseen (Gate.io's "no value")

cpdef enum:
    KT_MAX_SLOTS = 64        # scalar slots 0..63 (one bit each in KtOut.seen)
    KT_MAX_LEVEL_SLOTS = 4   # level arrays 0..3 (KtOut.levels)
    # Error codes beyond json_scan's JSON_ERR_* (-1..-13):
    KT_ERR_MISSING = -20     # a required key is absent
    KT_ERR_NUMBER = -21      # a price <= 0, a size < 0, or a non-finite number
    KT_ERR_TIME = -22        # not an ISO-8601 instant / timestamp out of range
    KT_ERR_ITEM = -23        # out.on_item refused an item (its message is the decoder's)
    KT_ERR_SELECT = -24      # out.select found no table for this object


cdef struct KtTable

ctypedef struct KtField:
    const char* key          # UTF-8, NUL-terminated (points into the owning FieldTable's bytes)
    Py_ssize_t key_len
    int kind                 # a KT_* field kind
    int slot                 # scalar slot (seen bit); for KT_LEVELS the levels index
    int flags                # KF_* flag bits
    int px_slot, qty_slot    # KT_LEVELS over objects: the child slots holding price and size
    const KtTable* child     # KT_OBJECT / KT_EACH / KT_LEVELS over objects

cdef struct KtTable:
    const KtField* fields
    int n
    uint64_t mask            # slots of this table and of every table below it
    uint64_t required        # slots of this table's KF_REQUIRED fields
    uint64_t levels_mask     # level indices (bit per index) of this table and below

ctypedef struct KtLevels:
    double* px               # capacity entries each, owned by the decoder (preallocated)
    double* qty
    JsonSpan* px_text        # KF_KEEP_TEXT only (else may be NULL)
    JsonSpan* qty_text
    Py_ssize_t capacity
    Py_ssize_t count         # levels written by the last scan
    bint seen
    JsonSpan text            # the whole array's text, brackets included (OKX checks its strings' form)

cdef struct KtOut

# on_item(ctx, slot, out, index): 0 to go on, -1 to refuse (the scan stops with KT_ERR_ITEM).
ctypedef int (*kt_item_fn)(void* ctx, int slot, KtOut* out, Py_ssize_t index) noexcept
# select(ctx, slot, out): the table for the KT_SELECT object at ``slot`` (out.span[slot].kind says
# whether it is an object or an array, .ptr where it starts), or NULL if the slots seen so far do not tell (the object is then validated and kept as span[slot], seen bit set, so the
# decoder can scan it with kt_scan_span once it knows).
ctypedef const KtTable* (*kt_select_fn)(void* ctx, int slot, KtOut* out) noexcept

cdef struct KtOut:
    uint64_t seen                      # bit i: slot i was present and converted
    JsonSpan span[64]                  # KT_MAX_SLOTS: every scalar's text (strings: raw content)
    int64_t i64[64]
    double f64[64]
    KtLevels levels[4]                 # KT_MAX_LEVEL_SLOTS
    kt_item_fn on_item
    kt_select_fn select
    void* ctx
    # the first error: code, the key it concerns (NULL: the JSON itself), where in the frame
    int err_code
    const char* err_key
    const char* err_at

cdef void kt_out_init(KtOut* out) noexcept nogil
# Scan one JSON object document data[0:n] with table t. 0 or an error code (out.err_*).
cdef int kt_scan(const KtTable* t, const char* data, Py_ssize_t n, KtOut* out) noexcept
# Scan a span (an object value kept by KT_SPAN or an unresolved KT_SELECT) with table t.
cdef int kt_scan_span(const KtTable* t, const JsonSpan* v, KtOut* out) noexcept
# Scan an array-of-objects span (kept by KT_SPAN or an unresolved KT_SELECT): each item with table
# t, then out.on_item(ctx, slot, out, index), as KT_EACH does; i64[slot] = the item count.
cdef int kt_scan_each(const KtTable* t, const JsonSpan* v, int slot, KtOut* out) noexcept
# Scan the object a JsonIter is walking (begun or a child), members with table t, to its end.
cdef int kt_scan_iter(const KtTable* t, JsonIter* it, KtOut* out) noexcept
# 0 if every slot of the bit set ``slots`` was seen, else KT_ERR_MISSING naming the first missing
# one's key in t (or below it), at ``at``. For per-message-type requirements after a shared scan.
cdef int kt_require(const KtTable* t, KtOut* out, uint64_t slots, const char* at) noexcept
# A string value as json.loads gives it (escapes decoded); other kinds: their text.
cdef str kt_text(const JsonSpan* v)
# Describe out's error as "field 'x': reason at byte k" (k relative to base).
cdef str kt_error_text(const KtOut* out, const char* base)

# The one rule for every price and size in every decoder (README "Books that are never silently
# wrong"): a price is finite and > 0, a size (quantity, amount) is finite and >= 0.
cdef inline bint kt_price_ok(double x) noexcept nogil:
    return isfinite(x) and x > 0.0


cdef inline bint kt_size_ok(double x) noexcept nogil:
    return isfinite(x) and x >= 0.0


cdef inline bint kt_levels_ok(const double* px, const double* qty, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if not (kt_price_ok(px[i]) and kt_size_ok(qty[i])):
            return False
    return True


cdef inline bint kt_seen(const KtOut* out, int slot) noexcept nogil:
    return (out.seen >> slot) & 1


cdef class FieldTable:
    """A table built from ``[(key, kind, slot[, flags[, child | (px_slot, qty_slot, child)]]), ...]``."""
    cdef KtTable table
    cdef KtField* _fields
    cdef list _keys          # the key bytes (the C pointers point into these)
    cdef list _children      # child FieldTables kept alive
    cdef readonly str name

    cdef int _adopt(self, KtField* f, FieldTable child) except -1
