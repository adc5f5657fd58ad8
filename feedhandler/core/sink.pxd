from libc.stdint cimport int64_t

from feedhandler.kernel.decoder cimport FrameDecoder


cdef class FrameRecorder:
    """A C-level tap on :class:`FrameSink`: sees every frame (pointer, length, recv_ns) before the parser."""
    # ``data[0:n]`` is valid only during the call; -1 (an exception) ends the connection.
    cdef int c_record(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1


cdef class FrameSink:
    """The per-connection frame entry point: count, parse, route (compiled, no Python frame per frame)."""
    cdef object _feed                 # the parser's ``feed(raw, recv_ns) -> MessageType int``
    # The compiled decoder behind ``feed`` when it is a FrameDecoder's own method, else None:
    # c_frame then hands the payload pointer straight to its c_feed.
    cdef readonly FrameDecoder decoder
    cdef public object on_control     # ``callable(message_type, raw)`` for non-data frames
    cdef public object on_error       # ``callable(exception)`` for frames the parser rejects
    cdef public int64_t frames
    cdef public int64_t bytes
    cdef public int64_t parse_errors
    cdef public int64_t last_frame_ns
    cdef public bint data_seen
    # None (the default: one pointer test per frame), or the recording's tap, run before the parser.
    cdef public FrameRecorder recorder
    cdef readonly int64_t recorder_errors   # recorder calls that raised (reported to on_error; the frame still decoded)

    # The C entry of a compiled transport: ``data[0:n]`` is valid only during the call. Never raises for a
    # frame the parser rejects (counted, passed to on_error); -1 only for what must end the connection.
    cdef int c_frame(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1
    cdef int _recorder_failed(self, object exc) except -1
    cdef int _route(self, int message_type, object raw) except -1
    cdef int _rejected(self, object exc) except -1
