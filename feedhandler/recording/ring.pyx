# cython: language_level=3
"""A ring of preallocated chunks that a plain C thread compresses (zstd) and writes, with no GIL at all.

The feed's thread fills the current chunk (:class:`~feedhandler.recording.tap.RecordBuffer` in ring mode) and
*publishes* it: a mutex-guarded index bump and a condition signal, nothing allocated, no Python object made.
The consumer is a ``pthread`` that never touches the interpreter: it waits for a chunk, runs zstd's streaming
``ZSTD_compressStream2`` on it (``ZSTD_e_continue``, or ``ZSTD_e_end`` where the chunk ends a zstd frame), writes
the output with ``write(2)`` and, for the last chunk of a segment, closes the file. A thread that needs the GIL
to compress (``zstandard``'s objects release it per call and take it back after) would make the feed's thread
hand the GIL over several times per chunk; this one costs the feed one uncontended lock per chunk.

zstd comes from the ``zstandard`` package's own libzstd (its ``_cffi`` module: the addresses of the six
functions of zstd's stable streaming API; :func:`feedhandler.recording.compressed.zstd_functions`), so nothing
is linked at build time.

Memory is bounded: ``chunks`` buffers of ``chunk_bytes``, allocated and touched once; a feed that outruns the
disk waits (GIL released) for the oldest chunk to be written. A failed write or a zstd error is kept in
:attr:`ChunkRing.error` and everything after it is dropped (files still closed), so the feed never blocks on a
broken disk; the writer raises it at its next flush.
"""
import os

from libc.errno cimport EINTR, errno
from libc.stdint cimport int64_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset, strncpy
from posix.unistd cimport close, getpid, write

cdef extern from "<sys/mman.h>" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void* addr, size_t length)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS
    void* MAP_FAILED

cdef enum:
    ZSTD_C_COMPRESSION_LEVEL = 100   # ZSTD_c_compressionLevel
    ZSTD_E_CONTINUE = 0
    ZSTD_E_END = 2
    STAGE_BYTES = 4096               # a chunk holds whole stages of RecordBuffer (tap.pyx STAGE)
    OUT_BYTES = 1 << 17              # >= ZSTD_CStreamOutSize(): one block's worst case per call
    WAKE_BATCH = 8                   # chunks published before the thread is woken (frame ends wake it at once)


cdef int _write_all(int fd, const char* p, size_t n) noexcept nogil:
    """0, or the errno of a failed ``write`` (a short write continues, EINTR retries)."""
    cdef ssize_t k
    while n:
        k = write(fd, p, n)
        if k < 0:
            if errno == EINTR:
                continue
            return errno
        p += k
        n -= <size_t>k
    return 0


cdef int64_t _compress(RingState* st, Chunk* c, int* err, size_t* zerr) noexcept nogil:
    """The chunk's bytes through the stream into its file; the bytes written, or -1 (``err``/``zerr`` set)."""
    cdef ZstdIn inp
    cdef ZstdOut out
    cdef int op = ZSTD_E_END if c.flags & CHUNK_END_FRAME else ZSTD_E_CONTINUE
    cdef size_t left
    cdef int64_t written = 0
    inp.src, inp.size, inp.pos = c.data, <size_t>c.length, 0
    while True:
        out.dst, out.size, out.pos = st.out, st.out_size, 0
        left = st.stream(st.cctx, &out, &inp, op)
        if st.is_error(left):
            err[0], zerr[0] = -1, left
            return -1
        if out.pos:
            err[0] = _write_all(c.fd, st.out, out.pos)
            if err[0]:
                return -1
            written += <int64_t>out.pos
        if op == ZSTD_E_END:
            if left == 0:   # the frame is complete (epilogue included) and written
                return written
        elif inp.pos == inp.size:   # all taken in (zstd may hold some until the frame ends)
            return written


cdef void* _consume(void* arg) noexcept nogil:
    """The compressing thread: chunks in publication order until stopped and empty."""
    cdef RingState* st = <RingState*>arg
    cdef Chunk c
    cdef bint failed
    cdef int err
    cdef size_t zerr
    cdef int64_t n
    pthread_mutex_lock(&st.mu)
    while True:
        while st.tail == st.head and not st.stop:
            pthread_cond_wait(&st.has_data, &st.mu)
        if st.tail == st.head:
            break
        c = st.chunks[st.tail % <uint64_t>st.n]
        failed = st.error != 0
        pthread_mutex_unlock(&st.mu)
        n, err, zerr = 0, 0, 0
        if not failed and (c.length or c.flags & CHUNK_END_FRAME):
            n = _compress(st, &c, &err, &zerr)
        if c.flags & CHUNK_CLOSE_FD and c.fd >= 0:
            close(c.fd)
        pthread_mutex_lock(&st.mu)
        if n < 0:
            st.error = err
            if err == -1:
                strncpy(st.error_text, st.error_name(zerr), sizeof(st.error_text) - 1)
        elif not failed:
            if c.segment != st.done_segment:
                st.done_segment, st.done_segment_bytes = c.segment, 0
            st.done_segment_bytes += n
            st.bytes_in += c.length
            st.bytes_out += n
        st.tail += 1
        pthread_cond_broadcast(&st.has_space)
    pthread_mutex_unlock(&st.mu)
    return NULL


cdef class ChunkRing:
    """``chunks`` preallocated buffers of ``chunk_bytes`` compressed and written in order by a C thread.

    Parameters
    ----------
    functions:
        ``{name: address}`` of ``ZSTD_createCCtx``, ``ZSTD_freeCCtx``, ``ZSTD_CCtx_setParameter``,
        ``ZSTD_compressStream2``, ``ZSTD_isError``, ``ZSTD_getErrorName`` (one libzstd's).
    level:
        zstd compression level.
    chunk_bytes:
        A multiple of 4096 (whole stages of the record buffer).
    chunks:
        How many (>= 2): the memory bound is ``chunks * chunk_bytes``.

    One thread produces (the feed's); :meth:`wait_idle` and the properties may be called from any thread.
    """

    def __cinit__(self):
        self._st = NULL
        self._fd = -1

    def __init__(self, dict functions, int level=1, Py_ssize_t chunk_bytes=256 << 10, int chunks=32):
        cdef RingState* st
        cdef zstd_create_t create
        cdef zstd_set_t set_param
        cdef void* p
        cdef int i, rc
        cdef ZstdIn inp
        cdef ZstdOut out
        cdef size_t left
        if self._st != NULL:
            raise RuntimeError("ChunkRing.__init__ called twice")
        if chunk_bytes < STAGE_BYTES or chunk_bytes % STAGE_BYTES:
            raise ValueError(f"chunk_bytes must be a positive multiple of {STAGE_BYTES}")
        if chunks < 2:
            raise ValueError("a ring needs at least 2 chunks")
        if not -(1 << 17) <= level <= 22:  # zstd's range (it would clamp silently)
            raise ValueError(f"zstd compression level {level} is outside -131072..22")
        addresses = [int(functions[name]) for name in (
            "ZSTD_createCCtx", "ZSTD_freeCCtx", "ZSTD_CCtx_setParameter", "ZSTD_compressStream2",
            "ZSTD_isError", "ZSTD_getErrorName")]
        if not all(addresses):
            raise ValueError("a zstd function address is 0")
        st = <RingState*>calloc(1, sizeof(RingState))
        if st == NULL:
            raise MemoryError()
        self._st = st
        pthread_mutex_init(&st.mu, NULL)  # first: every method may lock it from here until the ring is freed
        pthread_cond_init(&st.has_data, NULL)
        pthread_cond_init(&st.has_space, NULL)
        st.n = chunks
        st.wake_batch = max(1, min(WAKE_BATCH, chunks // 4))  # < chunks: a full ring has always woken it
        st.done_segment = -1
        self.chunk_bytes, self.chunks = chunk_bytes, chunks
        st.chunks = <Chunk*>calloc(chunks, sizeof(Chunk))
        if st.chunks == NULL:
            raise MemoryError()
        # one private mapping for the chunks and zstd's output, not malloc's: the ring's 8 MiB coming and going
        # would move malloc's trim and mmap thresholds, and the feed's own buffers would fault pages afresh
        self._mapped = <size_t>chunks * <size_t>chunk_bytes + OUT_BYTES
        p = mmap(NULL, self._mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if p == MAP_FAILED:
            self._mapped = 0
            raise MemoryError(f"could not map the recording ring ({chunks} x {chunk_bytes} bytes)")
        self._map = <char*>p
        memset(p, 0, self._mapped)  # every page faulted in now, not on the feed's first pass
        for i in range(chunks):
            st.chunks[i].data = self._map + <size_t>i * <size_t>chunk_bytes  # page-aligned: chunk_bytes % 4096 == 0
            st.chunks[i].fd = -1
        st.out, st.out_size = self._map + <size_t>chunks * <size_t>chunk_bytes, OUT_BYTES
        create = <zstd_create_t><uintptr_t>addresses[0]
        self._free = <zstd_free_t><uintptr_t>addresses[1]
        set_param = <zstd_set_t><uintptr_t>addresses[2]
        st.stream = <zstd_stream_t><uintptr_t>addresses[3]
        st.is_error = <zstd_is_error_t><uintptr_t>addresses[4]
        st.error_name = <zstd_error_name_t><uintptr_t>addresses[5]
        st.cctx = create()
        if st.cctx == NULL:
            raise MemoryError("ZSTD_createCCtx failed")
        if st.is_error(set_param(st.cctx, ZSTD_C_COMPRESSION_LEVEL, level)):
            raise ValueError(f"zstd refused compression level {level}")
        # one whole chunk compressed now (the output dropped): zstd allocates and touches its workspace at its
        # first call, which would otherwise fault pages on the first chunk of the feed
        inp.src, inp.size, inp.pos = st.chunks[0].data, chunk_bytes, 0
        out.dst, out.size, out.pos = st.out, st.out_size, 0
        left = 1
        while left:
            left = st.stream(st.cctx, &out, &inp, ZSTD_E_END)
            if st.is_error(left):
                raise ValueError(f"zstd: {st.error_name(left).decode(errors='replace')}")
            out.pos = 0
        rc = pthread_create(&st.thread, NULL, _consume, st)
        if rc:
            raise OSError(rc, "could not start the recording's compressing thread")
        self._started = True
        self._pid = getpid()

    cdef char* c_current(self) noexcept:
        """The chunk the producer fills (``chunk_bytes`` bytes; owned by the producer until published)."""
        return self._st.chunks[self._st.head % <uint64_t>self._st.n].data

    cdef char* c_publish(self, Py_ssize_t length, int flags) except NULL:
        """Hand the current chunk's first ``length`` bytes to the thread; returns the next chunk to fill.

        The caller has fenced its non-temporal stores. Waits (GIL released) while every chunk is in use.
        """
        cdef RingState* st = self._st
        cdef Chunk* c
        if not self._started:
            raise ValueError("the recording ring is closed")
        if getpid() != self._pid:  # a forked child has the memory but not the thread: it would wait forever
            raise ValueError("the recording ring belongs to the process that made it (forked since)")
        if self._fd < 0 and (length or flags & CHUNK_END_FRAME):
            raise ValueError("the recording ring has no file to write to")
        if length < 0 or length > self.chunk_bytes:
            raise ValueError(f"chunk length {length} out of range")
        pthread_mutex_lock(&st.mu)
        c = &st.chunks[st.head % <uint64_t>st.n]
        c.length, c.flags, c.fd, c.segment = length, flags, self._fd, self._segment
        st.head += 1
        # the thread is woken for a batch of chunks (fewer wake-ups, longer runs), at once for a frame's end
        if flags or st.head - st.tail >= st.wake_batch:
            pthread_cond_signal(&st.has_data)
        if st.head - st.tail >= <uint64_t>st.n:   # the slot to fill next is still being compressed
            with nogil:
                while st.head - st.tail >= <uint64_t>st.n:
                    pthread_cond_wait(&st.has_space, &st.mu)
        pthread_mutex_unlock(&st.mu)
        if flags & CHUNK_CLOSE_FD:
            self._fd = -1
        return st.chunks[st.head % <uint64_t>st.n].data

    def set_file(self, int fd, int64_t segment):
        """Chunks published from now on go to ``fd`` (the ring closes it: publish with ``CHUNK_CLOSE_FD``)."""
        if self._fd >= 0:
            raise ValueError("the ring's current file is still open: end it (close_fd) first")
        self._fd, self._segment = fd, segment

    def segment_bytes(self, int64_t segment):
        """Compressed bytes written so far for ``segment``."""
        cdef int64_t n = 0
        if self._st == NULL:
            return 0
        pthread_mutex_lock(&self._st.mu)
        if self._st.done_segment == segment:
            n = self._st.done_segment_bytes
        pthread_mutex_unlock(&self._st.mu)
        return n

    @property
    def error(self):
        """None, or what made the thread stop writing (an OS error or zstd's error name)."""
        cdef int err
        if self._st == NULL:
            return None
        pthread_mutex_lock(&self._st.mu)
        err = self._st.error
        text = self._st.error_text.decode("ascii", "replace") if err == -1 else None
        pthread_mutex_unlock(&self._st.mu)
        if err == 0:
            return None
        if err == -1:
            return f"zstd: {text}"
        return f"[Errno {err}] {os.strerror(err)}"

    @property
    def totals(self):
        """``(uncompressed, compressed)`` bytes the thread has written."""
        if self._st == NULL:
            return (0, 0)
        pthread_mutex_lock(&self._st.mu)
        out = (self._st.bytes_in, self._st.bytes_out)
        pthread_mutex_unlock(&self._st.mu)
        return out

    @property
    def pending(self):
        """Chunks published and not written yet."""
        if self._st == NULL:
            return 0
        pthread_mutex_lock(&self._st.mu)
        n = self._st.head - self._st.tail
        pthread_mutex_unlock(&self._st.mu)
        return n

    def wait_idle(self):
        """Block (GIL released) until every published chunk is written."""
        cdef RingState* st = self._st
        if st == NULL or not self._started:
            return
        if getpid() != self._pid:
            raise ValueError("the recording ring belongs to the process that made it (forked since)")
        with nogil:
            pthread_mutex_lock(&st.mu)
            pthread_cond_signal(&st.has_data)  # chunks short of a wake batch are written now too
            while st.tail != st.head:
                pthread_cond_wait(&st.has_space, &st.mu)
            pthread_mutex_unlock(&st.mu)

    def close(self):
        """Write what is published, stop the thread (idempotent). The chunks stay allocated until the ring is
        freed (a buffer still holding one may write into it; publishing then raises)."""
        self._stop()

    cdef void _stop(self) noexcept:
        cdef RingState* st = self._st
        if st == NULL:
            return
        if self._started and getpid() != self._pid:  # a forked child: the thread is the parent's
            self._started = False
        if self._started:
            with nogil:
                pthread_mutex_lock(&st.mu)
                st.stop = True
                pthread_cond_signal(&st.has_data)
                pthread_mutex_unlock(&st.mu)
                pthread_join(st.thread, NULL)
            self._started = False
        if self._fd >= 0:   # set but never handed to the thread
            close(self._fd)
            self._fd = -1

    cdef void _release(self) noexcept:
        cdef RingState* st = self._st
        cdef int i
        self._stop()
        if st == NULL:
            return
        pthread_cond_destroy(&st.has_space)
        pthread_cond_destroy(&st.has_data)
        pthread_mutex_destroy(&st.mu)
        if st.cctx != NULL:  # freed with the ring, not at close: zstd's workspace unmapped off the feed's path
            self._free(st.cctx)
            st.cctx = NULL
        free(st.chunks)
        if self._map != NULL:
            munmap(self._map, self._mapped)
            self._map = NULL
        self._st = NULL
        free(st)

    def __dealloc__(self):
        self._release()
