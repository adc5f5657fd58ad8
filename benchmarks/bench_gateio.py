"""Gate.io ``spot.order_book_update`` (20 bids + 20 asks) decoded and applied to a book.

Cases, in one group so the ratios are in the same run:
- ``gateio_decoder``: the compiled decoder (json_scan + parse_double) -> BookSync (sequence check) -> OrderBook;
- ``msgspec_struct``: msgspec typed Struct decode + float() + sequence check + SortedDict per side;
- ``orjson``: orjson.loads + float() + sequence check + SortedDict per side;
- ``gateio_decoder_decode_only``: ``classify`` (validated and decoded, nothing applied): the decoder's share.
Each round feeds the same 1000 frames (ids contiguous) after a full snapshot; per-frame time = round / 1000.
"""
from __future__ import annotations

import json
import random

import msgspec
import orjson
import pytest
from sortedcontainers import SortedDict

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.exchanges.gateio.decoder import GateioDecoder
from feedhandler.exchanges.gateio.rules import GATEIO_SPOT_RULE
from feedhandler.sync.book_sync import BookSyncGroup

N_FRAMES = 1000
BASE_ID = 73_777_715_169


def _frames() -> tuple[bytes, list[bytes]]:
    rng = random.Random(7)
    mid = 65000.0

    def side(sign: int) -> list[list[str]]:
        return [[f"{mid + sign * (0.1 + 0.1 * i):.1f}", "0" if rng.random() < 0.1 else f"{rng.uniform(0.0001, 5):.4f}"]
                for i in range(20)]

    full = json.dumps({"time": 1, "time_ms": 1000, "channel": "spot.order_book_update", "event": "update",
                       "result": {"t": 1000, "full": True, "l": "100", "e": "depthUpdate", "E": 1, "s": "BTC_USDT",
                                  "U": BASE_ID, "u": BASE_ID, "b": side(-1), "a": side(1)}},
                      separators=(",", ":")).encode()
    frames = []
    for k in range(N_FRAMES):
        uid = BASE_ID + 1 + k
        frames.append(json.dumps(
            {"time": 1747054612, "time_ms": 1747054612925, "channel": "spot.order_book_update", "event": "update",
             "result": {"t": 1747054612695, "e": "depthUpdate", "E": 1747054612, "s": "BTC_USDT", "U": uid, "u": uid,
                        "b": side(-1), "a": side(1)}}, separators=(",", ":")).encode())
    return full, frames


FULL, FRAMES = _frames()


class Result(msgspec.Struct):
    s: str
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    U: int = 0
    t: int = 0
    full: bool = False


class Envelope(msgspec.Struct):
    channel: str
    result: Result
    time: int = 0
    time_ms: int = 0
    event: str = ""


class PyBook:
    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.last = 0

    def apply(self, first: int, last: int, b, a, full: bool) -> None:
        if full:
            self.bids.clear()
            self.asks.clear()
        elif first != self.last + 1:
            raise RuntimeError("gap")
        for book, levels in ((self.bids, b), (self.asks, a)):
            for p, q in levels:
                px, qty = float(p), float(q)
                if qty == 0.0:
                    book.pop(px, None)
                else:
                    book[px] = qty
        self.last = last


def _round_decoder(decoder: GateioDecoder) -> None:
    feed = decoder.feed
    feed(FULL, 0)
    for f in FRAMES:
        feed(f, 0)


_msgspec_decoder = msgspec.json.Decoder(Envelope)


def _round_msgspec(book: PyBook) -> None:
    for raw in (FULL, *FRAMES):
        env = _msgspec_decoder.decode(raw)
        r = env.result
        book.apply(r.U, r.u, r.b, r.a, r.full)


def _round_orjson(book: PyBook) -> None:
    for raw in (FULL, *FRAMES):
        r = orjson.loads(raw)["result"]
        book.apply(r.get("U", 0), r["u"], r["b"], r["a"], r.get("full", False))


@pytest.mark.benchmark(group="gateio-order_book_update-20x20 (x1000 frames)")
def test_gateio_decoder(benchmark):
    d = EventDispatcher()
    books = BookSyncGroup("gateio", GATEIO_SPOT_RULE, d, 1000)
    decoder = GateioDecoder(d, books)
    d.handler = lambda ev: None  # one Python call per BookUpdate, as in production
    benchmark.pedantic(_round_decoder, args=(decoder,), rounds=200, iterations=1, warmup_rounds=5)
    assert books["BTC_USDT"].gaps == 0 and books["BTC_USDT"].book.last_update_id == BASE_ID + N_FRAMES


def _round_classify(decoder: GateioDecoder) -> None:
    classify = decoder.classify
    classify(FULL)
    for f in FRAMES:
        classify(f)


@pytest.mark.benchmark(group="gateio-order_book_update-20x20 (x1000 frames)")
def test_gateio_decoder_decode_only(benchmark):
    """``classify``: every frame validated and decoded into scratch, nothing applied (the decoder's share)."""
    decoder = GateioDecoder(EventDispatcher(), None)
    benchmark.pedantic(_round_classify, args=(decoder,), rounds=200, iterations=1, warmup_rounds=5)
    assert decoder.classify(FRAMES[0]) == 1  # MessageType.DATA


@pytest.mark.benchmark(group="gateio-order_book_update-20x20 (x1000 frames)")
def test_msgspec_struct_sorteddict(benchmark):
    book = PyBook()
    benchmark.pedantic(_round_msgspec, args=(book,), rounds=50, iterations=1, warmup_rounds=2)
    assert book.last == BASE_ID + N_FRAMES


@pytest.mark.benchmark(group="gateio-order_book_update-20x20 (x1000 frames)")
def test_orjson_sorteddict(benchmark):
    book = PyBook()
    benchmark.pedantic(_round_orjson, args=(book,), rounds=50, iterations=1, warmup_rounds=2)
    assert book.last == BASE_ID + N_FRAMES
