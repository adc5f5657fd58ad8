from libc.stdint cimport int64_t

cdef class FrameSink:
    """The per-connection frame entry point: count, parse, route (compiled, no Python frame per frame)."""
    cdef public object feed           # the parser's ``feed(raw, recv_ns) -> MessageType int``
    cdef public object on_control     # ``callable(message_type, raw)`` for non-data frames
    cdef public object on_error       # ``callable(exception)`` for frames the parser rejects
    cdef public int64_t frames
    cdef public int64_t bytes
    cdef public int64_t parse_errors
    cdef public int64_t last_frame_ns
    cdef public bint data_seen
