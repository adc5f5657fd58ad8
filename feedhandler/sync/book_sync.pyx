"""Book synchronisation: snapshot + buffered deltas, continuity checks, resync on gaps.

State machine of one symbol::

    WAITING --snapshot loaded, buffer replayed, the stream has reached its id (or nothing buffered)--> LIVE
    WAITING --snapshot loaded, ahead of every buffered delta--> SYNCING (not valid)
    SYNCING --a delta connects to the snapshot--> LIVE
    SYNCING --a gap, or too many deltas older than the snapshot--> WAITING (another snapshot requested)
    LIVE --gap / crossed book / reconnect / updates discarded or rejected too long / stale--> WAITING
    WAITING --buffer overflow--> WAITING (buffer cleared; the next snapshot is checked against what follows)
    any --unsubscribed--> CLOSED (a final BookStatus; later frames are counted and ignored)

A book is valid (LIVE) only while it is provably current: a snapshot is usable once a delta connects to
it (or the stream has already reached its id), and a run of updates that are all discarded (older than
the book: ids restarted) or rejected (frames that failed to decode on its connection) turns it invalid
after ``max_discarded`` frames or ``max_discard_ns``, whichever comes first.

The snapshot itself is fetched by Python code (:mod:`feedhandler.sync.service`)
that ``request_snapshot`` hands the symbol to; everything per delta is C.
"""
cimport cython
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memchr, memcmp, memcpy, memmove
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.kernel.symbols cimport SymbolTable, fnv1a
from feedhandler.events.events cimport BookStatus, BookUpdate, EventPool, acquire_event

from feedhandler.events.events import BookStatus as _BookStatus, BookUpdate as _BookUpdate

DEF META_COLS = 6   # first, last, prev, n_bids, n_asks, offset (into the level arrays)
DEF _TOMBSTONE = 2          # a used report-table slot that matches no name (h | 1 == 3 is the only clash)
DEF _REPORTED_NAMES = 1024   # distinct names without a book that are reported (and remembered) at most


cdef class BookIntegrity:
    """An integrity check of a book after an update is applied (e.g. an exchange's checksum).

    The decoder arms the check with the value its frame claims (``BookSync.expect``) before handing
    the update to the ``BookSync``; once the update is applied, ``verify(sync, expected)`` runs on the
    book. A mismatch makes the book invalid with the reason ``"<name> mismatch at update N"`` and asks
    for recovery like a gap. A ``BookSync`` without a hook (``integrity is None``) pays one test.

    Parameters
    ----------
    name:
        What the check is (``"checksum"``), used in the invalid reason.
    """

    def __init__(self, str name="checksum"):
        self.name = name

    cdef int verify(self, BookSync sync, int64_t expected) except -1:
        """0 when ``sync.book`` agrees with ``expected``, 1 when it does not. Subclasses override."""
        raise NotImplementedError(f"{type(self).__name__} does not implement verify")

    def check(self, BookSync sync, int64_t expected):
        """Python view of :meth:`verify`: True when the book agrees with ``expected``."""
        return self.verify(sync, expected) == 0


cdef class CallbackIntegrity(BookIntegrity):
    """A :class:`BookIntegrity` written in Python: ``check(book, expected) -> bool`` (True: agrees).

    For pure-Python parsers and tests; a compiled decoder's check (OKX's CRC32) subclasses
    :class:`BookIntegrity` in Cython instead, so no Python call is made per update.
    """

    cdef object _check

    def __init__(self, str name, check):
        super().__init__(name)
        self._check = check

    cdef int verify(self, BookSync sync, int64_t expected) except -1:
        return 0 if self._check(sync.book, expected) else 1


cdef class SequenceRule:
    """How an exchange numbers its book updates.

    Parameters
    ----------
    name:
        For messages (``"binance-spot"``...).
    link:
        ``LINK_CONTIGUOUS``: a delta continues the book when its first id is
        the previous last id + 1. ``LINK_PREVIOUS``: when its ``prev`` id
        (Binance futures ``pu``) equals the previous last id.
    bracket_offset:
        The first delta after a snapshot with id ``S`` must contain ``S +
        bracket_offset``: 1 for the spot rules (``U <= S+1 <= u``), 0 for
        Binance futures (``U <= S <= u``).
    """

    def __init__(self, str name, int link=LINK_CONTIGUOUS, int64_t bracket_offset=1):
        if link not in (LINK_CONTIGUOUS, LINK_PREVIOUS):
            raise ValueError(f"link must be LINK_CONTIGUOUS or LINK_PREVIOUS, not {link}")
        self.name = name
        self.link = link
        self.bracket_offset = bracket_offset

    cdef int first_after_snapshot(self, int64_t snapshot_id, int64_t first, int64_t last, int64_t prev) noexcept:
        cdef int64_t target = snapshot_id + self.bracket_offset
        if last < target:
            return DELTA_SKIP
        if first <= target:
            return DELTA_APPLY
        return DELTA_GAP

    cdef int next_delta(self, int64_t local_id, int64_t first, int64_t last, int64_t prev) noexcept:
        if self.link == LINK_PREVIOUS:
            if prev == local_id:
                return DELTA_APPLY
        elif first == local_id + 1:
            return DELTA_APPLY
        if last <= local_id:
            return DELTA_SKIP
        return DELTA_GAP

    def check_first(self, int64_t snapshot_id, int64_t first, int64_t last, int64_t prev=0):
        """Python view of the first-delta rule: a ``DeltaVerdict``."""
        return DeltaVerdict(self.first_after_snapshot(snapshot_id, first, last, prev))

    def check_next(self, int64_t local_id, int64_t first, int64_t last, int64_t prev=0):
        """Python view of the continuity rule: a ``DeltaVerdict``."""
        return DeltaVerdict(self.next_delta(local_id, first, last, prev))

    def __repr__(self):
        mode = "contiguous" if self.link == LINK_CONTIGUOUS else "previous-link"
        return f"SequenceRule({self.name!r}, {mode}, bracket_offset={self.bracket_offset})"


cdef inline int64_t _monotonic_ns() noexcept nogil:
    # the clock of time.monotonic_ns(), so stamps compare with the transport's recv_ns
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline bint _levels_valid(const double* px, const double* qty, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        if not (isfinite(px[i]) and px[i] > 0.0 and isfinite(qty[i]) and qty[i] >= 0.0):
            return False
    return True


cdef class BookSync:
    """Keeps one symbol's order book in sync with the exchange.

    Parameters
    ----------
    exchange, symbol:
        Names carried by the events.
    book:
        The book to maintain (``BookSyncGroup`` creates one per symbol).
    rule:
        The exchange's :class:`SequenceRule`.
    dispatcher:
        Where ``BookUpdate``/``BookStatus`` events go (None: nowhere).
    request_snapshot:
        ``callable(BookSync)`` asked (once per need) to fetch a snapshot and
        call :meth:`load_snapshot`.
    buffer_levels, buffer_deltas:
        Bounds of the preallocated delta buffer used while waiting for a
        snapshot; overflowing it clears it and counts a ``buffer_overflow``.
    """

    def __init__(self, str exchange, str symbol, OrderBook book, SequenceRule rule,
                 EventDispatcher dispatcher=None, request_snapshot=None,
                 Py_ssize_t buffer_levels=65536, Py_ssize_t buffer_deltas=4096,
                 EventPool updates=None, EventPool statuses=None):
        if buffer_levels < 1 or buffer_deltas < 1:
            raise ValueError("buffer_levels and buffer_deltas must be positive")
        self.exchange, self.symbol, self.book, self.rule = exchange, symbol, book, rule
        self.state = WAITING
        self.invalid_reason = "not synced yet"
        self._dispatcher, self._request_snapshot = dispatcher, request_snapshot
        self._updates = updates if updates is not None else EventPool(_BookUpdate, 64)
        self._statuses = statuses if statuses is not None else EventPool(_BookStatus, 16)
        self.buffer_levels = buffer_levels
        self.buffer_deltas = buffer_deltas
        self._buf_px_arr = np.zeros(buffer_levels, dtype=np.float64)
        self._buf_qty_arr = np.zeros(buffer_levels, dtype=np.float64)
        self._buf_meta_arr = np.zeros(buffer_deltas * META_COLS, dtype=np.int64)
        cdef double[::1] px = self._buf_px_arr
        cdef double[::1] qty = self._buf_qty_arr
        cdef int64_t[::1] meta = self._buf_meta_arr
        self._buf_px = &px[0]
        self._buf_qty = &qty[0]
        self._buf_meta = &meta[0]
        self.buffered_count = 0
        self._buf_used = 0
        self.max_discarded = 100
        self.max_discard_ns = 2000000000

    # ---- hot path ---------------------------------------------------------------------
    cdef int on_delta(self, int64_t first, int64_t last, int64_t prev,
                      const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                      const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                      int64_t exchange_ts_ns, int64_t recv_ns) except -1:
        """One incremental update (absolute quantities). Validated before anything changes."""
        if self.state != CLOSED and (last < first or not _levels_valid(bid_px, bid_qty, n_bids)
                                     or not _levels_valid(ask_px, ask_qty, n_asks)):
            self._check_armed = False
            raise ValueError(f"{self.exchange} {self.symbol}: invalid delta (ids {first}..{last}, "
                             "non-finite/non-positive price or negative quantity); not applied")
        return self.on_delta_validated(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks,
                                       exchange_ts_ns, recv_ns)

    cdef int on_delta_validated(self, int64_t first, int64_t last, int64_t prev,
                                const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                                const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                                int64_t exchange_ts_ns, int64_t recv_ns) except -1:
        """``on_delta`` for a decoder that has already checked every level and ``last >= first``."""
        cdef int verdict
        cdef int64_t n
        cdef bint armed = self._check_armed   # the integrity value belongs to this update only
        if self.state == CLOSED:
            self.ignored += 1
            return 0
        if self.profiling:
            self._parsed_ns = _monotonic_ns()
        self._check_armed = False
        if self.state == WAITING:
            self._buffer(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks)
            if not self.snapshot_requested:
                self._request()
            return 0
        if self.state == SYNCING:
            return self._on_syncing_delta(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks,
                                          exchange_ts_ns, recv_ns, armed)
        if self._first_pending:
            verdict = self.rule.first_after_snapshot(self.book.last_update_id, first, last, prev)
        else:
            verdict = self.rule.next_delta(self.book.last_update_id, first, last, prev)
        if verdict == DELTA_SKIP:
            n = self._skip(recv_ns)
            if n == 0:
                return 0
            # every update is older than the book (ids restarted?): the book cannot be proven current
            self.discard_resyncs += 1
            self.c_invalidate(f"updates discarded: {n} in a row at or below the book's update "
                              f"{self.book.last_update_id} (newest {first}..{last}; ids restarted?)", False)
            return self._rebuffer(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks)
        if verdict == DELTA_GAP:
            self.gaps += 1
            self.c_invalidate(f"gap: expected update {self.book.last_update_id + 1}, got {first}..{last}", False)
            return self._rebuffer(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks)
        if not self._applied(last, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks, armed, recv_ns):
            return 0
        return self._emit_update(first, last, False, exchange_ts_ns, recv_ns)

    cdef int _on_syncing_delta(self, int64_t first, int64_t last, int64_t prev,
                               const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                               const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                               int64_t exchange_ts_ns, int64_t recv_ns, bint armed) except -1:
        """A delta while the loaded snapshot is ahead of the stream: only one that connects makes the book valid."""
        cdef int64_t snapshot_id = self.book.last_update_id, n
        cdef int verdict = self.rule.first_after_snapshot(snapshot_id, first, last, prev)
        if verdict == DELTA_SKIP:
            n = self._skip(recv_ns)
            if n == 0:
                return 0
            # the exchange's stream has not reached this snapshot for too long: give up on it
            self.snapshots_ahead += 1
            self.state = WAITING
            self.invalid_reason = (f"snapshot {snapshot_id} ahead of the stream: {n} updates older than it "
                                   f"(newest {first}..{last}); fetching another")
            return self._rebuffer(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks)
        if verdict == DELTA_GAP:
            # the snapshot is older than this delta: updates between them are lost, fetch a newer one
            self.stale_snapshots += 1
            self._discarded = 0
            self.state = WAITING
            self.invalid_reason = f"snapshot {snapshot_id} older than update {first}..{last}"
            return self._rebuffer(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks)
        if not self._applied(last, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks, armed, recv_ns):
            return 0  # crossed or failed its integrity check: invalidated (never reported valid)
        self.state = LIVE
        self.invalid_reason = None
        self._emit_status(True, "synced", recv_ns)
        # the whole book changed since the last event the handler saw: a snapshot-type update
        return self._emit_update(snapshot_id, last, True, exchange_ts_ns, recv_ns)

    cdef int _rebuffer(self, int64_t first, int64_t last, int64_t prev,
                       const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                       const double* ask_px, const double* ask_qty, Py_ssize_t n_asks) except -1:
        """Keep this delta for the next snapshot and ask for one (the book is not current)."""
        self._buffer(first, last, prev, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks)
        self._request()
        return 0

    cdef int _applied(self, int64_t last, const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                      const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                      bint armed, int64_t recv_ns) except -1:
        """Apply a delta that connects; 0 when it left the book invalid (crossed: a snapshot requested;
        or its integrity value disagreed), 1 when the book is current."""
        self._discarded = 0
        self._rejected = 0
        self._first_pending = False
        if self._apply(last, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks) < 0:
            return 0
        if armed and self._verify(True):
            return 0
        self._stamp(recv_ns)
        return 1

    cdef int64_t _skip(self, int64_t now_ns) except -1:
        """Count one skipped (discarded) update; once the run of them reached its bound, end the run and
        return its length, else 0."""
        cdef int64_t n = self._bounded_run(&self._discarded, &self._discard_start_ns, now_ns)
        self.skipped += 1
        if n:
            self._discarded = 0
        return n

    cdef int64_t _bounded_run(self, int64_t* count, int64_t* start_ns, int64_t now_ns) noexcept:
        """One more in a run (``count`` of them since ``start_ns``): its length once it reached the bound
        (``max_discarded`` of them, or ``max_discard_ns`` since its first), else 0."""
        if now_ns <= 0:
            now_ns = _monotonic_ns()
        if count[0] == 0:
            start_ns[0] = now_ns
        count[0] += 1
        if count[0] < self.max_discarded and (self.max_discard_ns <= 0 or now_ns - start_ns[0] < self.max_discard_ns):
            return 0
        return count[0]

    cdef void _stamp(self, int64_t recv_ns) noexcept:
        # the transport's recv_ns is time.monotonic_ns(); pure-Python callers pass 0
        self.last_update_ns = recv_ns if recv_ns > 0 else _monotonic_ns()

    cdef int on_full_snapshot(self, int64_t update_id,
                              const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                              const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                              int64_t exchange_ts_ns, int64_t recv_ns) except -1:
        """A complete book pushed on the stream (Gate.io ``full: true``): replaces the book, book is LIVE."""
        if self.state == CLOSED:
            self.ignored += 1
            return 0
        if not _levels_valid(bid_px, bid_qty, n_bids) or not _levels_valid(ask_px, ask_qty, n_asks):
            self._check_armed = False
            raise ValueError(f"{self.exchange} {self.symbol}: invalid snapshot levels; not applied")
        self._load(update_id, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks, recv_ns, True)
        return 0

    cdef int _apply(self, int64_t last,
                    const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                    const double* ask_px, const double* ask_qty, Py_ssize_t n_asks) except -1:
        """Apply both sides; returns -2 (not an error) when the result is crossed and the book was invalidated."""
        # Every level was validated once by on_delta (buffered deltas too, before
        # buffering), so the book's trusted entry skips a second validation pass.
        self.book.c_apply_levels_trusted(0, bid_px, bid_qty, n_bids)
        self.book.c_apply_levels_trusted(1, ask_px, ask_qty, n_asks)
        self.book.last_update_id = last
        self.applied += 1
        if self.book.c_is_crossed():
            self.crossed += 1
            self.c_invalidate(f"crossed book at update {last}", True)
            return -2
        return 0

    # ---- buffer -----------------------------------------------------------------------
    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int _buffer(self, int64_t first, int64_t last, int64_t prev,
                     const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                     const double* ask_px, const double* ask_qty, Py_ssize_t n_asks) except -1:
        # Bounds: a row is written only when buffered_count < buffer_deltas, and levels only when
        # _buf_used + n_bids + n_asks <= buffer_levels; otherwise the buffer is cleared first.
        cdef Py_ssize_t n = n_bids + n_asks
        cdef int64_t* row
        if self.buffered_count >= self.buffer_deltas or self._buf_used + n > self.buffer_levels:
            self.buffer_overflows += 1
            self.buffered_count = 0
            self._buf_used = 0
            if n > self.buffer_levels:
                return 0  # a single delta larger than the whole buffer: the next snapshot must cover it
        row = self._buf_meta + self.buffered_count * META_COLS
        row[0] = first
        row[1] = last
        row[2] = prev
        row[3] = n_bids
        row[4] = n_asks
        row[5] = self._buf_used
        if n_bids:
            memcpy(self._buf_px + self._buf_used, bid_px, n_bids * sizeof(double))
            memcpy(self._buf_qty + self._buf_used, bid_qty, n_bids * sizeof(double))
        if n_asks:
            memcpy(self._buf_px + self._buf_used + n_bids, ask_px, n_asks * sizeof(double))
            memcpy(self._buf_qty + self._buf_used + n_bids, ask_qty, n_asks * sizeof(double))
        self._buf_used += n
        self.buffered_count += 1
        return 0

    cdef void _drop_buffer_before(self, Py_ssize_t k) noexcept:
        """Forget buffered deltas [0, k), keeping the rest in order."""
        cdef Py_ssize_t i, shift
        if k <= 0:
            return
        if k >= self.buffered_count:
            self.buffered_count = 0
            self._buf_used = 0
            return
        shift = self._buf_meta[k * META_COLS + 5]
        memmove(self._buf_meta, self._buf_meta + k * META_COLS, (self.buffered_count - k) * META_COLS * sizeof(int64_t))
        self.buffered_count -= k
        memmove(self._buf_px, self._buf_px + shift, (self._buf_used - shift) * sizeof(double))
        memmove(self._buf_qty, self._buf_qty + shift, (self._buf_used - shift) * sizeof(double))
        self._buf_used -= shift
        for i in range(self.buffered_count):
            self._buf_meta[i * META_COLS + 5] -= shift

    # ---- snapshot ---------------------------------------------------------------------
    cdef int c_load_snapshot(self, int64_t update_id,
                             const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                             const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                             int64_t recv_ns) except -1:
        """A REST snapshot: valid once a delta connects to it (or the stream has already reached its id)."""
        return self._load(update_id, bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks, recv_ns, False)

    cdef int _load(self, int64_t update_id,
                   const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                   const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                   int64_t recv_ns, bint from_stream) except -1:
        cdef bint was_live = self.state == LIVE
        cdef bint armed = self._check_armed
        # Nothing buffered (the request came from a crossed book, or a direct load): nothing shows the
        # snapshot ahead of the stream; its first delta is still checked with the bracket rule, and a run
        # of deltas older than it is bounded like any discarded run.
        cdef bint reached = from_stream or self.buffered_count == 0
        cdef Py_ssize_t i
        self._check_armed = False
        self.snapshot_requested = False
        if self.state == CLOSED:
            return 0  # a late answer for an unsubscribed symbol: nothing is resurrected
        # the stream has reached the snapshot's id when a buffered delta ends at or after it
        i = 0
        while not reached and i < self.buffered_count:
            reached = self._buf_meta[i * META_COLS + 1] >= update_id
            i += 1
        self.book.c_load_snapshot(bid_px, bid_qty, n_bids, ask_px, ask_qty, n_asks, update_id)
        self.snapshots_loaded += 1
        if armed and self._verify(True):   # the snapshot itself, before any buffered delta changes it
            return 0
        self._stamp(recv_ns)
        self.state = LIVE
        self._first_pending = True
        self._discarded = 0
        self._rejected = 0
        if self._replay_buffer() != 0:
            return 0  # not live: a newer snapshot was requested
        if self._first_pending and not reached:
            # ahead of everything the stream has shown: an id the exchange may never have published
            self.state = SYNCING
            self.invalid_reason = f"snapshot {update_id} ahead of the stream: waiting for an update that connects to it"
            if self.book.c_is_crossed():
                self.crossed += 1
                self.c_invalidate(f"crossed book after snapshot {update_id}", True)
            return 0
        if self.book.c_is_crossed():
            self.crossed += 1
            self.c_invalidate(f"crossed book after snapshot {update_id}", True)
            return 0
        self.invalid_reason = None
        if not was_live:
            self._emit_status(True, "synced", recv_ns)
        self._emit_update(update_id, self.book.last_update_id, True, 0, recv_ns)
        return 0

    cdef int _replay_buffer(self) except -1:
        """Apply buffered deltas on the freshly loaded snapshot. Returns 1 when not live after it."""
        cdef Py_ssize_t i, k, nb
        cdef int64_t* row
        cdef int verdict
        cdef int64_t snapshot_id = self.book.last_update_id
        i = 0
        while i < self.buffered_count:
            row = self._buf_meta + i * META_COLS
            if self._first_pending:
                verdict = self.rule.first_after_snapshot(self.book.last_update_id, row[0], row[1], row[2])
            else:
                verdict = self.rule.next_delta(self.book.last_update_id, row[0], row[1], row[2])
            if verdict == DELTA_SKIP:
                i += 1
                continue
            if verdict == DELTA_GAP:
                if self._first_pending:
                    # the snapshot is older than the buffered stream: fetch a newer one
                    self.stale_snapshots += 1
                    reason = f"snapshot {snapshot_id} older than buffered update {row[0]}"
                else:
                    # updates were lost while buffering: keep what follows the gap, resync from there
                    self.gaps += 1
                    reason = f"gap in buffered updates at {row[0]}"
                self._drop_buffer_before(i)
                self.state = WAITING
                self.invalid_reason = reason
                self._request()
                return 1
            nb = row[3]
            self._first_pending = False
            if self._apply(row[1], self._buf_px + row[5], self._buf_qty + row[5], nb,
                           self._buf_px + row[5] + nb, self._buf_qty + row[5] + nb, row[4]) < 0:
                return 1
            i += 1
        self.buffered_count = 0
        self._buf_used = 0
        return 0

    cdef int c_invalidate(self, str reason, bint request) except -1:
        cdef bint was_live = self.state == LIVE
        if self.state == CLOSED:
            return 0
        self._discarded = 0
        self._rejected = 0
        self.state = WAITING
        self.invalid_reason = reason
        self.buffered_count = 0
        self._buf_used = 0
        self._first_pending = False
        if was_live:
            self.resyncs += 1
            self._emit_status(False, reason, 0)
        if request:
            self._request()
        return 0

    cdef void expect(self, int64_t value) noexcept:
        """Arm the integrity hook for the next update handed over (its frame claims ``value``)."""
        self._expected = value
        self._check_armed = True

    cdef int _verify(self, bint armed) except -1:
        """Run the integrity hook on the book just updated; 1 when it disagreed (the book is invalid now)."""
        if not armed or self.integrity is None:
            return 0
        self.integrity_checks += 1
        if self.integrity.verify(self, self._expected) == 0:
            return 0
        self.integrity_failures += 1
        self.c_invalidate(f"{self.integrity.name} mismatch at update {self.book.last_update_id}", True)
        return 1
    cdef int c_close(self, str reason) except -1:
        """Unsubscribed: a final BookStatus(valid=False), then every later frame is counted and ignored."""
        if self.state == CLOSED:
            return 0
        self.state = CLOSED
        self.invalid_reason = reason
        self.buffered_count = 0
        self._buf_used = 0
        self._first_pending = False
        self._emit_status(False, reason, 0)
        return 0

    cdef int c_note_rejected(self, int64_t now_ns) except -1:
        """A frame on this book's connection was rejected: after a bounded run with no update, invalid."""
        cdef int64_t n
        if self.state != LIVE:
            return 0
        n = self._bounded_run(&self._rejected, &self._reject_start_ns, now_ns)
        if n == 0:
            return 0
        self.rejected_resyncs += 1
        # a rejected frame may have been one of this book's updates: it can no longer be proven current.
        # No snapshot yet: while frames are rejected there is nothing to sync it with; the next accepted
        # delta is buffered and asks for one.
        self.c_invalidate(f"updates rejected: {n} frames on its connection failed to decode since its last update "
                          f"{self.book.last_update_id}", False)
        return 0

    cdef int _request(self) except -1:
        if self.state == CLOSED or self.final_error is not None:
            return 0
        if self.snapshot_requested:
            return 0
        self.snapshot_requested = True
        if self._request_snapshot is not None:
            self._request_snapshot(self)
        return 0

    # ---- events -----------------------------------------------------------------------
    cdef int _emit_update(self, int64_t first, int64_t last, bint is_snapshot,
                          int64_t exchange_ts_ns, int64_t recv_ns) except -1:
        cdef BookUpdate ev
        if self._dispatcher is None:
            return 0
        ev = <BookUpdate>acquire_event(self._updates, self.exchange, self.symbol, exchange_ts_ns, recv_ns)
        ev.book, ev.first_update_id, ev.last_update_id, ev.is_snapshot = self.book, first, last, is_snapshot
        if self.profiling and not is_snapshot:  # a snapshot's load is not a delta's parse -> apply
            ev.parsed_ns = self._parsed_ns
            ev.applied_ns = _monotonic_ns()
        else:
            ev.parsed_ns = 0
            ev.applied_ns = 0
        return self._dispatcher.emit(ev)

    cdef int _emit_status(self, bint valid, str reason, int64_t recv_ns) except -1:
        cdef BookStatus ev
        if self._dispatcher is None:
            return 0
        ev = <BookStatus>acquire_event(self._statuses, self.exchange, self.symbol, 0, recv_ns)
        ev.valid, ev.reason, ev.update_id = valid, reason, self.book.last_update_id
        return self._dispatcher.emit(ev)

    # ---- Python API -------------------------------------------------------------------
    def load_snapshot(self, int64_t update_id, bids, asks, int64_t recv_ns=0):
        """Load a REST snapshot (``(n, 2)`` price/qty arrays or pair sequences) and replay the buffer.

        Returns True when the snapshot was taken: the book is LIVE, or SYNCING (ahead of the
        buffered stream: not valid until a delta connects to it); False when it could not
        be used (too old, or a gap follows it) and another was requested.
        """
        if self.state == LIVE:
            # a late answer to an earlier request: the book is already in step, an older state must not replace it
            self.snapshot_requested = False
            return True
        if self.state == CLOSED:
            return False
        return _with_levels(self, _OP_SNAPSHOT, update_id, 0, 0, bids, asks, 0, recv_ns)

    def apply_delta(self, int64_t first, int64_t last, bids, asks, int64_t prev=0,
                    int64_t exchange_ts_ns=0, int64_t recv_ns=0):
        """Python entry to the delta path (tests, pure-Python parsers): ``bids``/``asks`` as ``(n, 2)``."""
        _with_levels(self, _OP_DELTA, first, last, prev, bids, asks, exchange_ts_ns, recv_ns)

    def apply_full_snapshot(self, int64_t update_id, bids, asks, int64_t exchange_ts_ns=0, int64_t recv_ns=0):
        """Python entry to :meth:`on_full_snapshot` (a snapshot pushed on the stream)."""
        _with_levels(self, _OP_FULL, update_id, 0, 0, bids, asks, exchange_ts_ns, recv_ns)

    def expect_integrity(self, int64_t value):
        """Python entry to :meth:`expect`: the next update handed over claims ``value`` (tests)."""
        self.expect(value)

    def invalidate(self, str reason, bint request=False):
        """Mark the book invalid (e.g. the connection dropped); optionally request a snapshot now."""
        self.c_invalidate(reason, request)

    def snapshot_failed(self):
        """The snapshot fetch failed: allow the next delta to request again."""
        self.snapshot_requested = False

    def snapshot_refused(self, str error):
        """The exchange refused the snapshot for good (e.g. HTTP 400 "Invalid symbol"): never request again."""
        self.final_error = error
        self.snapshot_requested = False
        if self.state != CLOSED:
            self.c_invalidate(f"snapshot refused: {error}", False)
            self.invalid_reason = f"snapshot refused: {error}"

    def close(self, str reason="unsubscribed"):
        """Close the book for good (unsubscribed): a final ``BookStatus(valid=False, reason)``."""
        self.c_close(reason)

    def note_rejected(self, int64_t now_ns=0):
        """Python entry to :meth:`c_note_rejected` (a frame on this book's connection failed to decode)."""
        self.c_note_rejected(now_ns)

    def set_discard_bounds(self, int64_t frames, double seconds):
        """A run of ``frames`` discarded/rejected updates, or ``seconds`` of them, makes the book invalid."""
        if frames < 1 or not seconds >= 0.0:
            raise ValueError("frames must be >= 1 and seconds >= 0")
        self.max_discarded = frames
        self.max_discard_ns = <int64_t>(seconds * 1e9)

    def check_stale(self, int64_t stale_ns, int64_t now_ns=0):
        """``BookStatus(valid=False, reason="stale")`` if LIVE with no update for ``stale_ns``; True if so."""
        if now_ns <= 0:
            now_ns = _monotonic_ns()
        if self.state != LIVE or stale_ns <= 0 or now_ns - self.last_update_ns <= stale_ns:
            return False
        self.stale_reports += 1
        self.c_invalidate("stale", False)
        return True

    @property
    def is_valid(self):
        """True while the book is LIVE (in step with the exchange)."""
        return self.state == LIVE

    def stats(self):
        """Counters as a dict."""
        return {
            "state": SyncState(self.state).name, "applied": self.applied, "skipped": self.skipped,
            "gaps": self.gaps, "resyncs": self.resyncs, "crossed": self.crossed,
            "buffer_overflows": self.buffer_overflows, "stale_snapshots": self.stale_snapshots,
            "snapshots_loaded": self.snapshots_loaded, "buffered": self.buffered_count,
            "last_update_id": self.book.last_update_id,
            "integrity_checks": self.integrity_checks, "integrity_failures": self.integrity_failures,
            "discard_resyncs": self.discard_resyncs, "snapshots_ahead": self.snapshots_ahead,
            "rejected_resyncs": self.rejected_resyncs, "stale_reports": self.stale_reports,
            "ignored": self.ignored, "final_error": self.final_error, "invalid_reason": self.invalid_reason,
        }

    def __repr__(self):
        return (f"BookSync({self.exchange!r}, {self.symbol!r}, state={SyncState(self.state).name}, "
                f"last_update_id={self.book.last_update_id}, buffered={self.buffered_count})")


cdef enum:
    _OP_SNAPSHOT = 0
    _OP_DELTA = 1
    _OP_FULL = 2


cdef object _column(double[:, ::1] levels, int k):
    # a contiguous copy of one column; a dummy element keeps &view[0] valid for empty sides
    return np.ascontiguousarray(levels[:, k]) if levels.shape[0] else np.zeros(1)


cdef object _with_levels(BookSync sync, int op, int64_t a, int64_t b, int64_t prev, bids, asks,
                         int64_t exchange_ts_ns, int64_t recv_ns):
    """The Python entry points' shared part: ``(n, 2)`` level arrays -> the C entry ``op``."""
    cdef double[:, ::1] bl = np.ascontiguousarray(np.asarray(bids, dtype=np.float64).reshape(-1, 2))
    cdef double[:, ::1] al = np.ascontiguousarray(np.asarray(asks, dtype=np.float64).reshape(-1, 2))
    cdef double[::1] bp = _column(bl, 0)
    cdef double[::1] bq = _column(bl, 1)
    cdef double[::1] ap = _column(al, 0)
    cdef double[::1] aq = _column(al, 1)
    cdef Py_ssize_t nb = bl.shape[0], na = al.shape[0]
    if op == _OP_DELTA:
        sync.on_delta(a, b, prev, &bp[0], &bq[0], nb, &ap[0], &aq[0], na, exchange_ts_ns, recv_ns)
        return None
    if op == _OP_FULL:
        sync.on_full_snapshot(a, &bp[0], &bq[0], nb, &ap[0], &aq[0], na, exchange_ts_ns, recv_ns)
        return None
    if not _levels_valid(&bp[0], &bq[0], nb) or not _levels_valid(&ap[0], &aq[0], na):
        sync.snapshot_requested = False
        raise ValueError(f"{sync.exchange} {sync.symbol}: snapshot has invalid levels; not loaded")
    sync.c_load_snapshot(a, &bp[0], &bq[0], nb, &ap[0], &aq[0], na, recv_ns)
    return sync.state == LIVE or sync.state == SYNCING


cdef class BookSyncGroup:
    """The :class:`BookSync` of every symbol of one parser, created on first use.

    Parameters
    ----------
    exchange:
        Exchange name carried by events.
    rule:
        The exchange's :class:`SequenceRule`.
    dispatcher:
        Event sink shared with the parser.
    depth:
        Book capacity (levels per side).
    request_snapshot:
        ``callable(BookSync)``; set later by the snapshot service.
    integrity:
        A :class:`BookIntegrity` given to every book of the group (e.g. OKX's checksum).
    symbol_table:
        The :class:`~feedhandler.kernel.symbols.SymbolTable` shared with the decoder (frame bytes
        -> id without allocation); a new one if None.
    key_separator:
        For books keyed ``"<SYMBOL><sep>..."`` (partial-depth books, ``"BTCUSDT@depth20"``): one ASCII
        character; the subscription rules below then apply to the part of a key before it (the
        symbol), so unsubscribing ``BTCUSDT`` closes every book of ``BTCUSDT``. None: keys are symbols.

    Once told its subscribed symbols (:meth:`subscribe`), the group creates books for those only:
    a frame for any other name gets a shared CLOSED sink (no book, no buffer, no snapshot request),
    costs one hash probe, is counted (``unknown_frames``, or ``late_frames`` after :meth:`close`)
    and is reported once per name through ``report_error`` (at most ``REPORTED_NAMES`` names; the
    table is fixed-size, so a server sending endless distinct names cannot grow memory).
    """

    REPORTED_NAMES = _REPORTED_NAMES

    def __init__(self, str exchange, SequenceRule rule, EventDispatcher dispatcher=None,
                 Py_ssize_t depth=1000, request_snapshot=None,
                 Py_ssize_t buffer_levels=65536, Py_ssize_t buffer_deltas=4096, BookIntegrity integrity=None,
                 SymbolTable symbol_table=None, str key_separator=None):
        if key_separator is not None and (len(key_separator) != 1 or ord(key_separator) > 127):
            raise ValueError("key_separator must be one ASCII character")
        self.key_separator = key_separator
        self._sep = 0 if key_separator is None else <char>ord(key_separator)
        self.exchange = exchange
        self.rule = rule
        self.depth = depth
        self._syncs = {}
        self._dispatcher = dispatcher
        self._updates = EventPool(_BookUpdate, 256)
        self._statuses = EventPool(_BookStatus, 64)
        self.request_snapshot = request_snapshot
        self.integrity = integrity
        self._buffer_levels = buffer_levels
        self._buffer_deltas = buffer_deltas
        self.profiling = False
        self.symbol_table = symbol_table if symbol_table is not None else SymbolTable()
        self._by_id = []
        self._subscribed = None
        self._ignored = BookSync(exchange, "", OrderBook("", 1), rule, None, None, 1, 1)
        self._ignored.state = CLOSED
        self._reported_arr = np.zeros(2 * _REPORTED_NAMES, dtype=np.uint64)
        cdef uint64_t[::1] rep = self._reported_arr
        self._reported = &rep[0]
        self.reported_names = 0
        self._closed_names = {}
        self._subscribed_hashes = set()
        self.report_error = None
        self._max_discarded = 100
        self._max_discard_ns = 2000000000

    def set_depth(self, Py_ssize_t depth):
        """Capacity (levels per side) of the books created from now on; existing books keep theirs."""
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth

    def set_profiling(self, bint enabled):
        """Stamp ``parsed_ns``/``applied_ns`` on BookUpdate events (two clock reads per delta)."""
        self.profiling = enabled
        for sync in self._syncs.values():
            (<BookSync>sync).profiling = enabled

    cdef BookSync c_find(self, const char* symbol, Py_ssize_t n):
        """The BookSync of a symbol given as frame bytes, None if it has none; no allocation."""
        cdef Py_ssize_t sid = self.symbol_table.c_find(symbol, n)
        if sid < 0 or sid >= len(self._by_id):
            return None
        return <BookSync>self._by_id[sid]

    cdef BookSync c_get(self, const char* symbol, Py_ssize_t n):
        """The BookSync for a symbol given as frame bytes; no allocation once the symbol is known."""
        cdef BookSync sync = self.c_find(symbol, n)
        if sync is not None:
            return sync
        cdef Py_ssize_t nb
        if self._subscribed is not None or self._closed_names:
            nb = self._base_len(symbol, n)
            return self._outside(symbol, n, nb, fnv1a(symbol, nb))
        # first sight of this symbol: the only path that builds a str
        return self.get(self.symbol_table.c_intern(symbol, n))

    cdef Py_ssize_t _base_len(self, const char* symbol, Py_ssize_t n) noexcept:
        """Length of the symbol part of a key (all of it without a key separator)."""
        cdef const char* at
        if self._sep == 0 or n <= 0:
            return n
        at = <const char*>memchr(symbol, self._sep, <size_t>n)
        return n if at == NULL else <Py_ssize_t>(at - symbol)

    cdef BookSync _outside(self, const char* symbol, Py_ssize_t n, Py_ssize_t nb, uint64_t h):
        """A key with no book: the CLOSED sink if its symbol (the first ``nb`` bytes, hash ``h``) is not
        subscribed (counted, reported once per symbol), else its new book."""
        cdef Py_ssize_t slot, size = 2 * _REPORTED_NAMES
        # a used slot holds the symbol's hash with bit 0 = 1 for unknown, 0 for late (never 0 = empty in
        # practice: a hash of 0 or 1 seen late would only be counted as unknown)
        cdef uint64_t key = h | 1
        cdef str name, base
        slot = <Py_ssize_t>(key % <uint64_t>size)
        # Bound: slot < size = len(_reported_arr); at most REPORTED_NAMES of size slots are used, so an
        # empty slot ends every probe.
        while self._reported[slot] != 0:
            if (self._reported[slot] | 1) == key:
                if self._reported[slot] & 1:
                    self.unknown_frames += 1
                else:
                    self.late_frames += 1
                return self._ignored
            slot = (slot + 1) % size
        if self.reported_names >= _REPORTED_NAMES:
            # the report table is full: a subscribed name (by hash: no str) still gets its book,
            # any other is counted, not reported
            if self._subscribed is None or h in self._subscribed_hashes:
                name = symbol[:n].decode("utf-8", "replace")
                base = name if nb == n else symbol[:nb].decode("utf-8", "replace")
                if base not in self._closed_names and (self._subscribed is None or base in self._subscribed):
                    return self.get(name)
            self.unknown_frames += 1
            return self._ignored
        name = symbol[:n].decode("utf-8", "replace")
        base = name if nb == n else symbol[:nb].decode("utf-8", "replace")
        if base in self._closed_names:
            self._reported[slot] = key & ~(<uint64_t>1)
            self.reported_names += 1
            self.late_frames += 1
            return self._ignored
        if self._subscribed is None or base in self._subscribed:
            return self.get(name)
        self._reported[slot] = key
        self.reported_names += 1
        self.unknown_frames += 1
        self._report_unknown(name)
        return self._ignored

    cdef void _unreport(self, uint64_t h):
        """A name subscribed (again): its report-table slot becomes a tombstone that never matches."""
        cdef Py_ssize_t slot, size = 2 * _REPORTED_NAMES
        cdef uint64_t key = h | 1
        slot = <Py_ssize_t>(key % <uint64_t>size)
        # Bound: as in _outside, slot < size and an empty slot ends the probe.
        while self._reported[slot] != 0:
            if (self._reported[slot] | 1) == key:
                self._reported[slot] = _TOMBSTONE
            slot = (slot + 1) % size

    def _report_unknown(self, str name):
        from feedhandler.core.errors import UnsubscribedSymbolError
        shown = name if len(name) <= 40 else name[:40] + "..."
        more = "" if self.reported_names < _REPORTED_NAMES else (
            f"; {_REPORTED_NAMES} names reported, further ones are only counted")
        err = UnsubscribedSymbolError(
            f"{self.exchange}: frames for {shown!r}, which is not subscribed: ignored, no book created "
            f"(counted in stats()['unknown_frames'], not reported again{more})")
        handler = self.report_error
        if handler is None and self._dispatcher is not None:
            self._dispatcher.report(err)
        elif handler is not None:
            try:
                handler(err)
            except Exception:
                pass  # a failing error handler must not stop the feed


    def lookup_bytes(self, bytes name):
        """:meth:`c_get` from Python (tests): the BookSync for a UTF-8 symbol name."""
        return self.c_get(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))

    cpdef BookSync get(self, str symbol):
        """The BookSync for ``symbol``, created (with its book) on first use."""
        sync = self._syncs.get(symbol)
        if sync is None:
            sync = BookSync(self.exchange, symbol, OrderBook(symbol, self.depth), self.rule, self._dispatcher,
                            self._request, self._buffer_levels, self._buffer_deltas, self._updates, self._statuses)
            (<BookSync>sync).profiling = self.profiling
            (<BookSync>sync).integrity = self.integrity
            (<BookSync>sync).max_discarded = self._max_discarded
            (<BookSync>sync).max_discard_ns = self._max_discard_ns
            self._syncs[symbol] = sync
            sid = self.symbol_table.add(symbol)
            if sid >= 0:
                while len(self._by_id) <= sid:
                    self._by_id.append(None)
                self._by_id[sid] = sync
        return <BookSync>sync

    def _request(self, BookSync sync):
        if self.request_snapshot is not None:
            self.request_snapshot(sync)

    def forget(self, symbols):
        """Drop the state of ``symbols`` (unsubscribed)."""
        for s in symbols:
            if self._syncs.pop(s, None) is not None:
                sid = self.symbol_table.find(s)
                if 0 <= sid < len(self._by_id):
                    self._by_id[sid] = None

    def invalidate_all(self, symbols, str reason):
        """Mark the books of ``symbols`` invalid (their connection dropped)."""
        for s in symbols:
            for sync in self._find_all(s):
                (<BookSync>sync).c_invalidate(reason, False)

    def _keys_of(self, str symbol):
        """The keys of ``symbol``'s books: itself (or upper-cased: the manager passes the user's names, books
        are keyed by the exchange's), or with a key separator every key whose symbol part it is."""
        if self.key_separator is None:
            if symbol in self._syncs:
                return [symbol]
            return [symbol.upper()] if symbol.upper() in self._syncs else []
        names = (symbol, symbol.upper())
        return [k for k in self._syncs if k.partition(self.key_separator)[0] in names]

    def _find_all(self, str symbol):
        return [self._syncs[k] for k in self._keys_of(symbol)]

    def subscribe(self, symbols):
        """Books may exist for ``symbols`` (upper-cased, as exchanges spell them) and, from now on, no others.

        Their books are created on their first frame; a frame for any other name never builds one.
        """
        if self._subscribed is None:
            self._subscribed = set()
        for s in symbols:
            name = str(s).upper()
            self._subscribed.add(name)
            self._closed_names.pop(name, None)
            self._closed_names.pop(str(s), None)
            key = name.encode("utf-8", "replace")
            self._subscribed_hashes.add(fnv1a(key, len(key)))
            self._unreport(fnv1a(key, len(key)))

    def close(self, symbols, str reason="unsubscribed"):
        """Unsubscribed: each book gets a final ``BookStatus(valid=False, reason)`` and is dropped.

        Frames for these names that are still in flight are counted (``late_frames``) and ignored:
        no book, no snapshot request. Returns the closed BookSync objects.
        """
        closed = []
        for s in symbols:
            name = str(s)
            keys = self._keys_of(name)
            if self._subscribed is not None:
                self._subscribed.discard(name)
                self._subscribed.discard(name.upper())
            for n in {name, name.upper()} if self.key_separator is not None or not keys else {keys[0]}:
                self._closed_names[n] = None
            while len(self._closed_names) > _REPORTED_NAMES:   # bounded: the oldest names are forgotten
                del self._closed_names[next(iter(self._closed_names))]
            for key in keys:
                sync = self._syncs.pop(key)
                (<BookSync>sync).c_close(reason)
                closed.append(sync)
                sid = self.symbol_table.find(key)
                if 0 <= sid < len(self._by_id):
                    self._by_id[sid] = None
        return closed

    @property
    def subscribed(self):
        """The names books may exist for (None: any, the group was never told its subscriptions)."""
        return None if self._subscribed is None else frozenset(self._subscribed)

    def set_discard_bounds(self, int64_t frames, double seconds):
        """:meth:`BookSync.set_discard_bounds` for every book, now and later."""
        self._ignored.set_discard_bounds(frames, seconds)
        self._max_discarded = frames
        self._max_discard_ns = <int64_t>(seconds * 1e9)
        for sync in self._syncs.values():
            (<BookSync>sync).max_discarded = frames
            (<BookSync>sync).max_discard_ns = self._max_discard_ns

    def note_rejected(self, symbols, int64_t now_ns=0):
        """A frame on the connection carrying ``symbols`` failed to decode (it may have been any of theirs)."""
        for s in symbols:
            for sync in self._find_all(s):
                (<BookSync>sync).c_note_rejected(now_ns)

    def check_stale(self, symbols, double seconds, int64_t now_ns=0):
        """``BookStatus(valid=False, reason="stale")`` for each LIVE book of ``symbols`` with no update for
        ``seconds``; returns the symbols reported."""
        cdef int64_t stale_ns = <int64_t>(seconds * 1e9)
        out = []
        for s in symbols:
            for sync in self._find_all(s):
                if sync.check_stale(stale_ns, now_ns):
                    out.append(sync.symbol)
        return out

    def stats(self):
        """Group counters: frames for names without a book, and how many names were reported."""
        return {"unknown_frames": self.unknown_frames, "late_frames": self.late_frames,
                "reported_names": self.reported_names, "books": len(self._syncs)}

    def __contains__(self, symbol):
        return symbol in self._syncs

    def __getitem__(self, symbol):
        return self._syncs[symbol]

    def __len__(self):
        return len(self._syncs)

    def symbols(self):
        return list(self._syncs)

    def books(self):
        """symbol -> OrderBook of every tracked symbol."""
        return {s: (<BookSync>v).book for s, v in self._syncs.items()}
