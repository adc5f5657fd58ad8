# cython: language_level=3
"""C-level header of the MEXC spot v3 decoder (``cimport feedhandler.exchanges.mexc.decoder``).

``MexcDecoder.feed(raw, recv_ns)`` takes one WebSocket frame:

* JSON text (``{"id":0,"code":0,"msg":...}``): a subscription ack, ``PONG`` or an
  error (``Not Subscribed successfully! [...]``); plain text (``Invalid listen
  key``) is an error. Nothing is decoded further: the manager routes them.
* Binary: one ``PushDataV3ApiWrapper`` (protobuf), walked once by the kernel's
  table-driven protobuf extraction (``feedhandler.kernel.pbextract``) without
  the protobuf library. The body is dispatched on its field number (301..315,
  see ``constants.py``); unknown fields are skipped, a repeated body field is
  merged (as protobuf does).

A frame is decoded completely (depth levels and the items of repeated bodies
into preallocated scratch arrays) before anything is applied or emitted, so
a malformed frame raises ``ParseError`` (naming the field and the byte
offset) and changes nothing.

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

from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport Event, EventPool
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.kernel.pbextract cimport PbOut
from feedhandler.kernel.symbols cimport SymbolTable
from feedhandler.sync.book_sync cimport BookSyncGroup

ctypedef struct MxItem:
    # one item of a repeated body field (deal, book ticker, mini ticker), as the kernel converted it
    double f[6]
    int64_t i0, i1
    JsonSpan t


cdef class MexcDecoder(FrameDecoder):
    cdef public EventDispatcher dispatcher
    cdef public BookSyncGroup books            # aggre depth (313) / legacy increase depth (302)
    cdef public BookSyncGroup partial_books    # limit depth (303), full snapshot per frame
    cdef readonly Py_ssize_t max_levels        # per side, per frame (and items per frame)
    # counters
    cdef readonly int64_t depth_updates, limit_depths, trades, book_tickers, klines, tickers
    cdef readonly int64_t orders, fills, balances, acks, pongs, exchange_errors, empty, unsupported
    cdef readonly int64_t err_wire, err_number, err_levels, err_symbol, err_text
    # pools
    cdef EventPool _trades, _book_tickers, _klines, _tickers, _orders, _fills, _balances
    # the kernel walk's state (body member, errors); levels are in self.out.levels[0] bids, [1] asks
    cdef PbOut _pb
    cdef MxItem* _items                        # max_levels items, filled by the kernel's on_item
    cdef int64_t _from, _to, _last_order_ts    # versions of the last depth frame
    cdef SymbolTable symbols                   # symbols, intervals, assets: str without allocating

    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1
    cdef int _pb_fail(self, int rc) except -1
    cdef int _refuse(self, str field, str reason, bint symbol) except -1
    cdef int _control(self, const uint8_t* p, Py_ssize_t n) except -1
    cdef int64_t _frame_ts_ns(self) noexcept
    cdef int64_t _own_ts_ns(self, int slot) noexcept
    cdef Event _event(self, EventPool pool, str symbol, int64_t ts, int64_t recv_ns)
    cdef int _symbol_span(self, JsonSpan* out) noexcept
    cdef str _symbol_str(self)
    cdef int _depth(self, int body, int64_t recv_ns) except -1
    cdef int _events(self, int body, int64_t recv_ns) except -1
    cdef int _trade(self, const MxItem* it, str symbol, int64_t recv_ns) except -1
    cdef int _ticker(self, const MxItem* it, int64_t version, str symbol, int64_t recv_ns) except -1
    cdef int _mini(self, const MxItem* it, str symbol, int64_t recv_ns) except -1
    cdef int _kline(self, str symbol, int64_t recv_ns) except -1
    cdef int _order(self, str symbol, int64_t recv_ns) except -1
    cdef int _fill(self, str symbol, int64_t recv_ns) except -1
    cdef int _balance(self, str symbol, int64_t recv_ns) except -1
