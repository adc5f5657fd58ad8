"""Binance user-data decoder (WebSocket API ``userDataStream.subscribe.signature``): frames -> private events.

Frames handled (protocols.md section 3.7):

* events ``{"subscriptionId":N,"event":{"e":..}}`` (or a bare event object, as the retired listenKey
  streams sent): ``executionReport`` -> ``OrderUpdate`` and, when ``x == "TRADE"``, a ``Fill`` (``l``/``L``
  last fill quantity/price, ``n``/``N`` fee and fee asset, ``t`` trade id, ``m`` maker);
  ``outboundAccountPosition`` -> one ``BalanceUpdate`` per ``B`` entry (``a`` asset, ``f`` free, ``l``
  locked); ``balanceUpdate`` (a deposit/withdrawal *delta*; the absolute balances follow in an
  ``outboundAccountPosition``) is validated and counted; ``eventStreamTerminated`` (also
  ``listenKeyExpired``/``serverShutdown``) -> ``MessageType.RECONNECT``; other event types are counted;
* responses ``{"id":..,"status":200,"result":..}`` -> SUBSCRIPTION_ACK (PONG for ``"ping-*"`` ids); the ack
  of a ``"uds-<mask>-<n>"`` subscribe request records the ``subscriptionId`` and sets ``want_mask`` to the
  channels the request asked for; ``{"id":..,"status":4xx,"error":{"code":..,"msg":..}}`` -> ERROR, or
  RECONNECT plus a reported ``AuthenticationError``/``SubscriptionError`` when it refuses our subscribe
  request and no subscription is active (see the .pxd).

Every frame is validated (strict JSON) and decoded into scratch before any event is delivered.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint32_t
from libc.string cimport memcmp

from feedhandler.codec.json_scan cimport (
    JSON_ARRAY, JSON_FALSE, JSON_NULL, JSON_OBJECT, JSON_OK, JSON_STRING, JSON_TRUE, JsonIter, JsonSpan,
    json_array_begin, json_array_next, json_expect_end, json_iter_error, json_object_begin, json_object_next,
    json_span_eq, json_span_to_double, json_span_to_int64,
)
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport SIDE_BUY, SIDE_SELL, BalanceUpdate, EventPool, Fill, OrderUpdate, acquire_event
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.message_type cimport MessageType

import json as _json

from feedhandler.core.dispatch import EventDispatcher as _EventDispatcher
from feedhandler.core.errors import AuthenticationError, ParseError, SubscriptionError
from feedhandler.events.events import BalanceUpdate as _BalanceUpdate, Fill as _Fill, OrderUpdate as _OrderUpdate

cdef extern from "Python.h":
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)

# Largest event time accepted, in ms (year 2255): keeps ms -> ns inside int64.
cdef int64_t _MAX_TS_MS = 9000000000000LL
cdef int64_t _NS_PER_MS = 1000000


# Channel bits (constants.PRIVATE_MASK_*).
cdef enum:
    WANT_ORDERS = 1
    WANT_FILLS = 2
    WANT_BALANCES = 4
    WANT_ALL = 7

# Slot ids of the single-letter event keys; bit (1 << id) in the presence mask.
cdef enum:
    PK_e = 0
    PK_E = 1
    PK_s = 2
    PK_c = 3
    PK_S = 4
    PK_o = 5
    PK_q = 6
    PK_p = 7
    PK_x = 8
    PK_X = 9
    PK_i = 10
    PK_l = 11
    PK_z = 12
    PK_L = 13
    PK_n = 14
    PK_N = 15
    PK_T = 16
    PK_t = 17
    PK_m = 18
    PK_Z = 19
    PK_C = 20
    PK_B = 21
    PK_a = 22
    PK_f = 23
    PK_d = 24
    PK_u = 25

# The members of a response or event envelope the decoder reads: index in _member, bit (1 << E_*) in _seen.
cdef enum:
    E_EVENT = 0
    E_ID = 1
    E_STATUS = 2
    E_RESULT = 3
    E_ERROR = 4

cdef extern from *:
    """
    static const char* const BP_MEMBERS[] = {"event", "id", "status", "result", "error"};
    static const Py_ssize_t BP_MEMBER_LEN[] = {5, 2, 6, 6, 5};
    """
    const char* BP_MEMBERS[5]
    const Py_ssize_t BP_MEMBER_LEN[5]

cdef bytes _LETTERS = b"eEscSoqpxXilzLnNTtmZCBafdu"   # index = slot id
cdef signed char _LETTER_SLOT[128]


cdef void _init_letters() noexcept:
    cdef int i
    for i in range(128):
        _LETTER_SLOT[i] = -1
    for i in range(NP_SLOTS):
        _LETTER_SLOT[<unsigned char>(<const char*>_LETTERS)[i]] = <signed char>i


_init_letters()


cdef inline int _slot_of(const JsonSpan* k) noexcept:
    """Slot id of an object key; -1 for keys the decoder does not use."""
    cdef unsigned char c
    cdef int i
    if not k.has_escapes:
        if k.len != 1:
            return -1
        c = <unsigned char>k.ptr[0]
        return _LETTER_SLOT[c] if c < 128 else -1
    if k.len > 12:      # an escaped single letter is at most "\\u0065" (6 bytes); be generous
        return -1
    for i in range(NP_SLOTS):
        if json_span_eq(k, (<const char*>_LETTERS) + i, 1):
            return i
    return -1


cdef inline bint _is_plain(const JsonSpan* v) noexcept:
    """A non-empty string of at most 100 printable ASCII bytes without quote/backslash (symbols, assets, enums)."""
    cdef Py_ssize_t i
    cdef unsigned char c
    if v.kind != JSON_STRING or v.has_escapes or v.len <= 0 or v.len > 100:
        return False
    for i in range(v.len):
        c = <unsigned char>v.ptr[i]
        if c < 0x20 or c > 0x7e or c == b'"' or c == b'\\':
            return False
    return True


cdef inline bint _has_prefix(const JsonSpan* v, const char* prefix, Py_ssize_t n) noexcept:
    return v.kind == JSON_STRING and not v.has_escapes and v.len >= n and memcmp(v.ptr, prefix, n) == 0


cdef inline int _member_of(const JsonSpan* k) noexcept:
    """E_* of a response (or envelope) member the decoder reads, -1 for the others."""
    cdef int i
    for i in range(N_MEMBERS):
        if json_span_eq(k, BP_MEMBERS[i], BP_MEMBER_LEN[i]):
            return i
    return -1


cdef str _json_err(int rc):
    names = {-1: "input ended inside a value", -2: "syntax error", -3: "bad string", -4: "bad number",
             -5: "bad literal", -6: "nesting too deep", -7: "trailing bytes", -8: "value of the wrong type",
             -9: "string that is not a number", -10: "integer out of int64 range", -13: "iterator state"}
    return names.get(rc, f"error {rc}")


@cython.final
cdef class BinancePrivateDecoder(FrameDecoder):
    """Compiled decoder of the Binance user-data stream (WebSocket API subscription).

    Parameters
    ----------
    dispatcher:
        Where events (and reported subscription rejections) go; created if None.
    books:
        Accepted for the decoder contract; must be None (user data keeps no books).
    exchange:
        Name carried by the events.
    want_mask:
        Event kinds delivered before any subscribe ack says otherwise: bits ORDERS 1, FILLS 2,
        BALANCES 4 (default 7: all).
    reconnect_on_reject:
        Return RECONNECT (and report the error) when our subscribe request is refused and no
        subscription is active, so the manager retries with backoff instead of idling on a
        connection that will never carry data. False: return ERROR (the manager reports it).
    """

    def __cinit__(self):
        self._str_cache = {}
        self.subscription_id = -1
        self.last_reject = ""

    def __init__(self, EventDispatcher dispatcher=None, object books=None, str exchange="binance",
                 int want_mask=WANT_ALL, bint reconnect_on_reject=True):
        if books is not None:
            raise ValueError("the Binance user-data decoder keeps no books: books must be None")
        if not 0 <= want_mask <= WANT_ALL:
            raise ValueError(f"want_mask must be in 0..7 (ORDERS 1 | FILLS 2 | BALANCES 4), not {want_mask}")
        self.dispatcher = dispatcher if dispatcher is not None else _EventDispatcher()
        FrameDecoder.__init__(self, exchange)
        self.books = None
        self.want_mask = want_mask
        self.reconnect_on_reject = reconnect_on_reject
        self._orders = EventPool(_OrderUpdate, 64)
        self._fills = EventPool(_Fill, 64)
        self._balances = EventPool(_BalanceUpdate, 256)

    # ---- entry points (feed and classify: FrameDecoder's, over c_feed / c_classify) ------
    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1:
        """The frame's ``MessageType`` by decoding it without delivering anything (UNKNOWN if malformed)."""
        cdef int64_t ej = self.err_json, ef = self.err_field, pe = self.parse_errors
        try:
            self._decode(p, p + n)
        except ParseError:
            self.err_json = ej   # classify only looks: the error counters are feed()'s
            self.err_field = ef
            self.parse_errors = pe
            return MessageType.UNKNOWN
        return self._message_type()

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1:
        """C entry point over (pointer, length)."""
        cdef int kind
        self.frames += 1
        self._decode(p, p + n)
        self._apply(recv_ns)
        kind = self._kind
        if kind == BP_ACK or kind == BP_ERROR or kind == BP_REJECTED:
            # decoded once for the subscription strategy: the request id (its text: "uds-..."),
            # the error code and message
            self.control_id = -1
            self.control_code = (self._err_code if self._has_err_code else -1) if kind != BP_ACK else 0
            if kind != BP_ACK and self._has_err_msg:
                self.control_text = self._span_str(&self._err_msg)
            else:
                self.control_text = self._span_str(&self._member[E_ID]) if self._has(E_ID) else None
        return self._message_type()

    cdef bint _has(self, int member) noexcept:
        """The frame has the response/envelope member E_* (``_member[member]`` holds it)."""
        return (self._seen >> member) & 1

    cdef int _message_type(self) noexcept:
        cdef int k = self._kind
        if k == BP_EXECUTION_REPORT or k == BP_ACCOUNT_POSITION or k == BP_BALANCE_UPDATE or k == BP_IGNORED_EVENT:
            return MessageType.DATA
        if k == BP_ACK:
            return MessageType.SUBSCRIPTION_ACK
        if k == BP_PONG:
            return MessageType.PONG
        if k == BP_ERROR:
            return MessageType.ERROR
        if k == BP_TERMINATED or k == BP_REJECTED:
            return MessageType.RECONNECT
        return MessageType.UNKNOWN

    cdef int _fail(self, int64_t* counter, str what) except -1:
        counter[0] += 1
        self.parse_errors += 1
        raise ParseError(f"binance user data: {what}")

    # ---- decoding ---------------------------------------------------------------------
    cdef int _decode(self, const char* p, const char* end) except -1:
        """Validate the whole frame and decode it into scratch (``_kind`` and the fields)."""
        cdef JsonIter it
        cdef JsonSpan key, val
        cdef int rc, sid
        self._present = 0
        self._seen = 0
        self._kind = BP_UNKNOWN
        json_object_begin(&it, p, end)      # an error: the loop does not run, json_iter_error has it
        while json_object_next(&it, &key, &val) == 1:
            if self._slot_member(&key, &val):
                continue
            sid = _member_of(&key)
            if sid == E_STATUS and json_span_to_int64(&val, &self._status) != JSON_OK:
                return self._fail(&self.err_field, "field 'status' is not an integer")
            if sid >= 0:
                self._member[sid] = val
                self._seen |= 1 << sid
        rc = json_iter_error(&it)
        if rc == JSON_OK:
            rc = json_expect_end(it.p, end)
        if rc != JSON_OK:
            return self._fail(&self.err_json, f"invalid JSON at byte {it.p - p}: {_json_err(rc)}")
        if self._has(E_EVENT):
            val = self._member[E_EVENT]
            if val.kind != JSON_OBJECT:
                return self._fail(&self.err_field, "field 'event' must be an object")
            self._scan_event(val.ptr, val.ptr + val.len)
            return self._decode_event()
        if self._has(E_STATUS) or (self._has(E_ID) and (self._has(E_RESULT) or self._has(E_ERROR))):
            return self._decode_response()
        if self._present & (1u << PK_e):
            return self._decode_event()     # a bare event (listenKey-style stream)
        return 0

    cdef int _scan_event(self, const char* p, const char* end) except -1:
        """Fill the slots from the event object (already validated as a whole by the outer scan)."""
        cdef JsonIter it
        cdef JsonSpan key, val
        cdef int rc
        self._present = 0
        json_object_begin(&it, p, end)
        while json_object_next(&it, &key, &val) == 1:
            self._slot_member(&key, &val)
        rc = json_iter_error(&it)
        if rc < 0:
            return self._fail(&self.err_json, f"invalid event object: {_json_err(rc)}")
        return 0

    cdef bint _slot_member(self, const JsonSpan* key, const JsonSpan* val) noexcept:
        """Keep a single-letter event member in its slot (True); False for any other key."""
        cdef int sid = _slot_of(key)
        if sid < 0:
            return False
        self._slot[sid] = val[0]
        self._present |= (<uint32_t>1) << sid
        return True

    cdef int _num(self, int slot, double* out) except -1:
        if not (self._present & ((<uint32_t>1) << slot)):
            return self._fail(&self.err_field, f"missing field {chr(_LETTERS[slot])!r}")
        if json_span_to_double(&self._slot[slot], out) != JSON_OK or not isfinite(out[0]):
            return self._fail(&self.err_field, f"field {chr(_LETTERS[slot])!r} is not a finite number")
        return 0

    cdef int _int(self, int slot, int64_t* out) except -1:
        if not (self._present & ((<uint32_t>1) << slot)):
            return self._fail(&self.err_field, f"missing field {chr(_LETTERS[slot])!r}")
        if json_span_to_int64(&self._slot[slot], out) != JSON_OK:
            return self._fail(&self.err_field, f"field {chr(_LETTERS[slot])!r} is not an int64")
        return 0

    cdef int _plain(self, int slot) except -1:
        if not (self._present & ((<uint32_t>1) << slot)):
            return self._fail(&self.err_field, f"missing field {chr(_LETTERS[slot])!r}")
        if not _is_plain(&self._slot[slot]):
            return self._fail(&self.err_field, f"field {chr(_LETTERS[slot])!r} must be a plain string")
        return 0

    cdef int _opt_ts(self, int slot, int64_t* out) except -1:
        """Optional ms timestamp as ns; 0 when absent."""
        cdef int64_t v
        if not (self._present & ((<uint32_t>1) << slot)):
            out[0] = 0
            return 0
        self._int(slot, &v)
        if v < 0 or v > _MAX_TS_MS:
            return self._fail(&self.err_field, f"timestamp {chr(_LETTERS[slot])!r} out of range")
        out[0] = v * _NS_PER_MS
        return 0

    cdef int _decode_event(self) except -1:
        cdef JsonSpan* e
        cdef double delta
        if not (self._present & (1u << PK_e)):
            return self._fail(&self.err_field, "user data event without 'e'")
        e = &self._slot[PK_e]
        if e.kind != JSON_STRING:
            return self._fail(&self.err_field, "field 'e' must be a string")
        if json_span_eq(e, b"executionReport", 15):
            self._kind = BP_EXECUTION_REPORT
            return self._decode_execution()
        if json_span_eq(e, b"outboundAccountPosition", 23):
            self._kind = BP_ACCOUNT_POSITION
            self._opt_ts(PK_E, &self._ts)
            return self._decode_positions()
        if json_span_eq(e, b"balanceUpdate", 13):
            self._kind = BP_BALANCE_UPDATE
            self._plain(PK_a)
            self._num(PK_d, &delta)
            self._opt_ts(PK_E, &self._ts)
            return 0
        if json_span_eq(e, b"eventStreamTerminated", 21) or json_span_eq(e, b"listenKeyExpired", 16) \
                or json_span_eq(e, b"serverShutdown", 14):
            self._kind = BP_TERMINATED
            return 0
        self._kind = BP_IGNORED_EVENT
        return 0

    cdef int _decode_execution(self) except -1:
        cdef JsonSpan* v
        cdef double quote_filled
        cdef int64_t t_ns
        self._plain(PK_s)
        self._plain(PK_S)
        v = &self._slot[PK_S]
        if v.len == 3 and memcmp(v.ptr, b"BUY", 3) == 0:
            self._side = SIDE_BUY
        elif v.len == 4 and memcmp(v.ptr, b"SELL", 4) == 0:
            self._side = SIDE_SELL
        else:
            return self._fail(&self.err_field, "field 'S' must be 'BUY' or 'SELL'")
        self._plain(PK_o)
        self._plain(PK_X)
        self._plain(PK_x)
        self._int(PK_i, &self._order_id)
        if not (self._present & (1u << PK_c)) or self._slot[PK_c].kind != JSON_STRING:
            return self._fail(&self.err_field, "field 'c' must be a string")
        self._client_id = self._slot[PK_c]
        if self._present & (1u << PK_C):
            v = &self._slot[PK_C]
            if v.kind == JSON_STRING:
                if v.len > 0:
                    self._client_id = v[0]   # cancels: C is the client id of the order being cancelled
            elif v.kind != JSON_NULL:
                return self._fail(&self.err_field, "field 'C' must be a string or null")
        self._num(PK_p, &self._price)
        self._num(PK_q, &self._qty)
        self._num(PK_z, &self._filled)
        self._avg = 0.0
        if self._present & (1u << PK_Z):
            self._num(PK_Z, &quote_filled)
            if self._filled > 0.0:
                self._avg = quote_filled / self._filled
        self._opt_ts(PK_T, &t_ns)
        self._opt_ts(PK_E, &self._ts)
        if t_ns != 0:
            self._ts = t_ns      # transaction time: when the order changed
        v = &self._slot[PK_x]
        self._is_trade = v.len == 5 and memcmp(v.ptr, b"TRADE", 5) == 0
        if self._is_trade:
            self._num(PK_l, &self._last_qty)
            self._num(PK_L, &self._last_px)
            self._num(PK_n, &self._fee)
            self._int(PK_t, &self._trade_id)
            if not (self._present & (1u << PK_m)):
                return self._fail(&self.err_field, "missing field 'm'")
            v = &self._slot[PK_m]
            if v.kind == JSON_TRUE:
                self._maker = True
            elif v.kind == JSON_FALSE:
                self._maker = False
            else:
                return self._fail(&self.err_field, "field 'm' must be true or false")
            self._has_fee_asset = False
            if self._present & (1u << PK_N):
                v = &self._slot[PK_N]
                if v.kind == JSON_STRING:
                    if not _is_plain(v):
                        return self._fail(&self.err_field, "field 'N' must be a plain string")
                    self._fee_asset = v[0]
                    self._has_fee_asset = True
                elif v.kind != JSON_NULL:
                    return self._fail(&self.err_field, "field 'N' must be a string or null")
        return 0

    cdef int _decode_positions(self) except -1:
        cdef JsonIter arr, obj
        cdef JsonSpan item, key, val
        cdef JsonSpan* b
        cdef int rc, seen
        cdef Py_ssize_t k
        if not (self._present & (1u << PK_B)) or self._slot[PK_B].kind != JSON_ARRAY:
            return self._fail(&self.err_field, "outboundAccountPosition needs an array 'B'")
        b = &self._slot[PK_B]
        self._nbal = 0
        json_array_begin(&arr, b.ptr, b.ptr + b.len)
        while json_array_next(&arr, &item) == 1:
            k = self._nbal
            if k >= MAX_BALANCES:
                return self._fail(&self.err_field, f"more than {MAX_BALANCES} balances in 'B'")
            if item.kind != JSON_OBJECT:
                return self._fail(&self.err_field, "'B' entries must be objects")
            seen = 0
            json_object_begin(&obj, item.ptr, item.ptr + item.len)
            while json_object_next(&obj, &key, &val) == 1:
                if json_span_eq(&key, b"a", 1):
                    if not _is_plain(&val):
                        return self._fail(&self.err_field, "balance 'a' must be a plain string")
                    self._bal_asset[k] = val
                    seen |= 1
                elif json_span_eq(&key, b"f", 1):
                    if json_span_to_double(&val, &self._bal_free[k]) != JSON_OK or not isfinite(self._bal_free[k]):
                        return self._fail(&self.err_field, "balance 'f' is not a finite number")
                    seen |= 2
                elif json_span_eq(&key, b"l", 1):
                    if json_span_to_double(&val, &self._bal_locked[k]) != JSON_OK or not isfinite(self._bal_locked[k]):
                        return self._fail(&self.err_field, "balance 'l' is not a finite number")
                    seen |= 4
            rc = json_iter_error(&obj)
            if rc < 0:
                return self._fail(&self.err_json, f"invalid balance object: {_json_err(rc)}")
            if seen != 7:
                return self._fail(&self.err_field, "balance entry lacks one of 'a', 'f', 'l'")
            self._nbal = k + 1
        rc = json_iter_error(&arr)
        if rc < 0:
            return self._fail(&self.err_json, f"invalid 'B' array: {_json_err(rc)}")
        return 0

    cdef int _decode_response(self) except -1:
        cdef JsonIter it
        cdef JsonSpan key, val
        cdef const JsonSpan* obj
        cdef int rc
        cdef bint ok, is_sub
        cdef char digit
        if self._has(E_STATUS):
            ok = 200 <= self._status < 300 and not self._has(E_ERROR)
        else:
            ok = self._has(E_RESULT) and not self._has(E_ERROR)
        is_sub = self._has(E_ID) and _has_prefix(&self._member[E_ID], b"uds-", 4)
        if ok:
            if self._has(E_ID) and _has_prefix(&self._member[E_ID], b"ping-", 5):
                self._kind = BP_PONG
                return 0
            self._kind = BP_ACK
            self._ack_sub_id = -1
            self._ack_mask = -1
            if is_sub:
                if self._member[E_ID].len >= 6 and self._member[E_ID].ptr[5] == b'-':
                    digit = self._member[E_ID].ptr[4]
                    if b'0' <= digit <= b'7':
                        self._ack_mask = digit - 48   # ASCII '0'
                obj = &self._member[E_RESULT]
                if self._has(E_RESULT) and obj.kind == JSON_OBJECT:
                    json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
                    while json_object_next(&it, &key, &val) == 1:
                        if json_span_eq(&key, b"subscriptionId", 14):
                            if json_span_to_int64(&val, &self._ack_sub_id) != JSON_OK or self._ack_sub_id < 0:
                                return self._fail(&self.err_field, "'subscriptionId' is not a non-negative int64")
                    rc = json_iter_error(&it)
                    if rc < 0:
                        return self._fail(&self.err_json, f"invalid result object: {_json_err(rc)}")
            return 0
        # an error response: keep code and message for the report
        self._has_err_code = False
        self._has_err_msg = False
        obj = &self._member[E_ERROR]
        if self._has(E_ERROR) and obj.kind == JSON_OBJECT:
            json_object_begin(&it, obj.ptr, obj.ptr + obj.len)
            while json_object_next(&it, &key, &val) == 1:
                if json_span_eq(&key, b"code", 4):
                    self._has_err_code = json_span_to_int64(&val, &self._err_code) == JSON_OK
                elif json_span_eq(&key, b"msg", 3) and val.kind == JSON_STRING:
                    self._err_msg = val
                    self._has_err_msg = True
            rc = json_iter_error(&it)
            if rc < 0:
                return self._fail(&self.err_json, f"invalid error object: {_json_err(rc)}")
        if is_sub and self.subscription_id < 0 and self.reconnect_on_reject:
            self._kind = BP_REJECTED
        else:
            self._kind = BP_ERROR
        return 0

    # ---- applying ---------------------------------------------------------------------
    cdef int _apply(self, int64_t recv_ns) except -1:
        cdef int kind = self._kind
        cdef OrderUpdate ou
        cdef Fill fl
        cdef BalanceUpdate bu
        cdef Py_ssize_t k
        cdef str symbol, order_id, text, asset
        if kind == BP_EXECUTION_REPORT:
            self.execution_reports += 1
            symbol = self._cached_str(self._slot[PK_s].ptr, self._slot[PK_s].len)
            order_id = str(self._order_id)
            if self.want_mask & WANT_ORDERS:
                self.order_updates += 1
                ou = <OrderUpdate>acquire_event(self._orders, self.exchange, symbol, self._ts, recv_ns)
                ou.order_id = order_id
                ou.client_order_id = self._span_str(&self._client_id)
                ou.side = self._side
                ou.order_type = self._cached_str(self._slot[PK_o].ptr, self._slot[PK_o].len)
                ou.status = self._cached_str(self._slot[PK_X].ptr, self._slot[PK_X].len)
                ou.price = self._price
                ou.qty = self._qty
                ou.filled_qty = self._filled
                ou.avg_price = self._avg
                self.dispatcher.emit(ou)
            else:
                self.filtered += 1
            if self._is_trade:
                if self.want_mask & WANT_FILLS:
                    self.fills += 1
                    fl = <Fill>acquire_event(self._fills, self.exchange, symbol, self._ts, recv_ns)
                    fl.order_id = order_id
                    fl.trade_id = str(self._trade_id)
                    fl.side = self._side
                    fl.price = self._last_px
                    fl.qty = self._last_qty
                    fl.fee = self._fee
                    fl.fee_asset = self._cached_str(self._fee_asset.ptr, self._fee_asset.len) \
                        if self._has_fee_asset else ""
                    fl.is_maker = self._maker
                    self.dispatcher.emit(fl)
                else:
                    self.filtered += 1
        elif kind == BP_ACCOUNT_POSITION:
            self.account_positions += 1
            if not (self.want_mask & WANT_BALANCES):
                self.filtered += self._nbal
                return 0
            for k in range(self._nbal):
                self.balance_updates += 1
                asset = self._cached_str(self._bal_asset[k].ptr, self._bal_asset[k].len)
                bu = <BalanceUpdate>acquire_event(self._balances, self.exchange, asset, self._ts, recv_ns)
                bu.asset = asset
                bu.free = self._bal_free[k]
                bu.locked = self._bal_locked[k]
                self.dispatcher.emit(bu)
        elif kind == BP_BALANCE_UPDATE:
            self.balance_deltas += 1
        elif kind == BP_TERMINATED:
            self.terminations += 1
            self.subscription_id = -1
        elif kind == BP_IGNORED_EVENT:
            self.ignored_events += 1
        elif kind == BP_ACK:
            self.acks += 1
            if self._ack_mask >= 0:          # the ack of our subscribe request
                self.subscription_id = self._ack_sub_id if self._ack_sub_id >= 0 else 0
                if self._ack_mask > 0:
                    self.want_mask = self._ack_mask
        elif kind == BP_PONG:
            self.pongs += 1
        elif kind == BP_ERROR:
            self.exchange_errors += 1
        elif kind == BP_REJECTED:
            self.rejects += 1
            text = self._span_str(&self._err_msg)[:200] if self._has_err_msg else "no message"
            code = self._err_code if self._has_err_code else None
            status = self._status if self._has(E_STATUS) else None
            self.last_reject = (f"binance user data subscription rejected (status {status}, code {code}): {text}; "
                                "closing the connection, retrying with backoff")
            if self._has_err_code and self._err_code in (-1002, -1022, -2014, -2015):
                err = AuthenticationError(self.last_reject + "; check the API key, secret and permissions")
            else:
                err = SubscriptionError(self.last_reject)
            self.dispatcher.report(err)
        else:
            self.unknown += 1
        return 0

    cdef str _cached_str(self, const char* p, Py_ssize_t n):
        """The str for plain-ASCII bytes p[0:n] (symbols, assets, enums): one allocation per distinct value."""
        cdef bytes key = p[:n]
        s = self._str_cache.get(key)
        if s is None:
            if len(self._str_cache) > 10_000:
                self._str_cache.clear()   # bounded: hostile streams cannot grow it forever
            s = key.decode("ascii")
            self._str_cache[key] = s
        return <str>s

    cdef str _span_str(self, const JsonSpan* v):
        """A validated JSON string span as str (escapes resolved)."""
        if v.kind != JSON_STRING:
            return ""
        if not v.has_escapes:
            return PyUnicode_DecodeUTF8(v.ptr, v.len, b"strict")
        # rare: escapes; the span sits between the quotes of a validated string
        return _json.loads((v.ptr - 1)[:v.len + 2].decode("utf-8"))

    # ---- Python helpers ---------------------------------------------------------------
    def reset_session(self):
        """Forget the active subscription (the connection carrying it ended)."""
        self.subscription_id = -1

    def stats(self):
        """Counters: frames by kind and errors by kind."""
        return {
            "frames": self.frames, "execution_reports": self.execution_reports,
            "order_updates": self.order_updates, "fills": self.fills,
            "account_positions": self.account_positions, "balance_updates": self.balance_updates,
            "balance_deltas": self.balance_deltas, "terminations": self.terminations,
            "ignored_events": self.ignored_events, "filtered": self.filtered, "acks": self.acks,
            "pongs": self.pongs, "exchange_errors": self.exchange_errors, "rejects": self.rejects,
            "unknown": self.unknown, "subscription_id": self.subscription_id, "want_mask": self.want_mask,
            "errors": {"json": self.err_json, "field": self.err_field},
        }
