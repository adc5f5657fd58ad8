"""Stub of the compiled read-tap base (see read_tap.pyx)."""


class ReadTap:
    """What a compiled picows listener tells the tap that records its connection's socket reads."""

    wire: bool
    want_start: bool
    in_read: bool
    stream_bytes: int
    tail: int
    frame_payload: int
    frames: int
    payload_bytes: int
