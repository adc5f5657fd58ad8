"""Coinbase Advanced Trade WebSocket constants: URLs, channels, limits.

Sources: /work/shared/protocols.md section 6 (docs.cdp.coinbase.com/advanced-trade/docs/ws-overview,
ws-channels, ws-auth) and the 2026-08-09 recording in ../shared/data/coinbase (frame shapes).
"""
from __future__ import annotations

#: Exchange name used by the factory, events and books.
EXCHANGE = "coinbase"

# --- endpoints ----------------------------------------------------------------------------------
WS_URL = "wss://advanced-trade-ws.coinbase.com"
#: The ``user`` channel is served on its own host (ws-overview, "User Order Data" endpoint).
WS_USER_URL = "wss://advanced-trade-ws-user.coinbase.com"

# --- channels (subscribe names; frames arrive as ``channel`` below) ---------------------------------
CH_LEVEL2 = "level2"            # frames: "l2_data"; in-band snapshot then updates, no per-book id
CH_TRADES = "market_trades"
CH_TICKER = "ticker"
CH_CANDLES = "candles"          # 5-minute candles, ``start`` in seconds
CH_HEARTBEATS = "heartbeats"    # subscribed with everything: keeps ``sequence_num`` moving on quiet products
CH_USER = "user"
CANDLE_SECONDS = 300

# --- JWT (ws-auth: CDP API keys, ES256) -----------------------------------------------------------------
JWT_ISSUER = "cdp"
JWT_ALGORITHM = "ES256"
#: A JWT is valid for 2 minutes; a fresh one is signed for every subscribe message.
JWT_LIFETIME = 120

# --- limits -----------------------------------------------------------------------------------------------
#: ``sequence_num`` is per connection and one gap invalidates every book on it: keep every product on one
#: connection (no documented per-connection subscription limit).
MAX_SUBSCRIPTIONS_PER_CONNECTION = 1_000_000
#: "8 messages per second per IP" for unauthenticated subscribe messages (ws-rate-limits); stay under it.
MAX_MESSAGES_PER_SECOND = 6.0
