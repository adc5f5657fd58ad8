"""Binance endpoints, stream templates and limits.

Source: ``binance/binance-spot-api-docs`` (HEAD a5e0bc3, 2026-07-21): ``web-socket-streams.md`` (endpoints,
control messages, limits: 5 incoming messages/s, 1024 streams per connection, 24 h lifetime, ping every
20 s with pong within 1 min, ``serverShutdown``), ``rest-api.md`` (``GET /api/v3/depth``: limit 1..5000,
default 100, weights 5/25/50/250). Summarised in shared/protocols.md section 3.
"""
from __future__ import annotations

#: Combined-stream endpoint (``{"stream":..,"data":..}`` envelope); SUBSCRIBE adds streams at run time.
WS_URL = "wss://stream.binance.com:9443/stream"
#: Raw-stream endpoint prefix: ``/ws/<stream>``.
WS_RAW_URL = "wss://stream.binance.com:9443/ws"
#: Market-data-only host.
WS_DATA_URL = "wss://data-stream.binance.vision/stream"
REST_URL = "https://api.binance.com"
REST_DATA_URL = "https://data-api.binance.vision"
#: USD-M futures (fapi) endpoints: same stream format, ``pu`` in depthUpdate.
USDM_WS_URL = "wss://fstream.binance.com/stream"
USDM_REST_URL = "https://fapi.binance.com"

DEPTH_PATH = "/api/v3/depth"
USDM_DEPTH_PATH = "/fapi/v1/depth"

# Stream templates (symbol lowercase).
DEPTH_STREAM = "{symbol}@depth@{speed}"          # speed "100ms"; "1000ms" is written as plain "@depth"
PARTIAL_DEPTH_STREAM = "{symbol}@depth{levels}@{speed}"
TRADE_STREAM = "{symbol}@trade"
AGG_TRADE_STREAM = "{symbol}@aggTrade"
BOOK_TICKER_STREAM = "{symbol}@bookTicker"
KLINE_STREAM = "{symbol}@kline_{interval}"
SHUTDOWN_STREAM = "!serverShutdown"

SPEEDS = ("100ms", "1000ms")
PARTIAL_DEPTH_LEVELS = (5, 10, 20)
KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")

#: Streams per connection.
MAX_STREAMS_PER_CONNECTION = 1024
#: Incoming (client -> server) messages per second per connection, pings/pongs and control messages included.
MAX_MESSAGES_PER_SECOND = 5
#: What the client allows itself: the transport's pongs count against the same budget.
CLIENT_MESSAGES_PER_SECOND = 3.0
#: Streams in one SUBSCRIBE request (keeps a request well under the server's message size limit).
MAX_STREAMS_PER_REQUEST = 200
#: Connection lifetime (24 h); the client reconnects a few minutes before.
CONNECTION_LIFETIME = 24 * 3600.0
MAX_LIFETIME = CONNECTION_LIFETIME - 5 * 60.0
#: Server WebSocket ping interval (the transport answers it).
SERVER_PING_INTERVAL = 20.0

#: REST depth snapshot.
DEFAULT_SNAPSHOT_LIMIT = 1000
MAX_SNAPSHOT_LIMIT = 5000


def depth_weight(limit: int) -> int:
    """Request weight of ``GET /api/v3/depth`` for ``limit`` (rest-api.md)."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250

# --- User data (private side) --------------------------------------------------------------------------
# Source: ``binance-spot-api-docs`` a5e0bc3 ``web-socket-api.md`` / ``user-data-stream.md`` and CHANGELOG
# (protocols.md 3.7): the listenKey flow (``POST /api/v3/userDataStream``) stopped working on 2026-02-20;
# user data now comes over the WebSocket API with ``userDataStream.subscribe.signature`` (any key type,
# no ``session.logon`` needed). HMAC signature: hex HMAC-SHA256 over every param except ``signature``,
# sorted by name, written ``k=v&k=v``.

#: WebSocket API endpoint (requests and the user data subscription); port 9443 also serves it.
WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
WS_API_TESTNET_URL = "wss://ws-api.testnet.binance.vision/ws-api/v3"
WS_API_PATH = "/ws-api/v3"
#: Signed subscription: params ``apiKey``, ``timestamp`` (ms), ``signature``, optional ``recvWindow``.
USER_DATA_SUBSCRIBE_METHOD = "userDataStream.subscribe.signature"
USER_DATA_UNSUBSCRIBE_METHOD = "userDataStream.unsubscribe"
#: ``{"id":..,"method":"ping"}`` -> ``{"id":..,"status":200,"result":{}}`` (weight 1): an application
#: ping that keeps frames coming on a quiet account, so the stale watchdog does not fire.
WS_API_PING_METHOD = "ping"
#: ``recvWindow`` upper bound (ms).
MAX_RECV_WINDOW_MS = 60_000
#: Client request ids. The subscribe id is ``"uds-<mask>-<n>"`` where ``<mask>`` is the digit of the
#: private channels asked for (ORDERS 1, FILLS 2, BALANCES 4): the response echoes the id, so the
#: private decoder learns which event kinds to deliver from the ack itself. Ping ids are ``"ping-<n>"``.
SUBSCRIBE_ID_PREFIX = "uds-"
PING_ID_PREFIX = "ping-"
PRIVATE_MASK_ORDERS = 1
PRIVATE_MASK_FILLS = 2
PRIVATE_MASK_BALANCES = 4
#: Application ping period on the private connection (must stay under the manager's stale_timeout).
PRIVATE_PING_INTERVAL = 15.0
#: Error codes that mean the credentials were refused (-> AuthenticationError rather than SubscriptionError):
#: -1002 unauthorized, -1022 invalid signature, -2014 bad API-key format, -2015 invalid key/IP/permissions.
AUTH_ERROR_CODES = (-1002, -1022, -2014, -2015)
#: The WS API lives 24 h like the streams; reconnect a few minutes before.
PRIVATE_MAX_LIFETIME = CONNECTION_LIFETIME - 5 * 60.0
#: Requests per connection: the WS API counts weight (6000/min per IP), not messages; keep a modest pace.
PRIVATE_MESSAGES_PER_SECOND = 5.0
