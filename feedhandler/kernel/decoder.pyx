# cython: language_level=3
"""``FrameDecoder``: the base class of every compiled exchange decoder.

Subclasses override ``c_feed`` (and ``classify`` when they can tell a
frame's type more cheaply than by decoding it). ``feed`` acquires the
frame's bytes without copying and calls ``c_feed``, so the Python entry and
the C entry (used by the compiled picows listener) run the same code.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t

import numpy as np

from feedhandler.codec.frame cimport FrameBytes, frame_acquire, frame_release
from feedhandler.codec.json_scan cimport JsonSpan
from feedhandler.kernel.extract cimport KT_MAX_LEVEL_SLOTS, kt_error_text, kt_out_init, kt_scan

from feedhandler.core.errors import ParseError


cdef class FrameDecoder:
    """Base of the compiled decoders: one C entry, one Python entry, shared counters.

    Parameters
    ----------
    exchange:
        The exchange's name, used in error messages.
    """

    def __init__(self, str exchange="", *args, **kwargs):
        self.exchange = exchange
        self.control_id = -1
        self.control_code = 0
        self.control_text = None

    def __cinit__(self, *args, **kwargs):
        kt_out_init(&self.out)
        self.levels_capacity = 0
        self._levels_mem = None

    cdef int use_levels(self, Py_ssize_t capacity, bint keep_text, int nslots=KT_MAX_LEVEL_SLOTS) except -1:
        """Preallocate the level arrays behind ``self.out.levels[0..nslots-1]`` (once, at construction).

        ``capacity`` levels per array; with ``keep_text`` also the price/size text spans
        (``KF_KEEP_TEXT`` fields). One numpy buffer holds everything: no allocation per frame.
        Slots from ``nslots`` on hold nothing (capacity 0: a level there is "more than the capacity").
        """
        cdef Py_ssize_t per = 2 * sizeof(double) + (2 * sizeof(JsonSpan) if keep_text else 0)
        cdef Py_ssize_t i
        cdef char* base
        if capacity < 1:
            raise ValueError("levels capacity must be at least 1")
        if not 1 <= nslots <= KT_MAX_LEVEL_SLOTS:
            raise ValueError(f"nslots must be 1..{KT_MAX_LEVEL_SLOTS}")
        self._levels_mem = np.zeros(nslots * capacity * per, dtype=np.uint8)
        cdef unsigned char[::1] view = self._levels_mem
        base = <char*>&view[0]
        for i in range(nslots, KT_MAX_LEVEL_SLOTS):
            self.out.levels[i].px = NULL
            self.out.levels[i].qty = NULL
            self.out.levels[i].px_text = NULL
            self.out.levels[i].qty_text = NULL
            self.out.levels[i].capacity = 0
            self.out.levels[i].count = 0
        for i in range(nslots):
            # layout per level slot: px[capacity] qty[capacity] (px_text[capacity] qty_text[capacity])
            self.out.levels[i].px = <double*>(base + i * capacity * per)
            self.out.levels[i].qty = self.out.levels[i].px + capacity
            if keep_text:
                self.out.levels[i].px_text = <JsonSpan*>(self.out.levels[i].qty + capacity)
                self.out.levels[i].qty_text = self.out.levels[i].px_text + capacity
            else:
                self.out.levels[i].px_text = NULL
                self.out.levels[i].qty_text = NULL
            self.out.levels[i].capacity = capacity
            self.out.levels[i].count = 0
        self.levels_capacity = capacity
        return 0

    cdef int scan(self, const KtTable* table, const char* data, Py_ssize_t n) except -1:
        if kt_scan(table, data, n, &self.out) < 0:
            return self.scan_fail(data, "")
        return 0

    cdef int scan_fail(self, const char* base, str what) except -1:
        self.parse_errors += 1
        where = f" {what}" if what else ""
        cdef Py_ssize_t offset = self.out.err_at - base if self.out.err_at != NULL else -1
        field = (<bytes>self.out.err_key).decode("utf-8", "replace") if self.out.err_key != NULL else None
        exc = ParseError(f"{self.exchange}{where}: {kt_error_text(&self.out, base)}")
        exc.field = field
        exc.offset = offset
        raise exc

    cdef int fail(self, str field, Py_ssize_t offset, str reason) except -1:
        self.parse_errors += 1
        at = f" at byte {offset}" if offset >= 0 else ""
        exc = ParseError(f"{self.exchange}: field {field!r}: {reason}{at}")
        exc.field = field
        exc.offset = offset
        raise exc

    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        raise NotImplementedError(f"{type(self).__name__} does not implement c_feed")

    cpdef int feed(self, object raw, int64_t recv_ns) except -1:
        """Decode one frame, apply it and deliver its events; return its ``MessageType`` int.

        Raises
        ------
        ParseError
            The frame is not bytes/str/a contiguous buffer, or the decoder rejected it
            (nothing of it was applied).
        """
        cdef FrameBytes f
        try:
            frame_acquire(raw, &f)
        except (TypeError, BufferError, UnicodeError):
            self.parse_errors += 1
            raise ParseError(
                f"{self.exchange}: frame must be bytes, str or a contiguous buffer, not {type(raw).__name__}"
            ) from None
        try:
            return self.c_feed(f.p, f.n, recv_ns)
        finally:
            frame_release(&f)

    def feed_many(self, frames, recv_ns=0, on_error=None):
        """Decode a batch of frames in a C loop (what the compiled transport does live: no Python call
        per frame); return how many were decoded without error.

        Parameters
        ----------
        frames:
            A list or tuple of frames (bytes, or anything ``feed`` takes), decoded in order.
        recv_ns:
            One receive time for every frame, or a sequence of one per frame (same length).
        on_error:
            ``callable(ParseError)`` for a frame the decoder rejects (nothing of it applied): the batch
            goes on with the next frame. None: the first rejection is raised, with ``.index`` set to the
            frame's position (the frames before it were applied).
        """
        cdef Py_ssize_t i, n, ok = 0
        cdef int64_t t = 0
        cdef bint per_frame = not isinstance(recv_ns, int)
        cdef object raw
        if not isinstance(frames, (list, tuple)):
            frames = list(frames)
        n = len(frames)
        if per_frame:
            if len(recv_ns) != n:
                raise ValueError(f"recv_ns has {len(recv_ns)} times for {n} frames")
        else:
            t = recv_ns
        for i in range(n):
            raw = frames[i]
            if per_frame:
                t = recv_ns[i]
            try:
                if type(raw) is bytes:
                    self.c_feed(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), t)
                else:
                    self.feed(raw, t)
            except ParseError as exc:
                if on_error is None:
                    exc.index = i
                    raise
                on_error(exc)
                continue
            ok += 1
        return ok

    cpdef int classify(self, object raw) except -1:
        """The frame's ``MessageType`` int, nothing applied or delivered (UNKNOWN: 0 if malformed)."""
        cdef FrameBytes f
        try:
            frame_acquire(raw, &f)
        except (TypeError, BufferError, UnicodeError):
            return 0
        try:
            return self.c_classify(f.p, f.n)
        finally:
            frame_release(&f)

    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1:
        """Subclasses override: the MessageType of data[0:n] without applying it (the base: UNKNOWN)."""
        return 0
