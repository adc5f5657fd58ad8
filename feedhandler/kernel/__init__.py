"""The decoder kernel: what every compiled exchange decoder is built on.

:class:`~feedhandler.kernel.decoder.FrameDecoder` is the base ``cdef class``
of every exchange decoder: one C entry (``c_feed`` over a pointer and a
length), one Python entry (``feed``), shared counters and one error scheme.
Transports that hold a frame as a C buffer (the compiled picows listener)
call ``c_feed`` directly; everything else calls ``feed``.

:mod:`~feedhandler.kernel.extract` is the table-driven JSON extraction (an
exchange declares the keys it reads and the slots they land in; one pass fills
them), :mod:`~feedhandler.kernel.symbols` the symbol table shared by decoders
and books, :mod:`~feedhandler.kernel.message_type` the one ``MessageType``.
``README.md`` in this folder is the guide "How to write an exchange decoder on
the kernel"; ``simjson_decoder.pyx`` its worked example.
"""
