"""Gate.io spot v4 and USDT futures constants: URLs, channel names, limits.

Source for every spot value: /work/shared/protocols.md section 2 (official "Spot WebSocket v4" docs,
the REST order-book doc, announcements #44678 and #45317, maintainer reply in gateio/gatews#25).
USDT futures (Gate.io "Futures WebSocket v4" and REST ``/futures/{settle}/order_book`` docs; the
shapes checked against the real capture ``shared/data/gateio/cryptofeed_usdt_futures_2023-05-24``):
the same envelope and ``U/u`` rule as spot, ``futures.*`` channel names, contracts instead of pairs
(``BTC_USDT``), levels as objects ``{"p": "<price>", "s": <contracts>}``.
"""
from __future__ import annotations

#: Exchange name used by the factory, events and books.
EXCHANGE = "gateio"

# --- endpoints (protocols.md 2.2) ---------------------------------------------------------------
WS_URL = "wss://api.gateio.ws/ws/v4/"
WS_TESTNET_URL = "wss://ws-testnet.gate.com/v4/ws/spot"
REST_URL = "https://api.gateio.ws"
#: REST order book; ``with_id=true`` adds the book's update ``id`` (protocols.md 2.9).
REST_ORDER_BOOK_PATH = "/api/v4/spot/order_book"
#: The doc example and the official SDK use 100 levels (the maximum is not documented).
REST_ORDER_BOOK_LIMIT = 100

# --- USDT futures ------------------------------------------------------------------------------------
#: ``market`` option values: spot, or the USDT-settled perpetual futures.
MARKETS = ("spot", "usdt")
FUTURES_WS_URL = "wss://fx-ws.gateio.ws/v4/ws/usdt"
#: REST futures order book; ``with_id=true`` adds ``id``; levels are ``{"p": str, "s": int}`` (contracts).
FUTURES_REST_ORDER_BOOK_PATH = "/api/v4/futures/usdt/order_book"
FUT_CH_PING = "futures.ping"
FUT_CH_PONG = "futures.pong"
FUT_CH_BOOK_UPDATE = "futures.order_book_update"
FUT_CH_TRADES = "futures.trades"
FUT_CH_BOOK_TICKER = "futures.book_ticker"
FUT_CH_CANDLES = "futures.candlesticks"
#: futures.order_book_update: "100ms" (payload ``[contract, "100ms"]``, 100 levels) or "20ms" (20 levels only:
#: ``[contract, "20ms", "20"]``).
FUTURES_BOOK_UPDATE_LEVELS = {"100ms": None, "20ms": "20"}

# --- channels (protocols.md 2.6) -------------------------------------------------------------------
CH_PING = "spot.ping"
CH_PONG = "spot.pong"
CH_BOOK_UPDATE = "spot.order_book_update"
CH_OBU = "spot.obu"
CH_ORDER_BOOK = "spot.order_book"
CH_TRADES = "spot.trades"
CH_BOOK_TICKER = "spot.book_ticker"
CH_CANDLES = "spot.candlesticks"
CH_TICKERS = "spot.tickers"
CH_ORDERS = "spot.orders"
CH_USERTRADES = "spot.usertrades"
CH_BALANCES = "spot.balances"
PRIVATE_CHANNELS = frozenset({CH_ORDERS, CH_USERTRADES, CH_BALANCES})

#: spot.order_book_update speeds: "100ms" = 100 levels, "20ms" = 20 levels ("1000ms" removed 2024-11-28).
BOOK_UPDATE_SPEEDS = {"100ms": 100, "20ms": 20}
DEFAULT_BOOK_UPDATE_SPEED = "100ms"
#: spot.obu levels: 50 (20 ms) or 400 (100 ms); stream name ``ob.<PAIR>.<LEVEL>``.
OBU_LEVELS = (50, 400)
DEFAULT_OBU_LEVEL = 50
#: spot.order_book levels and intervals.
ORDER_BOOK_LEVELS = (5, 10, 20, 50, 100)
ORDER_BOOK_INTERVALS = ("100ms", "1000ms")
#: spot.candlesticks intervals.
CANDLE_INTERVALS = ("10s", "1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "7d", "30d")
DEFAULT_CANDLE_INTERVAL = "1m"

# --- envelopes (protocols.md 2.3/2.4/2.8) ------------------------------------------------------------
EVENT_SUBSCRIBE = "subscribe"
EVENT_UNSUBSCRIBE = "unsubscribe"
AUTH_METHOD = "api_key"
#: Error codes: 1 bad body, 2 bad argument, 3 server error, 4 authentication failed.
ERROR_AUTH = 4

# --- keep-alive and limits (protocols.md 2.5/2.10) ---------------------------------------------------
#: The doc's demo sends spot.ping every 10 s; the server's idle timeout is not documented.
PING_INTERVAL = 10.0
#: No documented subscription limit per connection; the manager still shards large sets.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 200
#: No documented outgoing message limit; stay polite.
MAX_MESSAGES_PER_SECOND = 50.0
#: Request ``time`` must be within 60 s of the server clock.
MAX_CLOCK_SKEW = 60
