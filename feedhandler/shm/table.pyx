# cython: language_level=3
"""Same host, no broker: a shared-memory table of top-N books per symbol and per-worker event rings.

Files (``$FEEDHANDLER_SHM_DIR``, default ``/dev/shm``): ``<name>.table`` and ``<name>.ring<worker>``.

Table: a 64-byte header (magic ``FHSHMT01``, slots, depth, ring slots, workers, slot size), one 64-byte
name per slot (``exchange:symbol``), then one slot per symbol: a seqlock word, last update id,
exchange_ts_ns, recv_ns, level counts, validity and the writer's pid, then ``depth`` bid and ``depth``
ask levels (f64 price, f64 qty, best first). One writer per slot (the worker that owns the symbol):
it makes the sequence odd, writes, makes it even; a reader copies and retries if the sequence moved.

Ring (one per worker, single producer, any number of readers): a 64-byte header (magic ``FHSHMR01``,
slots, record size, write index) and ``slots`` fixed records (:c:type:`RingRecord`), each with its own
sequence word ``2 * (index + 1)`` (odd while written), so a reader knows without a lock whether a record
is complete, and whether it fell a whole ring behind (counted in ``overruns``, never read torn).

Both sides are loads and stores on mapped memory: no syscall, no lock, no Python object per event on
the writer side.
"""
cimport cython
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

import mmap
import os
import time

import numpy as np

from feedhandler.book.orderbook cimport OrderBook
from feedhandler.events.events cimport BookStatus, BookTicker, BookUpdate, Event, Trade
from feedhandler.sinks.encoder cimport EventSink

cdef extern from *:
    """
    #include <stdint.h>
    static inline uint64_t fh_load_acquire(const volatile uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline uint64_t fh_load_relaxed(const volatile uint64_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
    static inline void fh_store_release(volatile uint64_t* p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    static inline void fh_store_relaxed(volatile uint64_t* p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
    static inline void fh_fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
    static inline void fh_fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
    """
    uint64_t fh_load_acquire(const uint64_t* p) noexcept nogil
    uint64_t fh_load_relaxed(const uint64_t* p) noexcept nogil
    void fh_store_release(uint64_t* p, uint64_t v) noexcept nogil
    void fh_store_relaxed(uint64_t* p, uint64_t v) noexcept nogil
    void fh_fence_release() noexcept nogil
    void fh_fence_acquire() noexcept nogil

DEF TABLE_MAGIC = 0x3130544D48534846   # b"FHSHMT01"
DEF RING_MAGIC = 0x3130524D48534846    # b"FHSHMR01"
DEF HEADER = 64
DEF NAME_BYTES = 64
DEF SLOT_HEADER = 64
DEF READ_TRIES = 1000

RING_KINDS = {1: "book", 2: "status", 3: "trade", 4: "book_ticker"}


def shm_dir():
    return os.environ.get("FEEDHANDLER_SHM_DIR", "/dev/shm")


cdef inline Py_ssize_t pad64(Py_ssize_t n) noexcept:
    return (n + 63) & ~(<Py_ssize_t>63)


@cython.final
cdef class ShmRegion:
    """A mapped file and a raw pointer to it (the buffer stays exported until :meth:`close`)."""

    def __init__(self, str path, Py_ssize_t size=0, bint create=False):
        flags = os.O_RDWR | (os.O_CREAT | os.O_TRUNC if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if create:
                os.ftruncate(fd, size)
            else:
                size = os.fstat(fd).st_size
            if size <= 0:
                raise ValueError(f"shared memory file {path} is empty")
            self._mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        PyObject_GetBuffer(self._mm, &self._view, PyBUF_WRITABLE)
        self._held = True
        self.base = <char*>self._view.buf
        self.size = size

    def close(self):
        if self._held:
            PyBuffer_Release(&self._view)
            self._held = False
            self.base = NULL
            self._mm.close()

    def __dealloc__(self):
        if self._held:
            PyBuffer_Release(&self._view)


cdef inline uint64_t* u64(char* p) noexcept:
    return <uint64_t*>p


cdef inline uint64_t _slot_begin(char* s) noexcept:
    # The slot's seqlock made odd (being written); its value is handed to _slot_end. One writer per slot.
    cdef uint64_t seq = fh_load_relaxed(u64(s))
    fh_store_relaxed(u64(s), seq | 1)
    fh_fence_release()
    return seq


cdef inline void _slot_end(char* s, uint64_t seq, uint32_t valid, uint32_t writer) noexcept:
    # The slot's validity and writer pid, then the seqlock made even again (the slot is complete).
    (<uint32_t*>(s + 40))[0] = valid
    (<uint32_t*>(s + 44))[0] = writer
    fh_store_release(u64(s), (seq | 1) + 1)


@cython.final
cdef class ShmTable:
    """The table and rings of one run. ``create`` (the supervisor) or ``open`` (writers, readers)."""

    @staticmethod
    def create(str name, symbols, Py_ssize_t depth=10, Py_ssize_t ring_slots=65536, Py_ssize_t workers=1):
        """Create ``<name>.table`` with one slot per ``(exchange, symbol)`` and ``workers`` rings."""
        cdef ShmTable t = ShmTable.__new__(ShmTable)
        cdef char* b
        cdef ShmRegion r
        cdef bytes kb
        cdef Py_ssize_t i
        keys = [f"{ex}:{sym}" for ex, sym in symbols]
        if len(set(keys)) != len(keys):
            raise ValueError("each (exchange, symbol) needs exactly one slot")
        if depth < 1 or ring_slots < 2 or workers < 1:
            raise ValueError("depth >= 1, ring_slots >= 2 and workers >= 1 are required")
        slot_bytes = pad64(SLOT_HEADER + 32 * depth)
        size = HEADER + NAME_BYTES * len(keys) + slot_bytes * len(keys)
        t._table = ShmRegion(f"{shm_dir()}/{name}.table", size, True)
        b = t._table.base
        memset(b, 0, size)
        (<uint32_t*>(b + 8))[0] = len(keys)
        (<uint32_t*>(b + 12))[0] = depth
        (<uint32_t*>(b + 16))[0] = ring_slots
        (<uint32_t*>(b + 20))[0] = workers
        (<uint32_t*>(b + 24))[0] = slot_bytes
        for i, k in enumerate(keys):
            kb = <bytes>(k.encode()[:NAME_BYTES - 1])
            memcpy(b + HEADER + NAME_BYTES * i, <char*>kb, len(kb))
        rings = []
        for w in range(workers):
            r = ShmRegion(f"{shm_dir()}/{name}.ring{w}", HEADER + ring_slots * sizeof(RingRecord), True)
            memset(r.base, 0, r.size)
            (<uint32_t*>(r.base + 8))[0] = ring_slots
            (<uint32_t*>(r.base + 12))[0] = sizeof(RingRecord)
            fh_store_release(u64(r.base), RING_MAGIC)
            rings.append(r)
        fh_store_release(u64(b), TABLE_MAGIC)   # last: a reader never sees a half-made table
        t._init(name, rings, True)
        return t

    @staticmethod
    def open(str name):
        """Attach to an existing table (and its rings)."""
        cdef ShmTable t = ShmTable.__new__(ShmTable)
        t._table = ShmRegion(f"{shm_dir()}/{name}.table")
        if t._table.size < HEADER or fh_load_acquire(u64(t._table.base)) != TABLE_MAGIC:
            raise ValueError(f"{name}: not a feedhandler shared-memory table")
        b = t._table.base
        rings = [ShmRegion(f"{shm_dir()}/{name}.ring{w}") for w in range((<uint32_t*>(b + 20))[0])]
        t._init(name, rings, False)
        return t

    def _init(self, str name, list rings, bint owner):
        cdef char* b = self._table.base
        self.name = name
        self.n_slots = (<uint32_t*>(b + 8))[0]
        self.depth = (<uint32_t*>(b + 12))[0]
        self.ring_slots = (<uint32_t*>(b + 16))[0]
        self.workers = (<uint32_t*>(b + 20))[0]
        self.slot_bytes = (<uint32_t*>(b + 24))[0]
        if HEADER + (NAME_BYTES + self.slot_bytes) * self.n_slots > self._table.size:
            raise ValueError(f"{name}: table file truncated")
        self._rings = rings
        self._owner = owner
        self.slots = {}
        for i in range(self.n_slots):
            raw = (<char*>(b + HEADER + NAME_BYTES * i))[:NAME_BYTES]
            self.slots[raw.split(b"\0", 1)[0].decode()] = i

    cdef char* _slot(self, Py_ssize_t i) noexcept:
        return self._table.base + HEADER + NAME_BYTES * self.n_slots + self.slot_bytes * i

    def ring(self, Py_ssize_t worker):
        return self._rings[worker]

    def close(self):
        """Unmap; the creator also removes the files."""
        for r in self._rings:
            r.close()
        self._table.close()
        if self._owner:
            for path in [f"{shm_dir()}/{self.name}.table"] + [f"{shm_dir()}/{self.name}.ring{w}" for w in range(self.workers)]:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            self._owner = False


@cython.final
cdef class ShmWriterSink(EventSink):
    """An ``EventSink`` writing one exchange's books into the table and its events into a ring."""

    def __init__(self, ShmTable table, Py_ssize_t worker, str exchange):
        self._t = table
        self._ring = table.ring(worker)
        self.exchange = exchange
        self._writer = os.getpid()
        self._slot_of = {}
        prefix = exchange + ":"
        for key, i in table.slots.items():
            if key.startswith(prefix):
                self._slot_of[key[len(prefix):]] = i

    cdef Py_ssize_t _lookup(self, str symbol):
        if symbol is self._last_sym:
            return self._last_slot
        i = self._slot_of.get(symbol)
        if i is None:
            self.unknown += 1
            return -1
        self._last_sym = symbol
        self._last_slot = i
        return i

    cdef void _push(self, uint32_t kind, Py_ssize_t slot, Event ev, int64_t uid, double a, double b,
                    double c, double d) noexcept:
        cdef char* base = self._ring.base
        cdef uint64_t n = (<uint32_t*>(base + 8))[0]
        cdef uint64_t idx = fh_load_relaxed(u64(base + 16))   # single producer: only we write it
        cdef RingRecord* r = <RingRecord*>(base + HEADER + (idx % n) * sizeof(RingRecord))
        fh_store_relaxed(&r.seq, 2 * idx + 1)
        fh_fence_release()
        r.kind = kind
        r.slot = <uint32_t>slot
        r.update_id = uid
        r.exchange_ts_ns = ev.exchange_ts_ns
        r.recv_ns = ev.recv_ns
        r.a = a
        r.b = b
        r.c = c
        r.d = d
        fh_store_release(&r.seq, 2 * (idx + 1))
        fh_store_release(u64(base + 16), idx + 1)
        self.written += 1

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int on_book_update(self, BookUpdate ev) except -1:
        # Level copies: n <= depth levels per side (c_top_pairs returns at most depth), and the slot
        # holds depth levels per side.
        cdef Py_ssize_t slot = self._lookup(ev.symbol)
        cdef char* s
        cdef OrderBook book
        cdef Py_ssize_t side, n, depth
        cdef const double* pairs[2]
        cdef Py_ssize_t nlev[2]
        cdef uint64_t seq
        if slot < 0:
            return 0
        book = <OrderBook?>ev.book
        depth = self._t.depth
        s = self._t._slot(slot)
        # the best levels, best first, as (price, qty) pairs (the book's public C API), gathered
        # before the slot is marked busy so that the seqlock's critical section is only copies
        nlev[0] = book.c_top_pairs(0, depth, &pairs[0])
        nlev[1] = book.c_top_pairs(1, depth, &pairs[1])
        seq = _slot_begin(s)
        (<int64_t*>(s + 8))[0] = ev.last_update_id
        (<int64_t*>(s + 16))[0] = ev.exchange_ts_ns
        (<int64_t*>(s + 24))[0] = ev.recv_ns
        for side in range(2):
            n = nlev[side]
            memcpy(s + SLOT_HEADER + side * 16 * depth, pairs[side], 2 * n * sizeof(double))
            (<uint32_t*>(s + 32 + 4 * side))[0] = <uint32_t>n
        _slot_end(s, seq, 1, self._writer)
        self._push(1, slot, ev, ev.last_update_id, book.c_best_bid_price(), book.c_best_bid_qty(),
                   book.c_best_ask_price(), book.c_best_ask_qty())
        return 0

    cdef int on_book_status(self, BookStatus ev) except -1:
        cdef Py_ssize_t slot = self._lookup(ev.symbol)
        cdef char* s
        if slot < 0:
            return 0
        s = self._t._slot(slot)
        _slot_end(s, _slot_begin(s), 1 if ev.valid else 0, self._writer)
        self._push(2, slot, ev, ev.update_id, 1.0 if ev.valid else 0.0, 0, 0, 0)
        return 0

    cdef int on_trade(self, Trade ev) except -1:
        cdef Py_ssize_t slot = self._lookup(ev.symbol)
        if slot >= 0:
            self._push(3, slot, ev, ev.trade_id, ev.price, ev.qty, ev.side, 0)
        return 0

    cdef int on_book_ticker(self, BookTicker ev) except -1:
        cdef Py_ssize_t slot = self._lookup(ev.symbol)
        if slot >= 0:
            self._push(4, slot, ev, ev.update_id, ev.bid_price, ev.bid_qty, ev.ask_price, ev.ask_qty)
        return 0

    cdef int on_other_event(self, object ev) except -1:
        self._lookup((<Event?>ev).symbol)   # not in the ring; counted in ``unknown`` if it has no slot
        return 0

    def invalidate_all(self):
        """Mark this exchange's slots invalid (a new writer starts: its books are not built yet)."""
        cdef char* s
        for i in self._slot_of.values():
            s = self._t._slot(i)
            _slot_end(s, _slot_begin(s), 0, self._writer)


class ShmWriter:
    """A worker's handle: ``sink(exchange)`` gives the ``EventSink`` to put in the feed's ``SinkTap``."""

    def __init__(self, ShmTable table, int worker):
        if not 0 <= worker < table.workers:
            raise ValueError(f"worker {worker} has no ring (the table has {table.workers})")
        self.table = table
        self.worker = worker
        self._sinks = {}

    @classmethod
    def attach(cls, str name, int worker):
        return cls(ShmTable.open(name), worker)

    def sink(self, str exchange):
        s = self._sinks.get(exchange)
        if s is None:
            s = self._sinks[exchange] = ShmWriterSink(self.table, self.worker, exchange)
            s.invalidate_all()
        return s

    def close(self):
        self.table.close()


@cython.final
cdef class ShmReader:
    """Read books and events from another process's shared memory, no syscall and no lock.

    Parameters
    ----------
    name : str
        The run's shared-memory name (``[sinks.shm] name``).
    worker : int
        Whose ring :meth:`next`/:meth:`poll` read (the table is shared by all).
    from_start : bool
        Read the ring from its oldest retained record instead of from now.
    """

    def __init__(self, str name, Py_ssize_t worker=0, bint from_start=False):
        self.table = ShmTable.open(name)
        self._ring = self.table.ring(worker)
        cdef uint64_t w = fh_load_acquire(u64(self._ring.base + 16))
        cdef uint64_t n = (<uint32_t*>(self._ring.base + 8))[0]
        self.position = (w - n if w > n else 0) if from_start else w

    cdef int c_next(self, RingRecord* out) noexcept:
        cdef char* base = self._ring.base
        cdef uint64_t n = (<uint32_t*>(base + 8))[0]
        cdef uint64_t w, idx, s1, s2
        cdef RingRecord* r
        while True:
            w = fh_load_acquire(u64(base + 16))
            idx = self.position
            if idx >= w:
                return 0
            if w - idx > n:                     # lapped: the oldest retained record is w - n
                self.overruns += w - n - idx
                idx = w - n
            r = <RingRecord*>(base + HEADER + (idx % n) * sizeof(RingRecord))
            s1 = fh_load_acquire(&r.seq)
            if s1 == 2 * (idx + 1):
                memcpy(out, r, sizeof(RingRecord))
                fh_fence_acquire()
                s2 = fh_load_relaxed(&r.seq)
                if s2 == s1:
                    self.position = idx + 1
                    return 1
            # overwritten by a newer lap while we looked: skip it, counted
            self.overruns += 1
            self.position = idx + 1

    cdef int c_read_book(self, Py_ssize_t slot, double* bids, double* asks, Py_ssize_t depth,
                         BookMeta* meta) noexcept:
        cdef char* s = self.table._slot(slot)
        cdef uint64_t s1, s2
        cdef Py_ssize_t nb, na, tries
        cdef Py_ssize_t d = self.table.depth
        for tries in range(READ_TRIES):
            s1 = fh_load_acquire(u64(s))
            if s1 & 1:
                continue
            memcpy(meta, s, sizeof(BookMeta))
            nb = min(<Py_ssize_t>meta.n_bids, depth, d)
            na = min(<Py_ssize_t>meta.n_asks, depth, d)
            memcpy(bids, s + SLOT_HEADER, nb * 16)
            memcpy(asks, s + SLOT_HEADER + 16 * d, na * 16)
            fh_fence_acquire()
            s2 = fh_load_relaxed(u64(s))
            if s1 == s2:
                meta.seq = s1
                meta.n_bids = <uint32_t>nb
                meta.n_asks = <uint32_t>na
                return <int>(nb if nb > na else na)
        return -1

    def slot(self, str symbol, str exchange=None):
        """The slot index of ``symbol`` (``KeyError`` if the run has no such symbol)."""
        if exchange is not None:
            return self.table.slots[f"{exchange}:{symbol}"]
        for key, i in self.table.slots.items():
            if key.split(":", 1)[1] == symbol:
                return i
        raise KeyError(symbol)

    def read_book(self, str symbol, str exchange=None):
        """A consistent copy of ``symbol``'s top of book: a dict with ``valid``, ``last_update_id``,
        ``exchange_ts_ns``, ``recv_ns``, ``bids`` and ``asks`` (``(n, 2)`` float64 arrays, best first)."""
        cdef Py_ssize_t d = self.table.depth
        cdef BookMeta meta
        bids = np.empty((d, 2), dtype=np.float64)
        asks = np.empty((d, 2), dtype=np.float64)
        cdef double[:, ::1] bv = bids
        cdef double[:, ::1] av = asks
        cdef Py_ssize_t slot = self.slot(symbol, exchange)
        deadline = time.monotonic() + 1.0
        # a writer preempted mid-update keeps the slot odd until it runs again: yield and retry
        while self.c_read_book(slot, &bv[0, 0], &av[0, 0], d, &meta) < 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{symbol}: the writer kept the slot busy for 1 s (is it stopped mid-write?)")
            time.sleep(0)
        return {"valid": bool(meta.valid), "last_update_id": meta.last_update_id, "exchange_ts_ns": meta.exchange_ts_ns,
                "recv_ns": meta.recv_ns, "writer": meta.writer, "bids": bids[:meta.n_bids], "asks": asks[:meta.n_asks]}

    def next(self):
        """The next ring record as ``(kind, symbol_key, update_id, exchange_ts_ns, recv_ns, a, b, c, d)``, or None."""
        cdef RingRecord r
        if self.c_next(&r) == 0:
            return None
        return (RING_KINDS.get(r.kind, r.kind), self._key(r.slot), r.update_id, r.exchange_ts_ns, r.recv_ns,
                r.a, r.b, r.c, r.d)

    def poll(self, Py_ssize_t max_records=1024):
        """Up to ``max_records`` new records (see :meth:`next`)."""
        out = []
        while len(out) < max_records:
            rec = self.next()
            if rec is None:
                break
            out.append(rec)
        return out

    def _key(self, uint32_t slot):
        for key, i in self.table.slots.items():
            if i == slot:
                return key
        return None

    def close(self):
        self.table.close()
