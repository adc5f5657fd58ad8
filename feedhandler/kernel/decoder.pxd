# cython: language_level=3
"""C-level header of the decoder kernel (``cimport feedhandler.kernel.decoder``).

Every compiled exchange decoder extends :class:`FrameDecoder` and overrides
``c_feed``. Return value of ``c_feed``/``feed``/``classify``: a
``MessageType`` int (``feedhandler.core.types.MessageType``); ``-1`` means a
Python exception is set (``ParseError`` for a frame the decoder rejects,
with nothing of it applied).
"""
from libc.stdint cimport int64_t

from feedhandler.kernel.extract cimport KtOut, KtTable


cdef class FrameDecoder:
    cdef readonly str exchange
    # every frame handed to c_feed, and the ones it rejected (ParseError)
    cdef readonly int64_t frames
    cdef readonly int64_t parse_errors
    # What the last control frame said, set by c_feed when it returns SUBSCRIPTION_ACK, ERROR, PONG
    # or AUTH_ACK, so the subscription strategy never parses the frame again:
    cdef readonly int64_t control_id      # the request id the frame answers (-1: none)
    cdef readonly int64_t control_code    # the exchange's error code (0: none)
    cdef readonly object control_text     # the channel/topic or error message as a str (None: none)

    # Table-driven extraction (feedhandler.kernel.extract): the slots kt_scan fills, and the
    # preallocated level arrays behind out.levels[0..3] (levels_capacity each, see use_levels).
    cdef KtOut out
    cdef readonly Py_ssize_t levels_capacity
    cdef object _levels_mem

    # Point out.levels[0..nslots-1] at preallocated arrays of ``capacity`` levels (texts too if keep_text);
    # the slots above nslots hold no level (capacity 0). Decoders use levels[0] for bids, [1] for asks.
    cdef int use_levels(self, Py_ssize_t capacity, bint keep_text, int nslots=*) except -1
    # kt_scan(table, data, n, &self.out), raising ParseError (field and byte offset) on failure.
    cdef int scan(self, const KtTable* table, const char* data, Py_ssize_t n) except -1
    # Count and raise the ParseError for self.out's error; ``what`` says which frame (e.g. a channel).
    cdef int scan_fail(self, const char* base, str what) except -1
    # Count and raise a ParseError naming ``field`` and the byte ``offset`` (-1: unknown).
    cdef int fail(self, str field, Py_ssize_t offset, str reason) except -1

    # The C entry: decode data[0:n] (valid only during the call), apply it and deliver its events.
    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1
    # The Python entry: ``raw`` is bytes, str or any contiguous buffer; calls c_feed.
    cpdef int feed(self, object raw, int64_t recv_ns) except -1
    # The frame's MessageType without applying or delivering anything: acquires the bytes and calls
    # c_classify (UNKNOWN for what is not bytes/str/a buffer); subclasses override c_classify.
    cpdef int classify(self, object raw) except -1
    cdef int c_classify(self, const char* data, Py_ssize_t n) except -1
