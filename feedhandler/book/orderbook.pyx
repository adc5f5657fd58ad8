# cython: language_level=3
"""Preallocated, numpy-backed L2 order book: a tick ladder plus a sorted overflow.

See ``orderbook.pxd`` for the memory layout and the C-level entry points.

Price equality
--------------
Prices reach the book from the codec's exact decimal parser, which yields
exactly the float64 that Python's ``float()`` gives for the exchange's
decimal string.  The same decimal string therefore always maps to the same
bits, so a level is identified by exact ``==`` comparison of doubles.  An
epsilon comparison would be wrong here: it could merge two distinct ticks of
a very fine-grained instrument, and it would break the strict ordering the
binary search relies on.  (Prices are checked to be finite and > 0, so NaN
and the -0.0/0.0 pair never reach a comparison.)

Position search
---------------
A branch-free binary search (``fh_count_below``/``fh_count_above``: the
data-dependent step is a conditional add, so there are no mispredictions),
first narrowed to the top ``_WINDOW`` = 32 levels by one well-predicted
compare when the price is within them.  An optional linear scan of the top
``_linear_scan`` levels runs before it (4 by default: it wins the Gate.io
20+20 benchmark, 1.77 -> 1.63 ms per 1000 frames, for a few ns elsewhere; ``_set_linear_scan``
exists for the benchmark).  Measured (same machine, medians, ns per frame or
level, linear scan of 32 + branchy binary search -> this search):
``bench_binance`` depth10 frame (random levels over a 600-level book) 1251 ->
about 686; MEXC 100+100 frame 11864 -> about 7040 (with the scan of 4; 658 and
6724 without it); the real Binance BTCUSDT recording replay 63.1 -> 58.1 ms.  On ``bench_book``'s stream, clustered at the very top
(exponential ranks, mean 8), a linear scan still wins slightly: 28.9 ns/level
with scan 32, 29.8 with 4 (the default), 32.7 with 0.
"""
cimport cython
from libc.math cimport INFINITY, NAN
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcpy, memmove, memset

cimport numpy as cnp
import numpy as np

cnp.import_array()

# Linear-scan length of the position search (see the module docstring).  A
# module global rather than a constant so the benchmark can compare lengths
# without rebuilding; reading it costs one load per search.
cdef Py_ssize_t _linear_scan = 4
cdef Py_ssize_t _WINDOW = 32

# Result codes of OrderBook._set_level.
cdef enum:
    _UPDATED = 0
    _INSERTED = 1
    _INSERTED_EVICTED = 2   # inserted, the worst level was pushed out
    _REJECTED = 3           # full side, new level worse than its worst
    _DELETED = 4
    _ABSENT_DELETE = 5



def _set_linear_scan(Py_ssize_t levels):
    """Set the linear-scan length of the position search (benchmarks only).

    Parameters
    ----------
    levels : int
        Number of levels scanned from the top before the binary search;
        0 means pure binary search.

    Returns
    -------
    int
        The previous value.
    """
    global _linear_scan
    if levels < 0:
        raise ValueError(f"linear scan length must be >= 0, got {levels}")
    cdef Py_ssize_t old = _linear_scan
    _linear_scan = levels
    return old


cdef inline bint _valid_price(double p) noexcept nogil:
    # False for NaN (every comparison with NaN is false), +-inf, 0 and negatives.
    return p > 0.0 and p < INFINITY


cdef inline bint _valid_qty(double q) noexcept nogil:
    return q >= 0.0 and q < INFINITY


cdef inline bint _better(double a, double b, bint is_bid) noexcept nogil:
    # True when price a is closer to the top of book than price b.
    return a > b if is_bid else a < b


cdef extern from *:
    """
    /* Branch-free lower bound (Khuong & Morin's layout study: in-cache sorted
       arrays are searched fastest without a data-dependent branch, because a
       branchy binary search mispredicts about every other step).  The loop
       count depends on n only, so its own branch is predicted; the data
       dependence is a conditional add the compiler turns into cmov/setcc.
       Requires n >= 1; reads only a[0:n] (base + half < base + n holds
       since half < n while n > 1, and the final *base is inside). */
    static inline Py_ssize_t fh_count_below(const double* a, Py_ssize_t n, double x) {
        const double* base = a;
        while (n > 1) {
            Py_ssize_t half = n >> 1;
            base += (base[half] < x) ? half : 0;
            n -= half;
        }
        return (base - a) + (*base < x);
    }
    static inline Py_ssize_t fh_count_above(const double* a, Py_ssize_t n, double x) {
        const double* base = a;
        while (n > 1) {
            Py_ssize_t half = n >> 1;
            base += (base[half] > x) ? half : 0;
            n -= half;
        }
        return (base - a) + (*base > x);
    }
    """
    # Number of elements of ascending a[0:n] below x / of descending a[0:n]
    # above x, i.e. the levels worse than price x; n >= 1.
    Py_ssize_t fh_count_below(const double* a, Py_ssize_t n, double x) noexcept nogil
    Py_ssize_t fh_count_above(const double* a, Py_ssize_t n, double x) noexcept nogil


cdef inline Py_ssize_t _find(const double* px, Py_ssize_t n, double p, bint is_bid,
                             Py_ssize_t scan) noexcept nogil:
    """Index of ``p`` in ``px[0:n]`` if present, else ``-(insertion point) - 1``.

    ``px[0:n]`` is sorted from worst (index 0) to best (index n-1).
    """
    cdef Py_ssize_t stop = n - scan
    cdef Py_ssize_t j = n - 1
    cdef Py_ssize_t lo, w
    cdef double x
    if stop < 0:
        stop = 0
    # Linear scan from the top: px[j] for j in [stop, n), all within [0, n).
    while j >= stop:
        x = px[j]
        if x == p:
            return j
        if _better(p, x, is_bid):
            return -(j + 1) - 1
        j -= 1
    if stop == 0:
        return -1   # every level is better than p: insertion point 0
    # Every level in [stop, n) is better than p: the insertion point is the
    # number of levels in [0, stop) worse than p (branch-free search, stop >= 1).
    # Updates cluster near the top: one predicted compare against the level
    # _WINDOW below the top narrows the search to those levels (0 < w < stop,
    # so px[w] is a used level and px + w holds stop - w >= 1 levels).
    w = stop - _WINDOW
    if w > 0 and not _better(px[w], p, is_bid):
        # px[w] is not better than p, so every level below w is worse.
        lo = w + (fh_count_below(px + w, stop - w, p) if is_bid else fh_count_above(px + w, stop - w, p))
    else:
        lo = fh_count_below(px, stop, p) if is_bid else fh_count_above(px, stop, p)
    if lo < stop and px[lo] == p:
        return lo
    return -lo - 1


cdef int _cmp_double(const void* a, const void* b) noexcept nogil:
    cdef double x = (<const double*>a)[0]
    cdef double y = (<const double*>b)[0]
    return (x > y) - (x < y)


cdef int _validate(const double* px, const double* qty, Py_ssize_t n, str what) except -1:
    """Raise ValueError naming the first invalid level; 0 when all are valid."""
    cdef Py_ssize_t i
    if n < 0:
        raise ValueError(f"{what}: negative level count {n}")
    if n > 0 and (px == NULL or qty == NULL):
        raise ValueError(f"{what}: NULL level array with {n} levels")
    for i in range(n):
        if not _valid_price(px[i]):
            raise ValueError(f"{what}: level {i} has invalid price {px[i]!r} (must be finite and > 0)")
        if not _valid_qty(qty[i]):
            raise ValueError(f"{what}: level {i} has invalid quantity {qty[i]!r} (must be finite and >= 0)")
    return 0


cdef Py_ssize_t _snapshot_drops(const double* px, const double* qty, Py_ssize_t n,
                                Py_ssize_t capacity) except -1:
    """Distinct positive-quantity prices beyond ``capacity`` (0 if they fit)."""
    cdef Py_ssize_t i, m = 0, distinct
    cdef double* buf
    for i in range(n):
        if qty[i] > 0.0:
            m += 1
    if m <= capacity:  # even without duplicates everything fits
        return 0
    # Rare path (snapshot deeper than the book): count distinct prices.
    buf = <double*>malloc(m * sizeof(double))
    if buf == NULL:
        raise MemoryError("order book snapshot: cannot allocate scratch for duplicate detection")
    m = 0
    for i in range(n):
        if qty[i] > 0.0:
            buf[m] = px[i]
            m += 1
    qsort(buf, m, sizeof(double), _cmp_double)
    distinct = 1
    for i in range(1, m):
        if buf[i] != buf[i - 1]:
            distinct += 1
    free(buf)
    return distinct - capacity if distinct > capacity else 0


cdef object _as_f64_vector(object obj, str what):
    """``obj`` itself when it is a float64 C-contiguous native 1-D ndarray
    (the zero-copy fast path: no allocation), else a converted copy."""
    if cnp.PyArray_CheckExact(obj) and _is_f64_vector(<cnp.ndarray>obj):
        return obj
    arr = np.ascontiguousarray(obj, dtype=np.float64)
    if cnp.PyArray_NDIM(<cnp.ndarray>arr) != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {arr.shape}")
    return arr


cdef inline bint _is_f64_vector(cnp.ndarray a) noexcept:
    return (cnp.PyArray_TYPE(a) == cnp.NPY_DOUBLE and cnp.PyArray_NDIM(a) == 1
            and cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_ISALIGNED(a))


cdef _pairs(object levels, str what):
    """(prices, qtys) C-contiguous float64 columns of a (n, 2) array-like."""
    a = np.asarray(levels, dtype=np.float64)
    if a.size == 0:
        a = a.reshape(0, 2)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{what} must be (price, qty) pairs / an (n, 2) array, got shape {a.shape}")
    return np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(a[:, 1])


cdef double* _pointer(object arr) except NULL:
    # The address of a float64 array's first element; the array (kept alive by
    # the book) owns the memory, so the pointer outlives this memoryview.
    cdef double[::1] mv = arr
    return &mv[0]


cdef inline int _check_side(int side) except -1:
    if side != BID and side != ASK:
        raise ValueError(f"side must be BID (0) or ASK (1), got {side}")
    return 0


# ------------------------------------------------------------ ladder helpers

# Grid limits: 10**d is an exact double for d <= 22; the ladder stops at 12
# decimals (finer instruments go to the sorted layout) and at integer ticks
# below 2**53 (where every integer is an exact double).
cdef int _MAX_DECIMALS = 12
cdef double _TICK_LIMIT = 9007199254740992.0   # 2**53
cdef double _POW10[13]
_POW10[0] = 1.0
for _d in range(1, 13):
    _POW10[_d] = _POW10[_d - 1] * 10.0   # exact: every 10**d, d <= 22, is a double

# Default ladder size: 4 slots per level of capacity, within these bounds
# (16 bytes a slot per side: 16 KiB .. 256 KiB per side).
cdef Py_ssize_t _LADDER_MIN = 1024
cdef Py_ssize_t _LADDER_MAX = 65536


cdef extern from *:
    """
    static inline int fh_clz64(unsigned long long x) { return __builtin_clzll(x); }
    static inline int fh_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    """
    # Leading / trailing zero bits of a NON-ZERO 64-bit word.
    int fh_clz64(uint64_t x) noexcept nogil
    int fh_ctz64(uint64_t x) noexcept nogil


cdef inline bint _on_grid(double price, int d) noexcept nogil:
    # True when price is exactly the double of the decimal t / 10**d for an
    # integer 0 < t < 2**53 (see the .pxd: exact, no tolerance).
    cdef double x = price * _POW10[d]
    cdef int64_t t
    if not (x < _TICK_LIMIT):
        return False
    t = <int64_t>(x + 0.5)   # x > 0: truncation of x + 0.5 rounds to nearest
    return <double>t / _POW10[d] == price


cdef inline int _needed_decimals(double price, int dmin) noexcept nogil:
    # The smallest d in [dmin, _MAX_DECIMALS] whose grid holds price, else -1.
    cdef int d
    for d in range(dmin, _MAX_DECIMALS + 1):
        if _on_grid(price, d):
            return d
    return -1


cdef inline int64_t _key_of(double price, double scale, bint is_bid) noexcept nogil:
    # Ladder key of an on-grid price: its tick, negated for asks so that a
    # larger key is a better price on both sides.
    cdef int64_t t = <int64_t>(price * scale + 0.5)
    return t if is_bid else -t


cdef inline Py_ssize_t _hi_bit(const uint64_t* bits, Py_ssize_t slot) noexcept nogil:
    # Highest occupied slot <= slot, or -1.  Caller: -1 <= slot < W, so every
    # word read is bits[w] with 0 <= w <= slot >> 6 < W / 64.
    cdef Py_ssize_t w
    cdef uint64_t m
    if slot < 0:
        return -1
    w = slot >> 6
    # Bits 0..slot&63 (for slot&63 == 63, 2 << 63 wraps to 0 and 0 - 1 is all ones).
    m = bits[w] & ((<uint64_t>2 << (slot & 63)) - 1)
    while m == 0:
        w -= 1
        if w < 0:
            return -1
        m = bits[w]
    return (w << 6) + 63 - fh_clz64(m)


cdef inline Py_ssize_t _lo_bit(const uint64_t* bits, Py_ssize_t nwords) noexcept nogil:
    # Lowest occupied slot, or -1; reads bits[0:nwords].
    cdef Py_ssize_t w
    for w in range(nwords):
        if bits[w] != 0:
            return (w << 6) + fh_ctz64(bits[w])
    return -1


cdef int _snapshot_grid(const double* px, const double* qty, Py_ssize_t n, int d, int if_none) noexcept nogil:
    # The smallest grid >= d holding every positive level of px[0:n]
    # (-2: none up to _MAX_DECIMALS); if_none when there is no such level.
    cdef Py_ssize_t i
    cdef bint seen = False
    for i in range(n):
        if qty[i] > 0.0:
            seen = True
            if not _on_grid(px[i], d):
                d = _needed_decimals(px[i], d + 1)
                if d < 0:
                    return -2
    return d if seen else if_none


cdef inline double _best_value(OrderBook b, int side, bint want_qty) noexcept:
    """The best level's price (or quantity with want_qty) of a side; NaN when the side is empty."""
    cdef Py_ssize_t n
    if b._ln[side] > 0:
        # slot i holds (price, qty) at _lp[side][2 * i], _lp[side][2 * i + 1] (_lq = _lp + 1)
        return b._lp[side][2 * b._best_slot[side] + want_qty]
    n = b._n[side]
    if n == 0:
        return NAN
    return b._qty[side][n - 1] if want_qty else b._px[side][n - 1]


@cython.final
cdef class OrderBook:
    """L2 order book over preallocated memory: a tick ladder plus a sorted overflow.

    Parameters
    ----------
    symbol : str
        Instrument name, as the exchange spells it.
    capacity : int, default 1000
        Maximum number of levels per side.  Memory is allocated once here;
        when a side is full, an insert pushes out the level farthest from the
        top (or is itself dropped if it is the farthest) and
        ``dropped_levels`` counts it.  There is never a reallocation.
    ladder_ticks : int, default -1
        Slots of the price ladder per side: a power of two >= 64; -1 picks
        4 x capacity within [1024, 65536]; 0 turns the ladder off (the
        previous sorted-array layout, kept as a benchmark baseline).
    price_decimals : int, default -1
        Decimal places of the tick grid to start from (e.g. 2 for a 0.01
        tick); -1 infers it from the first prices.  A price on a finer grid
        refines it (one rebuild); see the layout notes in ``orderbook.pxd``.

    Notes
    -----
    Prices must be finite and > 0, quantities finite and >= 0 (0 deletes a
    level).  Prices are compared exactly (see the module docstring).

    With the ladder (the default), ``top_bids``/``top_asks`` copy the best
    ``n`` levels into a per-book buffer allocated on the first call and
    return read-only views of it, valid until the next ``top_*`` call of that
    side or mutation of the book.  With ``ladder_ticks=0`` (or after an
    off-grid price) they are read-only views into the sorted arrays
    themselves.  Use ``to_dict()`` or ``copy()`` to keep a state.
    """

    def __cinit__(self, str symbol not None, Py_ssize_t capacity=1000, Py_ssize_t ladder_ticks=-1,
                  int price_decimals=-1):
        cdef int s
        cdef Py_ssize_t w
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if ladder_ticks == -1:
            w = _LADDER_MIN
            while w < 4 * capacity and w < _LADDER_MAX:
                w *= 2
            ladder_ticks = w
        elif ladder_ticks != 0 and (ladder_ticks < 64 or ladder_ticks & (ladder_ticks - 1)):
            raise ValueError(f"ladder_ticks must be 0, -1 or a power of two >= 64, got {ladder_ticks}")
        if not -1 <= price_decimals <= _MAX_DECIMALS:
            raise ValueError(f"price_decimals must be -1 (infer) or 0..{_MAX_DECIMALS}, got {price_decimals}")
        self.symbol = symbol
        self.capacity = capacity
        self.ladder_ticks = ladder_ticks
        self._init_decimals = price_decimals if ladder_ticks else -2
        self._decimals = self._init_decimals
        self._scale = _POW10[self._decimals] if self._decimals >= 0 else 1.0
        self._bid_px_arr = np.zeros(2 * capacity, dtype=np.float64)
        self._bid_qty_arr = np.zeros(2 * capacity, dtype=np.float64)
        self._ask_px_arr = np.zeros(2 * capacity, dtype=np.float64)
        self._ask_qty_arr = np.zeros(2 * capacity, dtype=np.float64)
        self._pbase[BID] = _pointer(self._bid_px_arr)
        self._qbase[BID] = _pointer(self._bid_qty_arr)
        self._pbase[ASK] = _pointer(self._ask_px_arr)
        self._qbase[ASK] = _pointer(self._ask_qty_arr)
        for s in range(2):
            self._px[s] = self._pbase[s] + capacity // 2
            self._qty[s] = self._qbase[s] + capacity // 2
        # Ladder memory (one slot when the ladder is off, so the pointers stay valid).
        w = ladder_ticks if ladder_ticks else 64
        # Per side: (price, qty) pairs of the W slots interleaved (one cache
        # line per level touched), then the occupancy bits.
        ladder = (np.zeros(2 * w, dtype=np.float64), np.zeros(w // 64, dtype=np.uint64),
                  np.zeros(2 * w, dtype=np.float64), np.zeros(w // 64, dtype=np.uint64))
        self._ladder_arrs = ladder
        cdef uint64_t[::1] bits_view
        for s in range(2):
            self._lp[s] = _pointer(ladder[2 * s])
            self._lq[s] = self._lp[s] + 1   # qty of slot i at _lq[s][2 * i]
            bits_view = ladder[2 * s + 1]
            self._bits[s] = &bits_view[0]
            self._k0[s] = 0
            self._ln[s] = 0
            self._best_slot[s] = -1
        for arr in (self._bid_px_arr, self._bid_qty_arr, self._ask_px_arr, self._ask_qty_arr) + ladder:
            # Python sees the memory read-only (views included) so it can never
            # break the ordering; the book writes through its raw pointers.
            arr.flags.writeable = False
        self._out_arrs = None
        self._pairs_arrs = (np.zeros(2 * capacity, dtype=np.float64), np.zeros(2 * capacity, dtype=np.float64))
        for s in range(2):
            self._pairs[s] = _pointer(self._pairs_arrs[s])
        self._n[BID] = 0
        self._n[ASK] = 0
        # NaN never compares equal, so the first best_* read builds a tuple.
        self._best_px[BID] = self._best_px[ASK] = NAN
        self._best_qty[BID] = self._best_qty[ASK] = NAN
        self._top_n[BID] = self._top_n[ASK] = -1

    # ------------------------------------------------------------------ C API

    cdef Py_ssize_t _side_count(self, int side) noexcept:
        return self._ln[side] + self._n[side]

    cdef int _set_level(self, int side, double price, double qty) noexcept:
        # Caller guarantees a valid side, price and quantity.
        cdef bint is_bid = side == BID
        cdef double x
        cdef int64_t t, key, diff
        cdef Py_ssize_t slot
        cdef int d
        if self._top_n[side] >= 0 and (price >= self._top_thr[side] if is_bid else price <= self._top_thr[side]):
            self._top_n[side] = -1   # a change inside the cached top region (see c_top_region)
        if self._decimals >= 0:
            x = price * self._scale
            if x < _TICK_LIMIT:
                t = <int64_t>(x + 0.5)
                key = t if is_bid else -t
                diff = key - self._k0[side]
                if 0 <= diff < self.ladder_ticks:
                    slot = <Py_ssize_t>diff   # in [0, W): a ladder slot
                    if self._lq[side][2 * slot] != 0.0:
                        if self._lp[side][2 * slot] == price:
                            return self._ladder_set(side, slot, price, qty)
                        # another double on the same tick: price is off this grid
                    elif qty == 0.0:
                        return _ABSENT_DELETE
                    elif <double>t / self._scale == price:
                        return self._ladder_set(side, slot, price, qty)
                elif qty == 0.0:
                    if diff < 0 and self._n[side] > 0:
                        return self._sorted_set(side, price, qty, False)
                    return _ABSENT_DELETE   # nothing is kept above the window
                elif <double>t / self._scale == price:
                    if diff >= self.ladder_ticks or self._ln[side] == 0:
                        # A new best above the window (or an empty side): move the window.
                        self._recentre(side, key)
                        return self._ladder_set(side, <Py_ssize_t>(key - self._k0[side]), price, qty)
                    # Below the window: the overflow (worse than every ladder level).
                    return self._sorted_set(side, price, qty, self._side_count(side) >= self.capacity)
            # Off the current grid.
            if qty == 0.0:
                return _ABSENT_DELETE   # every level in the book lies on the grid
            d = _needed_decimals(price, self._decimals + 1)
            if d >= 0 and self._fits(d):
                self._regrid(d)
            else:
                self._disable_ladder()
            return self._set_level(side, price, qty)   # once: the price is now on the grid, or the ladder is off
        if self._decimals == -1:
            # Grid unknown yet, which means the book is empty (every insert sets it).
            if qty == 0.0:
                return _ABSENT_DELETE
            d = _needed_decimals(price, 0)
            if d >= 0:
                self._decimals = d
                self._scale = _POW10[d]
            else:
                self._decimals = -2
            return self._set_level(side, price, qty)
        return self._sorted_set(side, price, qty, self._n[side] >= self.capacity)

    cdef int _ladder_set(self, int side, Py_ssize_t slot, double price, double qty) noexcept:
        # slot in [0, W) holds price (occupied with exactly this price) or is
        # empty and price is on the grid at key _k0 + slot.
        cdef double* lq = self._lq[side]
        cdef uint64_t* bits = self._bits[side]
        cdef Py_ssize_t top, lo, n
        cdef int r = _INSERTED
        if lq[2 * slot] != 0.0:
            if qty != 0.0:
                lq[2 * slot] = qty
                return _UPDATED
            lq[2 * slot] = 0.0
            bits[slot >> 6] &= ~(<uint64_t>1 << (slot & 63))
            self._ln[side] -= 1
            if slot == self._best_slot[side]:
                top = _hi_bit(bits, slot - 1)
                self._best_slot[side] = top
                if self._n[side] > 0:
                    if top < 0:
                        # The ladder emptied: bring the overflow's best levels in.
                        n = self._n[side]
                        self._recentre(side, _key_of(self._px[side][n - 1], self._scale, side == BID))
                    elif top < (self.ladder_ticks >> 2):
                        # The best sank into the bottom quarter: re-centre on it.
                        self._recentre(side, self._k0[side] + top)
            return _DELETED
        n = self._n[side]
        if self._ln[side] + n >= self.capacity:
            if n > 0:
                # Full: the worst level is the overflow's index 0 (O(1): the region starts one later).
                self._ov_remove(side, 0)
            else:
                lo = _lo_bit(bits, self.ladder_ticks >> 6)   # >= 0: the ladder holds capacity >= 1 levels
                if slot < lo:
                    return _REJECTED
                lq[2 * lo] = 0.0
                bits[lo >> 6] &= ~(<uint64_t>1 << (lo & 63))
                self._ln[side] -= 1
            r = _INSERTED_EVICTED
        self._lp[side][2 * slot] = price
        lq[2 * slot] = qty
        bits[slot >> 6] |= <uint64_t>1 << (slot & 63)
        self._ln[side] += 1
        if self._ln[side] == 1 or slot > self._best_slot[side]:
            self._best_slot[side] = slot
        return r

    cdef void _recentre(self, int side, int64_t best_key) noexcept:
        # Move the window so that best_key sits 3/4 up.  Caller guarantees
        # best_key >= every ladder key, so no ladder level ends above the new
        # window; levels that end below it go to the overflow's best end, and
        # overflow levels that end inside it come in.
        self._top_n[side] = -1
        cdef Py_ssize_t W = self.ladder_ticks
        cdef int64_t new_k0 = best_key - (W - (W >> 2))
        cdef int64_t shift = new_k0 - self._k0[side]
        cdef double* lq = self._lq[side]
        cdef double* lp = self._lp[side]
        cdef uint64_t* bits = self._bits[side]
        cdef double* px = self._px[side]
        cdef double* qv = self._qty[side]
        cdef Py_ssize_t n = self._n[side], ln = self._ln[side], lim, s, w, slot, b
        cdef uint64_t m
        cdef int64_t key
        cdef bint is_bid = side == BID
        self.recentres += 1
        if ln > 0 and shift != 0:
            if shift > 0:
                self._ov_reserve_above(side, ln)
                px = self._px[side]
                qv = self._qty[side]
                lim = W if shift >= W else <Py_ssize_t>shift
                # Slots [0, lim) fall out, worst first: appended in order they
                # stay sorted and better than every overflow level (room for
                # ln of them was reserved above the region).
                for w in range((lim + 63) >> 6):
                    m = bits[w]
                    while m != 0:
                        slot = (w << 6) + fh_ctz64(m)
                        m &= m - 1
                        if slot >= lim:
                            break
                        px[n] = lp[2 * slot]
                        qv[n] = lq[2 * slot]
                        n += 1
                        ln -= 1
                        lq[2 * slot] = 0.0
                if lim < W:
                    # (price, qty) pairs: slots [lim, W) down to [0, W - lim), the rest emptied
                    memmove(lp, lp + 2 * lim, 2 * (W - lim) * sizeof(double))
                    memset(lp + 2 * (W - lim), 0, 2 * lim * sizeof(double))
            else:
                # Ladder keys <= best_key < new_k0 + W, and every key >= old
                # k0 = new_k0 + s: so s < W here and the top s slots are empty.
                s = <Py_ssize_t>(-shift)
                memmove(lp + 2 * s, lp, 2 * (W - s) * sizeof(double))
                memset(lp, 0, 2 * s * sizeof(double))
            # Occupancy from the quantities (0.0 = empty slot).
            for w in range(W >> 6):
                m = 0
                for b in range(64):
                    if lq[2 * ((w << 6) + b)] != 0.0:
                        m |= <uint64_t>1 << b
                bits[w] = m
        self._k0[side] = new_k0
        # Overflow levels now inside the window (its best end): new_k0 <= key
        # <= best_key < new_k0 + W, so slot is in [0, W).
        while n > 0:
            key = _key_of(px[n - 1], self._scale, is_bid)
            if key < new_k0:
                break
            slot = <Py_ssize_t>(key - new_k0)
            lp[2 * slot] = px[n - 1]
            lq[2 * slot] = qv[n - 1]
            bits[slot >> 6] |= <uint64_t>1 << (slot & 63)
            ln += 1
            n -= 1
        self._n[side] = n
        self._ln[side] = ln
        self._best_slot[side] = _hi_bit(bits, W - 1) if ln > 0 else -1

    cdef void _flush_ladder(self, int side) noexcept:
        # Every ladder level to the overflow's best end, worst first (they are
        # all better than the overflow's levels; room reserved first).
        self._top_n[side] = -1
        cdef double* lq = self._lq[side]
        cdef double* lp = self._lp[side]
        cdef uint64_t* bits = self._bits[side]
        cdef Py_ssize_t n = self._n[side], w, slot
        cdef uint64_t m
        if self._ln[side] > 0:
            self._ov_reserve_above(side, self._ln[side])
            for w in range(self.ladder_ticks >> 6):
                m = bits[w]
                while m != 0:
                    slot = (w << 6) + fh_ctz64(m)
                    m &= m - 1
                    self._px[side][n] = lp[2 * slot]
                    self._qty[side][n] = lq[2 * slot]
                    n += 1
                    lq[2 * slot] = 0.0
                bits[w] = 0
        self._n[side] = n
        self._ln[side] = 0
        self._best_slot[side] = -1

    cdef void _clear_ladder(self, int side) noexcept:
        # Empty the ladder without keeping its levels (O(W / 64 + levels)).
        self._top_n[side] = -1
        cdef double* lq = self._lq[side]
        cdef uint64_t* bits = self._bits[side]
        cdef Py_ssize_t w
        cdef uint64_t m
        if self._ln[side] > 0:
            for w in range(self.ladder_ticks >> 6):
                m = bits[w]
                while m != 0:
                    lq[2 * ((w << 6) + fh_ctz64(m))] = 0.0
                    m &= m - 1
                bits[w] = 0
        self._ln[side] = 0
        self._best_slot[side] = -1

    cdef void _regrid(self, int decimals) noexcept:
        # A finer grid: every level lies on it too (a multiple of 10**-d is a
        # multiple of 10**-(d+k)); rebuild both ladders around their best.
        cdef int s
        for s in range(2):
            self._flush_ladder(s)
        self._decimals = decimals
        self._scale = _POW10[decimals]
        for s in range(2):
            if self._n[s] > 0:
                self._recentre(s, _key_of(self._px[s][self._n[s] - 1], self._scale, s == BID))

    cdef void _disable_ladder(self) noexcept:
        # The documented slower path: the sorted arrays alone, until clear().
        self._flush_ladder(BID)
        self._flush_ladder(ASK)
        self._decimals = -2

    cdef bint _fits(self, int decimals) noexcept:
        # Every price of the book below 2**53 ticks on the grid 10**-decimals:
        # the largest are the best bid and the worst ask.
        cdef double hi = 0.0, p
        cdef Py_ssize_t lo
        if self._side_count(BID) > 0:
            hi = self.c_best_bid_price()
        if self._n[ASK] > 0:
            p = self._px[ASK][0]
        elif self._ln[ASK] > 0:
            lo = _lo_bit(self._bits[ASK], self.ladder_ticks >> 6)
            p = self._lp[ASK][2 * lo]
        else:
            p = 0.0
        if p > hi:
            hi = p
        return hi * _POW10[decimals] < _TICK_LIMIT

    cdef int _sorted_set(self, int side, double price, double qty, bint full) noexcept:
        # The overflow arrays (the previous layout).  ``full``: the side holds
        # capacity levels, so an insert must push out the worst (index 0).
        cdef double* px = self._px[side]
        cdef double* qv = self._qty[side]
        cdef Py_ssize_t n = self._n[side]
        cdef Py_ssize_t j = _find(px, n, price, side == BID, _linear_scan)
        if j >= 0:
            if qty == 0.0:
                self._ov_remove(side, j)
                return _DELETED
            qv[j] = qty
            return _UPDATED
        if qty == 0.0:
            return _ABSENT_DELETE
        j = -j - 1   # insertion point in [0, n]
        if full:
            if j == 0:
                return _REJECTED   # worse than the worst level of a full side
            # Push out the worst level (index 0, O(1)), then insert.
            self._ov_remove(side, 0)
            self._ov_insert(side, j - 1, price, qty)
            return _INSERTED_EVICTED
        self._ov_insert(side, j, price, qty)
        return _INSERTED

    cdef void _ov_place(self, int side, Py_ssize_t offset) noexcept:
        # Move the used region to start at base + offset; caller: offset + n <= 2 x capacity.
        cdef Py_ssize_t n = self._n[side]
        memmove(self._pbase[side] + offset, self._px[side], n * sizeof(double))
        memmove(self._qbase[side] + offset, self._qty[side], n * sizeof(double))
        self._px[side] = self._pbase[side] + offset
        self._qty[side] = self._qbase[side] + offset

    cdef void _ov_reserve_above(self, int side, Py_ssize_t k) noexcept:
        # At least k free slots after the region; caller: n + k <= capacity (so it fits).
        cdef Py_ssize_t below = self._px[side] - self._pbase[side], n = self._n[side]
        if 2 * self.capacity - below - n < k:
            self._ov_place(side, (2 * self.capacity - n - k) // 2)

    cdef void _ov_insert(self, int side, Py_ssize_t j, double price, double qty) noexcept:
        # Insert at index j in [0, n] of the region; caller: n < capacity.  The
        # shorter part moves: [0, j) down one, or [j, n) up one; when that side
        # of the region is at the array's edge the region is first re-centred
        # (n < capacity, so both sides then have >= capacity / 2 free slots).
        cdef Py_ssize_t n = self._n[side]
        cdef Py_ssize_t below = self._px[side] - self._pbase[side]
        cdef Py_ssize_t above = 2 * self.capacity - below - n
        cdef double* px
        cdef double* qv
        if j < n - j:
            if below == 0:
                self._ov_place(side, (2 * self.capacity - n) // 2 + 1)
            self._px[side] -= 1
            self._qty[side] -= 1
            px = self._px[side]
            qv = self._qty[side]
            memmove(px, px + 1, j * sizeof(double))
            memmove(qv, qv + 1, j * sizeof(double))
        else:
            if above == 0:
                self._ov_place(side, (2 * self.capacity - n) // 2)
            px = self._px[side]
            qv = self._qty[side]
            memmove(px + j + 1, px + j, (n - j) * sizeof(double))
            memmove(qv + j + 1, qv + j, (n - j) * sizeof(double))
        px[j] = price
        qv[j] = qty
        self._n[side] = n + 1

    cdef void _ov_remove(self, int side, Py_ssize_t j) noexcept:
        # Remove index j in [0, n) of the region, moving the shorter part.
        cdef Py_ssize_t n = self._n[side]
        cdef double* px = self._px[side]
        cdef double* qv = self._qty[side]
        if j < n - 1 - j:
            memmove(px + 1, px, j * sizeof(double))
            memmove(qv + 1, qv, j * sizeof(double))
            self._px[side] = px + 1
            self._qty[side] = qv + 1
        else:
            memmove(px + j, px + j + 1, (n - j - 1) * sizeof(double))
            memmove(qv + j, qv + j + 1, (n - j - 1) * sizeof(double))
        self._n[side] = n - 1

    cdef Py_ssize_t c_top_pairs(self, int side, Py_ssize_t n, const double** pairs) noexcept:
        cdef double* buf = self._pairs[side]
        pairs[0] = buf
        self._top_n[side] = -1   # the buffer c_top_region keeps is overwritten
        if n <= 0:
            return 0
        return self._walk(side, n, buf, buf + 1, 2)

    cdef Py_ssize_t c_top_region(self, int side, Py_ssize_t n, const double** px, const double** qty) noexcept:
        cdef Py_ssize_t k = self._side_count(side)
        cdef double* buf = self._pairs[side]
        if n < k:
            k = n if n > 0 else 0
        if self._ln[side] == 0:
            # sorted layout: the top k levels are the region's last k, in place
            px[0] = self._px[side] + (self._n[side] - k)
            qty[0] = self._qty[side] + (self._n[side] - k)
            return k
        # ladder: best first walked into [k - 1 .. 0] (stride -1) of prices at buf, quantities at buf + capacity
        px[0] = buf
        qty[0] = buf + self.capacity
        if self._top_n[side] == n:
            # Nothing at or better than the last walk's worst level changed since (_set_level and
            # every structural change mark it stale): the buffer still holds the top n.
            return self._top_k[side]
        if k > 0:
            self._walk(side, k, buf + (k - 1), buf + self.capacity + (k - 1), -1)
        self._top_n[side] = n
        self._top_k[side] = k
        if k == n and k > 0:
            self._top_thr[side] = buf[0]
        else:
            self._top_thr[side] = -INFINITY if side == BID else INFINITY
        return k

    cdef Py_ssize_t _walk(self, int side, Py_ssize_t n, double* out_px, double* out_qty,
                          Py_ssize_t stride) noexcept:
        # The best min(n, count) levels, best first, into out_*[0], out_*[stride], ...; returns k.
        cdef Py_ssize_t k = 0, slot = self._best_slot[side], i
        cdef double* lp = self._lp[side]
        cdef double* lq = self._lq[side]
        if self._ln[side] > 0:
            while k < n and slot >= 0:
                out_px[k * stride] = lp[2 * slot]
                out_qty[k * stride] = lq[2 * slot]
                k += 1
                slot = _hi_bit(self._bits[side], slot - 1)
        i = self._n[side] - 1
        while k < n and i >= 0:
            out_px[k * stride] = self._px[side][i]
            out_qty[k * stride] = self._qty[side][i]
            k += 1
            i -= 1
        return k

    cdef void _drop_worst(self, int side, Py_ssize_t k) noexcept:
        # Remove the k worst levels: the overflow's first, then the ladder's lowest.
        self._top_n[side] = -1
        cdef Py_ssize_t n = self._n[side], slot
        cdef uint64_t* bits = self._bits[side]
        if k <= 0:
            return
        if k < n:
            self._px[side] += k   # the region now starts k later: O(1)
            self._qty[side] += k
            self._n[side] = n - k
            return
        k -= n
        self._n[side] = 0
        while k > 0 and self._ln[side] > 0:
            slot = _lo_bit(bits, self.ladder_ticks >> 6)
            self._lq[side][2 * slot] = 0.0
            bits[slot >> 6] &= ~(<uint64_t>1 << (slot & 63))
            self._ln[side] -= 1
            k -= 1
        if self._ln[side] == 0:
            self._best_slot[side] = -1

    cdef int c_apply_level(self, int side, double price, double qty) except -1:
        cdef int r
        if side != BID and side != ASK:
            _check_side(side)
        if not _valid_price(price):
            raise ValueError(f"invalid price {price!r} (must be finite and > 0)")
        if not _valid_qty(qty):
            raise ValueError(f"invalid quantity {qty!r} (must be finite and >= 0)")
        r = self._set_level(side, price, qty)
        if r == _ABSENT_DELETE:
            self.absent_deletes += 1
        elif r == _INSERTED_EVICTED or r == _REJECTED:
            self.dropped_levels += 1
        return 0

    cdef int c_apply_levels(self, int side, const double* prices, const double* qtys,
                            Py_ssize_t n) except -1:
        _check_side(side)
        _validate(prices, qtys, n, "apply_levels")
        self.c_apply_levels_trusted(side, prices, qtys, n)
        return 0

    cdef void c_apply_levels_trusted(self, int side, const double* prices, const double* qtys,
                                     Py_ssize_t n) noexcept:
        # Validated by the caller (see the .pxd): no third pass over the levels.
        cdef Py_ssize_t i
        cdef int r
        for i in range(n):
            r = self._set_level(side, prices[i], qtys[i])
            if r == _ABSENT_DELETE:
                self.absent_deletes += 1
            elif r == _INSERTED_EVICTED or r == _REJECTED:
                self.dropped_levels += 1

    cdef int c_load_snapshot(self, const double* bid_px, const double* bid_qty, Py_ssize_t n_bids,
                             const double* ask_px, const double* ask_qty, Py_ssize_t n_asks,
                             int64_t update_id) except -1:
        cdef Py_ssize_t drops, i
        cdef int d = self._decimals, s
        _validate(bid_px, bid_qty, n_bids, "load_snapshot bids")
        _validate(ask_px, ask_qty, n_asks, "load_snapshot asks")
        # Counted before mutating: its only failure (MemoryError) must leave
        # the book untouched.
        drops = (_snapshot_drops(bid_px, bid_qty, n_bids, self.capacity)
                 + _snapshot_drops(ask_px, ask_qty, n_asks, self.capacity))
        if d != -2:
            # The coarsest grid (at least the current one) holding every price;
            # still unknown (-1) when the snapshot has no level.
            d = _snapshot_grid(bid_px, bid_qty, n_bids, d if d >= 0 else 0, d)
            if d != -2:   # a bid off every grid settles it: the asks must not restart the search
                d = _snapshot_grid(ask_px, ask_qty, n_asks, d if d >= 0 else 0, d)
        for s in range(2):
            self._clear_ladder(s)
        self._decimals = d
        self._scale = _POW10[d] if d >= 0 else 1.0
        self._load_side(BID, bid_px, bid_qty, n_bids)
        self._load_side(ASK, ask_px, ask_qty, n_asks)
        if d >= 0:
            for s in range(2):
                if self._n[s] > 0:
                    self._recentre(s, _key_of(self._px[s][self._n[s] - 1], self._scale, s == BID))
        self.dropped_levels += drops
        self.last_update_id = update_id
        return 0

    cdef void _load_side(self, int side, const double* px, const double* qty, Py_ssize_t n) noexcept:
        # Inputs are validated and the ladder is empty: this fills the sorted
        # overflow arrays (c_load_snapshot then re-centres the ladder on them).
        # Fast path: exchanges send snapshots sorted (best first, sometimes
        # worst first) without duplicates, which is copied straight in;
        # anything else goes through ordered inserts.
        self._top_n[side] = -1
        cdef bint is_bid = side == BID
        cdef double* dpx = self._px[side]
        cdef double* dqv = self._qty[side]
        cdef Py_ssize_t i, m = 0, k, w
        cdef bint best_first = True, worst_first = True
        cdef double prev = NAN
        for i in range(n):
            if qty[i] > 0.0:
                if m > 0:
                    if not _better(prev, px[i], is_bid):
                        best_first = False
                    if not _better(px[i], prev, is_bid):
                        worst_first = False
                prev = px[i]
                m += 1
        self._n[side] = 0
        self._ov_place(side, self.capacity // 2)   # empty: room for capacity levels above
        dpx = self._px[side]
        dqv = self._qty[side]
        if m == 0:
            return
        if best_first or worst_first:
            k = m if m < self.capacity else self.capacity
            w = k - 1   # the best input level goes to index k-1
            if best_first:
                i = 0
                while w >= 0:   # stops after k positive levels; i < n holds since m >= k
                    if qty[i] > 0.0:
                        dpx[w] = px[i]
                        dqv[w] = qty[i]
                        w -= 1
                    i += 1
            else:
                i = n - 1
                while w >= 0:
                    if qty[i] > 0.0:
                        dpx[w] = px[i]
                        dqv[w] = qty[i]
                        w -= 1
                    i -= 1
            self._n[side] = k
            return
        for i in range(n):
            if qty[i] > 0.0:
                self._sorted_set(side, px[i], qty[i], self._n[side] >= self.capacity)

    cdef void c_clear(self) noexcept:
        self._top_n[BID] = self._top_n[ASK] = -1
        self._clear_ladder(BID)
        self._clear_ladder(ASK)
        self._n[BID] = 0
        self._n[ASK] = 0
        self._ov_place(BID, self.capacity // 2)
        self._ov_place(ASK, self.capacity // 2)
        self._decimals = self._init_decimals
        self._scale = _POW10[self._decimals] if self._decimals >= 0 else 1.0
        self.last_update_id = 0
        self.dropped_levels = 0
        self.absent_deletes = 0
        self.recentres = 0

    cdef bint c_is_crossed(self) noexcept:
        return (self._side_count(BID) > 0 and self._side_count(ASK) > 0
                and self.c_best_bid_price() >= self.c_best_ask_price())

    # Best level: the ladder's top whenever the ladder holds levels (it is
    # never empty while the overflow is not), else the overflow's last.
    cdef double c_best_bid_price(self) noexcept:
        return _best_value(self, BID, False)

    cdef double c_best_bid_qty(self) noexcept:
        return _best_value(self, BID, True)

    cdef double c_best_ask_price(self) noexcept:
        return _best_value(self, ASK, False)

    cdef double c_best_ask_qty(self) noexcept:
        return _best_value(self, ASK, True)

    cdef void _copy_from(self, OrderBook other) noexcept:
        # Caller guarantees the same capacity and ladder_ticks.
        self._top_n[BID] = self._top_n[ASK] = -1
        cdef int s
        cdef Py_ssize_t W = self.ladder_ticks if self.ladder_ticks else 64
        for s in range(2):
            self._px[s] = self._pbase[s] + (other._px[s] - other._pbase[s])
            self._qty[s] = self._qbase[s] + (other._qty[s] - other._qbase[s])
            memcpy(self._px[s], other._px[s], other._n[s] * sizeof(double))
            memcpy(self._qty[s], other._qty[s], other._n[s] * sizeof(double))
            memcpy(self._lp[s], other._lp[s], 2 * W * sizeof(double))
            memcpy(self._bits[s], other._bits[s], (W >> 6) * sizeof(uint64_t))
            self._n[s] = other._n[s]
            self._ln[s] = other._ln[s]
            self._best_slot[s] = other._best_slot[s]
            self._k0[s] = other._k0[s]
        self._decimals = other._decimals
        self._scale = other._scale
        self.last_update_id = other.last_update_id
        self.dropped_levels = other.dropped_levels
        self.absent_deletes = other.absent_deletes

    cdef object _top(self, int side, Py_ssize_t n):
        cdef Py_ssize_t used = self._side_count(side), k, off
        cdef double* opx
        cdef double* oqv
        if n < 0:
            raise ValueError(f"depth must be >= 0, got {n}")
        if n > used:
            n = used
        if self._ln[side] == 0:
            # Sorted layout (ladder off or empty): views of the arrays themselves.
            px = self._bid_px_arr if side == BID else self._ask_px_arr
            qv = self._bid_qty_arr if side == BID else self._ask_qty_arr
            # Slice first, then reverse: a single negative-stride slice would need
            # stop = used - n - 1, which is -1 (wraps around) when n == used.
            off = self._px[side] - self._pbase[side]
            return px[off + used - n:off + used][::-1], qv[off + used - n:off + used][::-1]
        cdef int s
        if self._out_arrs is None:
            # Once per book: the copy buffers of both sides, read-only to Python.
            self._out_arrs = tuple(np.zeros(self.capacity, dtype=np.float64) for _ in range(4))
            for s in range(2):
                self._opx[s] = _pointer(self._out_arrs[2 * s])
                self._oqty[s] = _pointer(self._out_arrs[2 * s + 1])
                self._out_arrs[2 * s].flags.writeable = False
                self._out_arrs[2 * s + 1].flags.writeable = False
        k = self._walk(side, n, self._opx[side], self._oqty[side], 1)
        return self._out_arrs[2 * side][:k], self._out_arrs[2 * side + 1][:k]

    cdef list _levels(self, int side):
        cdef Py_ssize_t n = self._side_count(side)
        px = np.empty(n, dtype=np.float64)
        qv = np.empty(n, dtype=np.float64)
        if n:
            self._walk(side, n, _pointer(px), _pointer(qv), 1)
        return list(zip(px.tolist(), qv.tolist()))

    # ------------------------------------------------------------ Python API

    def apply_level(self, int side, double price, double qty):
        """Apply one level: absolute quantity at ``price``; 0 deletes it.

        The cheapest way to feed single levels from Python.

        Parameters
        ----------
        side : int
            ``BID`` or ``ASK``.
        price : float
            Finite, > 0.
        qty : float
            Finite, >= 0; 0 deletes the level (a delete of an absent level is
            a no-op counted in ``absent_deletes``).

        Raises
        ------
        ValueError
            Invalid side, price or quantity (the book is unchanged).
        """
        self.c_apply_level(side, price, qty)

    def apply_levels(self, int side, prices, qtys):
        """Apply a batch of one side's levels, in order.

        Parameters
        ----------
        side : int
            ``BID`` or ``ASK``.
        prices, qtys : array-like of float
            Same length.  Float64 C-contiguous buffers (numpy arrays,
            ``array('d')``) are read in place without copying; anything else
            is converted with numpy first.

        Raises
        ------
        ValueError
            Invalid side, mismatched lengths, or any invalid level; the whole
            batch is validated first, so the book is then unchanged.
        """
        _check_side(side)
        cdef cnp.ndarray pa = _as_f64_vector(prices, "prices")
        cdef cnp.ndarray qa = _as_f64_vector(qtys, "qtys")
        cdef Py_ssize_t n = cnp.PyArray_DIM(pa, 0)
        if n != cnp.PyArray_DIM(qa, 0):
            raise ValueError(f"prices and qtys differ in length: {n} != {cnp.PyArray_DIM(qa, 0)}")
        self.c_apply_levels(side, <const double*>cnp.PyArray_DATA(pa), <const double*>cnp.PyArray_DATA(qa), n)

    def load_snapshot(self, bids, asks, int64_t update_id):
        """Replace both sides with a snapshot.

        Parameters
        ----------
        bids, asks : sequence of (price, qty) pairs, or (n, 2) array
            Any order.  Duplicated prices: the last positive quantity wins.
            Zero quantities are skipped.  Beyond ``capacity`` distinct
            levels, the best ``capacity`` are kept and the rest are counted in
            ``dropped_levels``.
        update_id : int
            Exchange sequence id of the snapshot (int64), stored in
            ``last_update_id``.

        Raises
        ------
        ValueError
            Malformed input or any invalid level (the book is unchanged).
        """
        bp, bq = _pairs(bids, "bids")
        ap, aq = _pairs(asks, "asks")
        cdef double[::1] bpv = bp, bqv = bq, apv = ap, aqv = aq
        cdef const double* bpp = &bpv[0] if bpv.shape[0] else NULL
        cdef const double* bqp = &bqv[0] if bqv.shape[0] else NULL
        cdef const double* app = &apv[0] if apv.shape[0] else NULL
        cdef const double* aqp = &aqv[0] if aqv.shape[0] else NULL
        self.c_load_snapshot(bpp, bqp, bpv.shape[0], app, aqp, apv.shape[0], update_id)

    cdef object _best(self, int side):
        # The last (price, qty) tuple handed out is kept with its two doubles
        # and returned again while the top level is unchanged: reading the
        # top after every update usually allocates nothing.  (Compared by
        # value, so no mutation path has to remember to invalidate it.)
        cdef double p, q
        if self._side_count(side) == 0:
            return None
        if side == BID:
            p = self.c_best_bid_price()
            q = self.c_best_bid_qty()
        else:
            p = self.c_best_ask_price()
            q = self.c_best_ask_qty()
        if p != self._best_px[side] or q != self._best_qty[side]:
            self._best_px[side] = p
            self._best_qty[side] = q
            if side == BID:
                self._best_bid_obj = (p, q)
            else:
                self._best_ask_obj = (p, q)
        return self._best_bid_obj if side == BID else self._best_ask_obj

    @property
    def best_bid(self):
        """(price, qty) of the best bid, or None when there are no bids."""
        return self._best(BID)

    @property
    def best_ask(self):
        """(price, qty) of the best ask, or None when there are no asks."""
        return self._best(ASK)

    @property
    def best_bid_price(self):
        """Best bid price as a float; NaN when there are no bids."""
        return self.c_best_bid_price()

    @property
    def best_ask_price(self):
        """Best ask price as a float; NaN when there are no asks."""
        return self.c_best_ask_price()

    @property
    def spread(self):
        """Best ask minus best bid; NaN when a side is empty."""
        return self.c_best_ask_price() - self.c_best_bid_price()

    @property
    def mid(self):
        """(best bid + best ask) / 2; NaN when a side is empty."""
        return (self.c_best_ask_price() + self.c_best_bid_price()) * 0.5

    @property
    def bid_count(self):
        """Number of bid levels."""
        return self._side_count(BID)

    @property
    def ask_count(self):
        """Number of ask levels."""
        return self._side_count(ASK)

    def __len__(self):
        """Total number of levels, both sides."""
        return self._side_count(BID) + self._side_count(ASK)

    def top_bids(self, Py_ssize_t n):
        """Best ``n`` bids as read-only views, best first, without copying.

        Parameters
        ----------
        n : int
            Depth; fewer levels are returned when the side is shallower.

        Returns
        -------
        (prices, qtys) : tuple of numpy.ndarray
            Two float64 arrays of shape (k,), k = min(n, bid_count), both
            negative-stride views into the book's memory.  Valid until the
            next mutation of the book.
        """
        return self._top(BID, n)

    def top_asks(self, Py_ssize_t n):
        """Best ``n`` asks as read-only views, best first (see ``top_bids``)."""
        return self._top(ASK, n)

    def is_crossed(self):
        """True when both sides are non-empty and best bid >= best ask.

        A locked book (bid == ask) counts as crossed: a matching engine never
        leaves one, so either is a sign of a missed update.
        """
        return self.c_is_crossed()

    def truncate(self, Py_ssize_t depth):
        """Keep only the best ``depth`` levels of each side.

        Truncation is an explicit request, so it is not counted in
        ``dropped_levels``.
        """
        cdef int s
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        for s in range(2):
            self._drop_worst(s, self._side_count(s) - depth)

    def clear(self):
        """Empty both sides; reset ``last_update_id`` and the counters to 0."""
        self.c_clear()

    def copy(self):
        """An independent book with the same symbol, capacity and state."""
        cdef OrderBook other = OrderBook(self.symbol, self.capacity, self.ladder_ticks, max(self._init_decimals, -1))
        other._copy_from(self)
        return other

    def to_dict(self):
        """Plain-Python state: symbol, last_update_id, bids/asks best first.

        Returns
        -------
        dict
            ``{"symbol": str, "last_update_id": int, "bids": [(price, qty), ...],
            "asks": [(price, qty), ...]}`` with both sides best first.
        """
        return {
            "symbol": self.symbol,
            "last_update_id": self.last_update_id,
            "bids": self._levels(BID),
            "asks": self._levels(ASK),
        }

    def __repr__(self):
        return (f"OrderBook({self.symbol!r}, capacity={self.capacity}, bids={self._side_count(BID)}, "
                f"asks={self._side_count(ASK)}, best_bid={self.best_bid}, best_ask={self.best_ask}, "
                f"last_update_id={self.last_update_id}, layout={self.layout!r})")

    @property
    def layout(self):
        """``"ladder"`` (the tick ladder is in use) or ``"sorted"`` (the sorted arrays alone).

        ``"sorted"`` with ``ladder_ticks=0``, or after a price off every grid
        up to 12 decimals (until ``clear``).
        """
        return "sorted" if self._decimals == -2 else "ladder"

    @property
    def price_decimals(self):
        """Decimal places of the ladder's tick grid; None while unknown or in the sorted layout."""
        return self._decimals if self._decimals >= 0 else None

    def __reduce__(self):
        raise TypeError("OrderBook cannot be pickled; use to_dict()")


def _apply_with_best(OrderBook book not None, const signed char[::1] sides, const double[::1] prices,
                     const double[::1] qtys):
    """Apply levels one by one and read the best bid and ask after each, in one C loop (benchmarks).

    The per-level cost a compiled decoder pays: ``c_apply_level`` (validation
    included) then ``c_best_*`` of both sides.

    Parameters
    ----------
    book : OrderBook
    sides : int8 array of BID/ASK
    prices, qtys : float64 arrays of the same length

    Returns
    -------
    float
        A checksum of the best prices and quantities read (so the reads are kept).
    """
    cdef Py_ssize_t i, n = prices.shape[0]
    cdef double acc = 0.0
    if sides.shape[0] != n or qtys.shape[0] != n:
        raise ValueError("sides, prices and qtys differ in length")
    for i in range(n):
        book.c_apply_level(sides[i], prices[i], qtys[i])
        acc += book.c_best_bid_price() + book.c_best_ask_price() + book.c_best_bid_qty() + book.c_best_ask_qty()
    return acc


def _top_pairs(OrderBook book not None, int side, Py_ssize_t n):
    """``c_top_pairs`` from Python (tests): a copy of the best ``n`` (price, qty) pairs, shape (k, 2)."""
    cdef const double* pairs
    _check_side(side)
    cdef Py_ssize_t k = book.c_top_pairs(side, n, &pairs)
    out = np.empty((k, 2), dtype=np.float64)
    if k:
        memcpy(cnp.PyArray_DATA(out), pairs, 2 * k * sizeof(double))
    return out



def _top_region(OrderBook book not None, int side, Py_ssize_t n):
    """``c_top_region`` from Python (tests): copies of (prices, qtys), worst first, best last."""
    cdef const double* px
    cdef const double* qv
    _check_side(side)
    cdef Py_ssize_t k = book.c_top_region(side, n, &px, &qv)
    out_p = np.empty(k, dtype=np.float64)
    out_q = np.empty(k, dtype=np.float64)
    if k:
        memcpy(cnp.PyArray_DATA(out_p), px, k * sizeof(double))
        memcpy(cnp.PyArray_DATA(out_q), qv, k * sizeof(double))
    return out_p, out_q
