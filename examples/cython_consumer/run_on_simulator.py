"""Run the compiled ``BookMirror`` consumer on the local simulator and check it against the true book.

Build first (``python setup.py build_ext --inplace`` in this directory), then::

    python run_on_simulator.py --exchange binance --seconds 5

The consumer is passed as the ``message_handler``: the parser's dispatcher recognises a compiled
``Consumer`` and calls its ``cdef`` methods from C, so no Python code runs per event.
"""
from __future__ import annotations

import argparse
import asyncio

from book_mirror import BookMirror

from feedhandler import ChannelType, WebSocketManager, WebSocketManagerConfig, WebSocketStrategyFactory
from feedhandler.core.registry import demo_symbols
from feedhandler.sim import SimExchange


async def main(exchange: str, seconds: float, rate: float) -> int:
    symbols = demo_symbols(exchange)
    async with SimExchange(exchange, symbols, seed=1, rate=rate) as sim:
        conn, sub, parser = WebSocketStrategyFactory.create_strategies(
            exchange, ws_url=sim.ws_url, rest_url=sim.rest_url)
        mirror = BookMirror(max_symbols=len(symbols), depth=1000)
        config = WebSocketManagerConfig(exchange, channel_types=[ChannelType.ORDERBOOK, ChannelType.TRADES])
        async with WebSocketManager(config, conn, sub, parser, message_handler=mirror,
                                    error_handler=print) as manager:
            await manager.initialize(symbols)
            await asyncio.sleep(seconds)
        print(f"{exchange}: {mirror.counts()}")
        wrong = 0
        for symbol in mirror.symbols():
            last_id, bids, asks = mirror.book(symbol)
            truth = sim.model.true_book(symbol, last_id)
            same = bids == truth.bids[:len(bids)] and asks == truth.asks[:len(asks)]
            wrong += not same
            print(f"  {symbol}: book at update {last_id} {'equals' if same else 'DIFFERS FROM'} the true book "
                  f"({len(bids)} bids, {len(asks)} asks)")
    return 1 if wrong else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchange", default="binance")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=200.0, help="book updates per second per symbol")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.exchange, args.seconds, args.rate)))
