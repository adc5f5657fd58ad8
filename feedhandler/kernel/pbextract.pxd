# cython: language_level=3
"""Table-driven protobuf extraction: the C-level API (``cimport feedhandler.kernel.pbextract``).

The protobuf twin of ``extract.pxd``: an exchange declares, per message, the
field numbers it reads, the kind of each and the slot of ``KtOut`` it lands
in (a :class:`PbTable`, built once from a Python list). ``pbx_scan`` walks a
message once with the wire reader of ``feedhandler.codec.protobuf`` and fills
the slots: varints, zigzag and fixed scalars, strings (zero-copy spans),
decimal numbers sent as strings (MEXC), nested messages, repeated nested
messages (``out.on_item`` per item) and price levels (``out.levels``).

Protobuf semantics, as the official runtime (upb) has them: absent fields read
as their default (0, 0.0, empty span: written, once a message is walked, into
the slots of the fields it did not send; of a field sent, only the arrays its
kind writes are defined, e.g. not f64 of a PK_VARINT); the last occurrence of
a scalar wins (decimal strings are converted once the message is complete, so
only the value that wins is checked); occurrences of a nested message merge;
repeated items accumulate; a declared field met with another wire type is an
unknown field and is skipped, as are undeclared fields; a oneof member
replaces another (``PK_ONEOF``: its occurrences are kept as segments; once the
message is walked, the member that won is walked with its table, into the same
slots). Not supported (refused or skipped): groups (wire types 3/4 are
``PB_BAD_WIRE_TYPE``), packed repeated scalars (skipped like any undeclared
field).
"""
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.extract cimport KtOut

cpdef enum:  # field kinds
    PK_VARINT = 1      # int32/int64/uint32/uint64/bool/enum: the wire value cast to int64 -> i64[slot]
    PK_SINT = 2        # sint32/sint64 (zigzag) -> i64[slot]
    PK_FIXED64 = 3     # fixed64/sfixed64 -> i64[slot]; the same bits as a double -> f64[slot]
    PK_FIXED32 = 4     # fixed32 -> i64[slot] (unsigned); the bits as a float -> f64[slot]
    PK_STR = 5         # string/bytes -> span[slot] (into the frame: no copy, no UTF-8 check)
    PK_DEC = 6         # a decimal number in a string -> f64[slot], bit-for-bit float(); "" -> 0.0
    PK_DEC_PRICE = 7   # PK_DEC; a non-empty value obeys the price rule (finite, > 0)
    PK_DEC_SIZE = 8    # PK_DEC obeying the size rule (finite, >= 0)
    PK_DEC_INT = 9     # a decimal integer in a string -> i64[slot] (int64 range); "" -> 0
    PK_MESSAGE = 10    # nested message, walked in place with the child table (seen bit at slot, -1: none)
    PK_EACH = 11       # repeated nested message: each item walked with the child, then out.on_item;
                       # i64[slot] counts the items
    PK_LEVELS = 12     # repeated (price, size) message -> out.levels[slot]; every level obeys both rules
    PK_ONEOF = 13      # a oneof member: segments kept, then walked with the child once the message is
                       # (the same member merges, another replaces it; child None: not walked)

cpdef enum:
    PX_MAX_SEGMENTS = 8     # occurrences of one oneof member kept (merged) per frame
    # Error codes beyond the wire reader's PB_* (-1..-5):
    PX_ERR_NUMBER = -30     # not a decimal number, or a price/size that breaks the rule
    PX_ERR_LEVELS = -31     # more levels than out.levels[slot].capacity
    PX_ERR_ITEM = -32       # out.on_item refused an item
    PX_ERR_SEGMENTS = -33   # a oneof member repeated more than PX_MAX_SEGMENTS times

cdef struct PbTab

ctypedef struct PbField:
    uint32_t number
    uint32_t wire_type       # the wire type the kind reads; another one is an unknown field
    int kind                 # a PK_* kind
    int slot                 # scalar slot 0..63 (-1: none); PK_LEVELS: the levels index 0..3
    int px_slot, qty_slot    # PK_LEVELS: the child's slots holding the price and size strings
    uint8_t px_tag, qty_tag  # PK_LEVELS fast path: one-byte tags of those fields (0: no fast path)
    uint8_t own_tag          # PK_LEVELS: this field's one-byte tag (0: none), for runs of items
    const char* name         # "Message.field", for errors
    const PbTab* child       # PK_MESSAGE / PK_EACH / PK_LEVELS / PK_ONEOF

cdef struct PbTab:
    const char* name
    const PbField* fields
    int n
    uint32_t lo, hi          # the declared field numbers lie in lo..hi
    uint32_t dense           # index[number - lo] for number - lo < dense: position in fields, -1: not
    const short* index       # declared; numbers beyond lo + dense are searched (rare: tags over 1024 apart)
    uint64_t reset_mask      # slots of its fields and of its PK_MESSAGE children's: unseen before a walk,
                             # the defaults written after it into those the message did not send
    uint64_t levels_mask     # its PK_LEVELS indices and its PK_MESSAGE children's (counts cleared before a walk)
    uint64_t dec_mask        # slots of its decimal-string fields (converted after the walk)
    bint has_message         # a PK_MESSAGE field (its child is finished too)
    short by_slot[64]        # position in fields of the field landing in a slot (-1: none)

ctypedef struct PbSeg:
    const uint8_t* p
    Py_ssize_t n

ctypedef struct PbOut:
    const uint8_t* base      # start of the frame (error offsets)
    const PbField* oneof     # the oneof member met last (NULL: none)
    int nseg
    PbSeg seg[8]             # PX_MAX_SEGMENTS occurrences of it, in wire order
    int err_code             # the first error: PB_* or PX_ERR_*
    const PbField* err_field # the field it concerns (NULL: a tag or an undeclared field of err_table)
    const PbTab* err_table
    const uint8_t* err_at    # where in the frame

# Walk data[0:n] with table t into out (st.base = data), then the oneof member that won (st.oneof, its
# segments in order) with its table. 0 or an error code (st.err_*).
cdef int pbx_scan(const PbTab* t, const uint8_t* data, Py_ssize_t n, KtOut* out, PbOut* st) noexcept
# "Message.field" (or "Message") the error concerns, and the reason in words.
cdef str pbx_error_field(const PbOut* st)
cdef str pbx_error_reason(const PbOut* st, const KtOut* out)
# Raise the ParseError of st's error through dec.fail (field, byte offset, reason).
cdef int pbx_fail(FrameDecoder dec, const PbOut* st) except -1


cdef class PbTable:
    """A table built from ``[(number, name, kind, slot[, child | (child, px_slot, qty_slot)]), ...]``."""
    cdef PbTab table
    cdef PbField* _fields
    cdef short* _index
    cdef list _keep          # names (bytes) and child tables the C pointers point into
    cdef readonly str name

    cdef int _adopt(self, PbField* f, PbTable child) except -1
