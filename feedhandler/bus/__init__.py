"""Consumers of the bus: ``BookFollower`` (NATS) and the decoder it is built on."""
from .decoder import BusDecoder, FollowedStream
from .follower import BookFollower

__all__ = ["BookFollower", "BusDecoder", "FollowedStream"]
