from libc.stdint cimport int64_t


cdef class ReadTap:
    """What a compiled picows listener tells the tap that records its connection's socket reads.

    The tap (:class:`~feedhandler.recording.tap.WireTap`) sits between the socket transport and picows'
    protocol and records each read's bytes verbatim; the listener, which sees every frame picows parses from
    them, tells it where the frames end, so that the recording can start at a frame boundary and be cut at one.
    """
    # while recording reads: the listener counts the data messages it delivers here (the tap adds them to the
    # recording's totals once per read)
    cdef public bint wire
    # waiting to start: at the next frame that ends a read (picows' last_in_buffer) with no fragmented message
    # open, the listener calls c_start with the bytes after it (the start of the next, incomplete frame)
    cdef public bint want_start
    # inside the tapped read (picows parsing it, the frame callbacks running)
    cdef public bint in_read
    # stream bytes since the start record; the frame the listener is at ends ``tail`` bytes before the end
    # of the bytes read so far (picows' WSFrame.tail_size) and carries ``frame_payload`` bytes
    cdef public int64_t stream_bytes
    cdef public Py_ssize_t tail
    cdef public Py_ssize_t frame_payload
    cdef public int64_t frames
    cdef public int64_t payload_bytes

    # ``tail[0:n]``: valid during the call only
    cdef int c_start(self, const char* tail, Py_ssize_t n) except -1
    # stop recording reads; keep_current: the frame the listener is at stays in the recording (it was delivered)
    cdef int c_stop(self, bint keep_current) except -1
