# cython: language_level=3
"""The recording's per-frame path, compiled: append a record to a preallocated buffer, then parse.

``RecordBuffer`` holds the pending records of a writer (the fhrec record layout, ``<qIBI`` header + payload,
little endian): appending a frame is one ``memcpy`` into a 4 KiB stage inside the object, and whole stages go
with non-temporal stores to a preallocated ``bytearray`` or, in ring mode, to the chunks of a
:class:`~feedhandler.recording.ring.ChunkRing` that a C thread compresses. ``FrameTap`` is the
transport callback of a recorded connection: it asks the writer to flush/rotate first when the buffer is full
or its deadline has passed (so a record never straddles a flush or a rotation), appends the frame, then hands
it to the parser. ``SinkTap`` is the same record step as a
:class:`~feedhandler.core.sink.FrameRecorder`: set as a ``FrameSink``'s ``recorder``, it records on the compiled
frame path (picows listener -> ``FrameSink.c_frame`` -> decoder ``c_feed``) with no Python call per frame. The writer (:mod:`.compressed`) does everything else in Python, at most once per flush.
"""
import asyncio
import sys

cimport cython
from cpython.memoryview cimport PyMemoryView_Check, PyMemoryView_GET_BUFFER
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from feedhandler.core.sink cimport FrameRecorder, FrameSink
from feedhandler.transport.read_tap cimport ReadTap
from feedhandler.recording.ring cimport CHUNK_CLOSE_FD, CHUNK_END_FRAME, ChunkRing

if sys.byteorder != "little":  # the record header is written as the host's integers
    raise ImportError("feedhandler.recording.tap writes little-endian records: big-endian hosts are not supported")

cdef enum:
    # record kinds of a connection's recorded socket reads (format.py: KIND_WIRE_START, KIND_WIRE, KIND_WIRE_CUT)
    WIRE_START = 4
    WIRE = 5
    WIRE_CUT = 6

cdef enum:
    HEADER = 17  # i64 recv_ns | u32 connection | u8 kind | u32 length
    STAGE = 4096  # bytes of records gathered in the buffer object itself before they go to the array
    STAGE_WORDS = 512  # STAGE / 8

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    /* n bytes (a multiple of 64) to dst (16-byte aligned) with non-temporal stores: the array's lines go to
       memory without being read first or kept in the feed core's caches (the compressing thread reads them
       on the other core); the loads come from the stage, which is in L1. */
    static inline void fh_stream_copy(char* dst, const char* src, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i*)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i*)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i*)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i*)(src + i + 48));
            _mm_stream_si128((__m128i*)(dst + i), a);
            _mm_stream_si128((__m128i*)(dst + i + 16), b);
            _mm_stream_si128((__m128i*)(dst + i + 32), c);
            _mm_stream_si128((__m128i*)(dst + i + 48), d);
        }
    }
    /* the streamed stores are weakly ordered: fence them before another thread may read the array */
    static inline void fh_stream_fence(void) { _mm_sfence(); }
    #define FH_HAVE_STREAM 1
    #else
    static inline void fh_stream_copy(char* dst, const char* src, Py_ssize_t n) { memcpy(dst, src, n); }
    static inline void fh_stream_fence(void) {}
    #define FH_HAVE_STREAM 0
    #endif
    static inline int fh_aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }
    """
    void fh_stream_copy(char* dst, const char* src, Py_ssize_t n) noexcept nogil
    void fh_stream_fence() noexcept nogil
    bint fh_aligned16(const void* p) noexcept nogil


cdef inline void _write_header(char* q, int64_t recv_ns, uint32_t connection_id, uint8_t kind,
                               uint32_t length) noexcept nogil:
    """The record header at q (HEADER bytes): i64 recv_ns | u32 connection | u8 kind | u32 length."""
    memcpy(q, &recv_ns, 8)
    memcpy(q + 8, &connection_id, 4)
    q[12] = <char>kind
    memcpy(q + 13, &length, 4)


cdef inline uint8_t _kind_of(const char* data, Py_ssize_t n) noexcept nogil:
    """Text (0) if the payload starts like JSON (``{`` or ``[``), else binary (1): RecordBuffer.append's rule."""
    return 0 if n and (data[0] == b"{" or data[0] == b"[") else 1


cdef inline Py_ssize_t _frame_bytes(Py_ssize_t payload) noexcept nogil:
    """Header + payload bytes of an unmasked frame (a server's) with ``payload`` bytes (RFC 6455 section 5.2)."""
    if payload < 126:
        return payload + 2
    if payload < 65536:
        return payload + 4
    return payload + 10


cdef inline int64_t _now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)  # the clock of time.monotonic_ns()
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


def touched_buffer(Py_ssize_t n):
    """A ``bytearray`` of ``n`` zero bytes whose pages are all written once now (``bytearray(n)`` maps them
    lazily: each first write would fault a page on the feed's thread)."""
    cdef bytearray out = bytearray(n)
    if n:
        memset(PyByteArray_AS_STRING(out), 0, n)
    return out


@cython.final
cdef class RecordBuffer:
    """Pending records in one preallocated buffer.

    Parameters
    ----------
    capacity:
        Bytes reserved up front; ``due`` turns true before a record would not fit (a bigger record grows it).
    ring:
        A :class:`~feedhandler.recording.ring.ChunkRing`: the stages go into its chunks instead of an array
        (each full chunk handed to its compressing thread at once), ``capacity`` is only the size at which
        ``due`` asks for :meth:`end_frame`, and a record of any size fits.
    """

    # Records are written at _stage + _staged (4 KiB in the object, L1-resident), and a full stage goes to _data (the array, or the ring's current chunk) with non-temporal stores, so the
    # feed core neither reads those lines for ownership nor keeps them in its caches (perf on the flood: a
    # record's memcpy straight into the chunk took ~20 ns, in cache misses, and evicted the event pool).
    # Array mode: size == _flushed + _staged, the array holds bytes [0, _flushed). Ring mode: a chunk that
    # fills is published (the thread compresses it where it is) and the next one filled.
    cdef Py_ssize_t _staged
    # min(STAGE - _staged, capacity - size): a record of HEADER + n <= _room fits where it is written and is
    # not due (SinkTap's fast path); kept by every method that moves _staged, size or capacity
    cdef Py_ssize_t _room
    cdef bytearray _array              # array mode
    cdef char* _data                   # PyByteArray_AS_STRING(_array) (kept while not resized), or the chunk
    cdef Py_ssize_t _flushed, _end     # bytes of _data written, and held
    cdef ChunkRing _ring               # ring mode (the buffer's reference keeps the chunks allocated)
    cdef readonly Py_ssize_t size, capacity
    cdef public int64_t deadline_ns    # monotonic ns: flush (or rotate) at or after this
    cdef bint _recording
    cdef readonly int64_t frames, payload_bytes
    cdef uint64_t _stage[STAGE_WORDS]

    def __init__(self, Py_ssize_t capacity=4 << 20, ChunkRing ring=None):
        if capacity < 64:
            raise ValueError("capacity must be >= 64 bytes")
        if ring is None:
            self._array = touched_buffer(capacity)
            self._data = PyByteArray_AS_STRING(self._array)
            self._end = capacity
        else:
            if ring.chunk_bytes % STAGE:
                raise ValueError("the ring's chunks must hold whole stages")
            self._ring = ring
            self._data = ring.c_current()
            self._end = ring.chunk_bytes
        self.capacity = capacity
        self.size = self._flushed = self._staged = 0
        self.deadline_ns = 1 << 62
        self._recording = True
        self._set_room()

    @property
    def recording(self):
        """False: the taps pass frames on without recording them."""
        return self._recording

    @recording.setter
    def recording(self, bint value):
        self._recording = value
        self._set_room()

    cdef inline void _set_room(self) noexcept:
        cdef Py_ssize_t stage_room = STAGE - self._staged, due_room = self.capacity - self.size
        self._room = stage_room if stage_room < due_room else due_room
        if not self._recording:
            self._room = -1  # no record fits: the taps take their slow path, which checks recording

    cdef inline bint c_due(self, Py_ssize_t n, int64_t now_ns) noexcept:
        return self.size + HEADER + n > self.capacity or now_ns >= self.deadline_ns

    cdef int _spill(self) except -1:
        """The full stage (_staged == STAGE) to _data."""
        self._spill_from(<char*>self._stage)
        self._staged = 0
        return 0

    cdef int _spill_from(self, const char* src) except -1:
        """STAGE bytes from src (the stage, or a big record's payload while the stage is empty) to _data; in
        ring mode a chunk that fills goes to the thread.

        Bound: array mode, only called for bytes within ``size <= capacity`` (c_append checked it), so
        _flushed + STAGE <= capacity; ring mode, _flushed is a multiple of STAGE below _end (a full chunk is
        published at once, and only end_frame, which starts a new chunk, drains a partial stage)."""
        cdef char* dst = self._data + self._flushed
        if self._ring is not None and not self._ring._started:
            raise ValueError("the recording is closed")
        if fh_aligned16(dst):
            fh_stream_copy(dst, src, STAGE)
        else:
            memcpy(dst, src, STAGE)
        self._flushed += STAGE
        if self._ring is not None and self._flushed == self._end:
            fh_stream_fence()  # the chunk's streamed stores are visible before the thread reads it
            self._data = self._ring.c_publish(self._flushed, 0)
            self._flushed = 0
        return 0

    cdef inline int _put(self, const char* src, Py_ssize_t n) except -1:
        """Append n bytes where records are written, each full stage (or chunk) going onward; whole stages of a
        big record (a socket read) go from src to _data directly, without passing through the stage."""
        cdef Py_ssize_t k
        while n > 0:
            if self._staged == STAGE:
                self._spill()
            if self._staged == 0:
                while n >= STAGE:  # same bound as _spill: these bytes lie within size <= capacity / the chunk
                    self._spill_from(src)
                    src += STAGE
                    n -= STAGE
                if n == 0:
                    break
            k = STAGE - self._staged
            if k > n:
                k = n
            memcpy(<char*>self._stage + self._staged, src, k)
            self._staged += k
            src += k
            n -= k
        return 0

    cdef void _drain(self) noexcept:
        """The staged bytes to _data (plain copy), the streamed stores fenced: _data holds every record."""
        if self._staged:
            memcpy(self._data + self._flushed, <char*>self._stage, self._staged)
            self._flushed += self._staged
            self._staged = 0
        fh_stream_fence()
        self._set_room()

    cdef int c_append(self, int64_t recv_ns, uint32_t connection_id, uint8_t kind, const char* data,
                      Py_ssize_t n) except -1:
        cdef Py_ssize_t need = self.size + HEADER + n
        cdef char head[HEADER]
        cdef char* q = head
        cdef uint32_t length = <uint32_t>n
        cdef bint whole = self._staged + HEADER + n <= STAGE   # the usual case: the record fits in the stage
        if need > self.capacity and self._ring is None:  # only a record bigger than the whole buffer (due() flushed first)
            self._drain()
            PyByteArray_Resize(self._array, need)
            self._data = PyByteArray_AS_STRING(self._array)
            self.capacity = self._end = need
        # array mode: need <= capacity == len(_array), the record fits; _put keeps every byte below need
        if whole:
            q = <char*>self._stage + self._staged   # _staged + HEADER + n <= STAGE: inside the stage
        _write_header(q, recv_ns, connection_id, kind, length)
        if whole:
            memcpy(q + HEADER, data, n)
            self._staged += HEADER + n
        else:
            self._put(head, HEADER)
            self._put(data, n)
        self.size = need
        if kind < WIRE_START:  # a read's bytes are not a frame: the listener counts its frames (WireTap)
            self.frames += 1
            self.payload_bytes += n
        self._set_room()
        return 0

    def raw(self, bytes data):
        """Append bytes that are not a record (a file's magic and header)."""
        cdef Py_ssize_t n = len(data)
        if self._ring is None and self.size + n > self.capacity:
            raise ValueError("raw bytes do not fit the buffer")
        self._put(data, n)
        self.size += n
        self._set_room()

    def end_frame(self, bint close_fd=False):
        """Ring mode: hand every pending byte to the ring's thread as the end of one zstd frame (a record
        boundary), and with ``close_fd`` have it close the file after them; the buffer is empty afterwards."""
        cdef int flags = 0
        if self._ring is None:
            raise TypeError("end_frame needs a buffer in ring mode")
        if not self._ring._started:
            raise ValueError("the recording is closed")
        self._drain()  # _flushed + _staged <= _end (see _spill): the chunk holds the stage
        if self.size:
            flags |= CHUNK_END_FRAME
        if close_fd:
            flags |= CHUNK_CLOSE_FD
        if self._flushed or flags:
            self._data = self._ring.c_publish(self._flushed, flags)
        self._flushed = 0
        self.size = 0
        self._set_room()

    def append(self, payload, int64_t recv_ns, uint32_t connection_id, int kind=-1):
        """Append one record (``kind`` -1: text if the payload starts with ``{`` or ``[``, else binary)."""
        cdef const unsigned char[::1] view
        cdef const char* p = NULL
        cdef Py_ssize_t n
        if isinstance(payload, str):
            payload = (<str>payload).encode()
            if kind < 0:
                kind = 0
        if isinstance(payload, bytes):
            p, n = PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload)
        else:
            view = memoryview(payload).cast("B")
            n = view.shape[0]
            if n:
                p = <const char*>&view[0]
        self.c_append(recv_ns, connection_id, _kind_of(p, n) if kind < 0 else <uint8_t>kind, p, n)

    def due(self, Py_ssize_t n, int64_t now_ns):
        """True if a record of ``n`` payload bytes should wait for a flush first."""
        return self.c_due(n, now_ns)

    def take(self):
        """The pending records as ``bytes``; the buffer is empty afterwards (array mode)."""
        if self._ring is not None:
            raise TypeError("a buffer in ring mode hands its records on with end_frame")
        self._drain()
        out = bytes(memoryview(self._array)[:self.size])
        self.size = self._flushed = 0
        self._set_room()
        return out


cdef class SinkTap(FrameRecorder):
    """The record step of one connection on the compiled frame path (a ``FrameSink.recorder``).

    Parameters
    ----------
    buffer:
        The writer's :class:`RecordBuffer`.
    on_due:
        ``callable()`` the writer's flush/rotate step, run *before* a record that is due (so a record never
        straddles a flush or a rotation).
    connection_id:
        Written in each record.
    """

    cdef RecordBuffer _buf
    cdef object _on_due
    cdef uint32_t _cid

    def __init__(self, RecordBuffer buffer, on_due, uint32_t connection_id):
        self._buf, self._on_due, self._cid = buffer, on_due, connection_id

    cdef int c_record(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        # the fast path reads the buffer through self._buf (borrowed: no reference counting per frame)
        cdef Py_ssize_t need = HEADER + n
        cdef char* q
        cdef RecordBuffer buf
        if need <= self._buf._room and 0 < recv_ns < self._buf.deadline_ns:
            # the usual frame: need <= _room <= STAGE - _staged, so the record fits in the stage, and
            # size + need <= capacity with the deadline ahead, so nothing is due (_room < 0 while not
            # recording): header and payload straight in
            q = <char*>self._buf._stage + self._buf._staged
            _write_header(q, recv_ns, self._cid, _kind_of(data, n), <uint32_t>n)
            memcpy(q + HEADER, data, n)
            self._buf._staged += need
            self._buf.size += need
            self._buf._room -= need
            self._buf.frames += 1
            self._buf.payload_bytes += n
            return 0
        buf = self._buf
        if not buf._recording:
            return 0
        if buf.c_due(n, recv_ns if recv_ns > 0 else _now_ns()):
            self._on_due()
        return buf.c_append(recv_ns, self._cid, _kind_of(data, n), data, n)


cdef class FrameTap(SinkTap):
    """Transport callback of a recorded connection: record (compiled), then ``on_frame(payload, recv_ns)``.

    For a Python frame consumer; a ``FrameSink`` takes a :class:`SinkTap` as its ``recorder`` instead.

    Parameters
    ----------
    buffer:
        The writer's :class:`RecordBuffer`.
    on_due:
        ``callable()`` the writer's flush/rotate step, run *before* a record that is due.
    on_frame:
        The parser's ``feed``.
    connection_id:
        Written in each record.
    """

    cdef object _on_frame

    def __init__(self, RecordBuffer buffer, on_due, on_frame, uint32_t connection_id):
        SinkTap.__init__(self, buffer, on_due, connection_id)
        self._on_frame = on_frame

    def __call__(self, payload, recv_ns_obj):
        # recv_ns_obj is handed on to on_frame as it came (no new int object per frame)
        cdef RecordBuffer buf = self._buf
        cdef int64_t recv_ns
        if buf._recording:
            recv_ns = recv_ns_obj
            if type(payload) is bytes:
                self.c_record(PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload), recv_ns)
            else:
                if buf.c_due(len(payload), recv_ns if recv_ns > 0 else _now_ns()):
                    self._on_due()
                buf.append(payload, recv_ns, self._cid)
        return self._on_frame(payload, recv_ns_obj)


cdef class WireTap(ReadTap, asyncio.BufferedProtocol):
    """Records a picows connection's socket reads, one record per read, instead of one per frame.

    Set as the socket transport's protocol in front of picows' own (``transport.set_protocol``), it copies each
    read's bytes into the recording (one ``memcpy`` per read, whatever the number of frames in it) before picows
    parses them; the frames are cut out of the bytes again when the recording is read (format.py). The compiled
    listener tells it where frames end (:class:`~feedhandler.transport.read_tap.ReadTap`): recording starts
    after the last frame of a read (a ``KIND_WIRE_START`` record with the bytes that follow it, the start of
    the next frame), and a stop or an interruption in the middle of a read writes a ``KIND_WIRE_CUT`` record
    with the stream offset after the last frame that counts. Until it starts, and again after :meth:`restart`
    (a rotation: every segment starts with whole frames), the sink's :class:`SinkTap` records frame by frame.

    Parameters
    ----------
    inner:
        picows' protocol (the reads go on to it).
    buffer:
        The writer's :class:`RecordBuffer`.
    on_due:
        The writer's flush/rotate step, run before a read whose record is due.
    connection_id:
        Written in each record.
    sink:
        The connection's :class:`~feedhandler.core.sink.FrameSink` (its ``recorder`` is ``sink_tap`` while the
        reads are not recorded, None while they are).
    sink_tap:
        The frame-by-frame recorder of this connection.
    """

    cdef readonly object inner
    cdef object _get_buffer, _buffer_updated
    cdef RecordBuffer _buf
    cdef object _on_due
    cdef uint32_t _cid
    cdef FrameSink _sink
    cdef SinkTap _sink_tap
    cdef object _view              # the memoryview picows' get_buffer returned for the read being made
    cdef readonly int64_t reads, starts, cuts
    #: The largest read record: a bigger read is written as several (the reader's record limit is 64 MiB).
    cdef readonly Py_ssize_t max_record

    def __init__(self, inner, RecordBuffer buffer, on_due, uint32_t connection_id, FrameSink sink,
                 SinkTap sink_tap, Py_ssize_t max_record=16 << 20):
        if max_record < 1:
            raise ValueError("max_record must be >= 1 byte")
        self.max_record = max_record
        self.inner = inner
        self._get_buffer, self._buffer_updated = inner.get_buffer, inner.buffer_updated
        self._buf, self._on_due, self._cid = buffer, on_due, connection_id
        self._sink, self._sink_tap = sink, sink_tap
        self.want_start = True
        sink.recorder = sink_tap

    # -- the socket transport's calls ---------------------------------------------------------------------------
    def get_buffer(self, Py_ssize_t size_hint):
        view = self._get_buffer(size_hint)
        self._view = view if PyMemoryView_Check(view) else memoryview(view)
        return view

    def buffer_updated(self, Py_ssize_t nbytes):
        if self.wire:
            self._record_read(nbytes)
        self.in_read = True
        try:
            self._buffer_updated(nbytes)
        finally:
            self.in_read = False
            if self.frames:  # the messages the listener delivered from recorded reads
                self._buf.frames += self.frames
                self._buf.payload_bytes += self.payload_bytes
                self.frames = self.payload_bytes = 0

    def connection_made(self, transport):
        self.inner.connection_made(transport)

    def connection_lost(self, exc):
        self.inner.connection_lost(exc)

    def eof_received(self):
        return self.inner.eof_received()

    def pause_writing(self):
        self.inner.pause_writing()

    def resume_writing(self):
        self.inner.resume_writing()

    # -- recording ------------------------------------------------------------------------------------------------
    cdef int _record_read(self, Py_ssize_t n) except -1:
        cdef RecordBuffer buf = self._buf
        cdef Py_buffer* view
        cdef int64_t now
        cdef const char* p
        cdef Py_ssize_t k
        try:
            if not buf._recording:
                self.wire = False
                return 0
            if self._view is None:
                raise ValueError("the transport reported a read without asking for a buffer")
            view = PyMemoryView_GET_BUFFER(self._view)
            if n < 0 or n > view.len:
                raise ValueError(f"the transport reported {n} bytes read into a buffer of {view.len}")
            now = _now_ns()
            if buf.c_due(n, now):
                self._on_due()  # a rotation restarts the taps: this read is then recorded frame by frame
                if not self.wire:
                    return 0
            # view.buf[0:n]: the bytes the socket just wrote into picows' buffer (n <= view.len, checked above);
            # one record per max_record bytes (the reader joins them: they are one stream)
            p = <const char*>view.buf
            while True:
                k = n - (p - <const char*>view.buf)
                if k > self.max_record:
                    k = self.max_record
                buf.c_append(now, self._cid, WIRE, p, k)
                p += k
                if p - <const char*>view.buf >= n:
                    break
            self.stream_bytes += n
            self.reads += 1
        except Exception as exc:
            self._failed(exc)
        return 0

    cdef int c_start(self, const char* tail, Py_ssize_t n) except -1:
        cdef RecordBuffer buf = self._buf
        cdef int64_t now
        self.want_start = False
        try:
            if not buf._recording:
                return 0
            now = _now_ns()
            if buf.c_due(n, now):
                self._on_due()
                self.want_start = False  # a rotation asked for a start: this is it
            buf.c_append(now, self._cid, WIRE_START, tail, n)
            self.stream_bytes = n
            self.wire = True
            self.starts += 1
            self._sink.recorder = None  # the reads carry this connection's frames from now on
        except Exception as exc:
            self._failed(exc)
        return 0

    cdef int c_stop(self, bint keep_current) except -1:
        cdef bint was_wire = self.wire
        self.wire = False
        self.want_start = False
        self._sink.recorder = self._sink_tap
        if was_wire and self.in_read:
            self._cut(keep_current)
        return 0

    cdef int _cut(self, bint keep_current) except -1:
        """A KIND_WIRE_CUT record: the stream ends after the frame the listener is at (or before it); never
        preceded by a due check, so nothing comes between it and the read it cuts."""
        cdef int64_t offset = self.stream_bytes - self.tail - (0 if keep_current else
                                                               _frame_bytes(self.frame_payload))
        try:
            self._buf.c_append(_now_ns(), self._cid, WIRE_CUT, <const char*>&offset, 8)
            self.cuts += 1
        except Exception as exc:
            self._failed(exc)
        return 0

    cdef int _failed(self, object exc) except -1:
        """A recording that fails is reported (like the sink's recorder) and goes back to frame by frame."""
        self.wire = False
        self.want_start = False
        self._sink.recorder = self._sink_tap
        self._sink._recorder_failed(exc)
        return 0

    def restart(self):
        """Record frame by frame again until the next read ends at a known place: at a rotation (every segment
        starts with whole frames), or when another record is written in the middle of a recorded read (the
        read is cut after the frame being delivered, so that record stays in order)."""
        if self.wire:
            if self.in_read:
                self._cut(True)
            self.wire = False
            self._sink.recorder = self._sink_tap
        if self._buf._recording:
            self.want_start = True

    def stop(self):
        """No more records from this connection's reads (the recording stopped)."""
        self.c_stop(True)
