# cython: language_level=3
"""Table-driven protobuf extraction (C API, kinds and semantics in ``pbextract.pxd``).

One walk per message: each tag is looked up in the table by its field number
(a dense index over the declared range), the value is stored where it is met
(strings as spans into the frame, varints as int64), nested messages are
walked in place with their child table, and the decimal strings of a message
are converted once it is complete. Level items of the usual two-field shape
(``price`` then ``size``, one-byte tags and lengths) take an exact fast path
that reads the same spans the general walk would; any other layout goes
through the general walk (``tests/kernel/test_pbextract.py`` checks both
against the official protobuf library).
"""
cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.codec.numbers cimport NUM_OK, fh_all_digits8, fh_swar8, parse_double_inline, parse_int64
from feedhandler.codec.protobuf cimport (
    PB_OK, PB_WT_FIXED32, PB_WT_FIXED64, PB_WT_LEN, PB_WT_VARINT, PbReader, pb_double_from_bits, pb_error_name,
    pb_float_from_bits, pb_read_fixed32, pb_read_fixed64, pb_read_len, pb_read_tag, pb_read_varint, pb_skip,
    pb_sub_reader, pb_zigzag64,
)
from feedhandler.kernel.extract cimport KT_MAX_LEVEL_SLOTS, KT_MAX_SLOTS, KtLevels, kt_out_init, kt_price_ok, kt_seen, kt_size_ok

from feedhandler.codec.protobuf import _DESCRIPTIONS as _WIRE_REASONS

_DEC_KINDS = (PK_DEC, PK_DEC_PRICE, PK_DEC_SIZE, PK_DEC_INT)
_WIRE_TYPES = {PK_VARINT: PB_WT_VARINT, PK_SINT: PB_WT_VARINT, PK_FIXED64: PB_WT_FIXED64, PK_FIXED32: PB_WT_FIXED32}
_PX_REASONS = {
    PX_ERR_NUMBER: "not a decimal number obeying the price/size rule (finite; price > 0, size >= 0)",
    PX_ERR_ITEM: "item refused",
    PX_ERR_SEGMENTS: f"oneof member repeated more than {PX_MAX_SEGMENTS} times",
}


cdef inline int _fail(PbOut* st, int code, const PbTab* t, const PbField* f, const uint8_t* at) noexcept:
    if st.err_code == 0:
        st.err_code = code
        st.err_table = t
        st.err_field = f
        st.err_at = at
    return code


cdef inline const PbField* _lookup(const PbTab* t, uint32_t number) noexcept nogil:
    cdef uint32_t k = number - t.lo   # wraps to a large value below lo
    cdef int i
    if k < t.dense:
        i = t.index[k]
        return &t.fields[i] if i >= 0 else NULL
    if number < t.lo or number > t.hi:
        return NULL
    for i in range(t.n):
        if t.fields[i].number == number:
            return &t.fields[i]
    return NULL


cdef const PbField* _slot_field(const PbTab* t, int slot) noexcept nogil:
    cdef int i
    for i in range(t.n):
        if t.fields[i].slot == slot:
            return &t.fields[i]
    return NULL


cdef extern from *:
    int _pbx_ctz "__builtin_ctzll"(unsigned long long) nogil


cdef inline void _begin(const PbTab* t, KtOut* out) noexcept nogil:
    """Before t's message is walked: its slots (and its nested messages') unseen, its level counts 0."""
    cdef uint64_t m = t.levels_mask
    cdef int s
    out.seen &= ~t.reset_mask
    while m:
        s = _pbx_ctz(m)
        m &= m - 1
        out.levels[s].count = 0
        out.levels[s].seen = False


cdef inline void _defaults(const PbTab* t, KtOut* out) noexcept nogil:
    """Once t's message is walked: the proto3 defaults in the slots it did not send.

    Only the absent fields are written (a message usually sends most of its fields): every slot of
    t.reset_mask is either seen (written by the walk) or reset here.
    """
    cdef uint64_t m = t.reset_mask & ~out.seen
    cdef int s
    while m:
        s = _pbx_ctz(m)
        m &= m - 1
        out.i64[s] = 0
        out.f64[s] = 0.0
        out.span[s].len = 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline bint _digits(const char* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """s[0:n] of 1..18 decimal digits and nothing else (< 10**18: no overflow) -> out, the value
    parse_int64 gives; False for anything else (a sign, more digits, not a number: parse_int64 decides).

    Reads s[0:8] only when n >= 8, then s[i] for i < n.
    """
    cdef uint64_t w
    cdef int64_t v = 0
    cdef Py_ssize_t i = 0
    if n < 1 or n > 18:
        return False
    if n >= 8:  # versions are 11 digits: eight at a time first
        memcpy(&w, s, 8)
        if not fh_all_digits8(w):
            return False
        v = <int64_t>fh_swar8(w)
        i = 8
    while i < n:
        if <unsigned char>(s[i] - 48) >= 10:
            return False
        v = v * 10 + (s[i] - 48)
        i += 1
    out[0] = v
    return True


cdef int _finish(const PbTab* t, KtOut* out, PbOut* st) noexcept:
    """Convert the decimal strings of a complete message (only the occurrence that won is checked)."""
    cdef int i, s, kind, rc
    cdef const PbField* f
    cdef JsonSpan* v
    cdef uint64_t todo = out.seen & t.dec_mask
    cdef double x
    if t.has_message:
        for i in range(t.n):
            f = &t.fields[i]
            if f.kind == PK_MESSAGE and (f.slot < 0 or kt_seen(out, f.slot)):  # slot -1: no seen bit
                rc = _finish(f.child, out, st)
                if rc != 0:
                    return rc
    while todo:  # one step per decimal field present
        s = _pbx_ctz(todo)
        todo &= todo - 1
        f = &t.fields[t.by_slot[s]]
        v = &out.span[s]
        if v.len == 0:  # the proto3 default "" reads as 0 (sent: the slot holds an earlier frame's number)
            out.i64[s] = 0
            out.f64[s] = 0.0
            continue
        kind = f.kind
        if kind == PK_DEC_INT:
            rc = NUM_OK if _digits(v.ptr, v.len, &out.i64[s]) else parse_int64(v.ptr, v.len, &out.i64[s])
        else:
            rc = parse_double_inline(v.ptr, v.len, &x)
            if rc == NUM_OK and ((kind == PK_DEC_PRICE and not kt_price_ok(x))
                                 or (kind == PK_DEC_SIZE and not kt_size_ok(x))):
                rc = -1
            out.f64[s] = x
        if rc != NUM_OK:
            return _fail(st, PX_ERR_NUMBER, t, f, <const uint8_t*>v.ptr)
    return 0


cdef inline int _complete(const PbTab* t, KtOut* out, PbOut* st) noexcept:
    """t's message is walked: the defaults of what it did not send, then its decimal strings."""
    _defaults(t, out)
    if out.seen & t.dec_mask or t.has_message:
        return _finish(t, out, st)
    return 0


cdef int _level_general(const PbField* f, const uint8_t* d, Py_ssize_t n, KtOut* out, PbOut* st) noexcept:
    """A level item of any other layout: walked with the item's table (its spans land in px/qty_slot)."""
    cdef int rc
    _begin(f.child, out)
    rc = _walk(f.child, d, n, out, st)
    if rc == 0:
        _defaults(f.child, out)
    return rc


# _level_general's address is taken, so GCC keeps it out of line (called from _levels): inlined there
# (static, called once) it costs the level loop's fast path ~8 instructions per level (registers).
ctypedef int (*_level_general_fn)(const PbField*, const uint8_t*, Py_ssize_t, KtOut*, PbOut*) noexcept
cdef _level_general_fn _level_general_addr = _level_general


@cython.boundscheck(False)
@cython.wraparound(False)
cdef const uint8_t* _levels(const PbTab* t, const PbField* f, const uint8_t* p, const uint8_t* end,
                            const uint8_t* d, Py_ssize_t n, KtOut* out, PbOut* st) noexcept:
    """A run of items of the level field f into out.levels[f.slot]: the item at d[0:n], then every
    item that follows at once at p (before end) with f's one-byte tag (the usual run of asks, then of
    bids). Returns where the walk goes on, or NULL on an error (st.err_code).

    The reader position comes in and goes out by value: a pointer to _walk's reader would let it
    escape, and every store of _walk (through KtOut*) would then reload it.

    Counts and array pointers stay in locals for the run: stores through double* may alias
    anything (the build has -fno-strict-aliasing), which would reload them per level.
    """
    cdef KtLevels* lv = &out.levels[f.slot]
    cdef double* pxs = lv.px
    cdef double* qtys = lv.qty
    cdef Py_ssize_t count = lv.count, cap = lv.capacity
    cdef uint8_t px_tag = f.px_tag, qty_tag = f.qty_tag, own_tag = f.own_tag
    cdef PbReader lr  # a local: the level stores cannot alias it, so it stays in registers
    cdef const char* ps
    cdef const char* qs
    cdef Py_ssize_t pn, qn, l1
    cdef double px, qty
    cdef int rc = 0
    lr.p = p
    lr.end = end
    lv.seen = True
    while True:
        # Fast path reads d[0], d[1] (n >= 4), then d[2 + l1], d[3 + l1] only once 4 + l1 <= n; the
        # two spans then end exactly at n: the same spans the general walk gives for these bytes.
        if (px_tag != 0 and n >= 4 and d[0] == px_tag and d[1] < 0x80 and 4 + d[1] <= n
                and d[2 + d[1]] == qty_tag and d[3 + d[1]] < 0x80 and 4 + d[1] + d[3 + d[1]] == n):
            l1 = d[1]
            ps = <const char*>d + 2
            pn = l1
            qs = <const char*>d + 4 + l1
            qn = n - 4 - l1
        else:
            rc = _level_general(f, d, n, out, st)
            if rc != 0:
                break
            ps = out.span[f.px_slot].ptr
            pn = out.span[f.px_slot].len
            qs = out.span[f.qty_slot].ptr
            qn = out.span[f.qty_slot].len
        if pn == 0 or parse_double_inline(ps, pn, &px) != NUM_OK or not kt_price_ok(px):
            rc = _fail(st, PX_ERR_NUMBER, f.child, _slot_field(f.child, f.px_slot), <const uint8_t*>ps if pn else d)
            break
        qty = 0.0
        if qn != 0 and (parse_double_inline(qs, qn, &qty) != NUM_OK or not kt_size_ok(qty)):
            rc = _fail(st, PX_ERR_NUMBER, f.child, _slot_field(f.child, f.qty_slot), <const uint8_t*>qs)
            break
        if count >= cap:
            rc = _fail(st, PX_ERR_LEVELS, t, f, d)
            break
        pxs[count] = px
        qtys[count] = qty
        count += 1
        # the next field is another item of f: its one-byte tag, then a length as pb_read_len reads it
        if own_tag == 0 or lr.p >= lr.end or lr.p[0] != own_tag:
            break
        lr.p += 1
        rc = pb_read_len(&lr, &d, &n)
        if rc != PB_OK:
            rc = _fail(st, rc, t, f, lr.p)
            break
    lv.count = count
    return lr.p if rc == 0 else NULL


# _levels through a pointer: GCC would inline it (static, called once) into _walk, where the level loop
# then runs short of registers (measured: ~20 more instructions per level than on its own).
ctypedef const uint8_t* (*_levels_fn)(const PbTab*, const PbField*, const uint8_t*, const uint8_t*,
                                      const uint8_t*, Py_ssize_t, KtOut*, PbOut*) noexcept
cdef _levels_fn _levels_run = _levels


cdef int _walk(const PbTab* t, const uint8_t* p, Py_ssize_t n, KtOut* out, PbOut* st) noexcept:
    """Walk one message (or one segment of it) with t; the caller reset t's slots first."""
    cdef PbReader r
    cdef uint32_t number, wt, v32
    cdef uint64_t v = 0  # (read before rc is checked: a defined value)
    cdef const uint8_t* data
    cdef const uint8_t* at
    cdef Py_ssize_t dn
    cdef int64_t count
    cdef const PbField* f
    cdef int rc, kind, slot
    pb_sub_reader(&r, p, n)
    while r.p < r.end:
        at = r.p
        rc = pb_read_tag(&r, &number, &wt)
        if rc != PB_OK:
            return _fail(st, rc, t, NULL, at)
        f = _lookup(t, number)
        if f == NULL or f.wire_type != wt:
            rc = pb_skip(&r, wt)  # undeclared, or another wire type: an unknown field
            if rc != PB_OK:
                return _fail(st, rc, t, NULL, r.p)
            continue
        kind = f.kind
        slot = f.slot
        if wt == PB_WT_LEN:
            rc = pb_read_len(&r, &data, &dn)
            if rc != PB_OK:
                return _fail(st, rc, t, f, r.p)
            if kind == PK_LEVELS:
                r.p = _levels_run(t, f, r.p, r.end, data, dn, out, st)
                if r.p == NULL:
                    return st.err_code
                continue
            if kind <= PK_DEC_INT:
                out.span[slot].ptr = <const char*>data
                out.span[slot].len = dn
                out.seen |= (<uint64_t>1) << slot
            elif kind == PK_MESSAGE:
                if slot >= 0:
                    out.seen |= (<uint64_t>1) << slot
                rc = _walk(f.child, data, dn, out, st)
            elif kind == PK_EACH:
                count = out.i64[slot] if kt_seen(out, slot) else 0  # the count's default comes late
                _begin(f.child, out)
                rc = _walk(f.child, data, dn, out, st)
                if rc == 0:
                    rc = _complete(f.child, out, st)
                if rc == 0 and out.on_item != NULL and out.on_item(out.ctx, slot, out, count) != 0:
                    rc = _fail(st, PX_ERR_ITEM, t, f, data)
                out.i64[slot] = count + 1
                out.seen |= (<uint64_t>1) << slot
            else:  # PK_ONEOF
                if st.oneof != f:
                    st.oneof = f
                    st.nseg = 0
                if st.nseg >= PX_MAX_SEGMENTS:
                    return _fail(st, PX_ERR_SEGMENTS, t, f, at)
                st.seg[st.nseg].p = data
                st.seg[st.nseg].n = dn
                st.nseg += 1
            if rc != 0:
                return rc
            continue
        if wt == PB_WT_VARINT:
            rc = pb_read_varint(&r, &v)
            if kind == PK_SINT:
                v = <uint64_t>pb_zigzag64(v)
        elif wt == PB_WT_FIXED64:
            rc = pb_read_fixed64(&r, &v)
            out.f64[slot] = pb_double_from_bits(v)
        else:
            rc = pb_read_fixed32(&r, &v32)
            v = v32
            out.f64[slot] = pb_float_from_bits(v32)
        if rc != PB_OK:
            return _fail(st, rc, t, f, r.p)
        out.i64[slot] = <int64_t>v
        out.seen |= (<uint64_t>1) << slot
    return 0


cdef int pbx_scan(const PbTab* t, const uint8_t* data, Py_ssize_t n, KtOut* out, PbOut* st) noexcept:
    cdef int i, rc
    cdef const PbTab* c
    st.base = data
    st.oneof = NULL
    st.nseg = 0
    st.err_code = 0  # err_field/_table/_at: written with it by _fail
    _begin(t, out)
    rc = _walk(t, data, n, out, st)
    if rc == 0:
        rc = _complete(t, out, st)
    if rc != 0 or st.oneof == NULL or st.oneof.child == NULL:
        return rc  # an error, no member, or a member kept unwalked (a string, a message nobody reads)
    c = st.oneof.child
    _begin(c, out)
    for i in range(st.nseg):
        rc = _walk(c, st.seg[i].p, st.seg[i].n, out, st)
        if rc != 0:
            return rc
    return _complete(c, out, st)


cdef str pbx_error_field(const PbOut* st):
    if st.err_field != NULL:
        return st.err_field.name.decode("utf-8")
    return st.err_table.name.decode("utf-8") if st.err_table != NULL else ""


cdef str pbx_error_reason(const PbOut* st, const KtOut* out):
    cdef int code = st.err_code
    if code == PX_ERR_LEVELS:
        return f"more than {out.levels[st.err_field.slot].capacity} levels per side"
    if code in _PX_REASONS:
        return _PX_REASONS[code]
    return f"protobuf {pb_error_name(code).decode()}: {_WIRE_REASONS.get(code, 'malformed')}"


cdef int pbx_fail(FrameDecoder dec, const PbOut* st) except -1:
    cdef Py_ssize_t offset = st.err_at - st.base if st.err_at != NULL and st.base != NULL else -1
    return dec.fail(pbx_error_field(st), offset, pbx_error_reason(st, &dec.out))


cdef class PbTable:
    """The fields one protobuf message is read with, and the slot each lands in.

    Parameters
    ----------
    name : str
        The message's name (errors say ``"Name.field"``).
    fields : list of tuple
        ``(number, name, kind, slot)`` or ``(number, name, kind, slot, child)`` where ``child`` is
        a :class:`PbTable` (``PK_MESSAGE``, ``PK_EACH``, ``PK_ONEOF``; ``None`` for a ``PK_ONEOF``
        member that is kept as segments but never walked: a string member) or, for ``PK_LEVELS``,
        ``(child, px_slot, qty_slot)``: the item's table and the slots of its price and size
        strings. ``slot`` is 0..63 (``-1``: no slot, for messages and oneof members), or the
        ``out.levels`` index 0..3 for ``PK_LEVELS``. Nested tables share the slot space of their
        parent: give them other numbers (sibling oneof members may reuse each other's).
    """

    def __cinit__(self, str name, list fields):
        cdef Py_ssize_t n = len(fields), i
        cdef PbField* f
        cdef PbTable child
        self.name = name
        self._keep = [name.encode("utf-8")]
        self.table.name = <const char*>(<bytes>self._keep[0])
        numbers = [int(spec[0]) for spec in fields]
        if len(set(numbers)) != n or any(not 1 <= x < (1 << 29) for x in numbers):
            raise ValueError(f"{name}: field numbers must be distinct and in 1..2**29-1")
        lo, hi = (min(numbers), max(numbers)) if numbers else (1, 0)
        dense = min(hi - lo + 1, 1024) if numbers else 0
        if n > 1024:
            raise ValueError(f"{name}: at most 1024 fields")
        self._fields = <PbField*>PyMem_Malloc(max(n, 1) * sizeof(PbField))
        self._index = <short*>PyMem_Malloc(max(dense, 1) * sizeof(short))
        if self._fields == NULL or self._index == NULL:
            raise MemoryError()
        memset(self._fields, 0, max(n, 1) * sizeof(PbField))
        for i in range(max(dense, 1)):
            self._index[i] = -1
        self.table.fields = self._fields
        self.table.n = <int>n
        self.table.lo = lo
        self.table.hi = hi
        self.table.dense = dense
        self.table.index = self._index
        for i in range(KT_MAX_SLOTS):
            self.table.by_slot[i] = -1
        for i, spec in enumerate(fields):
            if not 4 <= len(spec) <= 5:
                raise ValueError(f"{name}: field spec {spec!r} must be (number, name, kind, slot[, child])")
            f = &self._fields[i]
            kind = int(spec[2])
            f.number = int(spec[0])
            f.kind = kind
            f.slot = int(spec[3])
            if f.number - lo < dense:
                self._index[f.number - lo] = <short>i
            self._keep.append(f"{name}.{spec[1]}".encode("utf-8"))
            f.name = <const char*>(<bytes>self._keep[-1])
            f.wire_type = _WIRE_TYPES.get(kind, PB_WT_LEN)
            extra = spec[4] if len(spec) > 4 else None
            if kind == PK_LEVELS:
                child, f.px_slot, f.qty_slot = extra
                if not 0 <= f.slot < KT_MAX_LEVEL_SLOTS:
                    raise ValueError(f"{name}: levels index of {spec[1]!r} must be 0..{KT_MAX_LEVEL_SLOTS - 1}")
                self._adopt(f, child)
                px, qty = _slot_field(f.child, f.px_slot), _slot_field(f.child, f.qty_slot)
                if px == NULL or qty == NULL or px.kind != PK_STR or qty.kind != PK_STR:
                    raise ValueError(f"{name}: {spec[1]!r} needs PK_STR price and size fields in its child")
                if px.number < 16 and qty.number < 16:
                    f.px_tag = <uint8_t>((px.number << 3) | PB_WT_LEN)
                    f.qty_tag = <uint8_t>((qty.number << 3) | PB_WT_LEN)
                if f.number < 16:
                    f.own_tag = <uint8_t>((f.number << 3) | PB_WT_LEN)
                self.table.levels_mask |= (<uint64_t>1) << f.slot
                continue
            if not 1 <= kind <= PK_ONEOF:
                raise ValueError(f"{name}: unknown field kind {kind} for {spec[1]!r}")
            if not -1 <= f.slot < KT_MAX_SLOTS or (f.slot < 0 and kind < PK_MESSAGE):
                raise ValueError(f"{name}: slot of {spec[1]!r} must be 0..{KT_MAX_SLOTS - 1}")
            if kind >= PK_MESSAGE and not (kind == PK_ONEOF and extra is None):
                if not isinstance(extra, PbTable):
                    raise ValueError(f"{name}: {spec[1]!r} needs a child PbTable")
                self._adopt(f, extra)
                if kind == PK_MESSAGE:  # its slots are reset and defaulted with this table's
                    self.table.has_message = True
                    self.table.reset_mask |= f.child.reset_mask
                    self.table.levels_mask |= f.child.levels_mask
            if f.slot >= 0 and kind != PK_ONEOF:
                if self.table.by_slot[f.slot] >= 0:
                    raise ValueError(f"{name}: slot {f.slot} is declared twice")
                self.table.by_slot[f.slot] = <short>i
                self.table.reset_mask |= (<uint64_t>1) << f.slot
                if kind in _DEC_KINDS:
                    self.table.dec_mask |= (<uint64_t>1) << f.slot

    cdef int _adopt(self, PbField* f, PbTable child) except -1:
        self._keep.append(child)
        f.child = &child.table
        return 0

    def __dealloc__(self):
        PyMem_Free(self._fields)
        PyMem_Free(self._index)

    def __repr__(self):
        return f"PbTable({self.name!r}, {self.table.n} fields)"

    def scan(self, data, Py_ssize_t capacity=1000):
        """Walk one message and return what landed in the slots (for tests and tools).

        Returns
        -------
        dict
            ``slot -> (span bytes, i64, f64)`` for every seen slot, ``"L<i>" -> [(price, size), ...]``
            for level slots, ``"items<slot>" -> [dict, ...]`` for ``PK_EACH`` items (each as above)
            and ``"oneof" -> (number, dict)`` for the member kept by ``PK_ONEOF`` (walked).

        Raises
        ------
        ValueError
            ``"Message.field: reason at byte k"``; ``.field``/``.offset`` name them.
        """
        cdef bytes b = bytes(data)
        cdef _Scratch s = _Scratch(capacity)
        items = []
        s.out.on_item = _collect_item
        s.out.ctx = <void*>items
        if pbx_scan(&self.table, <const uint8_t*>(<const char*>b), len(b), &s.out, &s.st) != 0:
            s.raise_error()
        result = _with_items(_snapshot(&s.out), items)
        if s.st.oneof != NULL:
            result["oneof"] = s.st.oneof.number
        return result


cdef dict _with_items(dict result, list items):
    for slot, item in items:
        result.setdefault(f"items{slot}", []).append(item)
    return result


cdef class _Scratch:
    """A KtOut with level arrays and a PbOut, for PbTable.scan."""
    cdef KtOut out
    cdef PbOut st
    cdef object mem

    def __cinit__(self, Py_ssize_t capacity):
        cdef Py_ssize_t i
        cdef double[::1] view
        capacity = max(capacity, 1)
        kt_out_init(&self.out)
        memset(&self.st, 0, sizeof(PbOut))
        import numpy as np
        self.mem = np.zeros(2 * KT_MAX_LEVEL_SLOTS * capacity)
        view = self.mem
        for i in range(KT_MAX_LEVEL_SLOTS):
            self.out.levels[i].px = &view[2 * i * capacity]
            self.out.levels[i].qty = &view[(2 * i + 1) * capacity]
            self.out.levels[i].capacity = capacity

    def raise_error(self):
        offset = self.st.err_at - self.st.base if self.st.err_at != NULL else -1
        exc = ValueError(f"{pbx_error_field(&self.st)}: {pbx_error_reason(&self.st, &self.out)} at byte {offset}")
        exc.field = pbx_error_field(&self.st)
        exc.offset = offset
        exc.code = self.st.err_code
        raise exc


cdef dict _snapshot(KtOut* out):
    """Seen slots as ``(span bytes, i64, f64)``, seen level slots as ``[(price, size), ...]``."""
    cdef int i
    cdef Py_ssize_t j
    d = {i: (out.span[i].ptr[:out.span[i].len] if out.span[i].len else b"", out.i64[i], out.f64[i])
         for i in range(KT_MAX_SLOTS) if kt_seen(out, i)}
    for i in range(KT_MAX_LEVEL_SLOTS):
        if out.levels[i].seen:
            d[f"L{i}"] = [(out.levels[i].px[j], out.levels[i].qty[j]) for j in range(out.levels[i].count)]
    return d


cdef int _collect_item(void* ctx, int slot, KtOut* out, Py_ssize_t index) noexcept:
    try:
        (<list>ctx).append((slot, _snapshot(out)))
    except BaseException:  # (MemoryError): refuse the item, the scan reports PX_ERR_ITEM
        return -1
    return 0
