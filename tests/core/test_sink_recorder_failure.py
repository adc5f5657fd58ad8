"""A recorder that raises (disk full, closed file) is reported and never stops the feed."""
from __future__ import annotations

from feedhandler.core.dispatch import EventDispatcher
from feedhandler.core.errors import FeedError
from feedhandler.core.sink import FrameRecorder, FrameSink
from feedhandler.events.events import Trade
from feedhandler.exchanges.binance.decoder import BinanceDecoder

TRADE = (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255208,"s":"BTCUSDT","t":%d,'
         b'"p":"61234.01000000","q":"0.00100000","T":1723161255207,"m":true,"M":true}}')


class FullDisk(FrameRecorder):
    def __init__(self) -> None:
        self.calls = 0

    def record(self, raw, recv_ns):
        self.calls += 1
        raise OSError(28, "No space left on device")


def test_a_failing_recorder_is_reported_and_the_frame_still_decoded():
    dispatcher = EventDispatcher()
    trades: list[int] = []
    dispatcher.handler = lambda ev: trades.append(ev.trade_id) if type(ev) is Trade else None
    decoder = BinanceDecoder(None, dispatcher)
    errors: list[BaseException] = []
    sink = FrameSink(decoder.feed, lambda *a: None, errors.append)
    sink.recorder = recorder = FullDisk()
    for i in range(1, 4):
        sink(TRADE % i, i)
    assert trades == [1, 2, 3]                       # every frame still reached the handler
    assert recorder.calls == 3 and sink.recorder_errors == 3
    assert sink.parse_errors == 0                    # a recorder failure is not a parse error
    assert len(errors) == 3 and all(type(e) is FeedError and "No space left" in str(e) for e in errors)
    assert isinstance(errors[0].__cause__, OSError)
