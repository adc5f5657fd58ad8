"""Plain-client helpers for the simulator tests: a ``websockets`` client, an aiohttp client and a dict book.

They are deliberately independent of the simulator's code (they parse the wire, as a consumer would),
so the comparison against ``MarketModel.true_book`` is a real oracle.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection


class DictBook:
    """A reference L2 book: float price -> float quantity per side, absolute quantities, 0 deletes."""

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.update_id = 0

    def load(self, update_id: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids = {float(p): float(q) for p, q in bids}
        self.asks = {float(p): float(q) for p, q in asks}
        self.update_id = update_id

    def apply(self, update_id: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for p, q in levels:
                price, qty = float(p), float(q)
                if qty == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.update_id = update_id

    def sides(self) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())


async def send_json(ws: ClientConnection, obj: Any) -> str:
    text = json.dumps(obj)
    await ws.send(text)
    return text


async def request(ws: ClientConnection, obj: dict[str, Any], max_frames: int = 10_000) -> dict[str, Any]:
    """Send a control request and return the first ``op`` reply (data frames on the way are skipped)."""
    await send_json(ws, obj)
    for _ in range(max_frames):
        msg = json.loads(await ws.recv())
        if "op" in msg:
            return msg
    raise AssertionError("no reply to the request")


async def subscribe(ws: ClientConnection, args: list[str], req_id: int = 1) -> dict[str, Any]:
    reply = await request(ws, {"op": "subscribe", "id": req_id, "args": args})
    assert reply == {"op": "ack", "id": req_id, "args": args}, reply
    return reply


async def fetch_depth(rest_url: str, symbol: str, limit: int = 5000) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rest_url}/depth", params={"symbol": symbol, "limit": str(limit)}) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, {"text": text}


async def depth_frames_until(ws: ClientConnection, symbol: str, last_id: int, max_frames: int = 100_000) -> list[dict[str, Any]]:
    """Collect ``symbol``'s depth frames until one with ``u >= last_id`` (other frames are skipped)."""
    frames: list[dict[str, Any]] = []
    for _ in range(max_frames):
        msg = json.loads(await ws.recv())
        if msg.get("ch") == "depth" and msg.get("s") == symbol:
            frames.append(msg)
            if msg["u"] >= last_id:
                return frames
    raise AssertionError(f"did not reach update id {last_id}")
