"""Async REST client (order-book snapshots, signed endpoints) with a FIFO token-bucket rate limit."""
from feedhandler.core.errors import RestError

from .client import Params, RestClient
from .ratelimit import RateLimit

__all__ = ["Params", "RateLimit", "RestClient", "RestError"]
