"""OKX v5 constants: URLs, channel names, limits.

Sources: /work/shared/protocols.md section 6 (okx.com/docs-v5: "WebSocket" overview, "Order book channel",
"Checksum" and "seqId" notes, the 2026-06 notice that JSON book channels send ``checksum: 0``; "Login",
"Order channel", "Account channel", "Candlesticks channel"), and the recording in
/work/shared/data/okx/cryptofeed_2022-05-13 (frame shapes).
"""
from __future__ import annotations

#: Exchange name used by the factory, events and books.
EXCHANGE = "okx"

# --- endpoints -------------------------------------------------------------------------------------
WS_PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public"
WS_PRIVATE_URL = "wss://ws.okx.com:8443/ws/v5/private"
#: ``business`` carries the candle channels since 2023 (okx.com/docs-v5 changelog).
WS_BUSINESS_URL = "wss://ws.okx.com:8443/ws/v5/business"
PUBLIC_PATH = "/ws/v5/public"
BUSINESS_PATH = "/ws/v5/business"
#: The subscription strategy's endpoint name of the candle channels (``SubscriptionStrategy.endpoint``).
ENDPOINT_BUSINESS = "business"

# --- channels ----------------------------------------------------------------------------------------
CH_BOOKS = "books"            # 400 levels, snapshot then updates, checksum, seqId/prevSeqId
CH_BBO = "bbo-tbt"            # best bid/offer, tick by tick
CH_TRADES = "trades"
CH_TICKERS = "tickers"
CH_CANDLE_PREFIX = "candle"   # candle1m, candle1H, ...
CH_ORDERS = "orders"          # private: orders, with each fill inside (fillSz/fillPx/tradeId)
CH_ACCOUNT = "account"        # private: balances
#: candle interval -> seconds (okx.com/docs-v5 "Candlesticks channel")
CANDLE_SECONDS = {"1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1H": 3600, "2H": 7200,
                  "4H": 14400, "6H": 21600, "12H": 43200, "1D": 86400, "1W": 604800, "1M": 2592000}
CANDLE_INTERVALS = tuple(CANDLE_SECONDS)
DEFAULT_CANDLE_INTERVAL = "1m"
#: instType of the private orders channel subscription (every instrument type).
ORDERS_INST_TYPE = "ANY"

# --- book rules ----------------------------------------------------------------------------------------
BOOK_LEVELS = 400             # levels of a books snapshot per side
CHECKSUM_LEVELS = 25          # levels per side in the CRC32 checksum

# --- keep-alive and limits -----------------------------------------------------------------------------
#: The connection closes after 30 s without data; the client sends the text "ping", the server "pong".
PING_INTERVAL = 20.0
PING_TEXT = "ping"
#: Subscription requests: 3 per second per connection; 480 subscribe/unsubscribe/login per hour.
MAX_MESSAGES_PER_SECOND = 3
MAX_SUBSCRIPTIONS_PER_CONNECTION = 240

# --- login (okx.com/docs-v5 "Login") ---------------------------------------------------------------------
#: sign = base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify")), timestamp in seconds.
LOGIN_METHOD = "GET"
LOGIN_PATH = "/users/self/verify"
LOGIN_TIMEOUT = 10.0
#: Environment variable holding the API passphrase (beside the CLI's OKX_API_KEY / OKX_API_SECRET).
PASSPHRASE_ENV = "OKX_API_PASSPHRASE"
