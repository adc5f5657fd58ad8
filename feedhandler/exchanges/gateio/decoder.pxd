# cython: language_level=3
"""C-level header of the Gate.io spot v4 and USDT futures decoder (``cimport feedhandler.exchanges.gateio.decoder``).

One :class:`GateioDecoder` turns Gate.io JSON text frames into events and book
updates. It is built on the decoder kernel (an ``EventDecoder``): one ``FieldTable`` per frame shape,
one ``kt_scan`` pass per frame (numbers bit-for-bit ``float()``, levels into the
kernel's preallocated arrays, validated once), and only then the book sync
engine or the handler: a malformed frame raises ``ParseError`` and changes nothing.

``c_feed`` is the one C entry, ``feed``/``classify`` the kernel's. Return values
are ``MessageType`` ints (``feedhandler.kernel.message_type``): UNKNOWN (a
channel the decoder does not know), DATA, SUBSCRIPTION_ACK, PONG, ERROR (an
error envelope or a failed subscription ack, with ``control_code``/``control_text``
from its error object). ``-1`` means a Python exception is set (``ParseError``
for a malformed frame).
"""
from libc.stdint cimport int64_t

from feedhandler.events.events cimport Event, EventPool
from feedhandler.kernel.event_decoder cimport EventDecoder
from feedhandler.sync.book_sync cimport BookSyncGroup


cdef class GateioDecoder(EventDecoder):
    # (books: spot.order_book_update, REST-synced)
    cdef readonly int market                 # 0 spot, 1 USDT futures (the channel names and result tables)
    cdef public BookSyncGroup obu_books      # spot.obu (full snapshot first, resubscribe on a gap)
    cdef public BookSyncGroup partial_books  # spot.order_book (every push is a whole top-N book)
    cdef public object on_obu_gap            # callable(pair: str, stream: str) or None
    cdef readonly set obu_resubscribe        # pairs whose obu stream must be resubscribed
    cdef dict _errors_by_kind
    cdef dict _obu_level                     # pair -> "50"/"400" (from the last obu snapshot)
    # rows: the checked trades, candles or private items of the frame being decoded, emitted once it passed
    cdef list _rows
    cdef int64_t _serial, _rows_serial      # the frame being decoded / the frame _rows belong to
    cdef object _item_error

    cdef int c_feed(self, const char* p, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int c_classify(self, const char* p, Py_ssize_t n) except -1
    cdef int _decode(self, const char* p, Py_ssize_t n, int64_t recv_ns, bint apply) except -1
    cdef int _fail(self, str kind, str message) except -1
    cdef int _scan_failed(self, const char* base, str where) except -1
    cdef int _control(self) except -1
    cdef bint _status_success(self) noexcept
    cdef str _symbol(self, int slot)
    cdef Event _new(self, EventPool pool, int slot, int64_t ts_ns, int64_t recv_ns)
    # each channel: check what the scan filled in, then apply/emit when asked
    cdef int _book(self, int kind, str ch, int64_t recv_ns, bint apply) except -1
    cdef int _ticker(self, int kind, str ch, int64_t ts_ns, int64_t recv_ns, bint apply) except -1
    # trades, candles and private items: checked into _rows while scanned, emitted once the frame passed
    cdef int _refuse(self, const char* base, str kind, str message) except -1
    cdef int _row(self, int kind, const char* base) except -1
    cdef int _trade_row(self, str ch, const char* base, int64_t recv_ns, bint apply) except -1
    cdef int _candle_row(self, str ch, const char* base) except -1
    cdef int _private_row(self, int kind, str ch) except -1
    cdef int _emit_rows(self, int kind, int64_t ts_ns, int64_t recv_ns) except -1
