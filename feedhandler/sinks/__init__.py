"""Sinks: where normalized events go besides the user's handler (NATS, shared memory).

``SinkTap(sinks, handler)`` is the manager's ``message_handler``, a compiled ``Consumer``; each sink is
an ``EventSink`` (a ``Consumer`` too) called from C for every event. ``NatsSink`` publishes to NATS; ``feedhandler.shm`` writes shared memory.
"""
from .encoder import CHANNEL_NAMES, BusEncoder, EventSink, SinkTap, subject_token

__all__ = ["BusEncoder", "CHANNEL_NAMES", "EventSink", "NatsSink", "SinkTap", "subject_token"]


def __getattr__(name: str):  # nats-py is an optional extra: imported only when NatsSink is used
    if name == "NatsSink":
        from .nats import NatsSink

        return NatsSink
    raise AttributeError(name)
