# cython: language_level=3
"""MEXC spot v3 decoder: ``PushDataV3ApiWrapper`` protobuf frames -> books and events, no protobuf runtime.

See ``decoder.pxd`` for the contract. Field numbers are those of
``mexcdevelop/websocket-proto`` (schema commit 7b8ac7a, 2026-06), as listed in
``protocols.md`` section 1.6 and ``constants.py``.

Protobuf semantics kept exactly (the differential tests compare with upb):
last occurrence wins for scalar fields; repeated items accumulate; a
non-repeated message field that occurs several times is merged (here: its
segments are walked in order, which is what merging means on the wire); a
field with an unexpected wire type is an unknown field and is skipped; an
empty (absent) string is the proto3 default, which reads as 0 for numbers.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE

from libc.math cimport isfinite
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp, memset

import numpy as np

from feedhandler.codec.numbers cimport NUM_OK, parse_double_inline, parse_int64
from feedhandler.codec.protobuf cimport (
    PB_OK, PB_WT_LEN, PB_WT_VARINT, PbReader, pb_error_name, pb_read_len, pb_read_tag, pb_read_varint, pb_skip,
    pb_sub_reader,
)
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport (
    SIDE_BUY, SIDE_SELL, SIDE_UNKNOWN, BalanceUpdate, BookTicker, EventPool, Fill, Kline, OrderUpdate, Ticker, Trade,
)
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.extract cimport (
    KT_INT64, KT_STR, FieldTable, kt_price_ok, kt_scan, kt_seen, kt_size_ok, kt_text,
)
from feedhandler.kernel.message_type cimport MessageType
from feedhandler.sync.book_sync cimport BookSync, BookSyncGroup

from feedhandler.core.errors import ParseError
from feedhandler.events.events import (
    BalanceUpdate as _BalanceUpdate, BookTicker as _BookTicker, Fill as _Fill, Kline as _Kline,
    OrderUpdate as _OrderUpdate, Ticker as _Ticker, Trade as _Trade,
)



# The text control frames ({"id":0,"code":0,"msg":"spot@public..."}), read with the kernel's table scan.
cdef FieldTable _CONTROL_FIELDS = FieldTable("mexc.control", [("id", KT_INT64, 0), ("code", KT_INT64, 1),
                                                              ("msg", KT_STR, 2)])

# Body field numbers of PushDataV3ApiWrapper (constants.py lists them with names).
cdef enum:
    F_DEALS = 301
    F_INCREASE_DEPTHS = 302
    F_LIMIT_DEPTHS = 303
    F_PRIVATE_ORDERS = 304
    F_BOOK_TICKER = 305
    F_PRIVATE_DEALS = 306
    F_PRIVATE_ACCOUNT = 307
    F_KLINE = 308
    F_MINI_TICKER = 309
    F_MINI_TICKERS = 310
    F_BOOK_TICKER_BATCH = 311
    F_INCREASE_DEPTHS_BATCH = 312
    F_AGGRE_DEPTHS = 313
    F_AGGRE_DEALS = 314
    F_AGGRE_BOOK_TICKER = 315

DEF FLAT_MAX = 32   # flat messages: field numbers below 32


# ---- small helpers ----------------------------------------------------------------------------------

cdef inline int _dbl(MxSpan s, double* out) noexcept:
    """A decimal-string field as float64 (== float()); the absent/empty string is 0."""
    if s.n == 0:
        out[0] = 0.0
        return 0
    # inline fast path for the "I.F" shape every MEXC price/quantity has; same bits as parse_double
    if parse_double_inline(<const char*>s.p, s.n, out) != NUM_OK:
        return MX_E_NUMBER
    return 0


cdef inline int _price(MxSpan s, double* out) noexcept:
    """A price field: _dbl and, when present, the kernel's one rule (finite, > 0)."""
    if _dbl(s, out) != 0 or (s.n != 0 and not kt_price_ok(out[0])):
        return MX_E_NUMBER
    return 0


cdef inline int _size(MxSpan s, double* out) noexcept:
    """A quantity field: _dbl and the kernel's one rule (finite, >= 0)."""
    if _dbl(s, out) != 0 or not kt_size_ok(out[0]):
        return MX_E_NUMBER
    return 0


cdef inline int _i64(MxSpan s, int64_t* out) noexcept:
    """A decimal-string integer field (versions) as int64; the empty string is 0."""
    if s.n == 0:
        out[0] = 0
        return 0
    if parse_int64(<const char*>s.p, s.n, out) != NUM_OK:
        return MX_E_NUMBER
    return 0


cdef inline int64_t _ms_ns(int64_t ms) noexcept:
    # ms -> ns without signed overflow (undefined in C): beyond +-292 years the time is "unknown" (0).
    if ms > 9223372036854 or ms < -9223372036854:
        return 0
    return ms * 1000000


cdef inline int64_t _s_ns(int64_t s) noexcept:
    if s > 9223372036 or s < -9223372036:
        return 0
    return s * 1000000000


cdef inline int _side(int32_t trade_type) noexcept:
    if trade_type == 1:
        return SIDE_BUY
    if trade_type == 2:
        return SIDE_SELL
    return SIDE_UNKNOWN


cdef int _read_flat(const uint8_t* p, Py_ssize_t n, MxSpan* strs, uint64_t* ints,
                    uint32_t str_mask, uint32_t int_mask) noexcept:
    """Walk a message whose fields (numbers < 32) are strings or varints; last occurrence wins.

    ``strs[f]``/``ints[f]`` are written for the fields in the masks when the wire
    type matches; everything else is skipped as unknown. The caller zeroes the
    arrays once (several calls on the same arrays merge, as protobuf does).
    """
    cdef PbReader r
    cdef uint32_t f, wt
    cdef int rc
    cdef const uint8_t* data
    cdef Py_ssize_t dn
    cdef uint64_t v
    pb_sub_reader(&r, p, n)
    while r.p < r.end:
        rc = pb_read_tag(&r, &f, &wt)
        if rc != PB_OK:
            return rc
        if f < FLAT_MAX and wt == PB_WT_LEN and (str_mask >> f) & 1:
            rc = pb_read_len(&r, &data, &dn)
            if rc != PB_OK:
                return rc
            strs[f].p = data
            strs[f].n = dn
        elif f < FLAT_MAX and wt == PB_WT_VARINT and (int_mask >> f) & 1:
            rc = pb_read_varint(&r, &v)
            if rc != PB_OK:
                return rc
            ints[f] = v
        else:
            rc = pb_skip(&r, wt)
            if rc != PB_OK:
                return rc
    return 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline bint _level_exact(const uint8_t* d, Py_ssize_t n, MxSpan* item) noexcept:
    """The shape every MEXC level item has: ``0x0a <l1> price 0x12 <l2> quantity``, nothing else.

    Tags 0x0a/0x12 are fields 1/2 with wire type LEN and both lengths are
    one-byte varints (< 128), so this is exactly what ``_read_flat`` would
    give for these bytes. Any other layout (field order, extra or repeated
    fields, long lengths) returns False and goes through ``_read_flat``.
    """
    # Reads: d[0], d[1] need n >= 4; d[2 + l1] and d[3 + l1] need 3 + l1 < n,
    # checked before they are read; the spans end exactly at n.
    cdef Py_ssize_t l1, l2
    if n < 4 or d[0] != 0x0a or d[1] >= 0x80:
        return False
    l1 = d[1]
    if 4 + l1 > n or d[2 + l1] != 0x12 or d[3 + l1] >= 0x80:
        return False
    l2 = d[3 + l1]
    if 4 + l1 + l2 != n:
        return False
    item[1].p = d + 2
    item[1].n = l1
    item[2].p = d + 4 + l1
    item[2].n = l2
    return True


cdef inline bint _span_eq(MxSpan s, const char* lit, Py_ssize_t n) noexcept:
    return s.n == n and memcmp(s.p, lit, n) == 0


cdef Py_ssize_t _find(const uint8_t* p, Py_ssize_t n, const char* needle, Py_ssize_t m) noexcept:
    cdef Py_ssize_t i
    if m > n:
        return -1
    for i in range(n - m + 1):
        if p[i] == <uint8_t>needle[0] and memcmp(p + i, needle, m) == 0:
            return i
    return -1


cdef object _order_type_name(int64_t v):
    if v == 1:
        return "LIMIT_ORDER"
    if v == 2:
        return "POST_ONLY"
    if v == 3:
        return "IMMEDIATE_OR_CANCEL"
    if v == 4:
        return "FILL_OR_KILL"
    if v == 5:
        return "MARKET_ORDER"
    if v == 100:
        return "STOP_LIMIT"
    return f"UNKNOWN_{v}"


cdef object _status_name(int64_t v):
    if v == 1:
        return "NEW"
    if v == 2:
        return "FILLED"
    if v == 3:
        return "PARTIALLY_FILLED"
    if v == 4:
        return "CANCELED"
    if v == 5:
        return "PARTIALLY_CANCELED"
    return f"UNKNOWN_{v}"


cdef inline str _text(MxSpan s):
    if s.n == 0:
        return ""
    return (<const char*>s.p)[:s.n].decode("utf-8", "replace")


cdef class MexcDecoder(FrameDecoder):
    """Compiled MEXC spot v3 frame decoder (protobuf data, JSON control frames).

    Parameters
    ----------
    dispatcher : EventDispatcher, optional
        Where events go (a new one if None).
    books : BookSyncGroup, optional
        Books of the aggregated-depth streams (None: depth frames are decoded and counted only).
    partial_books : BookSyncGroup, optional
        Books of the limit-depth (top-N) streams.
    max_levels : int
        Largest number of levels per side accepted in one depth frame.
    exchange : str
        Name carried by events.
    """

    def __cinit__(self):
        self._nseg = 0

    def __init__(self, EventDispatcher dispatcher=None, BookSyncGroup books=None, BookSyncGroup partial_books=None,
                 Py_ssize_t max_levels=10000, str exchange="mexc"):
        if max_levels < 1:
            raise ValueError("max_levels must be >= 1")
        self.dispatcher = dispatcher if dispatcher is not None else EventDispatcher()
        self.books = books
        self.partial_books = partial_books
        FrameDecoder.__init__(self, exchange)
        self.max_levels = max_levels
        self._trades = EventPool(_Trade, 1024)
        self._book_tickers = EventPool(_BookTicker, 256)
        self._klines = EventPool(_Kline, 64)
        self._tickers = EventPool(_Ticker, 4096)
        self._orders = EventPool(_OrderUpdate, 64)
        self._fills = EventPool(_Fill, 64)
        self._balances = EventPool(_BalanceUpdate, 64)
        # the kernel's preallocated scratch: levels[0] bids, levels[1] asks
        self.use_levels(max_levels, False, 2)
        self._bid_px = self.out.levels[0].px
        self._bid_qty = self.out.levels[0].qty
        self._ask_px = self.out.levels[1].px
        self._ask_qty = self.out.levels[1].qty
        self._str_cache = {}

    # ---- entry points -------------------------------------------------------------------------------

    # feed and classify: FrameDecoder's, over c_feed / c_classify

    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1:
        """Tell a frame's ``MessageType`` by quick inspection (first byte, control-frame text)."""
        return _classify(<const uint8_t*>data, n)

    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef const uint8_t* p = <const uint8_t*>data
        cdef int rc, kind, body
        self.frames += 1
        self._base = p
        kind = _classify(p, n)
        if kind == MessageType.UNKNOWN:
            self.err_text += 1
            self.parse_errors += 1
            raise ParseError("mexc: empty frame")
        if kind != MessageType.DATA:
            return self._control(p, n)
        rc = self._walk_wrapper(p, n)
        if rc != 0:
            self._raise(rc, "PushDataV3ApiWrapper")
        body = self._body
        if body == 0:
            self.empty += 1
            return MessageType.DATA
        if (body == F_AGGRE_DEPTHS or body == F_INCREASE_DEPTHS or body == F_LIMIT_DEPTHS):
            rc = self._decode_depth()
            if rc != 0:
                self._raise(rc, "depth body")
            self._apply_depth(recv_ns)
            return MessageType.DATA
        if body == F_AGGRE_DEALS or body == F_DEALS:
            self._run(self._deals(False, recv_ns), "deals body")
            self._deals(True, recv_ns)
        elif body == F_AGGRE_BOOK_TICKER or body == F_BOOK_TICKER or body == F_BOOK_TICKER_BATCH:
            self._run(self._book_ticker(False, recv_ns), "book ticker body")
            self._book_ticker(True, recv_ns)
        elif body == F_KLINE:
            self._run(self._kline(False, recv_ns), "kline body")
            self._kline(True, recv_ns)
        elif body == F_MINI_TICKER or body == F_MINI_TICKERS:
            self._run(self._mini_tickers(False, recv_ns), "mini ticker body")
            self._mini_tickers(True, recv_ns)
        elif body == F_PRIVATE_ORDERS:
            self._run(self._order(False, recv_ns), "private orders body")
            self._order(True, recv_ns)
        elif body == F_PRIVATE_DEALS:
            self._run(self._fill(False, recv_ns), "private deals body")
            self._fill(True, recv_ns)
        elif body == F_PRIVATE_ACCOUNT:
            self._run(self._balance(False, recv_ns), "private account body")
            self._balance(True, recv_ns)
        else:
            self.unsupported += 1
        return MessageType.DATA

    cdef int _run(self, int rc, str what) except -1:
        if rc != 0:
            self._raise(rc, what)
        return 0

    cdef int _raise(self, int rc, str what) except -1:
        self.parse_errors += 1
        if rc == MX_E_NUMBER:
            self.err_number += 1
            raise ParseError(f"mexc: {what}: field {self._err_field} is not a decimal number obeying the "
                             "price/size rule (finite; price > 0, size >= 0)")
        if rc == MX_E_LEVELS or rc == MX_E_VERSION:
            self.err_levels += 1
            if rc == MX_E_VERSION:
                raise ParseError(f"mexc: {what}: missing or inverted fromVersion/toVersion")
            raise ParseError(f"mexc: {what}: more than {self.max_levels} levels per side, or a level with a "
                             "non-positive/non-finite price or a negative quantity")
        if rc == MX_E_SYMBOL:
            self.err_symbol += 1
            raise ParseError(f"mexc: {what}: no symbol in the frame")
        if rc == MX_E_SEGMENTS:
            self.err_wire += 1
            raise ParseError(f"mexc: {what}: body field repeated more than {MX_MAX_SEGMENTS} times")
        self.err_wire += 1
        raise ParseError(f"mexc: {what}: protobuf {pb_error_name(rc).decode()} at byte {self._err_pos}")

    # ---- control frames ---------------------------------------------------------------------------

    cdef int _control(self, const uint8_t* p, Py_ssize_t n) except -1:
        cdef int kind = _classify(p, n)
        if kind == MessageType.PONG:
            self.pongs += 1
        elif kind == MessageType.SUBSCRIPTION_ACK:
            self.acks += 1
        elif kind == MessageType.ERROR:
            self.exchange_errors += 1
        if p[0] == b'{' and (p[n - 1] != b'}' or _find(p, n, b'"msg"', 5) < 0):
            self.err_text += 1
            self.parse_errors += 1
            raise ParseError(f"mexc: malformed text frame {(<const char*>p)[:min(n, 80)]!r}")
        # what the frame says, decoded once for the subscription strategy
        self.control_id = -1
        self.control_code = 0
        self.control_text = None
        if p[0] == b'{' and kt_scan(&_CONTROL_FIELDS.table, <const char*>p, n, &self.out) == 0:
            if kt_seen(&self.out, 0):
                self.control_id = self.out.i64[0]
            if kt_seen(&self.out, 1):
                self.control_code = self.out.i64[1]
            if kt_seen(&self.out, 2):
                self.control_text = kt_text(&self.out.span[2])
        elif kind == MessageType.ERROR:
            self.control_code = -1
            self.control_text = (<const char*>p)[:min(n, 200)].decode("utf-8", "replace")
        return kind

    # ---- wrapper ----------------------------------------------------------------------------------

    cdef int _walk_wrapper(self, const uint8_t* p, Py_ssize_t n) noexcept:
        cdef PbReader r
        cdef uint32_t f, wt
        cdef int rc
        cdef const uint8_t* data
        cdef Py_ssize_t dn
        cdef uint64_t v
        self._channel.n = 0
        self._symbol.n = 0
        self._has_create = False
        self._has_send = False
        self._create_ms = 0
        self._send_ms = 0
        self._body = 0
        self._nseg = 0
        pb_sub_reader(&r, p, n)
        while r.p < r.end:
            self._err_pos = r.p - p
            rc = pb_read_tag(&r, &f, &wt)
            if rc != PB_OK:
                return rc
            self._err_pos = r.p - p
            if wt == PB_WT_LEN and (f == 1 or f == 3 or f == 4 or (301 <= f <= 315)):
                rc = pb_read_len(&r, &data, &dn)
                if rc != PB_OK:
                    return rc
                if f == 1:
                    self._channel.p = data
                    self._channel.n = dn
                elif f == 3:
                    self._symbol.p = data
                    self._symbol.n = dn
                elif f == 4:
                    pass  # symbolId: an internal pair id, not used
                else:
                    # oneof body: a different member replaces the previous one; the same one merges
                    if <int>f != self._body:
                        self._body = f
                        self._nseg = 0
                    if self._nseg >= MX_MAX_SEGMENTS:
                        return MX_E_SEGMENTS
                    self._seg[self._nseg].p = data
                    self._seg[self._nseg].n = dn
                    self._nseg += 1
            elif wt == PB_WT_VARINT and (f == 5 or f == 6):
                rc = pb_read_varint(&r, &v)
                if rc != PB_OK:
                    return rc
                if f == 5:
                    self._create_ms = <int64_t>v
                    self._has_create = True
                else:
                    self._send_ms = <int64_t>v
                    self._has_send = True
            else:
                rc = pb_skip(&r, wt)
                if rc != PB_OK:
                    return rc
        return 0

    cdef int64_t _frame_ts_ns(self) noexcept:
        if self._has_send:
            return _ms_ns(self._send_ms)
        if self._has_create:
            return _ms_ns(self._create_ms)
        return 0

    cdef int _symbol_span(self, MxSpan* out) noexcept:
        """The frame's symbol: wrapper field 3, else taken from the channel string.

        Channel shapes: ``...api.pb@100ms@SYM``, ``...api.pb@SYM@5``, ``...api.pb@SYM@Min1``,
        ``...api.pb@SYM`` : the first segment after ``.pb@`` that is not a speed (``<digits>ms``).
        """
        cdef Py_ssize_t i, j, k, start
        cdef const uint8_t* c = self._channel.p
        cdef Py_ssize_t n = self._channel.n
        if self._symbol.n > 0:
            out[0] = self._symbol
            return 0
        if n == 0:
            return MX_E_SYMBOL
        i = _find(c, n, b".pb@", 4)
        if i < 0:
            return MX_E_SYMBOL
        start = i + 4
        while start < n:
            j = start
            while j < n and c[j] != b'@':
                j += 1
            # a speed segment: digits then "ms"
            k = start
            while k < j and b'0' <= c[k] <= b'9':
                k += 1
            if not (k > start and j - k == 2 and c[k] == b'm' and c[k + 1] == b's') and j > start:
                out.p = c + start
                out.n = j - start
                return 0
            start = j + 1
        return MX_E_SYMBOL

    # ---- depth --------------------------------------------------------------------------------------

    cdef int _decode_depth(self) noexcept:
        """313/302/303 body -> scratch levels, ``_from``/``_to`` and ``_last_order_ts``.

        On an error the level counts stay 0 (the scratch is not a decoded frame).
        """
        cdef PbReader r
        cdef uint32_t f, wt
        cdef int rc, s
        cdef const uint8_t* data
        cdef const uint8_t* tag_at
        cdef Py_ssize_t dn
        cdef uint64_t v
        cdef MxSpan item[3]
        cdef uint64_t dummy[3]
        cdef MxSpan from_s, to_s
        cdef double px, qty
        cdef int body = self._body
        # The level loop keeps counts and scratch pointers in locals: stores through double* may
        # alias ``self`` (the build has -fno-strict-aliasing), which would reload them per level.
        cdef double* bid_px = self._bid_px
        cdef double* bid_qty = self._bid_qty
        cdef double* ask_px = self._ask_px
        cdef double* ask_qty = self._ask_qty
        cdef Py_ssize_t nb = 0, na = 0
        cdef Py_ssize_t max_levels = self.max_levels
        self._nb = 0
        self._na = 0
        self._last_order_ts = 0
        from_s.n = 0
        to_s.n = 0
        for s in range(self._nseg):
            pb_sub_reader(&r, self._seg[s].p, self._seg[s].n)
            while r.p < r.end:
                tag_at = r.p
                rc = pb_read_tag(&r, &f, &wt)
                if rc != PB_OK:
                    self._err_pos = tag_at - self._base
                    return rc
                if wt == PB_WT_LEN and (f == 1 or f == 2):
                    rc = pb_read_len(&r, &data, &dn)
                    if rc != PB_OK:
                        self._err_pos = tag_at - self._base
                        return rc
                    if not _level_exact(data, dn, item):
                        item[1].n = 0
                        item[2].n = 0
                        rc = _read_flat(data, dn, item, dummy, 0b110, 0)
                        if rc != 0:
                            self._err_pos = data - self._base
                            return rc
                    if _dbl(item[1], &px) != 0:
                        self._err_field = 1
                        return MX_E_NUMBER
                    if _dbl(item[2], &qty) != 0:
                        self._err_field = 2
                        return MX_E_NUMBER
                    if not (isfinite(px) and px > 0.0 and isfinite(qty) and qty >= 0.0):
                        return MX_E_LEVELS
                    if f == 1:
                        if na >= max_levels:
                            return MX_E_LEVELS
                        ask_px[na] = px
                        ask_qty[na] = qty
                        na += 1
                    else:
                        if nb >= max_levels:
                            return MX_E_LEVELS
                        bid_px[nb] = px
                        bid_qty[nb] = qty
                        nb += 1
                elif wt == PB_WT_LEN and f == 4:
                    rc = pb_read_len(&r, &data, &dn)
                    if rc != PB_OK:
                        self._err_pos = tag_at - self._base
                        return rc
                    from_s.p = data
                    from_s.n = dn
                elif wt == PB_WT_LEN and f == 5 and body == F_AGGRE_DEPTHS:
                    rc = pb_read_len(&r, &data, &dn)
                    if rc != PB_OK:
                        self._err_pos = tag_at - self._base
                        return rc
                    to_s.p = data
                    to_s.n = dn
                elif wt == PB_WT_VARINT and ((f == 6 and body == F_AGGRE_DEPTHS) or (f == 5 and body == F_LIMIT_DEPTHS)):
                    rc = pb_read_varint(&r, &v)
                    if rc != PB_OK:
                        self._err_pos = tag_at - self._base
                        return rc
                    self._last_order_ts = <int64_t>v
                else:
                    rc = pb_skip(&r, wt)
                    if rc != PB_OK:
                        self._err_pos = tag_at - self._base
                        return rc
        self._nb = nb
        self._na = na
        self._err_field = 4
        if _i64(from_s, &self._from) != 0:
            return MX_E_NUMBER
        if body == F_AGGRE_DEPTHS:
            self._err_field = 5
            if _i64(to_s, &self._to) != 0:
                return MX_E_NUMBER
            if from_s.n == 0 or to_s.n == 0 or self._to < self._from:
                return MX_E_VERSION
        else:
            self._to = self._from
            if body == F_INCREASE_DEPTHS and from_s.n == 0:
                return MX_E_VERSION
        return 0

    cdef int _apply_depth(self, int64_t recv_ns) except -1:
        cdef MxSpan sym
        cdef BookSync sync
        cdef BookSyncGroup group
        cdef Py_ssize_t i
        cdef int64_t ts = self._frame_ts_ns()
        if self._symbol_span(&sym) != 0:
            self._raise(MX_E_SYMBOL, "depth body")
        if self._body == F_LIMIT_DEPTHS:
            self.limit_depths += 1
            group = self.partial_books
            if group is None:
                return 0
            # key "<SYMBOL>@<N>": the channel tail after ".pb@" when present, else the symbol
            i = _find(self._channel.p, self._channel.n, b".pb@", 4)
            if i >= 0 and self._channel.n > i + 4:
                sync = group.c_get(<const char*>self._channel.p + i + 4, self._channel.n - i - 4)
            else:
                sync = group.c_get(<const char*>sym.p, sym.n)
            sync.on_full_snapshot(self._from, self._bid_px, self._bid_qty, self._nb,
                                  self._ask_px, self._ask_qty, self._na, ts, recv_ns)
            return 0
        self.depth_updates += 1
        group = self.books
        if group is None:
            return 0
        sync = group.c_get(<const char*>sym.p, sym.n)
        # every level was checked in _decode_depth (finite price > 0, finite qty >= 0), and _to >= _from
        sync.on_delta_validated(self._from, self._to, 0, self._bid_px, self._bid_qty, self._nb,
                      self._ask_px, self._ask_qty, self._na, ts, recv_ns)
        return 0

    # ---- events -------------------------------------------------------------------------------------
    # Each runs twice: emit=False validates the whole body (nothing is emitted), emit=True delivers.

    cdef int _deals(self, bint emit, int64_t recv_ns) except -100:
        cdef PbReader r
        cdef uint32_t f, wt
        cdef int rc, s
        cdef const uint8_t* data
        cdef Py_ssize_t dn
        cdef MxSpan it[6]
        cdef uint64_t iv[6]
        cdef double px, qty
        cdef int64_t tid
        cdef MxSpan sym
        cdef Trade t
        cdef str symbol = None
        if self._symbol_span(&sym) != 0:
            return MX_E_SYMBOL
        if emit:
            symbol = self._sym(sym.p, sym.n)
        for s in range(self._nseg):
            pb_sub_reader(&r, self._seg[s].p, self._seg[s].n)
            while r.p < r.end:
                self._err_pos = r.p - self._base
                rc = pb_read_tag(&r, &f, &wt)
                if rc != PB_OK:
                    return rc
                if not (f == 1 and wt == PB_WT_LEN):
                    rc = pb_skip(&r, wt)
                    if rc != PB_OK:
                        return rc
                    continue
                rc = pb_read_len(&r, &data, &dn)
                if rc != PB_OK:
                    return rc
                memset(it, 0, sizeof(it))
                memset(iv, 0, sizeof(iv))
                # 301 items have no tradeId (field 5): it is an unknown field there
                rc = _read_flat(data, dn, it, iv, 0b100110 if self._body == F_AGGRE_DEALS else 0b110, 0b11000)
                if rc != 0:
                    return rc
                self._err_field = 1
                if _price(it[1], &px) != 0:
                    return MX_E_NUMBER
                self._err_field = 2
                if _size(it[2], &qty) != 0:
                    return MX_E_NUMBER
                if not emit:
                    continue
                self.trades += 1
                t = <Trade>self._trades.acquire()
                t.exchange = self.exchange
                t.symbol = symbol
                t.exchange_ts_ns = _ms_ns(<int64_t>iv[4])
                t.recv_ns = recv_ns
                t.price = px
                t.qty = qty
                t.side = _side(<int32_t>iv[3])
                if it[5].n == 0:
                    t.trade_id = -1
                    t.trade_id_str = ""
                elif parse_int64(<const char*>it[5].p, it[5].n, &tid) == NUM_OK and tid >= 0:
                    t.trade_id = tid
                    t.trade_id_str = ""
                else:
                    t.trade_id = -1
                    t.trade_id_str = _text(it[5])
                self.dispatcher.emit(t)
        return 0

    cdef int _book_ticker(self, bint emit, int64_t recv_ns) except -100:
        cdef MxSpan st[7]
        cdef uint64_t iv[7]
        cdef MxSpan it[5]
        cdef uint64_t dummy[5]
        cdef PbReader r
        cdef uint32_t f, wt
        cdef int rc, s
        cdef const uint8_t* data
        cdef Py_ssize_t dn
        cdef int64_t version = 0
        cdef MxSpan sym
        cdef str symbol = None
        if self._symbol_span(&sym) != 0:
            return MX_E_SYMBOL
        if emit:
            symbol = self._sym(sym.p, sym.n)
        memset(st, 0, sizeof(st))
        memset(iv, 0, sizeof(iv))
        if self._body != F_BOOK_TICKER_BATCH:
            for s in range(self._nseg):
                # 315: 1-4 prices/qtys, 5 version, 6 lastOrderCreateTime; 305: 1-4 only
                rc = _read_flat(self._seg[s].p, self._seg[s].n, st, iv,
                                0b111110 if self._body == F_AGGRE_BOOK_TICKER else 0b11110, 0b1000000)
                if rc != 0:
                    self._err_pos = self._seg[s].p - self._base
                    return rc
            self._err_field = 5
            if _i64(st[5], &version) != 0:
                return MX_E_NUMBER
            return self._emit_ticker(st, version, symbol, emit, recv_ns)
        # 311: 1 items (PublicBookTickerV3Api), 2 version, 3 lastOrderCreateTime
        for s in range(self._nseg):
            rc = _read_flat(self._seg[s].p, self._seg[s].n, st, iv, 0b100, 0b1000)
            if rc != 0:
                self._err_pos = self._seg[s].p - self._base
                return rc
        self._err_field = 2
        if _i64(st[2], &version) != 0:
            return MX_E_NUMBER
        for s in range(self._nseg):
            pb_sub_reader(&r, self._seg[s].p, self._seg[s].n)
            while r.p < r.end:
                rc = pb_read_tag(&r, &f, &wt)
                if rc != PB_OK:
                    return rc
                if not (f == 1 and wt == PB_WT_LEN):
                    rc = pb_skip(&r, wt)
                    if rc != PB_OK:
                        return rc
                    continue
                rc = pb_read_len(&r, &data, &dn)
                if rc != PB_OK:
                    return rc
                memset(it, 0, sizeof(it))
                rc = _read_flat(data, dn, it, dummy, 0b11110, 0)
                if rc != 0:
                    return rc
                rc = self._emit_ticker(it, version, symbol, emit, recv_ns)
                if rc != 0:
                    return rc
        return 0

    cdef int _emit_ticker(self, MxSpan* st, int64_t version, str symbol, bint emit, int64_t recv_ns) except -100:
        cdef double bp, bq, ap, aq
        cdef BookTicker ev
        self._err_field = 1
        if _price(st[1], &bp) != 0:
            return MX_E_NUMBER
        self._err_field = 2
        if _size(st[2], &bq) != 0:
            return MX_E_NUMBER
        self._err_field = 3
        if _price(st[3], &ap) != 0:
            return MX_E_NUMBER
        self._err_field = 4
        if _size(st[4], &aq) != 0:
            return MX_E_NUMBER
        if not emit:
            return 0
        self.book_tickers += 1
        ev = <BookTicker>self._book_tickers.acquire()
        ev.exchange = self.exchange
        ev.symbol = symbol
        ev.exchange_ts_ns = self._frame_ts_ns()
        ev.recv_ns = recv_ns
        ev.bid_price = bp
        ev.bid_qty = bq
        ev.ask_price = ap
        ev.ask_qty = aq
        ev.update_id = version
        self.dispatcher.emit(ev)
        return 0

    cdef int _kline(self, bint emit, int64_t recv_ns) except -100:
        cdef MxSpan st[10]
        cdef uint64_t iv[10]
        cdef double o, c, h, l, vol, amt
        cdef int rc, s
        cdef MxSpan sym
        cdef Kline k
        if self._symbol_span(&sym) != 0:
            return MX_E_SYMBOL
        memset(st, 0, sizeof(st))
        memset(iv, 0, sizeof(iv))
        for s in range(self._nseg):
            # 1 interval, 3-8 prices/volumes (strings); 2 windowStart, 9 windowEnd (int64 seconds)
            rc = _read_flat(self._seg[s].p, self._seg[s].n, st, iv, 0b111111010, 0b1000000100)
            if rc != 0:
                self._err_pos = self._seg[s].p - self._base
                return rc
        self._err_field = 3
        if _dbl(st[3], &o) != 0:
            return MX_E_NUMBER
        self._err_field = 4
        if _dbl(st[4], &c) != 0:
            return MX_E_NUMBER
        self._err_field = 5
        if _dbl(st[5], &h) != 0:
            return MX_E_NUMBER
        self._err_field = 6
        if _dbl(st[6], &l) != 0:
            return MX_E_NUMBER
        self._err_field = 7
        if _dbl(st[7], &vol) != 0:
            return MX_E_NUMBER
        self._err_field = 8
        if _dbl(st[8], &amt) != 0:
            return MX_E_NUMBER
        if not emit:
            return 0
        self.klines += 1
        k = <Kline>self._klines.acquire()
        k.exchange = self.exchange
        k.symbol = self._sym(sym.p, sym.n)
        k.exchange_ts_ns = self._frame_ts_ns()
        k.recv_ns = recv_ns
        k.interval = self._interned(st[1].p, st[1].n)
        k.open_time_ns = _s_ns(<int64_t>iv[2])
        k.close_time_ns = _s_ns(<int64_t>iv[9])
        k.open = o
        k.high = h
        k.low = l
        k.close = c
        k.volume = vol
        k.quote_volume = amt
        k.closed = False  # MEXC pushes the running candle every second and never marks it final
        self.dispatcher.emit(k)
        return 0

    cdef int _mini_tickers(self, bint emit, int64_t recv_ns) except -100:
        cdef PbReader r
        cdef uint32_t f, wt
        cdef int rc, s
        cdef const uint8_t* data
        cdef Py_ssize_t dn
        cdef MxSpan st[13]
        cdef uint64_t dummy[13]
        if self._body == F_MINI_TICKER:
            memset(st, 0, sizeof(st))
            for s in range(self._nseg):
                rc = _read_flat(self._seg[s].p, self._seg[s].n, st, dummy, 0b1111111111110, 0)
                if rc != 0:
                    self._err_pos = self._seg[s].p - self._base
                    return rc
            return self._emit_mini(st, emit, recv_ns)
        for s in range(self._nseg):
            pb_sub_reader(&r, self._seg[s].p, self._seg[s].n)
            while r.p < r.end:
                rc = pb_read_tag(&r, &f, &wt)
                if rc != PB_OK:
                    return rc
                if not (f == 1 and wt == PB_WT_LEN):
                    rc = pb_skip(&r, wt)
                    if rc != PB_OK:
                        return rc
                    continue
                rc = pb_read_len(&r, &data, &dn)
                if rc != PB_OK:
                    return rc
                memset(st, 0, sizeof(st))
                rc = _read_flat(data, dn, st, dummy, 0b1111111111110, 0)
                if rc != 0:
                    return rc
                rc = self._emit_mini(st, emit, recv_ns)
                if rc != 0:
                    return rc
        return 0

    cdef int _emit_mini(self, MxSpan* st, bint emit, int64_t recv_ns) except -100:
        # 1 symbol, 2 price, 4 zonedRate, 5 high, 6 low, 7 volume (quote), 8 quantity (base)
        cdef double last, high, low, quote_vol, base_vol, rate
        cdef MxSpan sym
        cdef Ticker ev
        self._err_field = 2
        if _dbl(st[2], &last) != 0:
            return MX_E_NUMBER
        self._err_field = 4
        if _dbl(st[4], &rate) != 0:
            return MX_E_NUMBER
        self._err_field = 5
        if _dbl(st[5], &high) != 0:
            return MX_E_NUMBER
        self._err_field = 6
        if _dbl(st[6], &low) != 0:
            return MX_E_NUMBER
        self._err_field = 7
        if _dbl(st[7], &quote_vol) != 0:
            return MX_E_NUMBER
        self._err_field = 8
        if _dbl(st[8], &base_vol) != 0:
            return MX_E_NUMBER
        if st[1].n > 0:
            sym = st[1]
        elif self._symbol_span(&sym) != 0:
            return MX_E_SYMBOL
        if not emit:
            return 0
        self.tickers += 1
        ev = <Ticker>self._tickers.acquire()
        ev.exchange = self.exchange
        ev.symbol = self._sym(sym.p, sym.n)
        ev.exchange_ts_ns = self._frame_ts_ns()
        ev.recv_ns = recv_ns
        ev.last = last
        ev.high = high
        ev.low = low
        ev.volume = base_vol
        ev.quote_volume = quote_vol
        ev.change_pct = rate  # MEXC's zonedRate as sent (the requested timezone's change)
        self.dispatcher.emit(ev)
        return 0

    cdef int _order(self, bint emit, int64_t recv_ns) except -100:
        cdef MxSpan st[27]
        cdef uint64_t iv[27]
        cdef double price, qty, cum_qty, avg
        cdef int rc, s
        cdef MxSpan sym
        cdef OrderUpdate ev
        if self._symbol_span(&sym) != 0:
            return MX_E_SYMBOL
        memset(st, 0, sizeof(st))
        memset(iv, 0, sizeof(iv))
        for s in range(self._nseg):
            # strings: 1-6, 10-14, 17, 19, 21-26; varints: 7, 8, 9, 15, 16, 18, 20
            rc = _read_flat(self._seg[s].p, self._seg[s].n, st, iv,
                            (0b1111110) | (0b11111 << 10) | (1 << 17) | (1 << 19) | (0b111111 << 21),
                            (0b111 << 7) | (0b11 << 15) | (1 << 18) | (1 << 20))
            if rc != 0:
                self._err_pos = self._seg[s].p - self._base
                return rc
        self._err_field = 3
        if _dbl(st[3], &price) != 0:
            return MX_E_NUMBER
        self._err_field = 4
        if _dbl(st[4], &qty) != 0:
            return MX_E_NUMBER
        self._err_field = 6
        if _dbl(st[6], &avg) != 0:
            return MX_E_NUMBER
        self._err_field = 13
        if _dbl(st[13], &cum_qty) != 0:
            return MX_E_NUMBER
        if not emit:
            return 0
        self.orders += 1
        ev = <OrderUpdate>self._orders.acquire()
        ev.exchange = self.exchange
        ev.symbol = self._sym(sym.p, sym.n)
        ev.exchange_ts_ns = _ms_ns(<int64_t>iv[16]) if iv[16] else self._frame_ts_ns()
        ev.recv_ns = recv_ns
        ev.order_id = _text(st[1])
        ev.client_order_id = _text(st[2])
        ev.side = _side(<int32_t>iv[8])
        ev.order_type = _order_type_name(<int32_t>iv[7])
        ev.status = _status_name(<int32_t>iv[15])
        ev.price = price
        ev.qty = qty
        ev.filled_qty = cum_qty
        ev.avg_price = avg
        self.dispatcher.emit(ev)
        return 0

    cdef int _fill(self, bint emit, int64_t recv_ns) except -100:
        cdef MxSpan st[13]
        cdef uint64_t iv[13]
        cdef double price, qty, fee
        cdef int rc, s
        cdef MxSpan sym
        cdef Fill ev
        if self._symbol_span(&sym) != 0:
            return MX_E_SYMBOL
        memset(st, 0, sizeof(st))
        memset(iv, 0, sizeof(iv))
        for s in range(self._nseg):
            # strings: 1-3, 7-11; varints: 4 tradeType, 5 isMaker, 6 isSelfTrade, 12 time
            rc = _read_flat(self._seg[s].p, self._seg[s].n, st, iv,
                            0b1110 | (0b11111 << 7), (0b111 << 4) | (1 << 12))
            if rc != 0:
                self._err_pos = self._seg[s].p - self._base
                return rc
        self._err_field = 1
        if _dbl(st[1], &price) != 0:
            return MX_E_NUMBER
        self._err_field = 2
        if _dbl(st[2], &qty) != 0:
            return MX_E_NUMBER
        self._err_field = 10
        if _dbl(st[10], &fee) != 0:
            return MX_E_NUMBER
        if not emit:
            return 0
        self.fills += 1
        ev = <Fill>self._fills.acquire()
        ev.exchange = self.exchange
        ev.symbol = self._sym(sym.p, sym.n)
        ev.exchange_ts_ns = _ms_ns(<int64_t>iv[12]) if iv[12] else self._frame_ts_ns()
        ev.recv_ns = recv_ns
        ev.order_id = _text(st[9])
        ev.trade_id = _text(st[7])
        ev.side = _side(<int32_t>iv[4])
        ev.price = price
        ev.qty = qty
        ev.fee = fee
        ev.fee_asset = _text(st[11])
        ev.is_maker = iv[5] != 0
        self.dispatcher.emit(ev)
        return 0

    cdef int _balance(self, bint emit, int64_t recv_ns) except -100:
        cdef MxSpan st[9]
        cdef uint64_t iv[9]
        cdef double free, locked
        cdef int rc, s
        cdef BalanceUpdate ev
        memset(st, 0, sizeof(st))
        memset(iv, 0, sizeof(iv))
        for s in range(self._nseg):
            # strings: 1-7; varint: 8 time
            rc = _read_flat(self._seg[s].p, self._seg[s].n, st, iv, 0b11111110, 1 << 8)
            if rc != 0:
                self._err_pos = self._seg[s].p - self._base
                return rc
        self._err_field = 3
        if _dbl(st[3], &free) != 0:
            return MX_E_NUMBER
        self._err_field = 5
        if _dbl(st[5], &locked) != 0:
            return MX_E_NUMBER
        if not emit:
            return 0
        self.balances += 1
        ev = <BalanceUpdate>self._balances.acquire()
        ev.exchange = self.exchange
        # account pushes carry no pair: the wrapper symbol if any, else ""
        ev.symbol = self._sym(self._symbol.p, self._symbol.n) if self._symbol.n else ""
        ev.exchange_ts_ns = _ms_ns(<int64_t>iv[8]) if iv[8] else self._frame_ts_ns()
        ev.recv_ns = recv_ns
        ev.asset = self._interned(st[1].p, st[1].n)
        ev.free = free
        ev.locked = locked
        self.dispatcher.emit(ev)
        return 0

    # ---- strings ------------------------------------------------------------------------------------

    cdef str _sym(self, const uint8_t* p, Py_ssize_t n):
        """A symbol as str, without allocating when it repeats (one-entry cache, then a bounded dict)."""
        cdef bytes key = self._last_sym_key
        if key is not None and PyBytes_GET_SIZE(key) == n and memcmp(PyBytes_AS_STRING(key), p, n) == 0:
            return self._last_sym
        key = PyBytes_FromStringAndSize(<const char*>p, n)
        s = self._str_cache.get(key)
        if s is None:
            s = key.decode("utf-8", "replace")
            if len(self._str_cache) < 8192:
                self._str_cache[key] = s
        self._last_sym_key = key
        self._last_sym = s
        return s

    cdef str _interned(self, const uint8_t* p, Py_ssize_t n):
        """Short repeated strings (kline intervals, asset names) from the same cache."""
        cdef bytes key = self._last_int_key
        if n == 0:
            return ""
        if key is not None and PyBytes_GET_SIZE(key) == n and memcmp(PyBytes_AS_STRING(key), p, n) == 0:
            return self._last_int
        key = PyBytes_FromStringAndSize(<const char*>p, n)
        s = self._str_cache.get(key)
        if s is None:
            s = key.decode("utf-8", "replace")
            if len(self._str_cache) < 8192:
                self._str_cache[key] = s
        self._last_int_key = key
        self._last_int = s
        return s

    # ---- Python helpers (tests, tools; not the hot path) ------------------------------------------------

    def last_depth(self):
        """The levels and versions of the last decoded depth frame, as copies.

        Returns
        -------
        dict
            ``bids``/``asks`` (``(n, 2)`` float64 arrays), ``from_version``, ``to_version``,
            ``last_order_create_time`` (ms, 0 if absent).
        """
        bids = np.array([(self._bid_px[i], self._bid_qty[i]) for i in range(self._nb)], dtype=np.float64).reshape(-1, 2)
        asks = np.array([(self._ask_px[i], self._ask_qty[i]) for i in range(self._na)], dtype=np.float64).reshape(-1, 2)
        return {"bids": bids, "asks": asks, "from_version": self._from, "to_version": self._to,
                "last_order_create_time": self._last_order_ts}

    def stats(self):
        """Counters: frames by kind and errors by kind."""
        return {
            "frames": self.frames, "depth_updates": self.depth_updates, "limit_depths": self.limit_depths,
            "trades": self.trades, "book_tickers": self.book_tickers, "klines": self.klines,
            "tickers": self.tickers, "orders": self.orders, "fills": self.fills, "balances": self.balances,
            "acks": self.acks, "pongs": self.pongs, "exchange_errors": self.exchange_errors,
            "empty": self.empty, "unsupported": self.unsupported,
            "errors": {"wire": self.err_wire, "number": self.err_number, "levels": self.err_levels,
                       "symbol": self.err_symbol, "text": self.err_text},
        }


cdef int _classify(const uint8_t* p, Py_ssize_t n) noexcept:
    """JSON control text, plain error text, or a protobuf wrapper."""
    cdef Py_ssize_t i, m
    if n <= 0:
        return MessageType.UNKNOWN
    if p[0] == b'{':
        if _find(p, n, b'"msg":"PONG"', 12) >= 0:
            return MessageType.PONG
        if _find(p, n, b"Not Subscribed", 14) >= 0:
            return MessageType.ERROR
        i = _find(p, n, b'"code":', 7)
        if i >= 0 and i + 7 < n and p[i + 7] != b'0':
            return MessageType.ERROR
        if i >= 0 and i + 8 < n and b'0' <= p[i + 8] <= b'9':
            return MessageType.ERROR  # "code":0N... is not zero either
        return MessageType.SUBSCRIPTION_ACK
    # A wrapper starts with a tag byte; real frames start with 0x0a (channel). Printable
    # ASCII text that is not JSON is a plain-text error such as "Invalid listen key".
    if 0x20 <= p[0] <= 0x7e:
        m = n if n < 256 else 256
        for i in range(m):
            if not (0x20 <= p[i] <= 0x7e):
                return MessageType.DATA
        return MessageType.ERROR
    return MessageType.DATA
