# cython: language_level=3
"""A connection's recorded socket bytes back into its data messages, when a recording is read.

:class:`~feedhandler.recording.tap.WireTap` records a picows connection's reads as they came from the socket
(``KIND_WIRE_START``, then ``KIND_WIRE`` records); :class:`WireStream` cuts the WebSocket frames (RFC 6455
section 5.2, server to client: unmasked) out of them again, as picows did live, and gives the complete data
messages: text and binary frames, fragmented messages joined, pings and pongs skipped. The stream ends at a
close frame or at anything picows and the listener refuse (a reserved bit or opcode, a masked frame, a
fragmented or oversized control frame, a continuation with nothing to continue, a frame or message over
``max_message``); what came before it is kept, the reason is in :attr:`WireStream.error`.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint64_t


cdef enum:
    OP_CONTINUATION = 0
    OP_TEXT = 1
    OP_BINARY = 2
    OP_CLOSE = 8
    OP_PING = 9
    OP_PONG = 10


cdef class WireStream:
    """One connection's stream of recorded socket bytes.

    Parameters
    ----------
    max_message:
        The largest frame payload or joined message accepted (the recording's record limit).
    """

    cdef bytearray _pending        # the bytes of an incomplete frame, from stream offset _pending_at
    cdef int64_t _pending_at
    cdef bytearray _fragments      # a fragmented message being joined (None: none open)
    cdef int _fragment_kind
    cdef readonly Py_ssize_t max_message
    cdef readonly bint live        # started and not ended
    #: Why the stream ended before the connection did (a frame picows would refuse), or None.
    cdef readonly object error

    def __init__(self, Py_ssize_t max_message=64 << 20):
        self.max_message = max_message
        self._pending = bytearray()
        self._pending_at = 0
        self._fragments = None
        self.live = False

    def start(self, data):
        """Begin the stream (at a frame boundary) with ``data``; returns the messages it completes."""
        self._pending = bytearray()
        self._pending_at = 0
        self._fragments = None
        self.error = None
        self.live = True
        return self.feed(data)

    def end(self):
        """The connection's recorded stream ends here (a cut): an incomplete frame or message is dropped."""
        self.live = False
        self._pending = bytearray()
        self._fragments = None

    def feed(self, data):
        """The next bytes of the stream; a list of ``(kind, payload, end)``: kind 0 text / 1 binary, ``end`` the
        stream offset just after the message's last frame (for a cut)."""
        cdef list out = []
        cdef Py_ssize_t used
        if not self.live:
            return out
        if not isinstance(data, (bytes, bytearray)):
            data = memoryview(data).cast("B")
        if self._pending:
            self._pending += data
            used = self._parse(self._pending, self._pending_at, out)  # the view of _pending ends with the call
            if self.live:
                del self._pending[:used]
                self._pending_at += used
        else:
            used = self._parse(data, self._pending_at, out)
            if self.live:
                self._pending = bytearray(data[used:])
                self._pending_at += used
        return out

    cdef void _fail(self, str why):
        self.error = why
        self.end()

    cdef Py_ssize_t _parse(self, const unsigned char[::1] b, int64_t base, list out):
        """Complete frames of b (stream offset ``base``), each message appended to out; the bytes used."""
        cdef Py_ssize_t n = b.shape[0], pos = 0, head, i
        cdef uint64_t length
        cdef int fin, opcode, b1
        while True:
            if n - pos < 2:
                return pos
            fin = b[pos] & 0x80
            opcode = b[pos] & 0x0F
            b1 = b[pos + 1]
            if b[pos] & 0x70:
                self._fail("frame with a reserved bit set")
                return pos
            if b1 & 0x80:
                self._fail("masked frame from the server")
                return pos
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    return pos
                length = (<uint64_t>b[pos + 2] << 8) | b[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    return pos
                length = 0
                for i in range(8):
                    length = (length << 8) | b[pos + 2 + i]
                head = 10
            if opcode >= OP_CLOSE:
                if opcode > OP_PONG:
                    self._fail(f"reserved control opcode {opcode}")
                    return pos
                if not fin or length > 125:
                    self._fail("fragmented or oversized control frame")
                    return pos
            elif opcode > OP_BINARY:
                self._fail(f"reserved data opcode {opcode}")
                return pos
            if length > <uint64_t>self.max_message:
                self._fail(f"frame of {length} bytes, over the limit of {self.max_message}")
                return pos
            if <uint64_t>(n - pos - head) < length:
                return pos  # incomplete: wait for more bytes
            self._frame(fin, opcode, b, pos + head, <Py_ssize_t>length, base + pos + head + <int64_t>length, out)
            if not self.live:
                return pos
            pos += head + <Py_ssize_t>length

    cdef void _frame(self, int fin, int opcode, const unsigned char[::1] b, Py_ssize_t at, Py_ssize_t n,
                     int64_t end, list out):
        if opcode == OP_CLOSE:
            self.end()
            return
        if opcode == OP_PING or opcode == OP_PONG:
            return
        if opcode == OP_CONTINUATION:
            if self._fragments is None:
                self._fail("continuation frame without a message to continue")
                return
            self._fragments += b[at:at + n]
            if len(self._fragments) > self.max_message:
                self._fail(f"fragmented message over the limit of {self.max_message} bytes")
                return
            if fin:
                out.append((self._fragment_kind, bytes(self._fragments), end))
                self._fragments = None
            return
        if self._fragments is not None:
            self._fail("new message started before the fragmented one ended")
            return
        if fin:  # at + n <= b.shape[0]: _parse checked the whole payload is there
            out.append((0 if opcode == OP_TEXT else 1, PyBytes_FromStringAndSize(<const char*>&b[at] if n else NULL, n),
                        end))
        else:
            self._fragments = bytearray(b[at:at + n])
            self._fragment_kind = 0 if opcode == OP_TEXT else 1
