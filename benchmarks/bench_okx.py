"""OKX ``books``: frames decoded, sequence-checked, applied and checksum-verified, beside library baselines.

Groups (each case beside its baselines in the same run):

- ``okx-books-update``: a 400+400 snapshot then 1000 updates of 12 levels near the top (OKX texts, seqId
  chain, the CRC32 checksum of the top 25 levels in every frame, as OKX sent it until 2026-06):
  ``okx_decoder`` (compiled decoder -> BookSync -> OrderBook -> OkxChecksum), ``okx_decoder_no_checksum``
  (the same frames with ``checksum: 0``), ``msgspec``/``orjson`` + ``float()`` + SortedDict per side + the
  checksum over the kept wire strings with ``zlib.crc32`` (the library baselines).
- ``okx-replay-2022``: the real recording (../shared/data/okx, 413 frames: books, trades, tickers) end to
  end through the decoder, beside orjson + float() + SortedDict + zlib checksum (skipped when absent).
"""
from __future__ import annotations

import json
import random

import msgspec
import orjson
import pytest
from sortedcontainers import SortedDict

from exchanges.okx.recording import frames as recorded_frames, reference_checksum
from feedhandler.core.dispatch import EventDispatcher
from feedhandler.exchanges.okx import OKX_BOOKS_RULE, OkxChecksum, OkxDecoder
from feedhandler.sync.book_sync import BookSyncGroup

N_FRAMES = 1000
SEQ0 = 7_000_000_000


def _text(x: float, decimals: int) -> str:
    s = f"{x:.{decimals}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _checksum(bids: SortedDict, asks: SortedDict) -> int:
    """OKX's checksum over the wire strings kept as values (bids best first, asks best first)."""
    return reference_checksum([bids.peekitem(-1 - i)[1] for i in range(min(25, len(bids)))],
                              [asks.peekitem(i)[1] for i in range(min(25, len(asks)))])


def _frames(with_checksum: bool = True) -> list[bytes]:
    rng = random.Random(11)
    bids, asks = SortedDict(), SortedDict()
    for i in range(400):
        for book, px in ((bids, 30000.0 - 0.1 * (i + 1)), (asks, 30000.0 + 0.1 * i)):
            book[round(px, 1)] = (_text(px, 1), _text(rng.uniform(0.0001, 5), 8))

    def frame(action: str, b, a, prev: int, seq: int) -> bytes:
        cs = _checksum(bids, asks) if with_checksum else 0
        return json.dumps({"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action, "data": [{
            "asks": [[p, s, "0", "1"] for p, s in a], "bids": [[p, s, "0", "1"] for p, s in b],
            "ts": "1652459225464", "checksum": cs, "prevSeqId": prev, "seqId": seq}]},
            separators=(",", ":")).encode()

    out = [frame("snapshot", [bids[k] for k in reversed(bids.keys())], [asks[k] for k in asks.keys()], -1, SEQ0)]
    for k in range(N_FRAMES):
        b, a = [], []
        for _ in range(12):
            is_bid = rng.random() < 0.5
            book, levels = (bids, b) if is_bid else (asks, a)
            best = bids.peekitem(-1)[0] if is_bid else asks.peekitem(0)[0]
            px = round(best - 0.1 * rng.randint(0, 40) if is_bid else best + 0.1 * rng.randint(0, 40), 1)
            if (bids and is_bid and px >= asks.peekitem(0)[0]) or (not is_bid and px <= bids.peekitem(-1)[0]):
                continue
            if px in book and rng.random() < 0.35 and len(book) > 50:
                levels.append((book.pop(px)[0], "0"))
            else:
                book[px] = (_text(px, 1), _text(rng.uniform(0.0001, 5), 8))
                levels.append(book[px])
        out.append(frame("update", b, a, SEQ0 + k, SEQ0 + k + 1))
    return out


FRAMES = _frames()
FRAMES_NO_CHECKSUM = _frames(False)


class Data(msgspec.Struct):
    asks: list[list[str]]
    bids: list[list[str]]
    ts: str
    checksum: int = 0
    prevSeqId: int = 0
    seqId: int = 0


class Arg(msgspec.Struct):
    channel: str
    instId: str


class Envelope(msgspec.Struct):
    arg: Arg
    data: list[Data]
    action: str = ""


class PyBook:
    """The library baseline: SortedDict per side (float keys, wire strings kept for the checksum)."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.seq = 0
        self.checked = 0

    def apply(self, action: str, b, a, checksum: int, prev: int, seq: int) -> None:
        if action == "snapshot":
            self.bids.clear()
            self.asks.clear()
        elif prev != self.seq:
            raise RuntimeError("gap")
        for book, levels in ((self.bids, b), (self.asks, a)):
            for lv in levels:
                px = float(lv[0])
                if float(lv[1]) == 0.0:
                    book.pop(px, None)
                else:
                    book[px] = (lv[0], lv[1])
        self.seq = seq
        if checksum:
            if _checksum(self.bids, self.asks) != checksum:
                raise RuntimeError("checksum")
            self.checked += 1


_msgspec = msgspec.json.Decoder(Envelope)


def _round_msgspec(book: PyBook, frames: list[bytes]) -> None:
    for raw in frames:
        env = _msgspec.decode(raw)
        d = env.data[0]
        book.apply(env.action, d.bids, d.asks, d.checksum, d.prevSeqId, d.seqId)


def _round_orjson(book: PyBook, frames: list[bytes]) -> None:
    for raw in frames:
        msg = orjson.loads(raw)
        d = msg["data"][0]
        book.apply(msg["action"], d["bids"], d["asks"], d.get("checksum", 0), d.get("prevSeqId", 0), d.get("seqId", 0))


def _decoder():
    d = EventDispatcher(lambda ev: None)   # one Python call per BookUpdate, as in production
    books = BookSyncGroup("okx", OKX_BOOKS_RULE, d, 1000, integrity=OkxChecksum())
    return OkxDecoder(d, books), books


def _round_decoder(decoder: OkxDecoder, frames: list[bytes]) -> None:
    feed = decoder.feed
    for f in frames:
        feed(f, 0)


GROUP = "okx-books-update 400-level book, 12 levels/frame (x1000 frames)"


@pytest.mark.benchmark(group=GROUP)
def test_okx_decoder(benchmark):
    decoder, books = _decoder()
    benchmark.pedantic(_round_decoder, args=(decoder, FRAMES), rounds=100, iterations=1, warmup_rounds=3)
    sync = books["BTC-USDT"]
    assert sync.is_valid and sync.book.last_update_id == SEQ0 + N_FRAMES and sync.integrity_failures == 0
    assert sync.integrity_checks == 103 * (N_FRAMES + 1)


@pytest.mark.benchmark(group=GROUP)
def test_okx_decoder_no_checksum(benchmark):
    decoder, books = _decoder()
    benchmark.pedantic(_round_decoder, args=(decoder, FRAMES_NO_CHECKSUM), rounds=100, iterations=1,
                       warmup_rounds=3)
    assert books["BTC-USDT"].is_valid and books["BTC-USDT"].integrity_checks == 0


@pytest.mark.benchmark(group=GROUP)
def test_msgspec_float_sorteddict_zlib(benchmark):
    book = PyBook()
    benchmark.pedantic(_round_msgspec, args=(book, FRAMES), rounds=10, iterations=1, warmup_rounds=1)
    assert book.seq == SEQ0 + N_FRAMES and book.checked == 11 * (N_FRAMES + 1)


@pytest.mark.benchmark(group=GROUP)
def test_orjson_float_sorteddict_zlib(benchmark):
    book = PyBook()
    benchmark.pedantic(_round_orjson, args=(book, FRAMES), rounds=10, iterations=1, warmup_rounds=1)
    assert book.seq == SEQ0 + N_FRAMES


REPLAY = "okx-replay-2022 (413 real frames: books, trades, tickers)"


@pytest.mark.benchmark(group=REPLAY)
def test_okx_replay_decoder(benchmark):
    frames = recorded_frames()

    def run():
        decoder, books = _decoder()
        _round_decoder(decoder, frames)
        return books

    books = benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=2)
    assert sum(books[s].integrity_checks for s in books.symbols()) == 290


@pytest.mark.benchmark(group=REPLAY)
def test_okx_replay_orjson_sorteddict_zlib(benchmark):
    frames = recorded_frames()

    def run():
        books: dict[str, PyBook] = {}
        for raw in frames:
            msg = orjson.loads(raw)
            if msg.get("arg", {}).get("channel") == "books" and "data" in msg:
                d = msg["data"][0]
                book = books.setdefault(msg["arg"]["instId"], PyBook())
                book.apply(msg["action"], d["bids"], d["asks"], d["checksum"], book.seq, book.seq + 1)
            elif "data" in msg:
                for t in msg["data"]:
                    float(t.get("px") or t.get("last") or 0)
        return books

    books = benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    assert sum(b.checked for b in books.values()) == 290
