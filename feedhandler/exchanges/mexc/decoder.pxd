# cython: language_level=3
"""C-level header of the MEXC spot v3 decoder (``cimport feedhandler.exchanges.mexc.decoder``).

``MexcDecoder.feed(raw, recv_ns)`` takes one WebSocket frame:

* JSON text (``{"id":0,"code":0,"msg":...}``): a subscription ack, ``PONG`` or an
  error (``Not Subscribed successfully! [...]``); plain text (``Invalid listen
  key``) is an error. Nothing is decoded further: the manager routes them.
* Binary: one ``PushDataV3ApiWrapper`` (protobuf), walked with
  ``feedhandler.codec.protobuf`` without the protobuf library. The body is
  dispatched on its field number (301..315, see ``constants.py``); unknown
  fields are skipped, a repeated body field is merged (as protobuf does).

A frame is decoded completely (depth levels into preallocated scratch
arrays; event bodies in a validating first pass) before anything is applied
or emitted, so a malformed frame raises ``ParseError`` and changes nothing.

Where the data goes
-------------------
* 313 aggre depth and 302 increase depth (legacy): ``books`` (a
  ``BookSyncGroup``), ``BookSync.on_delta(fromVersion, toVersion)``.
* 303 limit depth: ``partial_books`` (a separate ``BookSyncGroup``), one full
  snapshot per frame, keyed ``"<SYMBOL>@<N>"`` (the channel's tail) so a
  top-5 and a top-20 stream of one symbol are two books.
* 314/301 deals -> ``Trade``; 315/305/311 -> ``BookTicker``; 308 -> ``Kline``;
  309/310 -> ``Ticker``; 304 -> ``OrderUpdate``; 306 -> ``Fill``;
  307 -> ``BalanceUpdate``, all through ``dispatcher`` from ``EventPool``s.
* 312 (increase depth batch, unofficial) is counted as ``unsupported`` and ignored.

Errors (``feed`` raises ``ParseError``; the kind is counted in ``stats()``)
---------------------------------------------------------------------------
``err_wire`` (protobuf wire error: truncated, bad tag/length/varint),
``err_number`` (a price/quantity/version that is not a decimal number),
``err_levels`` (more than ``max_levels`` per side, non-positive/non-finite
price or negative quantity, toVersion < fromVersion, missing versions),
``err_symbol`` (no symbol in the frame), ``err_text`` (empty frame or
malformed JSON text).
"""
from libc.stdint cimport int64_t, uint8_t

from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.sync.book_sync cimport BookSyncGroup

cdef enum:
    MX_MAX_SEGMENTS = 8        # occurrences of one body field merged (protobuf merge semantics)

cdef enum:
    # internal error codes (the PB_* codes of the wire reader are -1..-5)
    MX_E_NUMBER = -20
    MX_E_LEVELS = -21
    MX_E_SYMBOL = -22
    MX_E_VERSION = -23
    MX_E_SEGMENTS = -24
    # the event methods return 0 or one of these codes; -100 is reserved for "a Python exception is set"

ctypedef struct MxSpan:
    const uint8_t* p
    Py_ssize_t n


cdef class MexcDecoder(FrameDecoder):
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books            # aggre depth (313) / legacy increase depth (302)
    cdef public BookSyncGroup partial_books    # limit depth (303), full snapshot per frame
    cdef readonly Py_ssize_t max_levels        # per side, per frame
    # counters
    cdef readonly int64_t depth_updates, limit_depths, trades, book_tickers, klines, tickers
    cdef readonly int64_t orders, fills, balances, acks, pongs, exchange_errors, empty, unsupported
    cdef readonly int64_t err_wire, err_number, err_levels, err_symbol, err_text
    # pools
    cdef EventPool _trades, _book_tickers, _klines, _tickers, _orders, _fills, _balances
    # scratch: levels of one depth frame
    # (pointers into the kernel's level scratch, FrameDecoder.use_levels: levels[0] bids, [1] asks)
    cdef double* _bid_px
    cdef double* _bid_qty
    cdef double* _ask_px
    cdef double* _ask_qty
    cdef Py_ssize_t _nb, _na
    cdef int64_t _from, _to, _last_order_ts
    # wrapper fields of the current frame
    cdef MxSpan _channel, _symbol
    cdef int64_t _create_ms, _send_ms
    cdef bint _has_create, _has_send
    cdef int _body
    cdef MxSpan _seg[MX_MAX_SEGMENTS]
    cdef int _nseg
    # error detail of the current frame
    cdef const uint8_t* _base        # start of the current frame (error offsets)
    cdef Py_ssize_t _err_pos
    cdef int _err_field
    # string caches (bytes -> str), so repeated symbols allocate nothing
    cdef dict _str_cache
    cdef bytes _last_sym_key
    cdef str _last_sym
    cdef bytes _last_int_key
    cdef str _last_int

    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1
    cdef int _control(self, const uint8_t* p, Py_ssize_t n) except -1
    cdef int _walk_wrapper(self, const uint8_t* p, Py_ssize_t n) noexcept
    cdef int _decode_depth(self) noexcept
    cdef int _apply_depth(self, int64_t recv_ns) except -1
    cdef int _run(self, int rc, str what) except -1
    cdef int _raise(self, int rc, str what) except -1
    cdef int _deals(self, bint emit, int64_t recv_ns) except -100
    cdef int _emit_ticker(self, MxSpan* st, int64_t version, str symbol, bint emit, int64_t recv_ns) except -100
    cdef int _emit_mini(self, MxSpan* st, bint emit, int64_t recv_ns) except -100
    cdef int _book_ticker(self, bint emit, int64_t recv_ns) except -100
    cdef int _kline(self, bint emit, int64_t recv_ns) except -100
    cdef int _mini_tickers(self, bint emit, int64_t recv_ns) except -100
    cdef int _order(self, bint emit, int64_t recv_ns) except -100
    cdef int _fill(self, bint emit, int64_t recv_ns) except -100
    cdef int _balance(self, bint emit, int64_t recv_ns) except -100
    cdef str _sym(self, const uint8_t* p, Py_ssize_t n)
    cdef str _interned(self, const uint8_t* p, Py_ssize_t n)
    cdef int _symbol_span(self, MxSpan* out) noexcept
    cdef int64_t _frame_ts_ns(self) noexcept
