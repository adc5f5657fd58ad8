# cython: language_level=3
"""Table-driven JSON extraction (C API and slot model in ``extract.pxd``; guide in ``README.md``).

``kt_scan`` walks the frame once with the lazy iterators of
:mod:`feedhandler.codec.json_scan`: a member whose key is in the table is
converted where it is met (numbers straight from the bytes, level arrays into
the decoder's preallocated arrays, nested objects and arrays of objects walked
in place with their child table); every other member is validated and skipped
by the iterator. So a frame is validated exactly once, and a frame that fails
leaves only ``out.err_*`` behind: the decoder applies nothing of it.

Keys compare as ``json.loads`` would see them (escaped keys are decoded), a
repeated key is last-wins (a repeated nested object starts from empty slots),
and every price and size obeys one rule: finite, price > 0, size >= 0
(``KT_PRICE``/``KT_SIZE`` and every level), other doubles must be finite.
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp, memset

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_ERR_RANGE, JSON_ERR_TRAILING, JSON_ERR_TYPE, JSON_FALSE, JSON_NULL, JSON_NUMBER,
    JSON_OBJECT, JSON_STRING, JSON_TOO_MANY, JSON_TRUE, JsonIter, JsonSpan, json_array_begin, json_array_next_lazy,
    json_expect_end, json_iter_child, json_iter_child_end, json_iter_levels, json_iter_take,
    json_object_begin, json_object_next_lazy, json_span_eq, json_span_to_double, json_span_to_int64,
)
from feedhandler.codec.numbers cimport NUM_OK, parse_iso8601_ns

from cpython.unicode cimport PyUnicode_DecodeUTF8

import json as _json

from feedhandler.codec.json_scan import json_error_message

cdef int64_t _MAX_MS = 9223372036854        # largest ms whose ns fits int64
cdef int64_t _MAX_S = 9223372036            # largest s whose ns fits int64

_KT_MESSAGES = {
    KT_ERR_MISSING: "required key missing",
    KT_ERR_NUMBER: "price must be finite and > 0, size finite and >= 0, numbers finite",
    KT_ERR_TIME: "not an ISO-8601 UTC instant in the int64 nanosecond range",
    KT_ERR_ITEM: "item refused",
    KT_ERR_SELECT: "no table for this object",
}


cdef inline int _fail(KtOut* out, int code, const char* key, const char* at) noexcept nogil:
    # The first error wins; an inner JSON error (key NULL) is later named by the field around it.
    if out.err_code == 0:
        out.err_code = code
        out.err_key = key
        out.err_at = at
    elif out.err_key == NULL:
        out.err_key = key
    return code if code != 0 else out.err_code


cdef inline bint _key_is(const KtField* f, const JsonSpan* k) noexcept nogil:
    if k.has_escapes:
        return json_span_eq(k, f.key, f.key_len)      # "\u0062" is the key "b", as for json.loads
    # length and first byte first: most declared keys are rejected (or, one byte long, matched)
    # without a memcmp call; k.len >= 1 when the first bytes are compared
    return k.len == f.key_len and (k.len == 0 or (k.ptr[0] == f.key[0]
                                                   and memcmp(k.ptr + 1, f.key + 1, <size_t>(k.len - 1)) == 0))


cdef inline bint _fits(const KtField* f, const JsonSpan* v) noexcept nogil:
    """Whether the value's JSON kind suits the field's kind (containers vs scalars)."""
    cdef bint container = v.kind == JSON_OBJECT or v.kind == JSON_ARRAY
    if f.kind == KT_SPAN or v.kind == JSON_NULL:
        return True
    if f.kind == KT_LEVELS or f.kind == KT_EACH:
        return v.kind == JSON_ARRAY
    if f.kind == KT_OBJECT:
        return v.kind == JSON_OBJECT
    if f.kind == KT_SELECT:
        return container
    return not container


cdef inline const KtField* _lookup(const KtTable* t, const JsonSpan* k, const JsonSpan* v) noexcept nogil:
    # A key may be declared more than once with different kinds (simjson's "b" is a level array
    # in depth frames and a price in bbo frames): the first entry whose kind suits the value's
    # JSON kind wins; if none does, the first entry (its type error names the key).
    cdef int i
    cdef const KtField* f
    cdef const KtField* first = NULL
    for i in range(t.n):
        f = &t.fields[i]
        if _key_is(f, k):
            if _fits(f, v):
                return f
            if first == NULL:
                first = f
    return first


cdef inline void _set(KtOut* out, int slot) noexcept nogil:
    if slot >= 0:
        out.seen |= (<uint64_t>1) << slot


cdef inline void _unset(KtOut* out, int slot) noexcept nogil:
    if slot >= 0:
        out.seen &= ~((<uint64_t>1) << slot)


cdef inline int _number_rule(int kind, double x) noexcept nogil:
    if kind == KT_PRICE:
        return 0 if kt_price_ok(x) else KT_ERR_NUMBER
    if kind == KT_SIZE:
        return 0 if kt_size_ok(x) else KT_ERR_NUMBER
    return 0 if isfinite(x) else KT_ERR_NUMBER


cdef int _scalar(const KtField* f, JsonSpan* v, KtOut* out) noexcept:
    """A scalar value (complete span) of a non-container field into its slot."""
    cdef int kind = f.kind
    cdef int slot = f.slot
    cdef int rc = 0
    cdef int64_t iv = 0
    cdef double dv = 0.0
    out.span[slot] = v[0]
    if kind == KT_SPAN:
        pass
    elif kind == KT_STR:
        if v.kind != JSON_STRING:
            return _fail(out, JSON_ERR_TYPE, f.key, v.ptr)
    elif kind == KT_INT64 or kind == KT_INT64_MS or kind == KT_INT64_S:
        rc = json_span_to_int64(v, &iv)
        if rc != 0:
            return _fail(out, rc, f.key, v.ptr)
        if kind == KT_INT64_MS:
            # range check before the multiply (no signed overflow)
            if iv < 0 or iv > _MAX_MS:
                return _fail(out, KT_ERR_TIME, f.key, v.ptr)
            iv = iv * 1000000
        elif kind == KT_INT64_S:
            if iv < 0 or iv > _MAX_S:
                return _fail(out, KT_ERR_TIME, f.key, v.ptr)
            iv = iv * 1000000000
        out.i64[slot] = iv
    elif kind == KT_DOUBLE or kind == KT_PRICE or kind == KT_SIZE:
        rc = json_span_to_double(v, &dv)
        if rc != 0:
            return _fail(out, rc, f.key, v.ptr)
        rc = _number_rule(kind, dv)
        if rc != 0:
            return _fail(out, rc, f.key, v.ptr)
        out.f64[slot] = dv
    elif kind == KT_BOOL:
        if v.kind == JSON_TRUE:
            out.i64[slot] = 1
        elif v.kind == JSON_FALSE:
            out.i64[slot] = 0
        else:
            return _fail(out, JSON_ERR_TYPE, f.key, v.ptr)
    elif kind == KT_TIME_ISO:
        if v.kind != JSON_STRING or v.has_escapes:
            return _fail(out, KT_ERR_TIME, f.key, v.ptr)
        if parse_iso8601_ns(v.ptr, v.len, &iv) != NUM_OK:
            return _fail(out, KT_ERR_TIME, f.key, v.ptr)
        out.i64[slot] = iv
    else:
        return _fail(out, JSON_ERR_TYPE, f.key, v.ptr)
    _set(out, slot)
    return 0


cdef int _level_number(JsonSpan* v, int kind, double* x) noexcept:
    cdef int rc
    if v.kind != JSON_STRING and v.kind != JSON_NUMBER:
        return JSON_ERR_TYPE
    rc = json_span_to_double(v, x)
    if rc != 0:
        return rc
    return _number_rule(kind, x[0])


cdef int _scan_child(const KtField* f, const KtTable* t, JsonIter* parent, KtOut* out) noexcept:
    """The pending object at ``parent`` scanned in place with table t (errors named by f's key)."""
    cdef JsonIter child
    cdef int rc = json_iter_child(parent, &child)
    if rc < 0:
        return _fail(out, rc, f.key, parent.p)
    rc = kt_scan_iter(t, &child, out)
    if rc < 0:
        return _fail(out, rc, f.key, child.p)
    rc = json_iter_child_end(parent, &child)
    if rc < 0:
        return _fail(out, rc, f.key, parent.p)
    return 0


cdef inline void _levels_seen(KtLevels* lv, const JsonSpan* v, const JsonIter* it) noexcept nogil:
    # the array was read to its end: it.p is just past its ']'
    lv.seen = True
    lv.text.ptr = v.ptr
    lv.text.len = it.p - v.ptr
    lv.text.kind = JSON_ARRAY
    lv.text.has_escapes = False


cdef int _levels_general(const KtField* f, JsonIter* it, const JsonSpan* v, KtOut* out) noexcept:
    """Levels walked item by item: arrays keeping their texts, or objects with a child table."""
    cdef KtLevels* lv = &out.levels[f.slot]
    cdef JsonIter arr, item_it
    cdef JsonSpan item, pv, qv, extra
    cdef Py_ssize_t n = 0
    cdef int rc
    cdef bint keep = (f.flags & KF_KEEP_TEXT) != 0 and lv.px_text != NULL and lv.qty_text != NULL
    cdef double px = 0.0, qty = 0.0
    rc = json_iter_child(it, &arr)
    if rc < 0:
        return _fail(out, rc, f.key, it.p)
    while True:
        rc = json_array_next_lazy(&arr, &item)
        if rc == 0:
            break
        if rc < 0:
            return _fail(out, rc, f.key, arr.p)
        if n >= lv.capacity:
            return _fail(out, JSON_TOO_MANY, f.key, item.ptr)
        if f.child != NULL:
            if item.kind != JSON_OBJECT:
                return _fail(out, JSON_ERR_TYPE, f.key, item.ptr)
            rc = _scan_child(f, f.child, &arr, out)
            if rc < 0:
                return rc
            if not (kt_seen(out, f.px_slot) and kt_seen(out, f.qty_slot)):
                return _fail(out, KT_ERR_MISSING, f.key, item.ptr)
            px = out.f64[f.px_slot]
            qty = out.f64[f.qty_slot]
            if not (kt_price_ok(px) and kt_size_ok(qty)):
                return _fail(out, KT_ERR_NUMBER, f.key, item.ptr)
            pv = out.span[f.px_slot]
            qv = out.span[f.qty_slot]
        else:
            if item.kind != JSON_ARRAY:
                return _fail(out, JSON_ERR_TYPE, f.key, item.ptr)
            rc = json_iter_child(&arr, &item_it)
            if rc < 0:
                return _fail(out, rc, f.key, arr.p)
            rc = json_array_next_lazy(&item_it, &pv)
            if rc == 1:
                rc = json_array_next_lazy(&item_it, &qv) if pv.len > 0 or pv.kind == JSON_STRING else JSON_ERR_TYPE
            if rc == 0:
                return _fail(out, -12, f.key, item.ptr)       # JSON_ERR_LEVEL: fewer than 2 items
            if rc < 0:
                return _fail(out, rc, f.key, item_it.p)
            if qv.len == 0 and qv.kind != JSON_STRING:
                return _fail(out, JSON_ERR_TYPE, f.key, qv.ptr)   # a container where a size goes
            rc = _level_number(&pv, KT_PRICE, &px)
            if rc != 0:
                return _fail(out, rc, f.key, pv.ptr)
            rc = _level_number(&qv, KT_SIZE, &qty)
            if rc != 0:
                return _fail(out, rc, f.key, qv.ptr)
            while True:        # further items (OKX's "0","1"): validated by the iterator, ignored
                rc = json_array_next_lazy(&item_it, &extra)
                if rc <= 0:
                    break
            if rc < 0:
                return _fail(out, rc, f.key, item_it.p)
            rc = json_iter_child_end(&arr, &item_it)
            if rc < 0:
                return _fail(out, rc, f.key, arr.p)
        lv.px[n] = px
        lv.qty[n] = qty
        if keep:
            lv.px_text[n] = pv
            lv.qty_text[n] = qv
        n += 1
    rc = json_iter_child_end(it, &arr)
    if rc < 0:
        return _fail(out, rc, f.key, it.p)
    lv.count = n
    _levels_seen(lv, v, it)
    return 0


cdef int _levels(const KtField* f, JsonIter* it, const JsonSpan* v, KtOut* out) noexcept:
    cdef KtLevels* lv = &out.levels[f.slot]
    cdef Py_ssize_t i
    cdef int rc
    if v.kind != JSON_ARRAY:
        return _fail(out, JSON_ERR_TYPE, f.key, v.ptr)
    if f.child != NULL or (f.flags & KF_KEEP_TEXT):
        return _levels_general(f, it, v, out)
    # [[p, q, ...], ...]: json_scan's level kernel (compact shapes converted while validated)
    rc = json_iter_levels(it, lv.px, lv.qty, lv.capacity, &lv.count)
    if rc < 0:
        lv.count = 0
        return _fail(out, rc, f.key, v.ptr)    # reported at the array, as a level breaking the rule is
    if not kt_levels_ok(lv.px, lv.qty, lv.count):
        lv.count = 0
        return _fail(out, KT_ERR_NUMBER, f.key, v.ptr)
    _levels_seen(lv, v, it)
    return 0


cdef int _nested(const KtField* f, const KtTable* t, JsonIter* it, const JsonSpan* v, KtOut* out) noexcept:
    cdef int rc = _scan_child(f, t, it, out)
    if rc < 0:
        return rc
    if f.slot >= 0:
        out.span[f.slot].ptr = v.ptr
        out.span[f.slot].len = it.p - v.ptr
        out.span[f.slot].kind = JSON_OBJECT
        out.span[f.slot].has_escapes = False
    return 0


cdef int _each_items(const KtField* f, const KtTable* t, JsonIter* arr, KtOut* out) noexcept:
    """The items of the array ``arr`` walks: each object scanned with t, then out.on_item."""
    cdef JsonSpan item
    cdef Py_ssize_t idx = 0
    cdef int rc
    while True:
        rc = json_array_next_lazy(arr, &item)
        if rc == 0:
            break
        if rc < 0:
            return _fail(out, rc, f.key, arr.p)
        if item.kind != JSON_OBJECT:
            return _fail(out, JSON_ERR_TYPE, f.key, item.ptr)
        rc = _scan_child(f, t, arr, out)
        if rc < 0:
            return rc
        if out.on_item != NULL and out.on_item(out.ctx, f.slot, out, idx) < 0:
            return _fail(out, KT_ERR_ITEM, f.key, item.ptr)
        idx += 1
    if f.slot >= 0:
        out.i64[f.slot] = idx
    return 0


cdef int _each(const KtField* f, const KtTable* t, JsonIter* it, const JsonSpan* v, KtOut* out) noexcept:
    cdef JsonIter arr
    cdef int rc = json_iter_child(it, &arr)
    if rc < 0:
        return _fail(out, rc, f.key, it.p)
    rc = _each_items(f, t, &arr, out)
    if rc < 0:
        return rc
    rc = json_iter_child_end(it, &arr)
    if rc < 0:
        return _fail(out, rc, f.key, it.p)
    return 0


cdef int _field(const KtField* f, JsonIter* it, JsonSpan* v, KtOut* out) noexcept:
    cdef int kind = f.kind
    cdef const KtTable* t
    cdef int rc
    cdef bint container = (v.kind == JSON_OBJECT or v.kind == JSON_ARRAY) and v.len == 0
    if (v.kind == JSON_NULL and (f.flags & KF_NULLABLE)) or (
            v.kind == JSON_STRING and v.len == 0 and (f.flags & KF_EMPTY_NULL)):
        if kind == KT_LEVELS:
            out.levels[f.slot].seen = False
            out.levels[f.slot].count = 0
        else:
            _unset(out, f.slot)
        return 0
    if kind == KT_OBJECT or kind == KT_SELECT:
        if v.kind != JSON_OBJECT and not (kind == KT_SELECT and v.kind == JSON_ARRAY):
            return _fail(out, JSON_ERR_TYPE, f.key, v.ptr)
        t = f.child
        if kind == KT_SELECT:
            if f.slot >= 0:
                out.span[f.slot] = v[0]   # select sees the value's JSON kind (object or array) and start
            t = out.select(out.ctx, f.slot, out) if out.select != NULL else NULL
            if t == NULL:
                # not known yet (e.g. "channel" comes after "result"): keep the validated span
                rc = json_iter_take(it, v)
                if rc < 0:
                    return _fail(out, rc, f.key, it.p)
                if f.slot >= 0:
                    out.span[f.slot] = v[0]
                    out.i64[f.slot] = 0
                _set(out, f.slot)
                return 0
            if v.kind == JSON_ARRAY:
                # an array of objects, each scanned with the selected table (on_item per item)
                rc = _each(f, t, it, v, out)
                if rc < 0:
                    return rc
                if f.slot >= 0:       # the array's span, as for an object (its kind tells which)
                    out.span[f.slot].ptr = v.ptr
                    out.span[f.slot].len = it.p - v.ptr
                    out.span[f.slot].kind = JSON_ARRAY
                    out.span[f.slot].has_escapes = False
                _set(out, f.slot)
                return 0
        rc = _nested(f, t, it, v, out)
        if rc < 0:
            return rc
        if f.slot >= 0:
            out.i64[f.slot] = 1
        _set(out, f.slot)
        return 0
    if kind == KT_LEVELS:
        return _levels(f, it, v, out)
    if kind == KT_EACH:
        if v.kind != JSON_ARRAY:
            return _fail(out, JSON_ERR_TYPE, f.key, v.ptr)
        rc = _each(f, f.child, it, v, out)
        if rc < 0:
            return rc
        if f.slot >= 0:
            out.span[f.slot] = v[0]
            out.span[f.slot].len = it.p - v.ptr     # the whole array, for a second (emitting) pass
        _set(out, f.slot)
        return 0
    if container:
        if kind != KT_SPAN:
            return _fail(out, JSON_ERR_TYPE, f.key, v.ptr)
        rc = json_iter_take(it, v)
        if rc < 0:
            return _fail(out, rc, f.key, it.p)
    return _scalar(f, v, out)


cdef int kt_scan_iter(const KtTable* t, JsonIter* it, KtOut* out) noexcept:
    cdef JsonSpan k, v
    cdef const KtField* f
    cdef int rc, i
    cdef uint64_t missing
    # A (repeated) object starts from empty slots: json.loads keeps only the last duplicate.
    out.seen &= ~t.mask
    if t.levels_mask:
        for i in range(KT_MAX_LEVEL_SLOTS):
            if (t.levels_mask >> i) & 1:
                out.levels[i].seen = False
                out.levels[i].count = 0
    while True:
        rc = json_object_next_lazy(it, &k, &v)
        if rc == 0:
            break
        if rc < 0:
            return _fail(out, rc, NULL, it.p)
        f = _lookup(t, &k, &v)
        if f != NULL:
            rc = _field(f, it, &v, out)
            if rc < 0:
                return rc
    missing = t.required & ~out.seen
    if missing:
        for i in range(t.n):
            if t.fields[i].slot >= 0 and (t.fields[i].flags & KF_REQUIRED) and t.fields[i].kind != KT_LEVELS \
                    and (missing >> t.fields[i].slot) & 1:
                return _fail(out, KT_ERR_MISSING, t.fields[i].key, it.p)
    for i in range(t.n):
        if t.fields[i].kind == KT_LEVELS and (t.fields[i].flags & KF_REQUIRED) \
                and not out.levels[t.fields[i].slot].seen:
            return _fail(out, KT_ERR_MISSING, t.fields[i].key, it.p)
    return 0


cdef const KtField* _field_of_slot(const KtTable* t, int slot) noexcept nogil:
    cdef int i
    cdef const KtField* f
    for i in range(t.n):
        f = &t.fields[i]
        if f.kind != KT_LEVELS and f.slot == slot:
            return f
        if f.child != NULL and (t.fields[i].child.mask >> slot) & 1:
            f = _field_of_slot(f.child, slot)
            if f != NULL:
                return f
    return NULL


cdef int kt_require(const KtTable* t, KtOut* out, uint64_t slots, const char* at) noexcept:
    cdef uint64_t missing = slots & ~out.seen
    cdef int slot = 0
    cdef const KtField* f
    if not missing:
        return 0
    while not ((missing >> slot) & 1):
        slot += 1
    f = _field_of_slot(t, slot)
    return _fail(out, KT_ERR_MISSING, f.key if f != NULL else NULL, at)


cdef void kt_out_init(KtOut* out) noexcept nogil:
    memset(out, 0, sizeof(KtOut))


cdef inline void _scan_start(KtOut* out) noexcept nogil:
    out.seen = 0
    out.err_code = 0
    out.err_key = NULL
    out.err_at = NULL


cdef int kt_scan(const KtTable* t, const char* data, Py_ssize_t n, KtOut* out) noexcept:
    cdef JsonIter it
    cdef const char* end = data + n
    cdef int rc
    _scan_start(out)
    rc = json_object_begin(&it, data, end)
    if rc < 0:
        return _fail(out, rc, NULL, it.p)
    rc = kt_scan_iter(t, &it, out)
    if rc < 0:
        return rc
    rc = json_expect_end(it.p, end)
    if rc < 0:
        return _fail(out, JSON_ERR_TRAILING, NULL, it.p)
    return 0


cdef int kt_scan_span(const KtTable* t, const JsonSpan* v, KtOut* out) noexcept:
    cdef JsonIter it
    cdef int rc
    out.err_code = 0
    out.err_key = NULL
    out.err_at = NULL
    rc = json_object_begin(&it, v.ptr, v.ptr + v.len)
    if rc < 0:
        return _fail(out, rc, NULL, it.p)
    rc = kt_scan_iter(t, &it, out)
    if rc < 0:
        return rc
    return 0


cdef int kt_scan_each(const KtTable* t, const JsonSpan* v, int slot, KtOut* out) noexcept:
    cdef JsonIter arr
    cdef KtField f
    cdef int rc
    memset(&f, 0, sizeof(KtField))      # key NULL: an error is the array's own (the caller names it)
    f.slot = slot
    out.err_code = 0
    out.err_key = NULL
    out.err_at = NULL
    if v.kind != JSON_ARRAY:
        return _fail(out, JSON_ERR_TYPE, NULL, v.ptr)
    rc = json_array_begin(&arr, v.ptr, v.ptr + v.len)
    if rc < 0:
        return _fail(out, rc, NULL, arr.p)
    return _each_items(&f, t, &arr, out)


cdef str kt_error_text(const KtOut* out, const char* base):
    cdef int code = out.err_code
    reason = _KT_MESSAGES.get(code) or json_error_message(code)
    where = f" at byte {out.err_at - base}" if out.err_at != NULL and base != NULL else ""
    if out.err_key != NULL:
        return f"field {(<bytes>out.err_key).decode('utf-8', 'replace')!r}: {reason}{where}"
    return f"{reason}{where}"


cdef str kt_text(const JsonSpan* v):
    if v.kind == JSON_STRING and v.has_escapes:
        # rare: the exact json.loads meaning of the escapes (the scanner validated them)
        return _json.loads(b'"' + v.ptr[:v.len] + b'"')
    return PyUnicode_DecodeUTF8(v.ptr, v.len, "replace")


def kt_reason(int code):
    """The reason text of a kernel or JSON error code (for messages and tests)."""
    return _KT_MESSAGES.get(code) or json_error_message(code)


# ---------------------------------------------------------------------------
# FieldTable: building the C table from a Python declaration

_SCALAR_KINDS = {KT_SPAN, KT_STR, KT_INT64, KT_DOUBLE, KT_PRICE, KT_SIZE, KT_BOOL, KT_TIME_ISO,
                 KT_INT64_MS, KT_INT64_S}


cdef class FieldTable:
    """The keys one JSON object is read with, and the slot each lands in.

    Parameters
    ----------
    name : str
        For messages (e.g. ``"bybit.orderbook"``).
    fields : list of tuple
        ``(key, kind, slot)`` or ``(key, kind, slot, flags)`` or
        ``(key, kind, slot, flags, child)`` where ``child`` is a
        :class:`FieldTable` (``KT_OBJECT``, ``KT_EACH``) or, for ``KT_LEVELS``
        over objects, ``(child, px_slot, qty_slot)``. ``slot`` is 0..63 for
        scalar kinds, ``KT_OBJECT``, ``KT_SELECT`` and ``KT_EACH`` (-1: no slot),
        and 0..3 (the ``out.levels`` index) for ``KT_LEVELS``. Keys sharing a
        slot are allowed (aliases); slots of nested tables share one space, so
        give them different numbers.
    """

    def __cinit__(self, str name, list fields):
        cdef Py_ssize_t n = len(fields)
        cdef Py_ssize_t i
        cdef KtField* f
        cdef FieldTable child
        self.name = name
        self._keys = []
        self._children = []
        self._fields = <KtField*>PyMem_Malloc(max(n, 1) * sizeof(KtField))
        if self._fields == NULL:
            raise MemoryError()
        memset(self._fields, 0, max(n, 1) * sizeof(KtField))
        self.table.fields = self._fields
        self.table.n = <int>n
        self.table.mask = 0
        self.table.required = 0
        self.table.levels_mask = 0
        for i, spec in enumerate(fields):
            if not 3 <= len(spec) <= 5:
                raise ValueError(f"{name}: field spec {spec!r} must be (key, kind, slot[, flags[, child]])")
            key, kind, slot = spec[0], int(spec[1]), int(spec[2])
            flags = int(spec[3]) if len(spec) > 3 else 0
            extra = spec[4] if len(spec) > 4 else None
            kb = key.encode("utf-8") if isinstance(key, str) else bytes(key)
            self._keys.append(kb)
            f = &self._fields[i]
            f.key = kb
            f.key_len = len(kb)
            f.kind = kind
            f.slot = slot
            f.flags = flags
            f.px_slot = -1
            f.qty_slot = -1
            f.child = NULL
            if kind == KT_LEVELS:
                if not 0 <= slot < KT_MAX_LEVEL_SLOTS:
                    raise ValueError(f"{name}: levels index of {key!r} must be 0..{KT_MAX_LEVEL_SLOTS - 1}")
                self.table.levels_mask |= (<uint64_t>1) << slot
                if extra is not None:
                    child, f.px_slot, f.qty_slot = extra
                    if not (0 <= f.px_slot < KT_MAX_SLOTS and 0 <= f.qty_slot < KT_MAX_SLOTS):
                        raise ValueError(f"{name}: price/size slots of {key!r} must be 0..63")
                    self._adopt(f, child)
                continue
            if kind in _SCALAR_KINDS or kind == KT_OBJECT or kind == KT_SELECT or kind == KT_EACH:
                if not (-1 <= slot < KT_MAX_SLOTS) or (slot < 0 and kind in _SCALAR_KINDS):
                    raise ValueError(f"{name}: slot of {key!r} must be 0..63")
            else:
                raise ValueError(f"{name}: unknown field kind {kind} for {key!r}")
            if kind == KT_OBJECT or kind == KT_EACH:
                if not isinstance(extra, FieldTable):
                    raise ValueError(f"{name}: {key!r} needs a child FieldTable")
                self._adopt(f, extra)
            if slot >= 0:
                self.table.mask |= (<uint64_t>1) << slot
                if flags & KF_REQUIRED:
                    self.table.required |= (<uint64_t>1) << slot

    cdef int _adopt(self, KtField* f, FieldTable child) except -1:
        self._children.append(child)
        f.child = &child.table
        self.table.mask |= child.table.mask
        self.table.levels_mask |= child.table.levels_mask
        return 0

    def __dealloc__(self):
        if self._fields != NULL:
            PyMem_Free(self._fields)
            self._fields = NULL

    def __repr__(self):
        return f"FieldTable({self.name!r}, {self.table.n} keys)"

    def scan(self, data, Py_ssize_t capacity=1000):
        """Scan one JSON object document and return what landed in the slots (for tests and tools).

        Parameters
        ----------
        data : bytes
            A JSON object document.
        capacity : int
            Levels per level slot.

        Returns
        -------
        dict
            ``slot -> value`` for every seen scalar slot (int, float, bool as int, raw ``bytes`` for
            spans and strings), ``"L<i>" -> [(price, size, price_text, size_text), ...]`` for seen
            level slots (texts ``None`` unless ``KF_KEEP_TEXT``), ``"T<i>" -> bytes`` the whole text of each seen level
            array, and ``"items<slot>" -> [dict, ...]``
            for ``KT_EACH`` arrays (each item's slots, as above).

        Raises
        ------
        ValueError
            ``"field 'x': reason at byte k"`` for a frame the table refuses.
        """
        cdef bytes b = bytes(data)
        cdef KtOut* out = <KtOut*>PyMem_Malloc(sizeof(KtOut))
        cdef void* mem = NULL
        cdef Py_ssize_t i
        cdef int rc
        if out == NULL:
            raise MemoryError()
        kt_out_init(out)
        capacity = max(capacity, 1)
        mem = PyMem_Malloc(KT_MAX_LEVEL_SLOTS * capacity * (2 * sizeof(double) + 2 * sizeof(JsonSpan)))
        if mem == NULL:
            PyMem_Free(out)
            raise MemoryError()
        memset(mem, 0, KT_MAX_LEVEL_SLOTS * capacity * (2 * sizeof(double) + 2 * sizeof(JsonSpan)))
        try:
            for i in range(KT_MAX_LEVEL_SLOTS):
                out.levels[i].px = <double*>mem + (2 * i) * capacity
                out.levels[i].qty = <double*>mem + (2 * i + 1) * capacity
                out.levels[i].px_text = <JsonSpan*>(<double*>mem + 2 * KT_MAX_LEVEL_SLOTS * capacity) + (2 * i) * capacity
                out.levels[i].qty_text = out.levels[i].px_text + capacity
                out.levels[i].capacity = capacity
            items = {}
            out.on_item = _collect_item
            out.ctx = <void*>items
            rc = kt_scan(&self.table, b, len(b), out)
            if rc < 0:
                raise ValueError(kt_error_text(out, b))
            result = _snapshot(out)
            for slot, lst in items.items():
                result[f"items{slot}"] = lst
            return result
        finally:
            PyMem_Free(mem)
            PyMem_Free(out)


cdef int _collect_item(void* ctx, int slot, KtOut* out, Py_ssize_t index) noexcept:
    cdef dict items = <dict>ctx
    try:
        items.setdefault(slot, []).append(_snapshot(out))
    except BaseException:
        return -1
    return 0


cdef dict _snapshot(KtOut* out):
    cdef dict d = {}
    cdef int s, i
    cdef Py_ssize_t j
    cdef KtLevels* lv
    cdef JsonSpan* sp
    for s in range(KT_MAX_SLOTS):
        if not kt_seen(out, s):
            continue
        sp = &out.span[s]
        d[s] = (sp.ptr[:sp.len], out.i64[s], out.f64[s])
    for i in range(KT_MAX_LEVEL_SLOTS):
        lv = &out.levels[i]
        if lv.seen:
            d[f"L{i}"] = [(lv.px[j], lv.qty[j], lv.px_text[j].ptr[:lv.px_text[j].len],
                           lv.qty_text[j].ptr[:lv.qty_text[j].len]) for j in range(lv.count)]
            d[f"T{i}"] = lv.text.ptr[:lv.text.len]
    return d
