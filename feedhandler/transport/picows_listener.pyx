# cython: language_level=3
"""``PicowsFrameListener``: the compiled picows listener, the first link of the C frame path.

picows parses frames in place in its read buffer and calls ``on_ws_frame``
through its C vtable (``WSListener`` is a ``cdef class``), so a data frame costs
no Python call here: the listener takes ``recv_ns`` (``CLOCK_MONOTONIC``, the
clock of ``time.monotonic_ns``) first, checks the frame against RFC 6455, and
hands ``frame.payload_ptr``/``payload_size`` to the connection's
:class:`~feedhandler.core.sink.FrameSink` (``c_frame``), which passes them to
the compiled decoder's ``c_feed``. Any other frame consumer (a plain Python
callable) receives ``bytes`` (or a ``memoryview`` of the read buffer).

Strict framing: a frame with a reserved bit set (no extension is ever
negotiated) and a close frame with a code RFC 6455 section 7.4 does not allow
on the wire (1004-1006, 1015, 1016-2999, >= 5000, < 1000) end the connection
with 1002, as the ``websockets`` transport does; picows itself refuses reserved
opcodes, fragmented or oversized (> 125 bytes) control frames, masked frames
from a server, close frames of one byte (1002) and close reasons that are not
UTF-8 (1007). Pings are answered here (picows' auto-pong is off) so that a ping
with a reserved bit is refused like any other frame.
"""
from libc.stdint cimport int64_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from picows.picows cimport WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from feedhandler.core.sink cimport FrameSink
from feedhandler.transport.read_tap cimport ReadTap

import asyncio

from feedhandler.core.errors import ConnectionFailedError

# What becomes of a complete data frame.
cdef enum Mode:
    STASH = 0      # before run(): keep a copy, pause reading
    DELIVER = 1    # hand it to the sink (C) or the Python callable
    DISCARD = 2    # this side decided to close: nobody wants it


cdef inline int64_t _monotonic_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cpdef bint valid_close_code(int code) noexcept:
    """True if ``code`` may appear in a close frame on the wire (RFC 6455 section 7.4, IANA registry).

    1005, 1006 and 1015 are reserved for reporting locally and must never be sent; 1004 and
    1016-2999 are reserved; 3000-4999 are for libraries and applications.
    """
    if 1000 <= code <= 1003 or 1007 <= code <= 1014:
        return True
    return 3000 <= code <= 4999


cdef class PicowsFrameListener(WSListener):
    """picows callbacks of one connection; the frame path is :meth:`on_ws_frame` (compiled).

    Parameters
    ----------
    max_message_size : int
        Limit of a reassembled fragmented message (picows bounds single frames).
    as_memoryview : bool
        Hand Python frame callables a ``memoryview`` of the read buffer instead of ``bytes``.
    """

    cdef FrameSink _sink
    cdef object _on_frame
    cdef int _mode
    cdef object _fragments
    cdef readonly Py_ssize_t max_message_size
    cdef readonly bint as_memoryview
    cdef readonly bint reading_paused
    cdef readonly object transport
    cdef readonly list stash
    #: Why this side ended the connection (protocol violation, oversized message, consumer error).
    cdef readonly object failure
    cdef readonly object disconnected
    # the recording's tap on this connection's socket reads (None: not recorded that way)
    cdef ReadTap _tap

    def __init__(self, Py_ssize_t max_message_size, bint as_memoryview):
        self.max_message_size = max_message_size
        self.as_memoryview = as_memoryview
        self.stash = []
        self._mode = STASH
        self._fragments = None
        self.disconnected = asyncio.get_running_loop().create_future()

    # --- what the connection asks ----------------------------------------------------------
    def deliver_to(self, on_frame):
        """Deliver complete data messages to ``on_frame`` from now on (a FrameSink: by pointer, in C)."""
        if self._mode == DISCARD:
            return
        if isinstance(on_frame, FrameSink):
            self._sink = <FrameSink>on_frame
            self._on_frame = None
        else:
            self._sink = None
            self._on_frame = on_frame
        self._mode = DELIVER

    def attach_read_tap(self, ReadTap tap):
        """Tell ``tap`` (None: nobody) where the frames of the reads it records end (see read_tap.pxd)."""
        self._tap = tap

    def discard(self):
        """Drop every later data message (the connection is closing)."""
        self._stop_tap(True)
        self._mode = DISCARD
        self._sink = None
        self._on_frame = None

    def resume_reading(self):
        # A TLS close handshake must read the peer's close_notify: never disconnect with reading paused.
        cdef WSTransport transport = self.transport
        if self.reading_paused and transport is not None and not transport.is_disconnected:
            self.reading_paused = False
            transport.underlying_transport.resume_reading()

    def fail(self, exc, WSCloseCode code, str reason):
        """Record why and close: the close frame goes out now, the socket follows."""
        if self.failure is None:
            self.failure = exc
        self._stop_tap(True)  # a consumer's failure: the frame it failed on was delivered (and stays recorded)
        self._fragments = None
        self.discard()
        cdef WSTransport transport = self.transport
        if transport is not None and not transport.is_disconnected:
            transport.send_close(code, reason)
            self.resume_reading()
            transport.disconnect()

    # --- picows callbacks ------------------------------------------------------------------
    cpdef on_ws_connected(self, WSTransport transport):
        self.transport = transport

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef int64_t recv_ns = _monotonic_ns()
        cdef WSMsgType msg_type = frame.msg_type
        cdef ReadTap tap = self._tap
        if tap is not None:  # where this frame ends in the bytes read so far, for a cut
            tap.tail = frame.tail_size
            tap.frame_payload = frame.payload_size
        if frame.rsv1 | frame.rsv2 | frame.rsv3:
            self._protocol_error("frame with a reserved bit set, and no extension was negotiated")
            return None
        if (msg_type == WSMsgType.TEXT or msg_type == WSMsgType.BINARY) and frame.fin \
                and self._fragments is None:
            if self._mode == DELIVER:
                if self._sink is not None:
                    if tap is not None and tap.wire:  # in the recorded read: counted as recorded
                        tap.frames += 1
                        tap.payload_bytes += frame.payload_size
                    try:
                        # payload_ptr/payload_size: picows' read buffer, valid during this call only.
                        self._sink.c_frame(frame.payload_ptr, frame.payload_size, recv_ns)
                    except BaseException as exc:  # the consumer's failure ends this connection
                        self.fail(exc, WSCloseCode.INTERNAL_ERROR, "")
                else:
                    self._deliver_object(frame.get_payload_as_memoryview() if self.as_memoryview
                                         else frame.get_payload_as_bytes(), recv_ns)
            elif self._mode == STASH:
                self._keep(frame.get_payload_as_bytes(), recv_ns)
        else:
            self._on_other_frame(transport, frame, msg_type, recv_ns)
        if tap is not None and tap.want_start and frame.last_in_buffer and self._fragments is None \
                and self._mode == DELIVER:
            # the bytes after the last frame of a read begin the next frame: the recorded stream starts there
            try:
                tap.c_start(frame.payload_ptr + frame.payload_size, frame.tail_size)
            except BaseException:  # the tap reports its own failures; never the listener's concern
                pass
        return None

    cdef void _stop_tap(self, bint keep_current) noexcept:
        """No later frame of this connection is recorded from its reads (they are not delivered either)."""
        cdef ReadTap tap = self._tap
        if tap is not None and (tap.wire or tap.want_start):
            try:
                tap.c_stop(keep_current)
            except BaseException:  # the tap reports its own failures; never the listener's concern
                pass

    cpdef on_ws_disconnected(self, WSTransport transport):
        if not self.disconnected.done():
            self.disconnected.set_result(None)

    # --- the rare frames -------------------------------------------------------------------
    cdef _deliver_object(self, payload, int64_t recv_ns):
        try:
            self._on_frame(payload, recv_ns)
        except BaseException as exc:
            self.fail(exc, WSCloseCode.INTERNAL_ERROR, "")

    cdef _keep(self, bytes payload, int64_t recv_ns):
        self.stash.append((payload, recv_ns))
        cdef WSTransport transport = self.transport
        if not self.reading_paused and transport is not None:
            self.reading_paused = True
            transport.underlying_transport.pause_reading()

    cdef _on_other_frame(self, WSTransport transport, WSFrame frame, WSMsgType msg_type, int64_t recv_ns):
        """Fragments, pings, pongs and close frames."""
        cdef int code
        if msg_type == WSMsgType.PING:
            if not transport.is_close_frame_sent:
                transport.send_pong(frame.get_payload_as_bytes())
            return None
        if msg_type == WSMsgType.PONG:
            return None
        if msg_type == WSMsgType.CLOSE:
            if not transport.is_close_frame_sent:
                code = frame.get_close_code()
                if frame.payload_size >= 2 and not valid_close_code(code):
                    self._protocol_error(f"close frame with the code {code}, which RFC 6455 does not allow")
                    return None
                # Echo the peer's code, as RFC 6455 section 5.5.1 asks.
                transport.send_close(<WSCloseCode>code if frame.payload_size >= 2 else WSCloseCode.OK)
            self.resume_reading()
            transport.disconnect()
            return None
        if self.failure is not None or self._mode == DISCARD:
            return None
        if msg_type == WSMsgType.CONTINUATION:
            if self._fragments is None:
                self._protocol_error("continuation frame without a message to continue")
                return None
            self._fragments += frame.get_payload_as_memoryview()
        else:  # TEXT or BINARY that starts a fragmented message
            if self._fragments is not None:
                self._protocol_error("new message started before the fragmented one ended")
                return None
            self._fragments = bytearray(frame.get_payload_as_memoryview())
        if len(self._fragments) > self.max_message_size:
            self._stop_tap(False)  # this fragment was never delivered: the recording ends before it
            self.fail(ConnectionFailedError(
                f"fragmented message larger than max_frame_size ({self.max_message_size} bytes)"),
                WSCloseCode.MESSAGE_TOO_BIG, "message too big")
            return None
        if frame.fin:
            message = bytes(self._fragments)
            self._fragments = None
            if self._mode == STASH:
                self._keep(message, recv_ns)
            elif self._sink is not None:
                self._deliver_to_sink(message, recv_ns)
            else:
                self._deliver_object(memoryview(message) if self.as_memoryview else message, recv_ns)
        return None

    cdef _deliver_to_sink(self, bytes message, int64_t recv_ns):
        cdef ReadTap tap = self._tap
        if tap is not None and tap.wire:
            tap.frames += 1
            tap.payload_bytes += len(message)
        try:
            self._sink.c_frame(message, len(message), recv_ns)
        except BaseException as exc:
            self.fail(exc, WSCloseCode.INTERNAL_ERROR, "")

    cdef _protocol_error(self, str what):
        self._stop_tap(False)  # the offending frame is not delivered: the recording ends before it
        self.fail(ConnectionFailedError(f"protocol error from the server: {what}"),
                  WSCloseCode.PROTOCOL_ERROR, "protocol error")
