"""Protobuf wire reader: Python helpers over the ``cdef inline`` API in ``protobuf.pxd``.

The hot path is the ``pb_*`` functions in ``protobuf.pxd``, which Cython parsers
``cimport``. This module adds what Python code and tests need:

* :func:`decode_fields` lists the fields of one message level, with their wire
  values, and raises :class:`ProtobufDecodeError` on malformed input.
* :func:`walk_fields` walks a message (and chosen nested messages) with the C
  reader and only counts, for benchmarks.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t

__all__ = [
    "ProtobufDecodeError",
    "decode_fields",
    "decode_packed",
    "walk_fields",
    "PB_OK",
    "PB_TRUNCATED",
    "PB_VARINT_TOO_LONG",
    "PB_BAD_WIRE_TYPE",
    "PB_BAD_LENGTH",
    "PB_BAD_TAG",
    "MAX_DEPTH",
]

# The error codes of the .pxd, also visible from Python. The names are taken
# by the C enum inside this module, so they are published through globals().
globals().update({
    "PB_OK": PB_OK,
    "PB_TRUNCATED": PB_TRUNCATED,
    "PB_VARINT_TOO_LONG": PB_VARINT_TOO_LONG,
    "PB_BAD_WIRE_TYPE": PB_BAD_WIRE_TYPE,
    "PB_BAD_LENGTH": PB_BAD_LENGTH,
    "PB_BAD_TAG": PB_BAD_TAG,
})

#: Nesting limit of :func:`walk_fields` (the same default as upb and protobuf C++).
cdef enum:
    _PB_MAX_DEPTH = 100
    # Python-side only code for walk_fields' depth limit (not a wire error).
    _PB_TOO_DEEP = -100
MAX_DEPTH = _PB_MAX_DEPTH

_DESCRIPTIONS = {
    PB_TRUNCATED: "the message ends inside a value",
    PB_VARINT_TOO_LONG: "varint longer than 10 bytes or beyond 64 bits",
    PB_BAD_WIRE_TYPE: "wire type is a group (3/4, unsupported) or undefined (6/7)",
    PB_BAD_LENGTH: "length-delimited length exceeds the remaining bytes or takes over 5 bytes",
    PB_BAD_TAG: "field number 0, or a tag beyond 32 bits or over 5 bytes",
    _PB_TOO_DEEP: f"nested messages deeper than {MAX_DEPTH}",
}


class ProtobufDecodeError(ValueError):
    """Malformed protobuf wire data.

    Attributes
    ----------
    code : int
        One of the negative ``PB_*`` codes of ``protobuf.pxd``.
    offset : int
        Byte offset (from the start of the decoded buffer) of the item that failed.
    field : int
        Field number of the item, or 0 if the tag itself failed.
    """

    def __init__(self, message: str, code: int, offset: int, field: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.offset = offset
        self.field = field


cdef object _error(int code, Py_ssize_t offset, uint32_t field, uint32_t wire_type, bint in_tag):
    name = "PB_TOO_DEEP" if code == _PB_TOO_DEEP else pb_error_name(code).decode("ascii")
    if code == _PB_TOO_DEEP:
        where = "a nested message"
    elif not in_tag and field == 0:
        where = f"packed element (wire type {wire_type})"
    elif not in_tag:
        where = f"value of field {field} (wire type {wire_type})"
    elif code == PB_BAD_WIRE_TYPE:
        where = f"tag of field {field} (wire type {wire_type})"
    else:
        where = "tag"
    return ProtobufDecodeError(
        f"{name} at byte offset {offset} in {where}: {_DESCRIPTIONS.get(code, 'unknown error')}",
        code,
        offset,
        0 if in_tag else field,
    )


cdef bytes _as_bytes(object data):
    if type(data) is bytes:
        return <bytes>data
    return bytes(data)  # bytearray, memoryview, ...: one copy, off the hot path


def decode_fields(data) -> list:
    """Decode one message level into ``(field, wire_type, value)`` tuples, in wire order.

    Parameters
    ----------
    data : bytes-like
        A serialized protobuf message.

    Returns
    -------
    list of tuple
        ``value`` is an ``int`` for varint (wire type 0, as uint64), fixed64 (1)
        and fixed32 (5), and ``bytes`` for length-delimited fields (2), which
        may be strings, bytes, nested messages or packed repeated scalars
        (decode those with :func:`decode_fields` again or by hand). Signed
        types are the two's-complement cast of the unsigned value.

    Raises
    ------
    ProtobufDecodeError
        With a message naming the ``PB_*`` error and the byte offset.
    """
    cdef bytes buf = _as_bytes(data)
    cdef const uint8_t* base = <const uint8_t*>PyBytes_AS_STRING(buf)
    cdef PbReader r
    cdef uint32_t field = 0, wire_type = 0, v32 = 0
    cdef uint64_t v64 = 0
    cdef const uint8_t* payload
    cdef Py_ssize_t n
    cdef int rc
    cdef list out = []
    pb_sub_reader(&r, base, PyBytes_GET_SIZE(buf))
    while r.p < r.end:
        field = 0
        wire_type = 0
        rc = pb_read_tag(&r, &field, &wire_type)
        if rc != PB_OK:
            raise _error(rc, r.p - base, field, wire_type, True)
        if wire_type == PB_WT_VARINT:
            rc = pb_read_varint(&r, &v64)
            value = v64
        elif wire_type == PB_WT_LEN:
            rc = pb_read_len(&r, &payload, &n)
            value = PyBytes_FromStringAndSize(<const char*>payload, n) if rc == PB_OK else None
        elif wire_type == PB_WT_FIXED64:
            rc = pb_read_fixed64(&r, &v64)
            value = v64
        else:  # PB_WT_FIXED32: pb_read_tag admits no other wire type
            rc = pb_read_fixed32(&r, &v32)
            value = v32
        if rc != PB_OK:
            raise _error(rc, r.p - base, field, wire_type, False)
        out.append((field, wire_type, value))
    return out


def decode_packed(data, int wire_type) -> list:
    """Decode the payload of a packed repeated field into its wire values.

    Parameters
    ----------
    data : bytes-like
        The payload of one length-delimited packed field (no tags inside).
    wire_type : int
        The element wire type: 0 (varint types), 1 (fixed64, sfixed64,
        double) or 5 (fixed32, sfixed32, float).

    Returns
    -------
    list of int
        The unsigned wire values; convert them as the ``protobuf.pxd`` notes say.

    Raises
    ------
    ProtobufDecodeError
        If an element is truncated or a varint is too long.
    ValueError
        If ``wire_type`` is not 0, 1 or 5.
    """
    cdef bytes buf = _as_bytes(data)
    cdef const uint8_t* base = <const uint8_t*>PyBytes_AS_STRING(buf)
    cdef PbReader r
    cdef uint64_t v64 = 0
    cdef uint32_t v32 = 0
    cdef int rc = PB_OK
    cdef list out = []
    if wire_type != PB_WT_VARINT and wire_type != PB_WT_FIXED64 and wire_type != PB_WT_FIXED32:
        raise ValueError(f"packed elements have wire type 0, 1 or 5, got {wire_type}")
    pb_sub_reader(&r, base, PyBytes_GET_SIZE(buf))
    while r.p < r.end:
        if wire_type == PB_WT_VARINT:
            rc = pb_read_varint(&r, &v64)
            value = v64
        elif wire_type == PB_WT_FIXED64:
            rc = pb_read_fixed64(&r, &v64)
            value = v64
        else:
            rc = pb_read_fixed32(&r, &v32)
            value = v32
        if rc != PB_OK:
            raise _error(rc, r.p - base, 0, wire_type, False)
        out.append(value)
    return out


cdef int _walk(PbReader* r, const uint64_t* masks, int depth, Py_ssize_t* fields,
               Py_ssize_t* payload_bytes, uint32_t* bad_field, uint32_t* bad_wt,
               bint* in_tag) noexcept nogil:
    # Counts fields and sums length-delimited payload sizes; a length-delimited
    # field whose number is in masks[depth] is walked as a nested message.
    cdef uint32_t field, wire_type
    cdef const uint8_t* payload
    cdef Py_ssize_t n
    cdef PbReader sub
    cdef int rc
    cdef uint64_t mask
    if depth > _PB_MAX_DEPTH:
        return _PB_TOO_DEEP
    mask = masks[depth]  # masks has _PB_MAX_DEPTH + 1 entries and depth <= _PB_MAX_DEPTH
    while r.p < r.end:
        field = 0
        wire_type = 0
        rc = pb_read_tag(r, &field, &wire_type)
        if rc != PB_OK:
            bad_field[0] = field
            bad_wt[0] = wire_type
            in_tag[0] = True
            return rc
        fields[0] += 1
        if wire_type == PB_WT_LEN:
            rc = pb_read_len(r, &payload, &n)
            if rc == PB_OK:
                if field < 64 and (mask >> field) & 1:
                    pb_sub_reader(&sub, payload, n)
                    rc = _walk(&sub, masks, depth + 1, fields, payload_bytes,
                               bad_field, bad_wt, in_tag)
                    if rc != PB_OK:
                        r.p = sub.p  # report the innermost offset
                        return rc
                else:
                    payload_bytes[0] += n
        else:
            rc = pb_skip(r, wire_type)
        if rc != PB_OK:
            bad_field[0] = field
            bad_wt[0] = wire_type
            in_tag[0] = False
            return rc
    return PB_OK


def walk_fields(data, nested=()) -> tuple:
    """Walk a message with the C reader and count; a benchmark and test helper.

    Parameters
    ----------
    data : bytes-like
        A serialized protobuf message.
    nested : sequence of sequences of int
        ``nested[d]`` lists the field numbers (1..63) whose length-delimited
        payloads at depth ``d`` (0 = top level) are messages to walk. E.g.
        ``[(1, 2)]`` walks the top-level fields 1 and 2 as messages (the depth
        levels of a depth update) and counts their fields without going deeper.

    Returns
    -------
    tuple of int
        ``(fields, payload_bytes)``: the number of fields seen at every walked
        level, and the summed lengths of the length-delimited payloads that were
        not walked (strings, bytes).

    Raises
    ------
    ProtobufDecodeError
        On malformed input or nesting deeper than :data:`MAX_DEPTH`.
    """
    cdef bytes buf = _as_bytes(data)
    cdef const uint8_t* base = <const uint8_t*>PyBytes_AS_STRING(buf)
    cdef uint64_t[_PB_MAX_DEPTH + 1] masks
    cdef PbReader r
    cdef Py_ssize_t fields = 0, payload_bytes = 0, depth
    cdef uint32_t bad_field = 0, bad_wt = 0
    cdef bint in_tag = False
    cdef int rc
    for depth in range(_PB_MAX_DEPTH + 1):
        masks[depth] = 0
    # Levels beyond MAX_DEPTH fail with PB_TOO_DEEP before their mask is read.
    for depth, numbers in enumerate(nested[:_PB_MAX_DEPTH + 1]):
        for f in numbers:
            if not 1 <= f <= 63:
                raise ValueError(f"nested field numbers must be in 1..63, got {f!r}")
            masks[depth] |= (<uint64_t>1) << <int>f
    pb_sub_reader(&r, base, PyBytes_GET_SIZE(buf))
    # The GIL is kept: releasing it costs more than walking a typical frame.
    rc = _walk(&r, masks, 0, &fields, &payload_bytes, &bad_field, &bad_wt, &in_tag)
    if rc != PB_OK:
        raise _error(rc, r.p - base, bad_field, bad_wt, in_tag)
    return fields, payload_bytes
