# cython: language_level=3
"""``FrameDecoder``: the base class of every compiled exchange decoder.

Subclasses override ``c_feed`` (and ``classify`` when they can tell a
frame's type more cheaply than by decoding it). ``feed`` acquires the
frame's bytes without copying and calls ``c_feed``, so the Python entry and
the C entry (used by the compiled picows listener) run the same code.
"""
from libc.stdint cimport int64_t

from feedhandler.codec.frame cimport FrameBytes, frame_acquire, frame_release
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

    cpdef int classify(self, object raw) except -1:
        """The frame's ``MessageType`` int; subclasses override (the base says UNKNOWN: 0)."""
        return 0
