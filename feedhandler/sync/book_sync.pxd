"""C-level header of the book synchronisation engine (``cimport feedhandler.sync.book_sync``).

One :class:`BookSync` per symbol keeps its :class:`OrderBook` exactly in step
with the exchange: deltas are buffered in a bounded, preallocated buffer
while the REST snapshot is fetched (WAITING), then checked for continuity
and applied (LIVE). A gap, a crossed book, a buffer overflow or a lost
connection makes the book invalid: the handler is told (``BookStatus``), the
book is not handed out again until it has been rebuilt from a new snapshot.

The continuity rule is a small :class:`SequenceRule` per exchange.
"""
from libc.stdint cimport int64_t, uint64_t

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport EventPool
from feedhandler.kernel.symbols cimport SymbolTable

cpdef enum SyncState:
    WAITING = 0   # no valid book: buffering deltas until a snapshot arrives
    LIVE = 1      # book valid: each delta is checked and applied
    SYNCING = 2   # snapshot loaded but ahead of the stream: not valid until a delta connects to it
    CLOSED = 3    # unsubscribed (or never subscribed): frames are counted and ignored, nothing is requested

cpdef enum LinkMode:
    LINK_CONTIGUOUS = 0   # next.first_id == previous.last_id + 1 (MEXC, Gate.io, Binance spot)
    LINK_PREVIOUS = 1     # next.prev_id == previous.last_id (Binance USD-M futures ``pu``)

cpdef enum DeltaVerdict:
    DELTA_APPLY = 0
    DELTA_SKIP = 1     # older than the book: already contained in it
    DELTA_GAP = 2      # updates were lost: resynchronise


cdef class BookSync


cdef class BookIntegrity:
    """An integrity check run after an update is applied (a checksum): 0 = the book agrees, 1 = mismatch."""
    cdef readonly str name
    cdef int verify(self, BookSync sync, int64_t expected) except -1


cdef class SequenceRule:
    cdef readonly str name
    cdef readonly int link
    cdef readonly int64_t bracket_offset
    cdef int first_after_snapshot(self, int64_t snapshot_id, int64_t first, int64_t last, int64_t prev) noexcept
    cdef int next_delta(self, int64_t local_id, int64_t first, int64_t last, int64_t prev) noexcept


cdef class BookSync:
    cdef readonly str exchange
    cdef readonly str symbol
    cdef readonly OrderBook book
    cdef readonly SequenceRule rule
    cdef readonly int state
    cdef readonly bint snapshot_requested
    cdef readonly str invalid_reason
    # counters
    cdef readonly int64_t applied, skipped, gaps, resyncs, crossed, buffer_overflows, stale_snapshots
    cdef readonly int64_t snapshots_loaded
    cdef readonly int64_t discard_resyncs     # invalidated because its updates were being discarded
    cdef readonly int64_t snapshots_ahead     # snapshots given up on: ahead of the stream for too long
    cdef readonly int64_t rejected_resyncs    # invalidated because frames on its connection were rejected
    cdef readonly int64_t ignored             # frames that reached it once CLOSED
    cdef readonly int64_t stale_reports
    cdef readonly int64_t last_update_ns      # monotonic ns of the last applied update (snapshot included)
    cdef readonly str final_error             # a snapshot error that will not be retried (e.g. HTTP 400)
    # bounds on updates being discarded (older than the book, or rejected frames), see set_discard_bounds
    cdef readonly int64_t max_discarded, max_discard_ns
    cdef int64_t _discarded, _discard_start_ns   # the current run of discarded updates
    cdef int64_t _rejected, _reject_start_ns     # the current run of rejected frames on its connection
    cdef bint _first_pending          # LIVE, but no delta applied since the snapshot
    cdef public bint profiling        # stamp parsed_ns/applied_ns on BookUpdate events
    cdef int64_t _parsed_ns
    cdef EventDispatcher _dispatcher
    cdef EventPool _updates, _statuses
    cdef object _request_snapshot     # callable(BookSync) or None
    # integrity hook: the decoder arms it (expect) with the value its frame claims before on_delta /
    # on_full_snapshot; checked once that update is applied. None: no check, no cost but one test.
    cdef public BookIntegrity integrity
    cdef int64_t _expected
    cdef bint _check_armed
    cdef readonly int64_t integrity_checks, integrity_failures
    # the bounded delta buffer
    cdef object _buf_px_arr, _buf_qty_arr, _buf_meta_arr
    cdef double* _buf_px
    cdef double* _buf_qty
    cdef int64_t* _buf_meta           # rows of META_COLS int64
    cdef readonly Py_ssize_t buffer_levels, buffer_deltas
    cdef readonly Py_ssize_t buffered_count
    cdef Py_ssize_t _buf_used

    cdef int on_delta(self, int64_t first, int64_t last, int64_t prev,
                      const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                      const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                      int64_t exchange_ts_ns, int64_t recv_ns) except -1
    # on_delta without its validation pass, for a caller that has already checked, for every level,
    # a finite price > 0 and a finite quantity >= 0, and last >= first (the MEXC decoder does, per
    # level while parsing). Anything else must call on_delta.
    cdef int on_delta_validated(self, int64_t first, int64_t last, int64_t prev,
                                const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                                const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                                int64_t exchange_ts_ns, int64_t recv_ns) except -1
    cdef int on_full_snapshot(self, int64_t update_id,
                              const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                              const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                              int64_t exchange_ts_ns, int64_t recv_ns) except -1
    cdef int c_load_snapshot(self, int64_t update_id,
                             const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                             const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                             int64_t recv_ns) except -1
    cdef int _load(self, int64_t update_id,
                   const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                   const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                   int64_t recv_ns, bint from_stream) except -1
    cdef int c_invalidate(self, str reason, bint request) except -1
    cdef void expect(self, int64_t value) noexcept
    cdef int _verify(self, bint armed) except -1
    cdef int c_close(self, str reason) except -1
    cdef int c_note_rejected(self, int64_t now_ns) except -1
    cdef int _on_syncing_delta(self, int64_t first, int64_t last, int64_t prev,
                               const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                               const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                               int64_t exchange_ts_ns, int64_t recv_ns, bint armed) except -1
    cdef int64_t _skip(self, int64_t now_ns) except -1
    cdef int64_t _bounded_run(self, int64_t* count, int64_t* start_ns, int64_t now_ns) noexcept
    cdef void _stamp(self, int64_t recv_ns) noexcept

    cdef int _apply(self, int64_t last,
                    const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                    const double* ask_px, const double* ask_qty, Py_ssize_t n_asks) except -1
    cdef int _buffer(self, int64_t first, int64_t last, int64_t prev,
                     const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                     const double* ask_px, const double* ask_qty, Py_ssize_t n_asks) except -1
    cdef int _replay_buffer(self) except -1
    cdef void _drop_buffer_before(self, Py_ssize_t k) noexcept
    cdef int _emit_update(self, int64_t first, int64_t last, bint is_snapshot,
                          int64_t exchange_ts_ns, int64_t recv_ns) except -1
    cdef int _emit_status(self, bint valid, str reason, int64_t recv_ns) except -1
    cdef int _request(self) except -1
    cdef int _rebuffer(self, int64_t first, int64_t last, int64_t prev,
                       const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                       const double* ask_px, const double* ask_qty, Py_ssize_t n_asks) except -1
    cdef int _applied(self, int64_t last, const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                      const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                      bint armed, int64_t recv_ns) except -1


cdef class BookSyncGroup:
    cdef readonly str exchange
    cdef readonly SequenceRule rule
    cdef readonly Py_ssize_t depth
    cdef dict _syncs                  # symbol -> BookSync
    cdef EventDispatcher _dispatcher
    cdef EventPool _updates, _statuses
    cdef public object request_snapshot
    cdef public BookIntegrity integrity   # given to every BookSync created (None: no check)
    cdef readonly bint profiling
    cdef Py_ssize_t _buffer_levels, _buffer_deltas
    # lookup by frame bytes without building a str: the symbol table shared with the decoder
    # (bytes -> id, no allocation on a hit), then id -> BookSync
    cdef readonly SymbolTable symbol_table
    cdef list _by_id                  # BookSync or None, indexed by symbol id

    cdef BookSync c_get(self, const char* symbol, Py_ssize_t n)
    # the BookSync if the symbol already has one, else None (creates nothing)
    cdef BookSync c_find(self, const char* symbol, Py_ssize_t n)
    # which symbols may have a book: None = any (no subscription known), else the subscribed names
    cdef object _subscribed           # set of str or None
    cdef BookSync _ignored            # the CLOSED sink returned for every name outside _subscribed
    cdef object _reported_arr         # uint64 hashes of the names already reported (bounded, open addressing)
    cdef uint64_t* _reported
    cdef readonly Py_ssize_t reported_names
    cdef readonly int64_t unknown_frames, late_frames
    cdef object _closed_names         # dict str -> None, the last unsubscribed names (bounded FIFO)
    cdef object _subscribed_hashes    # set of FNV-1a hashes of _subscribed (checked once the report table is full)
    cdef public object report_error   # callable(error) or None: one report per unknown name
    cdef int64_t _max_discarded, _max_discard_ns

    # keys "<SYMBOL><sep>..." (partial-depth books, "BTCUSDT@depth20"): the subscription rules apply to the
    # part before the separator; 0 = keys are symbols
    cdef readonly str key_separator
    cdef char _sep

    cdef Py_ssize_t _base_len(self, const char* symbol, Py_ssize_t n) noexcept
    cdef BookSync _outside(self, const char* symbol, Py_ssize_t n, Py_ssize_t nb, uint64_t h)
    cdef void _unreport(self, uint64_t h)
    cpdef BookSync get(self, str symbol)
