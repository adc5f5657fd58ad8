# cython: language_level=3
"""C-level header of the L2 order book (``cimport feedhandler.book.orderbook``).

Layout
------
Each side is two preallocated float64 numpy arrays (price, quantity) of
length ``capacity``, owned by the book for its whole life (never resized).
The used region ``[0, n)`` is sorted so that the BEST level sits at index
``n - 1``: bids ascending by price, asks descending.  Updates cluster near
the top of the book, so inserting or deleting there moves only the few
elements above the touched level (one ``memmove`` per array).

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
from libc.stdint cimport int64_t

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

    # The four numpy arrays that own the memory (read-only to Python; the
    # book writes them through the raw pointers below).
    cdef object _bid_px_arr, _bid_qty_arr, _ask_px_arr, _ask_qty_arr
    # Raw pointers / used counts indexed by side (BID=0, ASK=1).
    cdef double* _px[2]
    cdef double* _qty[2]
    cdef Py_ssize_t _n[2]
    # Cache of the last best_bid/best_ask tuples and the doubles they hold.
    cdef object _best_bid_obj, _best_ask_obj
    cdef double _best_px[2]
    cdef double _best_qty[2]

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

    # Declared last so the vtable slots of the methods above keep their
    # places (modules built against the previous header stay compatible).
    # Apply ``n`` levels of one side in order WITHOUT validation, for callers
    # that have already checked every level (BookSync validates each delta once
    # before buffering or applying it).  Caller guarantees: side is BID or
    # ASK, and for n > 0 non-NULL arrays whose prices are finite and > 0 and
    # quantities finite and >= 0 (n <= 0 does nothing).  Anything else breaks
    # the book's ordering; everyone else uses ``c_apply_levels``.
    cdef void c_apply_levels_trusted(self, int side, const double* prices, const double* qtys,
                                     Py_ssize_t n) noexcept


@cython.final
cdef class OrderBookPool:
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t size
    cdef dict _books      # symbol -> OrderBook, assigned books only
    cdef list _free       # stack of unassigned preallocated books
    cdef list _all        # every preallocated book, for reset()

    # The book assigned to ``symbol`` or None (no exception, no allocation).
    cdef OrderBook c_get(self, str symbol)
