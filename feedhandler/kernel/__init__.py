"""The decoder kernel: what every compiled exchange decoder is built on.

:class:`~feedhandler.kernel.decoder.FrameDecoder` is the base ``cdef class``
of every exchange decoder: one C entry (``c_feed`` over a pointer and a
length), one Python entry (``feed``), shared counters and one error scheme.
Transports that hold a frame as a C buffer (the compiled picows listener)
call ``c_feed`` directly; everything else calls ``feed``.
"""
