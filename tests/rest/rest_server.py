"""A scriptable aiohttp.web server (127.0.0.1, port 0) standing in for an exchange's REST API."""
from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Reply:
    """One scripted response."""
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


def depth_body(symbol: str) -> bytes:
    """A seeded depth snapshot in Binance's shape, with a 64-bit id beyond float precision."""
    rng = random.Random(symbol)
    mid = rng.uniform(1, 60000)
    bids = [[f"{mid - i * 0.01:.2f}", f"{rng.uniform(0, 5):.8f}"] for i in range(1, 21)]
    asks = [[f"{mid + i * 0.01:.2f}", f"{rng.uniform(0, 5):.8f}"] for i in range(1, 21)]
    update_id = 2**63 - 1 - rng.randrange(1_000_000)
    return json.dumps({"symbol": symbol, "lastUpdateId": update_id, "bids": bids, "asks": asks}).encode()


class FakeExchange:
    """Routes:

    * ``/echo``: JSON of the request as received (method, raw query string, query, headers, body).
    * ``/depth?symbol=S``: a seeded snapshot; the bytes sent are kept in ``sent[S]``.
    * ``/gated/depth?symbol=S``: the same, but each request is held until ``gate_size`` requests are in
      flight at once (or 2 s pass), so the peak concurrency the client allows is observed.
    * ``/scripted/<name>``: replies from ``scripts[name]`` in order (the last one repeats).
    * ``/slow``: never answers until the test ends (for timeouts).
    * ``/echo-error/<status>``: the request's query string and headers echoed in an error body.
    """

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.arrivals: dict[str, list[float]] = {}
        self.sent: dict[str, bytes] = {}
        self.scripts: dict[str, deque[Reply]] = {}
        self.script_sent_at: dict[str, list[float]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate_size = 1
        self._gate_open = asyncio.Event()
        self.release = asyncio.Event()
        self.base_url = ""
        self.app = web.Application()
        r = self.app.router
        r.add_route("*", "/echo", self._echo)
        r.add_get("/depth", self._depth)
        r.add_get("/gated/depth", self._gated_depth)
        r.add_route("*", "/scripted/{name}", self._scripted)
        r.add_get("/slow", self._slow)
        r.add_route("*", "/echo-error/{status}", self._echo_error)

    def _arrive(self, key: str) -> None:
        self.hits[key] += 1
        self.arrivals.setdefault(key, []).append(time.monotonic())

    async def _echo(self, request: web.Request) -> web.Response:
        self._arrive("echo")
        body = await request.read()
        return web.json_response({
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string,
            "raw_query": request.rel_url.raw_query_string,
            "query": dict(request.query),
            "headers": {k: v for k, v in request.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
        })

    async def _depth(self, request: web.Request) -> web.Response:
        self._arrive("depth")
        symbol = request.query.get("symbol", "")
        body = self.sent[symbol] = depth_body(symbol)
        return web.Response(body=body, content_type="application/json")

    async def _gated_depth(self, request: web.Request) -> web.Response:
        self._arrive("gated")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.in_flight >= self.gate_size:
                self._gate_open.set()
            try:
                async with asyncio.timeout(2.0):
                    await self._gate_open.wait()
            except TimeoutError:
                pass
            await asyncio.sleep(0.005)  # hold the slot so an over-eager client would overlap more
            symbol = request.query.get("symbol", "")
            body = self.sent[symbol] = depth_body(symbol)
            return web.Response(body=body, content_type="application/json")
        finally:
            self.in_flight -= 1

    async def _scripted(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self._arrive(name)
        replies = self.scripts[name]
        reply = replies.popleft() if len(replies) > 1 else replies[0]
        self.script_sent_at.setdefault(name, []).append(time.monotonic())
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    async def _slow(self, request: web.Request) -> web.Response:
        self._arrive("slow")
        try:
            async with asyncio.timeout(30.0):
                await self.release.wait()
        except TimeoutError:
            pass
        return web.json_response({"late": True})

    async def _echo_error(self, request: web.Request) -> web.Response:
        self._arrive("echo-error")
        status = int(request.match_info["status"])
        headers = " ".join(f"{k}: {v}" for k, v in request.headers.items())
        text = f"rejected {request.method} {request.path_qs} headers: {headers}"
        return web.Response(status=status, text=text)

    def script(self, name: str, *replies: Reply) -> str:
        """Set the replies of ``/scripted/<name>`` and return that path."""
        self.scripts[name] = deque(replies)
        return f"/scripted/{name}"
