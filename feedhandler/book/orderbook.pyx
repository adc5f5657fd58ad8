# cython: language_level=3
"""Preallocated, numpy-backed L2 order book and a pool of books.

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
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcpy, memmove

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


@cython.final
cdef class OrderBook:
    """L2 order book over preallocated float64 numpy arrays.

    Parameters
    ----------
    symbol : str
        Instrument name, as the exchange spells it.
    capacity : int, default 1000
        Maximum number of levels per side.  Memory is allocated once here;
        when a side is full, an insert pushes out the level farthest from the
        top (or is itself dropped if it is the farthest) and
        ``dropped_levels`` counts it.  There is never a reallocation.

    Notes
    -----
    Prices must be finite and > 0, quantities finite and >= 0 (0 deletes a
    level).  Prices are compared exactly (see the module docstring).

    ``top_bids``/``top_asks`` return read-only numpy views into the book's
    own memory: they are only meaningful until the next mutation of the book
    (levels shift in place).  Use ``to_dict()`` or ``copy()`` to keep a state.
    """

    def __cinit__(self, str symbol not None, Py_ssize_t capacity=1000):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.symbol = symbol
        self.capacity = capacity
        self._bid_px_arr = np.zeros(capacity, dtype=np.float64)
        self._bid_qty_arr = np.zeros(capacity, dtype=np.float64)
        self._ask_px_arr = np.zeros(capacity, dtype=np.float64)
        self._ask_qty_arr = np.zeros(capacity, dtype=np.float64)
        self._px[BID] = _pointer(self._bid_px_arr)
        self._qty[BID] = _pointer(self._bid_qty_arr)
        self._px[ASK] = _pointer(self._ask_px_arr)
        self._qty[ASK] = _pointer(self._ask_qty_arr)
        for arr in (self._bid_px_arr, self._bid_qty_arr, self._ask_px_arr, self._ask_qty_arr):
            # Python sees the memory read-only (views included) so it can never
            # break the ordering; the book writes through its raw pointers.
            arr.flags.writeable = False
        self._n[BID] = 0
        self._n[ASK] = 0
        # NaN never compares equal, so the first best_* read builds a tuple.
        self._best_px[BID] = self._best_px[ASK] = NAN
        self._best_qty[BID] = self._best_qty[ASK] = NAN

    # ------------------------------------------------------------------ C API

    cdef int _set_level(self, int side, double price, double qty) noexcept:
        # Caller guarantees a valid side, price and quantity.
        cdef double* px = self._px[side]
        cdef double* qv = self._qty[side]
        cdef Py_ssize_t n = self._n[side]
        cdef Py_ssize_t j = _find(px, n, price, side == BID, _linear_scan)
        if j >= 0:
            if qty == 0.0:
                # Delete index j: shift the (few) better levels (j, n) down one.
                memmove(px + j, px + j + 1, (n - j - 1) * sizeof(double))
                memmove(qv + j, qv + j + 1, (n - j - 1) * sizeof(double))
                self._n[side] = n - 1
                return _DELETED
            qv[j] = qty
            return _UPDATED
        if qty == 0.0:
            return _ABSENT_DELETE
        j = -j - 1   # insertion point in [0, n]
        if n < self.capacity:
            # Open a slot at j by shifting the better levels [j, n) up one;
            # n < capacity so index n is inside the array.
            memmove(px + j + 1, px + j, (n - j) * sizeof(double))
            memmove(qv + j + 1, qv + j, (n - j) * sizeof(double))
            px[j] = price
            qv[j] = qty
            self._n[side] = n + 1
            return _INSERTED
        if j == 0:
            return _REJECTED   # worse than the worst level of a full side
        # Full: push out the worst level (index 0) by shifting [1, j) down one,
        # which frees slot j-1 for the new level.
        memmove(px, px + 1, (j - 1) * sizeof(double))
        memmove(qv, qv + 1, (j - 1) * sizeof(double))
        px[j - 1] = price
        qv[j - 1] = qty
        return _INSERTED_EVICTED

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
        cdef Py_ssize_t i
        cdef int r
        _check_side(side)
        _validate(prices, qtys, n, "apply_levels")
        for i in range(n):
            r = self._set_level(side, prices[i], qtys[i])
            if r == _ABSENT_DELETE:
                self.absent_deletes += 1
            elif r == _INSERTED_EVICTED or r == _REJECTED:
                self.dropped_levels += 1
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
        cdef Py_ssize_t drops
        _validate(bid_px, bid_qty, n_bids, "load_snapshot bids")
        _validate(ask_px, ask_qty, n_asks, "load_snapshot asks")
        # Counted before mutating: its only failure (MemoryError) must leave
        # the book untouched.
        drops = (_snapshot_drops(bid_px, bid_qty, n_bids, self.capacity)
                 + _snapshot_drops(ask_px, ask_qty, n_asks, self.capacity))
        self._load_side(BID, bid_px, bid_qty, n_bids)
        self._load_side(ASK, ask_px, ask_qty, n_asks)
        self.dropped_levels += drops
        self.last_update_id = update_id
        return 0

    cdef void _load_side(self, int side, const double* px, const double* qty, Py_ssize_t n) noexcept:
        # Inputs are validated.  Fast path: exchanges send snapshots sorted
        # (best first, sometimes worst first) without duplicates, which is
        # copied straight in; anything else goes through ordered inserts.
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
                self._set_level(side, px[i], qty[i])

    cdef void c_clear(self) noexcept:
        self._n[BID] = 0
        self._n[ASK] = 0
        self.last_update_id = 0
        self.dropped_levels = 0
        self.absent_deletes = 0

    cdef bint c_is_crossed(self) noexcept:
        return (self._n[BID] > 0 and self._n[ASK] > 0
                and self._px[BID][self._n[BID] - 1] >= self._px[ASK][self._n[ASK] - 1])

    cdef double c_best_bid_price(self) noexcept:
        return self._px[BID][self._n[BID] - 1] if self._n[BID] > 0 else NAN

    cdef double c_best_bid_qty(self) noexcept:
        return self._qty[BID][self._n[BID] - 1] if self._n[BID] > 0 else NAN

    cdef double c_best_ask_price(self) noexcept:
        return self._px[ASK][self._n[ASK] - 1] if self._n[ASK] > 0 else NAN

    cdef double c_best_ask_qty(self) noexcept:
        return self._qty[ASK][self._n[ASK] - 1] if self._n[ASK] > 0 else NAN

    cdef void _copy_from(self, OrderBook other) noexcept:
        # Caller guarantees other.capacity <= self.capacity.
        cdef int s
        for s in range(2):
            memcpy(self._px[s], other._px[s], other._n[s] * sizeof(double))
            memcpy(self._qty[s], other._qty[s], other._n[s] * sizeof(double))
            self._n[s] = other._n[s]
        self.last_update_id = other.last_update_id
        self.dropped_levels = other.dropped_levels
        self.absent_deletes = other.absent_deletes

    cdef object _top(self, int side, Py_ssize_t n):
        cdef Py_ssize_t used = self._n[side]
        if n < 0:
            raise ValueError(f"depth must be >= 0, got {n}")
        if n > used:
            n = used
        px = self._bid_px_arr if side == BID else self._ask_px_arr
        qv = self._bid_qty_arr if side == BID else self._ask_qty_arr
        # Slice first, then reverse: a single negative-stride slice would need
        # stop = used - n - 1, which is -1 (wraps around) when n == used.
        return px[used - n:used][::-1], qv[used - n:used][::-1]

    cdef list _levels(self, int side):
        cdef Py_ssize_t i
        cdef double* px = self._px[side]
        cdef double* qv = self._qty[side]
        return [(px[i], qv[i]) for i in range(self._n[side] - 1, -1, -1)]

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
        cdef Py_ssize_t n = self._n[side]
        cdef double p, q
        if n == 0:
            return None
        p = self._px[side][n - 1]
        q = self._qty[side][n - 1]
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
        return self._n[BID]

    @property
    def ask_count(self):
        """Number of ask levels."""
        return self._n[ASK]

    def __len__(self):
        """Total number of levels, both sides."""
        return self._n[BID] + self._n[ASK]

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
        cdef Py_ssize_t n
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        for s in range(2):
            n = self._n[s]
            if n > depth:
                # The best `depth` levels are [n-depth, n): move them to [0, depth).
                memmove(self._px[s], self._px[s] + (n - depth), depth * sizeof(double))
                memmove(self._qty[s], self._qty[s] + (n - depth), depth * sizeof(double))
                self._n[s] = depth

    def clear(self):
        """Empty both sides; reset ``last_update_id`` and the counters to 0."""
        self.c_clear()

    def copy(self):
        """An independent book with the same symbol, capacity and state."""
        cdef OrderBook other = OrderBook(self.symbol, self.capacity)
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
        return (f"OrderBook({self.symbol!r}, capacity={self.capacity}, bids={self._n[BID]}, "
                f"asks={self._n[ASK]}, best_bid={self.best_bid}, best_ask={self.best_ask}, "
                f"last_update_id={self.last_update_id})")

    def __reduce__(self):
        raise TypeError("OrderBook cannot be pickled; use to_dict()")


@cython.final
cdef class OrderBookPool:
    """Preallocated order books for many symbols, with O(1) lookup.

    Parameters
    ----------
    symbols : iterable of str, default ()
        Symbols that get a book right away.
    capacity : int, default 1000
        Levels per side of every book.
    size : int, optional
        Number of books to preallocate; defaults to ``len(symbols)``.  Books
        beyond the initial symbols are kept free for ``acquire``.

    Notes
    -----
    ``release`` clears a book and puts it back on the free list; a later
    ``acquire`` hands out the very same object for the new symbol, so a pool
    never allocates after construction.
    """

    def __cinit__(self, symbols=(), Py_ssize_t capacity=1000, size=None):
        cdef list syms = list(symbols)
        cdef Py_ssize_t n
        for s in syms:
            if not isinstance(s, str):
                raise TypeError(f"symbols must be str, got {type(s).__name__}: {s!r}")
        if len(set(syms)) != len(syms):
            raise ValueError("symbols contain duplicates")
        n = len(syms) if size is None else size
        if n < len(syms):
            raise ValueError(f"size={n} is smaller than the {len(syms)} symbols given")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.size = n
        self._books = {}
        self._all = [OrderBook("", capacity) for _ in range(n)]
        # Free stack popped from the end: hand out books in creation order.
        self._free = self._all[::-1]
        for s in syms:
            self.acquire(s)

    cdef OrderBook c_get(self, str symbol):
        return <OrderBook>self._books.get(symbol)

    def acquire(self, str symbol not None):
        """Assign a free preallocated book to ``symbol`` and return it.

        Returns the already assigned book when ``symbol`` has one.

        Raises
        ------
        RuntimeError
            No free book left (raise ``size``).
        """
        cdef OrderBook book = self._books.get(symbol)
        if book is not None:
            return book
        if not self._free:
            raise RuntimeError(
                f"OrderBookPool exhausted: all {self.size} books are assigned; cannot acquire "
                f"{symbol!r} (create the pool with a larger size=, or release a symbol)")
        book = self._free.pop()
        book.c_clear()
        book.symbol = symbol
        self._books[symbol] = book
        return book

    def release(self, str symbol not None):
        """Clear the book of ``symbol`` and return it to the free list.

        Raises
        ------
        KeyError
            ``symbol`` has no book.
        """
        cdef OrderBook book = self._books.pop(symbol)
        book.c_clear()
        book.symbol = ""
        self._free.append(book)

    def reset(self):
        """Clear every book (levels, ids, counters); assignments are kept."""
        cdef OrderBook book
        for book in self._all:
            book.c_clear()

    def get(self, str symbol, default=None):
        """The book of ``symbol``, or ``default``."""
        return self._books.get(symbol, default)

    def symbols(self):
        """List of the assigned symbols."""
        return list(self._books)

    @property
    def free_count(self):
        """Number of preallocated books not assigned to a symbol."""
        return len(self._free)

    def __getitem__(self, str symbol not None):
        return self._books[symbol]

    def __contains__(self, symbol):
        return symbol in self._books

    def __len__(self):
        return len(self._books)

    def __iter__(self):
        return iter(self._books)

    def __repr__(self):
        return (f"OrderBookPool(size={self.size}, capacity={self.capacity}, "
                f"assigned={len(self._books)}, free={len(self._free)})")
