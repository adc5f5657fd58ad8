# cython: language_level=3
"""C-level header of the event sinks (``cimport feedhandler.sinks.encoder``)."""
from libc.stdint cimport int64_t, uint64_t

from feedhandler.core.consumer cimport Consumer
from feedhandler.events.events cimport Event


cdef class EventSink(Consumer):
    """A consumer of normalized events: a compiled ``Consumer`` (override its ``on_*`` methods), called
    from C by :class:`SinkTap`. Events are valid only during the call: copy what you keep."""


cdef class SinkTap(Consumer):
    """The feed's handler: every event goes to each sink (C calls), then to the user's handler.

    A ``Consumer`` itself, so the feed's dispatcher reaches it with a C call: no Python call per
    event unless the user's handler is a Python callable."""
    cdef readonly tuple sinks
    cdef readonly object handler
    cdef Consumer _consumer     # the handler when it is a compiled Consumer (called from C), else None
    cdef Py_ssize_t _n
    cdef void** _sinks          # borrowed EventSink pointers, kept alive by ``sinks``


cdef class _Stream:
    cdef str subject
    cdef bytes exchange_b, symbol_b
    cdef bytearray buf          # the open batch, preallocated ``batch_bytes``
    cdef char* p
    cdef Py_ssize_t pos         # bytes used in ``buf``
    cdef Py_ssize_t body_start  # first record offset (after the message header)
    cdef int nrec               # records in the open batch
    cdef int64_t seq            # seq of the last record written
    # Book mirror: the levels the followers hold (best first), what the next delta is diffed against.
    cdef object mirror_arr      # float64 [4, depth]: bid px, bid qty, ask px, ask qty
    cdef double* m_px[2]
    cdef double* m_qty[2]
    cdef Py_ssize_t m_n[2]
    cdef bint primed            # followers can be in sync (a snapshot went out since the last loss)
    cdef int64_t last_snapshot_ns


cdef class BusEncoder(EventSink):
    cdef readonly str exchange
    cdef readonly str prefix
    cdef readonly Py_ssize_t depth
    cdef readonly int64_t snapshot_interval_ns
    cdef readonly Py_ssize_t batch_bytes
    cdef readonly Py_ssize_t max_pending_batches
    cdef readonly uint64_t session
    cdef readonly int64_t records, batches, snapshots, dropped_records, dropped_batches, unsupported
    cdef public object wake     # callable() run when the first record of a flush round is written
    cdef bint _woken
    cdef dict _streams          # symbol -> [book, trades, book_ticker, ticker, kline] (None until used)
    cdef list _ready            # sealed batches: (subject, bytes), at most max_pending_batches
    cdef list _dirty            # streams with an open, non-empty batch
    cdef object _last_sym       # the last event's symbol object, and its stream group
    cdef list _last_group

    cdef _Stream _stream(self, str symbol, int channel)
    cdef int _room(self, _Stream st, Py_ssize_t need) except -1
    cdef char* _record(self, _Stream st, int kind, int flags, int64_t seq, Event ev,
                       int64_t first_id, int64_t last_id) noexcept
    cdef void _end_record(self, _Stream st, Py_ssize_t size) noexcept
    cdef char* _put(self, _Stream st, int kind, int flags, Event ev, int64_t first_id, int64_t last_id,
                    Py_ssize_t body, str text) except NULL
    cdef int _seal(self, _Stream st) except -1
