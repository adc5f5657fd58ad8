"""A feed for the simulator's neutral ``simjson`` protocol, used to test the sync engine end to end.

The decoder is plain Python (json + float()) on purpose: these tests are about
the manager, the sync engine and the simulator, not about a compiled parser.
It plugs into the same ``SyncedMessageParser`` the exchanges use.
"""
from __future__ import annotations

import itertools
import json

import numpy as np

from feedhandler import (
    ConnectionContext, ConnectionStrategy, MessageType, ParseError, SubscriptionAck, SubscriptionStrategy,
)
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.rest import RateLimit, RestClient
from feedhandler.sync import BookSyncGroup, SequenceRule
from feedhandler.sync.synced_parser import SyncedMessageParser

SIMJSON_RULE = SequenceRule("simjson")


class SimJsonConnection(ConnectionStrategy):
    def __init__(self, ws_url: str, ping_interval: float = 0.0):
        self.ws_url = ws_url
        self.ping_interval = ping_interval

    async def create_connection_context(self, is_private=False, api_key=None, secret_key=None):
        return ConnectionContext(url=self.ws_url, ping_interval=self.ping_interval)

    def create_ping_message(self):
        return '{"op":"ping"}'


class SimJsonSubscription(SubscriptionStrategy):
    max_subscriptions_per_connection = 50
    max_messages_per_second = 1000.0

    def __init__(self):
        self._ids = itertools.count(1)
        self._pending: dict[int, list[str]] = {}

    def subscription_keys(self, symbols, channels):
        names = {"orderbook": "depth", "trades": "trade", "book_ticker": "bbo"}
        return [f"{names[c.value]}:{s}" for s in symbols for c in channels]

    def create_subscription_messages(self, symbols, channels, is_subscribe):
        req_id = next(self._ids)
        keys = self.subscription_keys(symbols, channels)
        self._pending[req_id] = keys
        op = "subscribe" if is_subscribe else "unsubscribe"
        return [json.dumps({"op": op, "id": req_id, "args": keys})]

    def parse_ack(self, frame):
        msg = json.loads(frame)
        keys = self._pending.pop(msg.get("id"), [])
        if msg.get("op") == "ack":
            return SubscriptionAck(confirmed=msg.get("args", keys))
        return SubscriptionAck(failed=keys, reason=msg.get("msg"))


class SimJsonDecoder:
    """json + float() decoder feeding a BookSyncGroup (the reference, not the fast path)."""

    def __init__(self, depth: int = 1000):
        self.dispatcher = EventDispatcher()
        self.books = BookSyncGroup("simjson", SIMJSON_RULE, self.dispatcher, depth=depth)
        self.frames = 0

    def classify(self, raw) -> int:
        try:
            msg = json.loads(raw)
        except ValueError:
            return int(MessageType.UNKNOWN)
        return int(self._type(msg))

    @staticmethod
    def _type(msg) -> MessageType:
        op = msg.get("op") if isinstance(msg, dict) else None
        if op == "ack":
            return MessageType.SUBSCRIPTION_ACK
        if op == "pong":
            return MessageType.PONG
        if op == "error":
            return MessageType.ERROR
        return MessageType.DATA

    def feed(self, raw, recv_ns: int) -> int:
        self.frames += 1
        try:
            msg = json.loads(raw)
            kind = self._type(msg)
            if kind != MessageType.DATA:
                return int(kind)
            if msg["ch"] == "depth":
                bids = np.array([[float(p), float(q)] for p, q in msg["b"]]).reshape(-1, 2)
                asks = np.array([[float(p), float(q)] for p, q in msg["a"]]).reshape(-1, 2)
                sync = self.books.get(msg["s"])
                if msg.get("full"):
                    sync.apply_full_snapshot(int(msg["u"]), bids, asks, recv_ns=recv_ns)
                else:
                    sync.apply_delta(int(msg["U"]), int(msg["u"]), bids, asks, recv_ns=recv_ns)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ParseError(f"simjson: malformed frame: {type(exc).__name__}: {exc}") from None
        return int(MessageType.DATA)

    def stats(self):
        return {"frames": self.frames}


def simjson_parser(rest_url: str, *, rate: float = 1000.0, burst: int = 100, depth: int = 1000):
    """A SyncedMessageParser over SimJsonDecoder with a rate-limited REST snapshot fetcher."""
    rest = RestClient(rest_url, timeout=5.0, retries=2, backoff=(0.02, 0.2))

    async def fetch(symbol: str):
        body = await rest.get_json("/depth", {"symbol": symbol, "limit": 5000})
        bids = [[float(p), float(q)] for p, q in body["bids"]]
        asks = [[float(p), float(q)] for p, q in body["asks"]]
        return body["lastUpdateId"], bids, asks

    parser = SyncedMessageParser(SimJsonDecoder(depth), fetch, max_concurrency=8,
                                 rate_limit=RateLimit(rate, burst))
    original_close = parser.close

    async def close():
        await original_close()
        await rest.close()

    parser.close = close  # type: ignore[method-assign]
    return parser
