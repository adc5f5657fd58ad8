# cython: language_level=3
"""C-level header of the shared-memory book table and event rings (``cimport feedhandler.shm.table``).

A Cython consumer reads a slot or the next ring record with no syscall, no lock and no Python
object::

    from feedhandler.shm.table cimport ShmReader, RingRecord
    cdef RingRecord rec
    if reader.c_next(&rec) == 1: ...                          # 0: nothing new
    n = reader.c_read_book(slot, bids, asks, depth, &meta)    # -1: the writer kept it busy
"""
from libc.stdint cimport int64_t, uint32_t, uint64_t

from feedhandler.events.events cimport Event
from feedhandler.sinks.encoder cimport EventSink

cdef enum:
    RING_BOOK = 1        # a book update: a..d = best bid, bid qty, best ask, ask qty
    RING_STATUS = 2      # book validity: a = 1.0 valid / 0.0 invalid
    RING_TRADE = 3       # a = price, b = qty, c = side
    RING_BOOK_TICKER = 4 # a..d = bid, bid qty, ask, ask qty


cdef struct RingRecord:
    uint64_t seq         # 2 * (index + 1) once written; odd while being written
    uint32_t kind
    uint32_t slot        # the symbol's slot in the table
    int64_t update_id
    int64_t exchange_ts_ns
    int64_t recv_ns
    double a, b, c, d


cdef struct BookMeta:
    uint64_t seq
    int64_t last_update_id
    int64_t exchange_ts_ns
    int64_t recv_ns
    uint32_t n_bids
    uint32_t n_asks
    uint32_t valid
    uint32_t writer


cdef class ShmRegion:
    cdef object _mm
    cdef char* base
    cdef Py_ssize_t size
    cdef Py_buffer _view
    cdef bint _held


cdef class ShmTable:
    cdef readonly str name
    cdef readonly Py_ssize_t n_slots, depth, ring_slots, workers, slot_bytes
    cdef ShmRegion _table
    cdef list _rings
    cdef readonly dict slots           # "exchange:symbol" -> slot index
    cdef bint _owner
    cdef char* _slot(self, Py_ssize_t i) noexcept


cdef class ShmWriterSink(EventSink):
    cdef ShmTable _t
    cdef ShmRegion _ring
    cdef str exchange
    cdef dict _slot_of                 # symbol -> slot index
    cdef object _last_sym
    cdef Py_ssize_t _last_slot
    cdef readonly int64_t written, unknown
    cdef uint32_t _writer
    cdef Py_ssize_t _lookup(self, str symbol)
    cdef void _push(self, uint32_t kind, Py_ssize_t slot, Event ev, int64_t uid, double a, double b,
                    double c, double d) noexcept


cdef class ShmReader:
    cdef readonly ShmTable table
    cdef ShmRegion _ring
    cdef readonly uint64_t position    # next ring index to read
    cdef readonly int64_t overruns     # records lost because the reader fell a whole ring behind
    # 1: a record copied into ``out``; 0: nothing new. Never blocks.
    cdef int c_next(self, RingRecord* out) noexcept
    # levels per side copied (bids then asks into the two arrays, (px, qty) pairs), -1 if the
    # writer was mid-update on every try.
    cdef int c_read_book(self, Py_ssize_t slot, double* bids, double* asks, Py_ssize_t depth,
                         BookMeta* meta) noexcept
