# cython: language_level=3
"""C-level header of the L2 order book (``cimport feedhandler.book.orderbook``).

Layout
------
Each side is a price-indexed LADDER over a decimal tick grid plus a sorted
OVERFLOW array, all preallocated in ``__cinit__`` and never resized:

* The grid is ``10**-price_decimals``: the coarsest power of ten on which
  every price seen so far lies exactly (inferred from the first prices, made
  finer, at most ``_MAX_DECIMALS``, when a finer price arrives).  A price ``p``
  is the integer tick ``t = round(p * 10**d)``, checked exactly as
  ``t / 10**d == p`` (both sides are the correctly rounded double of the
  rational ``t / 10**d``, so this holds exactly for the prices the decimal
  parser produces and for no other double).
* The ladder is ``ladder_ticks`` (W, a power of two) slots: slot ``i`` holds
  the level whose key is ``_k0 + i``, where the key is ``t`` for bids and
  ``-t`` for asks (a larger key is always a better price).  Slot ``i`` is
  the pair ``_lp[2 i]`` (the exact price double) and ``_lq[2 i]`` (its
  quantity, 0.0 = empty slot; ``_lq = _lp + 1``, interleaved so one level
  is one cache line), ``_bits`` one occupancy bit per slot; ``_best_slot`` is the slot of the best level.  Lookup,
  insert, update and delete are O(1) whatever the depth; a delete of the best
  level finds the next one with a bit scan.
* Levels worse than the ladder's bottom (key < ``_k0``) live in the overflow
  arrays ``_px``/``_qty`` (used region ``[0, _n)`` sorted worst first, best at
  ``_n - 1``, the previous layout), a region floating in twice its capacity
  so that an insert or delete moves the shorter of the two parts around it
  (far-tail updates and evicting the worst level are cheap too).  Invariant: every overflow level
  is worse than every ladder level, and the ladder is never empty while the
  overflow is not, so the best level is always slot ``_best_slot``.
* The window RE-CENTRES (O(W / 64 + levels moved), never allocating) so the
  best sits 3/4 up: when a price better than the window arrives, when the
  ladder empties, or when the best falls into the bottom quarter.
* Slower path: a price not on any grid up to ``_MAX_DECIMALS`` (or an
  integer tick beyond 2**53) switches the book to the overflow arrays alone
  (the previous sorted-array layout: binary search + ``memmove``) until
  ``clear``; so does ``ladder_ticks=0`` from the start (the benchmarks'
  baseline of the previous layout).

Errors
------
``c_apply_level``, ``c_apply_levels`` and ``c_load_snapshot`` return ``-1``
with a Python exception set (``ValueError`` for an invalid side, a non-finite
or non-positive price, a non-finite or negative quantity, a negative count or
a NULL pointer with a positive count; ``MemoryError`` only from the rare
snapshot-overflow path).  Validation happens before any mutation, so an
error always leaves the book exactly as it was.  Every other C entry point
cannot fail (``noexcept``); the ``c_best_*`` accessors return NaN for an
empty side.

Counters
--------
``dropped_levels`` counts levels lost to the capacity bound (evicted worst
levels, inserts worse than a full side's worst, snapshot levels beyond
``capacity``); ``absent_deletes`` counts zero-quantity updates of prices that
were not in the book.  Both are cumulative until ``c_clear``.
"""
cimport cython
from libc.stdint cimport int64_t, uint64_t

cpdef enum:
    # Side selectors for every ``side`` argument; also Python ints BID, ASK.
    BID = 0
    ASK = 1


@cython.final
cdef class OrderBook:
    cdef readonly str symbol
    cdef readonly Py_ssize_t capacity
    cdef public int64_t last_update_id
    cdef readonly int64_t dropped_levels, absent_deletes
    # Ladder size W (0: ladder off, the sorted-array layout only) and the grid.
    cdef readonly Py_ssize_t ladder_ticks
    cdef readonly int64_t recentres   # window moves (cumulative until c_clear)
    cdef int _decimals            # current grid 10**-_decimals; -1 unknown yet; -2 off-grid (sorted only)
    cdef int _init_decimals       # what c_clear returns _decimals to
    cdef double _scale            # 10.0 ** _decimals (exact)

    # The numpy arrays that own the memory (read-only to Python; the book
    # writes them through the raw pointers below).
    cdef object _bid_px_arr, _bid_qty_arr, _ask_px_arr, _ask_qty_arr
    cdef object _ladder_arrs      # tuple of the six ladder arrays
    cdef object _out_arrs         # None until the first top_*(): per side (px, qty) copies, best first
    cdef object _pairs_arrs       # per side: capacity (price, qty) pairs for c_top_pairs
    cdef double* _pairs[2]
    # Overflow (sorted) arrays: 2 x capacity doubles each from _pbase/_qbase;
    # the used region [_px, _px + _n) floats inside so that both its ends
    # are cheap to grow or shrink.  Indexed by side (BID=0, ASK=1).
    cdef double* _pbase[2]
    cdef double* _qbase[2]
    cdef double* _px[2]
    cdef double* _qty[2]
    cdef Py_ssize_t _n[2]
    # Ladder per side.
    cdef double* _lp[2]
    cdef double* _lq[2]
    cdef uint64_t* _bits[2]
    cdef int64_t _k0[2]
    cdef Py_ssize_t _ln[2]
    cdef Py_ssize_t _best_slot[2]
    cdef double* _opx[2]
    cdef double* _oqty[2]
    # Cache of the last best_bid/best_ask tuples and the doubles they hold.
    cdef object _best_bid_obj, _best_ask_obj
    cdef double _best_px[2]
    cdef double _best_qty[2]
    # c_top_region's last ladder walk per side, kept while no level at or better than its worst
    # changes: _top_n = the n it was asked for (-1: stale), _top_k its length, _top_thr its worst
    # price (-inf/+inf when it held fewer than n levels: then any change makes it stale).
    cdef Py_ssize_t _top_n[2]
    cdef Py_ssize_t _top_k[2]
    cdef double _top_thr[2]

    # Apply one level (absolute quantity, 0 deletes).  Validates first.
    cdef int c_apply_level(self, int side, double price, double qty) except -1
    # Apply ``n`` levels of one side in order; the whole batch is validated
    # first and nothing changes if any level is invalid.
    cdef int c_apply_levels(self, int side, const double* prices, const double* qtys, Py_ssize_t n) except -1
    # Replace both sides (input in any order; duplicates: last positive wins;
    # zero quantities skipped; beyond capacity: best kept, rest counted as
    # dropped) and set ``last_update_id``.  Validates everything first.
    cdef int c_load_snapshot(self, const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                             const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                             int64_t update_id) except -1
    # Empty both sides, reset last_update_id and both counters to 0.
    cdef void c_clear(self) noexcept
    # True when both sides are non-empty and best bid >= best ask.
    cdef bint c_is_crossed(self) noexcept
    cdef double c_best_bid_price(self) noexcept
    cdef double c_best_bid_qty(self) noexcept
    cdef double c_best_ask_price(self) noexcept
    cdef double c_best_ask_qty(self) noexcept

    # Private helpers.
    cdef int _set_level(self, int side, double price, double qty) noexcept
    cdef void _load_side(self, int side, const double* px, const double* qty, Py_ssize_t n) noexcept
    cdef void _copy_from(self, OrderBook other) noexcept
    cdef object _top(self, int side, Py_ssize_t n)
    cdef object _best(self, int side)
    cdef list _levels(self, int side)

    # Declared after the methods above so their vtable slots keep their places
    # (the attributes did change with the ladder layout: rebuild every module
    # that cimports this header).
    # Apply ``n`` levels of one side in order WITHOUT validation, for callers
    # that have already checked every level (BookSync validates each delta once
    # before buffering or applying it).  Caller guarantees: side is BID or
    # ASK, and for n > 0 non-NULL arrays whose prices are finite and > 0 and
    # quantities finite and >= 0 (n <= 0 does nothing).  Anything else breaks
    # the book's ordering; everyone else uses ``c_apply_levels``.
    cdef void c_apply_levels_trusted(self, int side, const double* prices, const double* qtys,
                                     Py_ssize_t n) noexcept

    # The best min(n, count) levels of one side (BID or ASK, caller-checked),
    # best first, as (price, qty) pairs: (*pairs)[2 i], (*pairs)[2 i + 1] for
    # i < the returned count.  The pairs live in a buffer the book owns
    # (allocated with it): valid until the book changes or the next
    # c_top_pairs of that side.  For code that copies the top of the book
    # (sinks, shared memory): the layout itself is not one sorted array.
    cdef Py_ssize_t c_top_pairs(self, int side, Py_ssize_t n, const double** pairs) noexcept
    # The same k = min(n, count) best levels in the previous layout's
    # orientation: k prices at *px and k quantities at *qty, WORST first,
    # best at index k - 1 (the encoder diffs its mirror in that order).  With
    # the sorted layout these point into the book itself; with the ladder into
    # the same per-side buffer as c_top_pairs (valid until the book changes or
    # the next c_top_* call of that side).
    cdef Py_ssize_t c_top_region(self, int side, Py_ssize_t n, const double** px, const double** qty) noexcept

    # Ladder layout helpers (see Layout above).
    cdef int _sorted_set(self, int side, double price, double qty, bint full) noexcept
    cdef int _ladder_set(self, int side, Py_ssize_t slot, double price, double qty) noexcept
    cdef void _recentre(self, int side, int64_t best_key) noexcept
    cdef void _flush_ladder(self, int side) noexcept
    cdef void _clear_ladder(self, int side) noexcept
    cdef void _disable_ladder(self) noexcept
    cdef bint _fits(self, int decimals) noexcept
    cdef void _regrid(self, int decimals) noexcept
    cdef Py_ssize_t _walk(self, int side, Py_ssize_t n, double* out_px, double* out_qty,
                          Py_ssize_t stride) noexcept
    cdef Py_ssize_t _side_count(self, int side) noexcept
    cdef void _drop_worst(self, int side, Py_ssize_t k) noexcept
    cdef void _ov_place(self, int side, Py_ssize_t offset) noexcept
    cdef void _ov_reserve_above(self, int side, Py_ssize_t k) noexcept
    cdef void _ov_insert(self, int side, Py_ssize_t j, double price, double qty) noexcept
    cdef void _ov_remove(self, int side, Py_ssize_t j) noexcept
