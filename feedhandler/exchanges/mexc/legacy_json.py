"""The retired MEXC spot v3 JSON push, for recordings made before MEXC moved to protobuf (2025).

Frames (the hftbacktest collector's MEXC files, ``examples/mexc``)::

    {"c":"spot@public.limit.depth.v3.api@SOLUSDT@10","d":{"bids":[{"p":"186.69","v":"46.87"},..],"asks":[..],
     "e":"spot@public.limit.depth.v3.api","r":"4474505330"},"s":"SOLUSDT","t":1736682893806}
    {"c":"spot@public.increase.depth.v3.api@SOLUSDT","d":{"asks":[{"p":"187.57","v":"0.00"}],
     "e":"spot@public.increase.depth.v3.api","r":"4474505331"},"s":"SOLUSDT","t":1736682894061}

``increase.depth`` carries one version ``r`` per update: ``r`` must be the previous ``r`` + 1 (the MEXC rule
with fromVersion = toVersion = r). A recording of this protocol has no REST snapshot, so the first
``limit.depth`` (top N at version ``r``) is the book's snapshot, as hftbacktest's converter does; every later
``limit.depth`` of a live book becomes a ``BookTicker`` (its best bid/offer with ``update_id = r``), which
``feedhandler replay`` checks against the rebuilt top of book once the book reaches ``r``. Only replay uses this
parser (the live feed speaks protobuf: :mod:`.decoder`); it decodes with ``json`` in Python.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ParseError
from feedhandler.core.strategies import MessageParser
from feedhandler.core.types import MessageType
from feedhandler.events import BookTicker
from feedhandler.sync.book_sync import BookSyncGroup

from . import constants as C
from .rules import MEXC_SPOT_RULE

__all__ = ["MexcLegacyJsonParser", "is_legacy_json_frame"]

_INCREASE = "spot@public.increase.depth.v3.api@"
_LIMIT = "spot@public.limit.depth.v3.api@"


def is_legacy_json_frame(payload: bytes) -> bool:
    """True for a frame of the retired spot v3 JSON push (``{"c":"spot@public....``)."""
    return payload.lstrip()[:18] in (b'{"c":"spot@public.', b'{"c": "spot@public')


def _levels(raw: Any, what: str) -> np.ndarray:
    if raw is None:
        return np.empty((0, 2))
    try:
        out = np.array([(float(x["p"]), float(x["v"])) for x in raw], dtype=np.float64).reshape(-1, 2)
    except (TypeError, KeyError, ValueError) as exc:
        raise ParseError(f"mexc json: {what} levels must be [{{'p': price, 'v': amount}}, ...]: {exc}") from None
    if not (np.isfinite(out).all() and (out[:, 0] > 0).all() and (out[:, 1] >= 0).all()):
        raise ParseError(f"mexc json: {what}: a level has a non-finite or non-positive price or a negative amount")
    return out


class MexcLegacyJsonParser(MessageParser):
    """``spot@public.increase.depth.v3.api`` deltas into :attr:`books`, ``limit.depth`` as snapshot then checks.

    Parameters
    ----------
    book_depth : int
        Book capacity (levels per side).
    """

    def __init__(self, book_depth: int = 1000, **_: Any):
        self.dispatcher = EventDispatcher()
        self.books = BookSyncGroup(C.EXCHANGE, MEXC_SPOT_RULE, self.dispatcher, depth=book_depth)
        self.books.request_snapshot = None
        self.frames = 0

    def bind(self, handler: Any, error_handler: Any = None) -> None:
        super().bind(handler, error_handler)
        self.dispatcher.handler = handler
        self.dispatcher.error_handler = error_handler

    def get_message_type(self, raw_message: Any) -> MessageType:
        return MessageType.DATA if is_legacy_json_frame(bytes(raw_message)) else MessageType.UNKNOWN

    def feed(self, raw_message: Any, recv_ns: int) -> int:
        """Decode one frame completely, then apply it (a malformed frame raises ParseError, changes nothing)."""
        try:
            msg = json.loads(raw_message)
            channel, data, symbol = msg["c"], msg["d"], msg["s"]
            version = int(data["r"])
            ts_ns = int(msg.get("t") or 0) * 1_000_000
        except (ValueError, TypeError, KeyError) as exc:
            raise ParseError(f"mexc json: not a spot v3 push ({type(exc).__name__}: {exc})") from None
        if not isinstance(channel, str) or not isinstance(symbol, str) or not isinstance(data, dict) or version < 0:
            raise ParseError("mexc json: 'c' and 's' must be strings, 'd' an object, 'r' a version >= 0")
        if channel.startswith(_INCREASE):
            bids, asks = _levels(data.get("bids"), "bids"), _levels(data.get("asks"), "asks")
            self.frames += 1
            self.books.get(symbol).apply_delta(version, version, bids, asks, 0, ts_ns, recv_ns)
            return MessageType.DATA
        if channel.startswith(_LIMIT):
            bids, asks = _levels(data.get("bids"), "bids"), _levels(data.get("asks"), "asks")
            self.frames += 1
            sync = self.books.get(symbol)
            if not sync.is_valid:
                sync.load_snapshot(version, bids, asks, recv_ns)
            elif len(bids) and len(asks):
                self.emit(BookTicker(exchange=C.EXCHANGE, symbol=symbol, bid_price=bids[0, 0], bid_qty=bids[0, 1],
                                     ask_price=asks[0, 0], ask_qty=asks[0, 1], update_id=version,
                                     exchange_ts_ns=ts_ns, recv_ns=recv_ns))
            return MessageType.DATA
        return MessageType.UNKNOWN
