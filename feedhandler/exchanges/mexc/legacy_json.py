"""MEXC JSON pushes for replay: the retired spot v3 JSON push (recordings made before MEXC moved to protobuf in
2025), and the futures (contract) JSON push with the retired spot v2 one (:class:`MexcContractJsonParser`).

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
import math
from typing import Any

import numpy as np

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import ParseError
from feedhandler.core.strategies import MessageParser
from feedhandler.core.types import MessageType
from feedhandler.events import BookTicker, Kline, Side, Ticker, Trade
from feedhandler.sync.book_sync import BookSyncGroup, LinkMode, SequenceRule

from . import constants as C
from .rules import MEXC_SPOT_RULE

__all__ = ["MexcLegacyJsonParser", "MexcContractJsonParser", "is_legacy_json_frame", "is_contract_json_frame",
           "MEXC_CONTRACT_RULE"]

#: MEXC futures ``push.depth``: one ``version`` per push, each the previous + 1; ``push.depth.full`` resets.
MEXC_CONTRACT_RULE = SequenceRule("mexc-contract", LinkMode.LINK_CONTIGUOUS, 1)

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


class _ReplayJsonParser(MessageParser):
    """What the replay-only JSON parsers share: one book group (no REST: snapshots come in the stream), a
    dispatcher bound to the handler, and ``get_message_type`` from the subclass's ``_is_frame``."""

    _rule: SequenceRule

    def __init__(self, book_depth: int = 1000, **_: Any):
        self.dispatcher = EventDispatcher()
        self.books = BookSyncGroup(C.EXCHANGE, self._rule, self.dispatcher, depth=book_depth)
        self.books.request_snapshot = None
        self.frames = 0

    def bind(self, handler: Any, error_handler: Any = None) -> None:
        super().bind(handler, error_handler)
        self.dispatcher.handler = handler
        self.dispatcher.error_handler = error_handler

    @staticmethod
    def _is_frame(payload: bytes) -> bool:
        raise NotImplementedError

    def get_message_type(self, raw_message: Any) -> MessageType:
        return MessageType.DATA if self._is_frame(bytes(raw_message)) else MessageType.UNKNOWN


class MexcLegacyJsonParser(_ReplayJsonParser):
    """``spot@public.increase.depth.v3.api`` deltas into :attr:`books`, ``limit.depth`` as snapshot then checks.

    Parameters
    ----------
    book_depth : int
        Book capacity (levels per side).
    """

    _rule = MEXC_SPOT_RULE
    _is_frame = staticmethod(is_legacy_json_frame)

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


# --- MEXC futures (contract) JSON push, and the retired spot v2 push -------------------------------------------
# Frames (crypto-crawler-rs's MEXC test messages, shared/data/mexc/crypto-crawler-rs_mexc_messages.txt)::
#
#     {"channel":"push.deal","data":{"M":1,"O":3,"T":2,"p":39766.5,"t":1646999591755,"v":32},"symbol":"BTC_USDT",..}
#     {"channel":"push.depth","data":{"asks":[[39961,0,0]],"bids":[[39962.5,58272,1]],"version":4702740808},..}
#     {"channel":"push.depth.full","data":{"asks":[[31647.5,1029,1],..],"bids":[..],"version":3087532764},..}
#     {"channel":"push.kline","data":{"a":99371.3865,"c":31575,..,"interval":"Min1","q":31468,"t":1654083480},..}
#     {"channel":"push.ticker","data":{"lastPrice":29902,"high24Price":..,"riseFallRate":-0.0264,..},..}
#     ["push.symbol",{"symbol":"BTC_USDT","data":{"deals":[{"t":..,"p":"57005.89","q":"0.007811","T":1}]}}]  (spot v2)

_CONTRACT_INTERVALS = {"Min1": 60, "Min5": 300, "Min15": 900, "Min30": 1800, "Min60": 3600, "Hour4": 14400,
                       "Hour8": 28800, "Day1": 86400, "Week1": 604800, "Month1": 2592000}
#: ``T`` of a deal: 1 buy, 2 sell (the taker's side)
_DEAL_SIDE = {1: Side.BUY, 2: Side.SELL}


def _finite(x: Any, what: str, positive: bool = False) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ParseError(f"mexc contract json: {what} is not a number: {x!r}") from None
    if not math.isfinite(v) or (v <= 0 if positive else v < 0):
        raise ParseError(f"mexc contract json: {what} must be finite and {'> 0' if positive else '>= 0'}: {x!r}")
    return v


def _contract_levels(raw: Any, what: str) -> np.ndarray:
    """``[[price, volume, orders], ..]`` (contract), ``[{"p", "q"}, ..]`` (spot v2 push) or
    ``[{"price", "quantity"}, ..]`` (spot v2 REST) -> ``(n, 2)`` float64."""
    if raw is None:
        return np.empty((0, 2))
    if not isinstance(raw, list):
        raise ParseError(f"mexc contract json: {what} must be an array of levels")
    out = np.empty((len(raw), 2), dtype=np.float64)
    for i, lvl in enumerate(raw):
        if isinstance(lvl, dict) and "p" in lvl and "q" in lvl:
            px, qty = lvl["p"], lvl["q"]
        elif isinstance(lvl, dict) and "price" in lvl and "quantity" in lvl:  # spot v2 REST depth
            px, qty = lvl["price"], lvl["quantity"]
        elif isinstance(lvl, list) and len(lvl) >= 2:
            px, qty = lvl[0], lvl[1]
        else:
            raise ParseError(f"mexc contract json: {what}[{i}] is not a level")
        out[i] = _finite(px, f"{what}[{i}] price", True), _finite(qty, f"{what}[{i}] size")
    return out


class MexcContractJsonParser(_ReplayJsonParser):
    """MEXC futures (``contract.mexc.com/edge``) JSON pushes, and the retired spot v2 pushes, for replay.

    - ``push.deal`` -> :class:`Trade` (``T`` 1 buy / 2 sell; contract ``v`` in contracts, spot v2 ``deals`` items);
    - ``push.depth`` (contract, one ``version`` each, ``version`` = previous + 1) -> deltas of :attr:`books`
      (rule ``mexc-contract``); ``push.depth.full`` (the top N at ``version``) -> a full snapshot of that book;
    - ``push.kline`` -> :class:`Kline` (contract: ``q`` contracts, ``a`` quote amount; spot v2: ``q`` base, ``v`` quote);
    - ``push.ticker`` -> :class:`Ticker` (``riseFallRate`` x 100 as ``change_pct``).

    Spot v2 depth (``push.depth`` with object levels, ``push.limit.depth``, ``push.symbol`` depth) is validated but
    kept in no book: it is another market under the same symbol names, and these pushes no longer exist. A REST
    depth body met among the frames (no symbol in it) is validated and counted in :attr:`rest_bodies`. Every
    frame is decoded completely before anything is applied or emitted. Replay only: ``json`` in Python.
    """

    _rule = MEXC_CONTRACT_RULE

    def __init__(self, book_depth: int = 1000, **options: Any):
        super().__init__(book_depth, **options)
        self.rest_bodies = 0
        self.spot_v2_depth = 0

    @staticmethod
    def _is_frame(payload: bytes) -> bool:
        return is_contract_json_frame(payload)

    def feed(self, raw_message: Any, recv_ns: int) -> int:
        """Decode one frame completely, then apply/emit it (a malformed frame raises ParseError, changes nothing)."""
        try:
            msg = json.loads(raw_message)
        except ValueError as exc:
            raise ParseError(f"mexc contract json: not JSON ({exc})") from None
        spot_v2 = isinstance(msg, list)
        if spot_v2:  # ["push.symbol", {...}]
            if len(msg) != 2 or not isinstance(msg[0], str) or not isinstance(msg[1], dict):
                raise ParseError("mexc contract json: a spot v2 push is [channel, {symbol, data}]")
            channel, msg = msg
        elif isinstance(msg, dict):
            channel = msg.get("channel")
        else:
            raise ParseError("mexc contract json: a push is an object or a [channel, object] array")
        data = msg.get("data")
        if channel is None and isinstance(data, dict) and "asks" in data and "bids" in data:
            _contract_levels(data["bids"], "bids"), _contract_levels(data["asks"], "asks")
            self.rest_bodies += 1  # a REST depth answer: no symbol to load it into
            return MessageType.UNKNOWN
        symbol = msg.get("symbol")
        if not isinstance(channel, str) or not isinstance(symbol, str) or not symbol or not isinstance(data, dict):
            raise ParseError("mexc contract json: 'channel' and 'symbol' must be strings, 'data' an object")
        ts_ns = int(msg.get("ts") or 0) * 1_000_000
        spot_v2 = spot_v2 or "symbol_display" in msg or "deals" in data or (
            channel == "push.depth" and isinstance(data.get("version"), str))
        out: list[Any] = []
        if channel == "push.deal" or (channel == "push.symbol" and "deals" in data):
            out = [self._trade(symbol, d, recv_ns) for d in (data["deals"] if "deals" in data else [data])]
        elif channel in ("push.depth", "push.depth.full", "push.limit.depth") or channel == "push.symbol":
            bids, asks = _contract_levels(data.get("bids"), "bids"), _contract_levels(data.get("asks"), "asks")
            if spot_v2 or channel == "push.limit.depth" or channel == "push.symbol":
                self.spot_v2_depth += 1
                return MessageType.DATA
            version = data.get("version")
            if isinstance(version, bool) or not isinstance(version, int) or version < 0:
                raise ParseError(f"mexc contract json: {channel}: 'version' must be an integer >= 0")
            sync = self.books.get(symbol)
            self.frames += 1
            if channel == "push.depth.full":
                sync.apply_full_snapshot(version, bids, asks, ts_ns, recv_ns)
            else:
                sync.apply_delta(version, version, bids, asks, 0, ts_ns, recv_ns)
            return MessageType.DATA
        elif channel == "push.kline":
            out = [self._kline(symbol, data, spot_v2, ts_ns, recv_ns)]
        elif channel == "push.ticker":
            out = [self._ticker(symbol, data, recv_ns)]
        else:
            return MessageType.UNKNOWN
        self.frames += 1
        for ev in out:
            self.emit(ev)
        return MessageType.DATA

    def _trade(self, symbol: str, d: Any, recv_ns: int) -> Trade:
        if not isinstance(d, dict) or d.get("T") not in _DEAL_SIDE or not isinstance(d.get("t"), int):
            raise ParseError("mexc contract json: a deal needs 'T' (1 buy, 2 sell) and 't' (ms)")
        qty = _finite(d["v"] if "v" in d else d.get("q"), "deal size", True)
        return Trade(exchange=C.EXCHANGE, symbol=symbol, price=_finite(d.get("p"), "deal price", True), qty=qty,
                     side=int(_DEAL_SIDE[d["T"]]), exchange_ts_ns=d["t"] * 1_000_000, recv_ns=recv_ns)

    def _kline(self, symbol: str, d: dict[str, Any], spot_v2: bool, ts_ns: int, recv_ns: int) -> Kline:
        interval, start = d.get("interval"), d.get("t")
        if interval not in _CONTRACT_INTERVALS or isinstance(start, bool) or not isinstance(start, int):
            raise ParseError(f"mexc contract json: push.kline needs 'interval' (one of {list(_CONTRACT_INTERVALS)}) "
                             "and 't' (s)")
        o, h, low, c = (_finite(d.get(k), f"kline {k}", True) for k in ("o", "h", "l", "c"))
        volume = _finite(d.get("q"), "kline q")
        quote = _finite(d.get("v") if spot_v2 else d.get("a"), "kline quote volume")
        return Kline(exchange=C.EXCHANGE, symbol=symbol, interval=interval, open_time_ns=start * 1_000_000_000,
                     close_time_ns=(start + _CONTRACT_INTERVALS[interval]) * 1_000_000_000, open=o, high=h, low=low,
                     close=c, volume=volume, quote_volume=quote, exchange_ts_ns=ts_ns, recv_ns=recv_ns)

    def _ticker(self, symbol: str, d: dict[str, Any], recv_ns: int) -> Ticker:
        ts = d.get("timestamp")
        return Ticker(exchange=C.EXCHANGE, symbol=symbol, last=_finite(d.get("lastPrice"), "lastPrice", True),
                      high=_finite(d.get("high24Price"), "high24Price", True),
                      low=_finite(d.get("lower24Price"), "lower24Price", True),
                      volume=_finite(d.get("volume24"), "volume24"), quote_volume=_finite(d.get("amount24"), "amount24"),
                      change_pct=float(d.get("riseFallRate", math.nan)) * 100.0,
                      exchange_ts_ns=ts * 1_000_000 if isinstance(ts, int) else 0, recv_ns=recv_ns)


def is_contract_json_frame(payload: bytes) -> bool:
    """True for a MEXC contract push (``{"channel":"push.``) or a spot v2 one (``["push.``)."""
    head = payload.lstrip()[:200]
    return head.startswith(b'["push.') or b'"channel":"push.' in head
