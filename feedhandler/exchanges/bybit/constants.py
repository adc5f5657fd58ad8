"""Bybit v5 WebSocket constants: URLs, topics, limits.

Sources: /work/shared/protocols.md section 6 (bybit-exchange.github.io/docs/v5/websocket: "Connect",
"Orderbook", "Trade", "Ticker", "Kline", private "Order"/"Execution"/"Wallet", "Authentication") and
the 2026-08-09 recording in ../shared/data/bybit (frame shapes, ack fields).
"""
from __future__ import annotations

#: Exchange name used by the factory, events and books.
EXCHANGE = "bybit"

# --- endpoints ("Connect") -------------------------------------------------------------------------
WS_PUBLIC_URL = "wss://stream.bybit.com/v5/public/{market}"
WS_PRIVATE_URL = "wss://stream.bybit.com/v5/private"
#: Public markets (path segment); the book rules are the same on each.
MARKETS = ("spot", "linear", "inverse")
DEFAULT_MARKET = "linear"
PUBLIC_PATH_PREFIX = "/v5/public/"
PRIVATE_PATH = "/v5/private"

# --- topics ----------------------------------------------------------------------------------------
#: ``orderbook.{depth}.{symbol}``: in-band ``snapshot`` then ``delta``s, ``u`` + 1 per topic.
BOOK_DEPTHS = (1, 50, 200, 1000)
DEFAULT_BOOK_DEPTH = 200
TOPIC_BOOK = "orderbook.{depth}.{symbol}"
TOPIC_TRADE = "publicTrade.{symbol}"
#: ``tickers``: linear sends a snapshot then deltas holding only the changed fields; spot always snapshots.
TOPIC_TICKER = "tickers.{symbol}"
TOPIC_KLINE = "kline.{interval}.{symbol}"
KLINE_INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
DEFAULT_KLINE_INTERVAL = "1"
#: Private topics (all categories): orders, executions (fills), wallet (balances).
TOPIC_ORDER = "order"
TOPIC_EXECUTION = "execution"
TOPIC_WALLET = "wallet"

# --- requests (``op``) -------------------------------------------------------------------------------
OP_SUBSCRIBE = "subscribe"
OP_UNSUBSCRIBE = "unsubscribe"
OP_PING = "ping"
OP_AUTH = "auth"
#: The auth signature is hex HMAC-SHA256(secret, "GET/realtime" + expires), expires in ms.
AUTH_PAYLOAD_PREFIX = "GET/realtime"
#: How far in the future the auth ``expires`` is set (ms); the docs' example uses 1 s, allow clock skew.
AUTH_EXPIRES_MS = 10_000

# --- keep-alive and limits ---------------------------------------------------------------------------
#: "We recommend sending the ping heartbeat packet every 20 seconds."
PING_INTERVAL = 20.0
#: Spot accepts at most 10 args per subscribe request (protocols.md 6).
MAX_ARGS_PER_REQUEST = 10
#: The args of one connection are limited to 21,000 characters; ~200 topics stay well under it.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 200
#: Not documented for WS requests; stay polite.
MAX_MESSAGES_PER_SECOND = 20.0
