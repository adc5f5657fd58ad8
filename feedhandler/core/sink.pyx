"""``FrameSink``: what a transport calls for every frame.

It is a compiled callable so that the only interpreted code between the
socket and the user's handler is the handler itself: the transport calls the
sink (a C slot), the sink calls the parser's compiled ``feed``, and the parser
calls the handler. Control frames (acks, pongs, errors) and parse errors go
back to Python callbacks; they are rare.
"""
from libc.stdint cimport int64_t

from feedhandler.core.errors import FeedError, ParseError

cdef int _DATA = 1  # MessageType.DATA


cdef class FrameSink:
    def __init__(self, feed, on_control, on_error):
        self.feed = feed
        self.on_control = on_control
        self.on_error = on_error

    def __call__(self, raw, int64_t recv_ns):
        cdef int message_type
        self.frames += 1
        self.bytes += len(raw)
        self.last_frame_ns = recv_ns
        try:
            message_type = self.feed(raw, recv_ns)
        except Exception as exc:
            self.parse_errors += 1
            if not isinstance(exc, FeedError):
                wrapped = ParseError(f"parser raised {type(exc).__name__}: {exc}")
                wrapped.__cause__ = exc
                exc = wrapped
            self.on_error(exc)
            return None
        if message_type == _DATA:
            self.data_seen = True
        else:
            self.on_control(message_type, raw)
        return None
