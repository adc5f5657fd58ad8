"""MEXC spot v3 constants: URLs, channel templates, limits, protobuf field numbers.

Sources (see /work/shared/protocols.md section 1):
- URLs, control messages, limits: MEXC apidocs ``spot_v3_en`` (commit c0de8ff, 2025-08-08), the
  mexc.com "Websocket Market Streams" / "User Data Streams" pages, and MEXC announcement
  17827791522393 (old ``wbs.mexc.com`` JSON feed discontinued 2025-08-04).
- Field numbers: ``mexcdevelop/websocket-proto`` commit 7b8ac7a (2026-06-17).
- Book procedure: mexc.com "How to Properly Maintain a Local Copy of the Order Book" (see rules.py).
"""
from __future__ import annotations

from typing import Final

EXCHANGE: Final = "mexc"

# ---- endpoints -----------------------------------------------------------------------------------------
WS_URL: Final = "wss://wbs-api.mexc.com/ws"            # public and private (``?listenKey=``) protobuf feed
REST_URL: Final = "https://api.mexc.com"
DEPTH_PATH: Final = "/api/v3/depth"                    # GET symbol, limit -> lastUpdateId, bids, asks
USER_DATA_STREAM_PATH: Final = "/api/v3/userDataStream"  # POST create / PUT keep-alive / DELETE close
API_KEY_HEADER: Final = "X-MEXC-APIKEY"

# ---- limits --------------------------------------------------------------------------------------------
MAX_SUBSCRIPTIONS_PER_CONNECTION: Final = 30          # "Websocket Limits"; more are invalid
MAX_MESSAGES_PER_SECOND: Final = 100.0                # per connection, client messages; over it disconnects
CLIENT_MESSAGE_RATE: Final = 50.0                     # what we pace at: well under the limit
PING_INTERVAL: Final = 20.0                           # s; the server drops a connection idle for 60 s
CONNECTION_LIFETIME: Final = 24 * 3600.0              # s; the server closes connections after 24 h
LISTEN_KEY_KEEP_ALIVE: Final = 1800.0                 # s; doc: PUT every 30 min (a key lives 60 min)
RECV_WINDOW_MS: Final = 5000                          # signed requests; default 5000, max 60000
DEPTH_SNAPSHOT_LIMIT: Final = 5000                    # current procedure: limit=5000 (REST max)
CHANNELS_PER_MESSAGE: Final = 10                      # params per SUBSCRIPTION message we send

PING_MESSAGE: Final = '{"method":"PING"}'
SUBSCRIBE: Final = "SUBSCRIPTION"
UNSUBSCRIBE: Final = "UNSUBSCRIPTION"
NOT_SUBSCRIBED: Final = "Not Subscribed successfully!"

SPEEDS: Final = ("100ms", "10ms")
KLINE_INTERVALS: Final = ("Min1", "Min5", "Min15", "Min30", "Min60", "Hour4", "Hour8", "Day1", "Week1", "Month1")
LIMIT_DEPTHS: Final = (5, 10, 20)

# ---- channel templates ({speed}, {symbol}, {depth}, {interval}, {tz}) --------------------------------------
AGGRE_DEPTH: Final = "spot@public.aggre.depth.v3.api.pb@{speed}@{symbol}"        # body 313
LIMIT_DEPTH: Final = "spot@public.limit.depth.v3.api.pb@{symbol}@{depth}"        # body 303
AGGRE_DEALS: Final = "spot@public.aggre.deals.v3.api.pb@{speed}@{symbol}"        # body 314
AGGRE_BOOK_TICKER: Final = "spot@public.aggre.bookTicker.v3.api.pb@{speed}@{symbol}"  # body 315
BOOK_TICKER_BATCH: Final = "spot@public.bookTicker.batch.v3.api.pb@{symbol}"     # body 311
KLINE: Final = "spot@public.kline.v3.api.pb@{symbol}@{interval}"                 # body 308
MINI_TICKER: Final = "spot@public.miniTicker.v3.api.pb@{symbol}@{tz}"            # body 309
PRIVATE_ORDERS: Final = "spot@private.orders.v3.api.pb"                          # body 304
PRIVATE_DEALS: Final = "spot@private.deals.v3.api.pb"                            # body 306
PRIVATE_ACCOUNT: Final = "spot@private.account.v3.api.pb"                        # body 307

# ---- PushDataV3ApiWrapper field numbers ----------------------------------------------------------------
WRAPPER_CHANNEL: Final = 1
WRAPPER_SYMBOL: Final = 3
WRAPPER_SYMBOL_ID: Final = 4
WRAPPER_CREATE_TIME: Final = 5
WRAPPER_SEND_TIME: Final = 6
BODY_FIELDS: Final = {
    301: "publicDeals", 302: "publicIncreaseDepths", 303: "publicLimitDepths", 304: "privateOrders",
    305: "publicBookTicker", 306: "privateDeals", 307: "privateAccount", 308: "publicSpotKline",
    309: "publicMiniTicker", 310: "publicMiniTickers", 311: "publicBookTickerBatch",
    312: "publicIncreaseDepthsBatch", 313: "publicAggreDepths", 314: "publicAggreDeals",
    315: "publicAggreBookTicker",
}
