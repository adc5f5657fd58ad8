"""The compiled frame path: picows listener -> FrameSink.c_frame -> FrameDecoder.c_feed -> Consumer, in C.

A small real ``FrameDecoder`` subclass and ``Consumer`` subclass are compiled by the test (against the
installed headers). The decoder counts calls of its Python ``feed`` and of ``c_feed`` separately, so the tests
can tell which entry the transport used: on picows every frame must arrive through ``c_feed`` alone (no
``bytes``, no Python call); on ``websockets`` through ``feed``. Both must give the same result, checked
against a checksum computed here in Python over the frames the server sent (the oracle).

Frames of the test protocol: ``T<n>`` a trade with id n; ``A<id>,<text>`` a subscription ack; ``E<code>,<text>``
an error; anything else is refused with a ParseError naming the byte offset.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parents[1] / "core"))

from feedhandler import (  # noqa: E402
    ChannelType,
    HandlerError,
    MessageParser,
    MessageType,
    ParseError,
    SubscriptionAck,
    SubscriptionState,
    SubscriptionStrategy,
    WebSocketManager,
    WebSocketManagerConfig,
)
from feedhandler.core.dispatch import EventDispatcher  # noqa: E402
from feedhandler.core.sink import FrameSink  # noqa: E402
from feedhandler.events.events import Trade  # noqa: E402
from feedhandler.transport.base import create_transport  # noqa: E402
from cython_build import build_module  # noqa: E402
from manager_helpers import JsonTestConnectionStrategy, wait_until  # noqa: E402
from raw_ws_server import OP_CLOSE, OP_TEXT, Peer, RawWsServer, close_payload, encode_frame  # noqa: E402

TRANSPORTS = ["websockets", "picows"]

SOURCE = r'''
from libc.stdint cimport int64_t, uint64_t
from feedhandler.kernel.decoder cimport FrameDecoder
from feedhandler.core.consumer cimport Consumer
from feedhandler.core.dispatch cimport EventDispatcher
from feedhandler.events.events cimport BookStatus, EventPool, Trade, SIDE_BUY

from feedhandler.core.errors import ParseError


cdef class LineDecoder(FrameDecoder):
    cdef public EventDispatcher dispatcher
    cdef EventPool pool
    cdef public long feed_calls
    cdef public long c_calls
    cdef public uint64_t checksum

    def __init__(self, EventDispatcher dispatcher):
        FrameDecoder.__init__(self, "line")
        self.dispatcher = dispatcher
        self.pool = EventPool(Trade, 4)

    cpdef int feed(self, object raw, int64_t recv_ns) except -1:
        self.feed_calls += 1
        return FrameDecoder.feed(self, raw, recv_ns)

    cdef int c_feed(self, const char* data, Py_ssize_t n, int64_t recv_ns) except -1:
        cdef Py_ssize_t i, comma = n
        cdef int64_t num = 0
        cdef char kind
        cdef Trade t
        self.c_calls += 1
        self.frames += 1
        for i in range(n):
            self.checksum = self.checksum * 1099511628211ULL + <unsigned char>data[i]
        kind = data[0] if n > 0 else 0
        if n < 2 or (kind != 84 and kind != 65 and kind != 69):  # 'T', 'A', 'E'
            self.parse_errors += 1
            raise ParseError("line: frame kind: not T, A or E at byte 0")
        for i in range(1, n):
            if data[i] == 44:  # ','
                comma = i
                break
            if data[i] < 48 or data[i] > 57:
                self.parse_errors += 1
                raise ParseError(f"line: number: not a digit at byte {i}")
            num = num * 10 + (data[i] - 48)
        if kind == 84:
            t = <Trade>self.pool.acquire()
            t.exchange = "line"
            t.symbol = "X"
            t.exchange_ts_ns = 0
            t.recv_ns = recv_ns
            t.price = <double>num
            t.qty = 1.0
            t.side = SIDE_BUY
            t.trade_id = num
            t.trade_id_str = ""
            self.dispatcher.emit(t)
            return 1
        text = data[comma + 1:n].decode() if comma < n else None
        if kind == 65:
            self.control_id, self.control_code, self.control_text = num, 0, text
            return 2
        self.control_id, self.control_code, self.control_text = -1, num, text
        return 4


cdef class CountingConsumer(Consumer):
    cdef public long trades
    cdef public long statuses
    cdef public long others
    cdef public int64_t id_sum
    cdef public int64_t last_id
    cdef public bint in_order
    cdef public int64_t raise_at

    def __init__(self):
        self.in_order = True
        self.last_id = -1
        self.raise_at = -(1 << 62)  # no trade has that id

    cdef int on_trade(self, Trade event) except -1:
        if event.trade_id == self.raise_at:
            raise ValueError(f"consumer refuses trade {event.trade_id}")
        self.trades += 1
        self.id_sum += event.trade_id
        if event.trade_id <= self.last_id:
            self.in_order = False
        self.last_id = event.trade_id
        return 0

    cdef int on_book_status(self, BookStatus event) except -1:
        self.statuses += 1
        return 0

    cdef int on_other_event(self, object event) except -1:
        self.others += 1
        return 0
'''

MASK = (1 << 64) - 1


def checksum(frames: list[bytes]) -> int:
    """The decoder's running FNV-style checksum, computed in Python (the oracle)."""
    value = 0
    for frame in frames:
        for byte in frame:
            value = (value * 1099511628211 + byte) & MASK
    return value


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return build_module(tmp_path_factory.mktemp("frame_path"), "frame_path_check", SOURCE)


N_TRADES = 3000
TRADE_FRAMES = [b"T%d" % i for i in range(N_TRADES)]
CONTROL_FRAMES = [b"A7,trades:X", b"E42,bad symbol", b"Zgarbage", b"T12x"]


def _server_script(frames: list[bytes]):
    async def script(peer: Peer):
        await peer.read_frame()  # the client's "go": nothing is sent before run() starts
        half = len(frames) // 2
        peer.write(b"".join(encode_frame(OP_TEXT, f) for f in frames[:half]))
        await peer.writer.drain()
        peer.write(b"".join(encode_frame(OP_TEXT, f) for f in frames[half:]))
        peer.write(encode_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_until(OP_CLOSE)
        peer.writer.close()
    return script


async def _run_sink(compiled, transport: str, handler):
    dispatcher = EventDispatcher()
    decoder = compiled.LineDecoder(dispatcher)
    dispatcher.handler = handler
    controls: list[tuple[int, bytes, int, int, str | None]] = []
    errors: list[BaseException] = []

    def on_control(message_type, raw):
        controls.append((message_type, bytes(raw), decoder.control_id, decoder.control_code, decoder.control_text))

    sink = FrameSink(decoder.feed, on_control, errors.append)
    frames = TRADE_FRAMES[:1000] + CONTROL_FRAMES + TRADE_FRAMES[1000:]
    async with asyncio.timeout(20), RawWsServer(_server_script(frames)) as server:
        conn = await create_transport(transport).connect(server.url)
        await conn.send("go")
        await conn.run(sink)
        await conn.close()
    assert server.errors == []
    return decoder, sink, controls, errors, frames


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_frames_reach_c_feed_by_pointer_on_picows(compiled, transport):
    got: list[int] = []
    decoder, sink, controls, errors, frames = await _run_sink(
        compiled, transport, lambda ev: got.append(ev.trade_id))
    assert sink.decoder is decoder
    assert decoder.c_calls == len(frames) == sink.frames
    if transport == "picows":
        assert decoder.feed_calls == 0  # no bytes object, no Python call: the C entry only
    else:
        assert decoder.feed_calls == len(frames)
    assert decoder.checksum == checksum(frames)
    assert sink.bytes == sum(len(f) for f in frames)
    assert got == list(range(N_TRADES))
    # control frames: the raw bytes and the decoder's classification, read right after it returned
    assert controls == [(MessageType.SUBSCRIPTION_ACK, b"A7,trades:X", 7, 0, "trades:X"),
                        (MessageType.ERROR, b"E42,bad symbol", -1, 42, "bad symbol")]
    assert [type(e) for e in errors] == [ParseError, ParseError]
    assert "byte 0" in str(errors[0]) and "byte 3" in str(errors[1])
    assert sink.parse_errors == 2 and decoder.parse_errors == 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_compiled_consumer_gets_every_event_without_python_calls(compiled, transport):
    consumer = compiled.CountingConsumer()
    decoder, sink, controls, errors, frames = await _run_sink(compiled, transport, consumer)
    assert decoder.dispatcher.consumer is consumer
    assert consumer.trades == N_TRADES and consumer.in_order
    assert consumer.id_sum == sum(range(N_TRADES))
    assert decoder.dispatcher.events == N_TRADES
    if transport == "picows":
        assert decoder.feed_calls == 0


def test_python_feed_is_not_bypassed_when_overridden_in_python(compiled):
    class Wrapped(compiled.LineDecoder):
        def feed(self, raw, recv_ns):  # a Python override must keep running
            return super().feed(raw, recv_ns)

    decoder = Wrapped(EventDispatcher())
    assert FrameSink(decoder.feed, print, print).decoder is None
    assert FrameSink(compiled.LineDecoder(EventDispatcher()).feed, print, print).decoder is not None
    assert FrameSink(lambda raw, ns: 1, print, print).decoder is None
    sink = FrameSink(lambda raw, ns: 1, print, print)
    sink.feed = decoder.feed  # swap_parser sets it: found again
    assert sink.decoder is None
    plain = compiled.LineDecoder(EventDispatcher())
    sink.feed = plain.feed
    assert sink.decoder is plain


def test_consumer_exception_is_a_handler_error_and_the_feed_goes_on(compiled):
    consumer = compiled.CountingConsumer()
    consumer.raise_at = 5
    errors: list[BaseException] = []
    dispatcher = EventDispatcher(consumer, errors.append)
    decoder = compiled.LineDecoder(dispatcher)
    for i in range(10):
        assert decoder.feed(b"T%d" % i, 0) == MessageType.DATA
    assert consumer.trades == 9
    assert dispatcher.handler_errors == 1
    assert len(errors) == 1 and isinstance(errors[0], HandlerError) and "refuses trade 5" in str(errors[0])


def test_consumer_is_a_python_callable_too(compiled):
    from feedhandler.events.events import BookStatus, EventPool, Kline

    consumer = compiled.CountingConsumer()
    trade = EventPool(Trade, 1).acquire()
    consumer(trade)
    consumer(EventPool(BookStatus, 1).acquire())
    consumer(EventPool(Kline, 1).acquire())
    assert (consumer.trades, consumer.statuses, consumer.others) == (1, 1, 1)


# --- the manager: acks decoded once -----------------------------------------------------------

class LineParser(MessageParser):
    """A MessageParser over the compiled decoder, as SyncedMessageParser does: ``feed`` is the decoder's."""

    def __init__(self, compiled):
        self.dispatcher = EventDispatcher()
        self.decoder = compiled.LineDecoder(self.dispatcher)
        self.feed = self.decoder.feed

    def bind(self, handler, error_handler=None):
        self.dispatcher.handler = handler
        self.dispatcher.error_handler = error_handler

    def get_message_type(self, raw):
        return MessageType(self.decoder.classify(raw))

    def feed(self, raw, recv_ns):  # replaced per instance
        return self.decoder.feed(raw, recv_ns)


class LineSubscription(SubscriptionStrategy):
    """Subscribes ``trades:X``; acks come as ``A<id>,<key>``."""

    def __init__(self, decoded: bool):
        self.decoded = decoded
        self.from_control: list[tuple[int, int, int, str | None]] = []
        self.parsed: list[bytes] = []

    def create_subscription_messages(self, symbols, channels, is_subscribe):
        return ["sub " + ",".join(self.subscription_keys(symbols, channels))]

    def subscription_keys(self, symbols, channels):
        return [f"trades:{s}" for s in symbols]

    def ack_from_control(self, message_type, control_id, control_code, control_text):
        if not self.decoded:
            return NotImplemented
        self.from_control.append((message_type, control_id, control_code, control_text))
        return SubscriptionAck(confirmed=[control_text])

    def parse_ack(self, frame):
        self.parsed.append(bytes(frame))
        return SubscriptionAck(confirmed=[bytes(frame).split(b",", 1)[1].decode()])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("decoded", [True, False], ids=["from-decoder", "parse-ack-fallback"])
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_manager_takes_acks_from_the_decoder(compiled, transport, decoded):
    async def script(peer: Peer):
        await peer.read_frame()  # the subscription request
        peer.write(encode_frame(OP_TEXT, b"A1,trades:X") + encode_frame(OP_TEXT, b"T1"))
        await peer.read_until(OP_CLOSE)
        peer.writer.close()

    events: list = []
    errors: list = []
    strategy = LineSubscription(decoded)
    async with asyncio.timeout(30), RawWsServer(script) as server:
        config = WebSocketManagerConfig(exchange_name="line", channel_types=[ChannelType.TRADES],
                                        initialize_timeout=5.0, transport=transport)
        manager = WebSocketManager(config, JsonTestConnectionStrategy(server.url), strategy, LineParser(compiled),
                                   message_handler=events.append, error_handler=errors.append)
        async with manager:
            await manager.initialize(["X"])
            await wait_until(lambda: events)
            subs = manager.metrics.connections[0].subscriptions
            assert subs == {"trades:X": SubscriptionState.CONFIRMED.value}
    assert errors == []
    if decoded:
        assert strategy.from_control == [(MessageType.SUBSCRIPTION_ACK, 1, 0, "trades:X")]
        assert strategy.parsed == []  # the frame was not parsed a second time
    else:
        assert strategy.parsed == [b"A1,trades:X"]
