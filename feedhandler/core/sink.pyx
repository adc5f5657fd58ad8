"""``FrameSink``: what a transport calls for every frame.

It is compiled so that the only interpreted code between the socket and the
user's handler is the handler itself. Two entries:

- ``c_frame(data, n, recv_ns)`` (C): the compiled picows listener hands over
  the payload pointer from picows' read buffer. When the parser's ``feed`` is a
  compiled :class:`~feedhandler.kernel.decoder.FrameDecoder`'s own method, the
  pointer goes straight to the decoder's ``c_feed``: no ``bytes``, no Python
  call. Any other parser (pure Python) gets a ``bytes`` copy through ``feed``.
- ``sink(raw, recv_ns)`` (Python): the ``websockets`` transport and tests; calls
  ``feed``.

A :class:`FrameRecorder` set as ``recorder`` (``feedhandler record``) sees
every frame first, by pointer on the C path: recording adds no Python call.

Control frames (acks, pongs, errors) and parse errors go back to Python
callbacks; they are rare, so a ``bytes`` of the frame is made only for them.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t

from feedhandler.kernel.decoder cimport FrameDecoder

from types import FunctionType

from feedhandler.core.errors import FeedError, ParseError

cdef int _DATA = 1  # MessageType.DATA


cdef inline FrameDecoder _compiled_decoder(object feed):
    """The FrameDecoder whose own compiled ``feed`` this is, else None.

    A ``feed`` overridden in Python (its function is a plain ``FunctionType``) is not bypassed: only the
    compiled method of a FrameDecoder runs the same code as its ``c_feed``.
    """
    owner = getattr(feed, "__self__", None)
    if isinstance(owner, FrameDecoder) and getattr(feed, "__name__", None) == "feed" \
            and not isinstance(getattr(feed, "__func__", None), FunctionType):
        return <FrameDecoder>owner
    return None


cdef class FrameRecorder:
    """Base of the compiled frame taps (:class:`feedhandler.recording.tap.SinkTap`); records nothing itself."""

    cdef int c_record(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        return 0

    def record(self, raw, int64_t recv_ns):
        """The Python entry (``FrameSink.__call__``: the ``websockets`` transport, tests): a ``bytes``/``str`` frame."""
        cdef const unsigned char[::1] view
        if isinstance(raw, str):
            raw = (<str>raw).encode()
        view = raw
        self.c_record(<const char*>&view[0] if view.shape[0] else <const char*>b"", view.shape[0], recv_ns)


cdef class FrameSink:
    def __init__(self, feed, on_control, on_error):
        self.feed = feed
        self.on_control = on_control
        self.on_error = on_error

    @property
    def feed(self):
        """The parser's ``feed(raw, recv_ns)``; setting it (``swap_parser``) finds its compiled decoder again."""
        return self._feed

    @feed.setter
    def feed(self, value):
        self._feed = value
        self.decoder = _compiled_decoder(value)

    cdef int c_frame(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef int message_type
        cdef FrameDecoder decoder = self.decoder
        self.frames += 1
        self.bytes += n
        self.last_frame_ns = recv_ns
        if self.recorder is not None:
            try:
                self.recorder.c_record(data, n, recv_ns)
            except Exception as exc:
                self._recorder_failed(exc)
        try:
            if decoder is not None:
                message_type = decoder.c_feed(data, n, recv_ns)
            else:
                message_type = self._feed(PyBytes_FromStringAndSize(data, n), recv_ns)
        except Exception as exc:
            return self._rejected(exc)
        if message_type == _DATA:
            self.data_seen = True
            return 0
        return self._route(message_type, PyBytes_FromStringAndSize(data, n))

    def __call__(self, raw, int64_t recv_ns):
        cdef int message_type
        self.frames += 1
        self.bytes += len(raw)
        self.last_frame_ns = recv_ns
        if self.recorder is not None:
            try:
                self.recorder.record(raw, recv_ns)
            except Exception as exc:
                self._recorder_failed(exc)
        try:
            message_type = self._feed(raw, recv_ns)
        except Exception as exc:
            self._rejected(exc)
            return None
        if message_type == _DATA:
            self.data_seen = True
        else:
            self._route(message_type, raw)
        return None

    cdef int _route(self, int message_type, object raw) except -1:
        self.on_control(message_type, raw)
        return 0

    cdef int _recorder_failed(self, object exc) except -1:
        # A recorder that fails (disk full, closed file) is reported, never allowed to stop the
        # feed: the frame still goes to the decoder. Not a parse error.
        self.recorder_errors += 1
        wrapped = FeedError(f"recorder raised {type(exc).__name__}: {exc}")
        wrapped.__cause__ = exc
        self.on_error(wrapped)
        return 0

    cdef int _rejected(self, object exc) except -1:
        self.parse_errors += 1
        if not isinstance(exc, FeedError):
            wrapped = ParseError(f"parser raised {type(exc).__name__}: {exc}")
            wrapped.__cause__ = exc
            exc = wrapped
        self.on_error(exc)
        return 0
