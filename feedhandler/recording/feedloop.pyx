# cython: language_level=3
"""The replay's hot loop, compiled: a run of frame records fed to the parser with no interpreter step per frame.

:func:`feed_frames` takes records from the replay's iterator while they are frames (``KIND_TEXT`` /
``KIND_BINARY``) of one connection and feeds each to the lane's ``feed``: straight to the decoder's ``c_feed``
when ``feed`` is a compiled ``FrameDecoder``'s own ``feed`` (what ``SyncedMessageParser`` binds; the same call
``FrameDecoder.feed`` makes for a ``bytes`` frame), else through the Python call. The first record it does not
feed (a snapshot, a sent frame, another connection) is handed back for the replay's Python loop.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t

from feedhandler.kernel.decoder cimport FrameDecoder

from feedhandler.kernel import decoder as _kernel

#: ``FrameDecoder.feed`` as Python sees it (a subclass that does not override ``feed`` has this very descriptor)
_BASE_FEED = getattr(_kernel.FrameDecoder, "feed")


def feed_frames(object it, object feed, object connection_id, Py_ssize_t frames, object progress):
    """Feed the frame records of ``connection_id`` from ``it`` to ``feed`` until another record comes.

    Returns ``(frames fed, ValueErrors raised by feed, last recv_ns, the record that stopped the run or None at the
    end)``. ``progress(frames + fed)`` is called every 4096 frames, as the replay loop does.
    """
    cdef Py_ssize_t n = 0, errors = 0
    cdef int64_t last_ns = 0
    cdef FrameDecoder dec = None
    cdef object rec, payload
    owner = getattr(feed, "__self__", None)
    if isinstance(owner, FrameDecoder) and getattr(type(owner), "feed", None) is _BASE_FEED:
        dec = <FrameDecoder>owner      # feed is FrameDecoder.feed: c_feed is what it calls for bytes
    for rec in it:
        if rec.kind > 1 or rec.connection_id != connection_id:
            return n, errors, last_ns, rec
        payload = rec.payload
        last_ns = rec.recv_ns
        n += 1
        try:
            if dec is not None and type(payload) is bytes:
                dec.c_feed(PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload), last_ns)
            else:
                feed(payload, last_ns)
        except ValueError:
            errors += 1
        if progress is not None and not (frames + n) & 4095:
            progress(frames + n)
    return n, errors, last_ns, None
