# cython: language_level=3
"""C-level header of the Binance user-data decoder (``cimport feedhandler.exchanges.binance.private_decoder``).

``BinancePrivateDecoder.feed(raw, recv_ns)`` decodes one WebSocket API text frame completely into
scratch, then applies it:

* ``{"subscriptionId":N,"event":{...}}`` (and a bare event object, as the retired listenKey streams sent):
  ``executionReport`` -> ``OrderUpdate`` (+ ``Fill`` when ``x == "TRADE"``), ``outboundAccountPosition``
  -> one ``BalanceUpdate`` per asset of ``B``, ``balanceUpdate`` (a delta, not a balance) -> counted only,
  ``eventStreamTerminated`` / ``listenKeyExpired`` / ``serverShutdown`` -> ``MessageType.RECONNECT``;
* responses ``{"id":..,"status":200,"result":..}`` -> ``SUBSCRIPTION_ACK`` (``PONG`` for ``"ping-*"`` ids);
  ``{"id":..,"status":4xx,"error":{"code":..,"msg":..}}`` -> ``ERROR``, except the rejection of our
  subscribe request (``"uds-*"`` id) while no subscription is active on the connection: that one is
  reported to ``dispatcher`` as ``AuthenticationError`` (codes in ``constants.AUTH_ERROR_CODES``) or
  ``SubscriptionError`` and returned as ``RECONNECT``, so the manager closes the useless connection and
  retries with backoff (``reconnect_on_reject=False`` returns ``ERROR`` instead).

Return value of ``feed``/``classify``: a ``MessageType`` int. ``feed`` raises
``feedhandler.core.errors.ParseError`` (-1) for a malformed frame and delivers nothing of it.
"""
from libc.stdint cimport int64_t, uint32_t

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder

cpdef enum BinancePrivateKind:
    BP_UNKNOWN = 0            # valid JSON of no known shape (counted, ignored)
    BP_EXECUTION_REPORT = 1
    BP_ACCOUNT_POSITION = 2
    BP_BALANCE_UPDATE = 3
    BP_TERMINATED = 4         # eventStreamTerminated / listenKeyExpired / serverShutdown
    BP_IGNORED_EVENT = 5      # a user-data event not mapped to an event class (externalLockUpdate, listStatus...)
    BP_ACK = 6                # status 200 response
    BP_PONG = 7               # status 200 response to a "ping-*" request
    BP_ERROR = 8              # error response (manager: parse_ack / error report)
    BP_REJECTED = 9           # our subscribe refused with no active subscription (-> RECONNECT)

cdef enum:
    NP_SLOTS = 26             # single-letter event keys the decoder knows (see private_decoder.pyx PK_*)
    N_MEMBERS = 5             # response/envelope members it reads (E_*)
    MAX_BALANCES = 1024       # assets in one outboundAccountPosition

cdef class BinancePrivateDecoder(FrameDecoder):
    cdef public EventDispatcher dispatcher
    cdef public object books                   # always None: user data keeps no books (contract with the public decoder)
    cdef public int want_mask                  # PRIVATE_MASK_* bits delivered; the subscribe ack's id sets it
    cdef public bint reconnect_on_reject
    cdef readonly int64_t subscription_id      # from the last successful subscribe ack; -1 none on this connection
    cdef readonly str last_reject              # text of the last rejected subscribe ('' if none)
    # counters
    cdef readonly int64_t execution_reports, order_updates, fills, account_positions, balance_updates
    cdef readonly int64_t balance_deltas, terminations, ignored_events, filtered, acks, pongs
    cdef readonly int64_t exchange_errors, rejects, unknown
    cdef readonly int64_t err_json, err_field
    # pools
    cdef EventPool _orders, _fills, _balances
    # scratch: spans of the current event, indexed by slot id
    cdef JsonSpan _slot[NP_SLOTS]
    cdef uint32_t _present
    cdef JsonSpan _member[N_MEMBERS]           # event, id, status, result, error (E_* in the .pyx)
    cdef unsigned int _seen                    # bit (1 << E_*): the frame has that member
    cdef int64_t _status
    cdef int _kind
    # decoded scalars
    cdef int64_t _ts, _order_id, _trade_id, _ack_sub_id, _err_code
    cdef int _side, _ack_mask
    cdef double _price, _qty, _filled, _avg, _last_px, _last_qty, _fee
    cdef bint _maker, _is_trade, _has_err_code
    cdef JsonSpan _client_id, _fee_asset, _err_msg
    cdef bint _has_fee_asset, _has_err_msg
    # scratch: balances of one outboundAccountPosition
    cdef JsonSpan _bal_asset[MAX_BALANCES]
    cdef double _bal_free[MAX_BALANCES]
    cdef double _bal_locked[MAX_BALANCES]
    cdef Py_ssize_t _nbal
    cdef dict _str_cache

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1
    cdef int _decode(self, const char* p, const char* end) except -1
    cdef int _scan_event(self, const char* p, const char* end) except -1
    cdef bint _slot_member(self, const JsonSpan* key, const JsonSpan* val) noexcept
    cdef int _decode_event(self) except -1
    cdef int _decode_execution(self) except -1
    cdef int _decode_positions(self) except -1
    cdef int _decode_response(self) except -1
    cdef int _apply(self, int64_t recv_ns) except -1
    cdef bint _has(self, int member) noexcept
    cdef int _message_type(self) noexcept
    cdef int _fail(self, int64_t* counter, str what) except -1
    cdef int _num(self, int slot, double* out) except -1
    cdef int _int(self, int slot, int64_t* out) except -1
    cdef int _plain(self, int slot) except -1
    cdef int _opt_ts(self, int slot, int64_t* out) except -1
    cdef str _cached_str(self, const char* p, Py_ssize_t n)
    cdef str _span_str(self, const JsonSpan* v)
