"""RestClient against a real aiohttp.web server on 127.0.0.1: JSON, retries, errors, limits, life cycle."""
from __future__ import annotations

import asyncio
import email.utils
import gc
import json
import time
import warnings
from urllib.parse import urlencode

import aiohttp
import pytest

from rest_server import FakeExchange, Reply
from feedhandler.core.errors import ConfigurationError, RestError
from feedhandler.rest import RateLimit, RestClient
from feedhandler.rest.client import _retry_after_seconds

FAST = {"backoff": (0.005, 0.02)}  # keep retry sleeps short; the backoff shape is not under test here


# --------------------------------------------------------------------------- round trips

async def test_get_json_round_trip_with_params(exchange: FakeExchange):
    params = {"symbol": "BTCUSDT", "limit": 100, "with_id": True, "skip_me": None}
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url) as rest:
            echoed = await rest.get_json("/echo", params)
    # Oracle: urllib's encoding of the same pairs (booleans lowercase, None dropped).
    assert echoed["query_string"] == urlencode([("symbol", "BTCUSDT"), ("limit", "100"), ("with_id", "true")])
    assert echoed["query"] == {"symbol": "BTCUSDT", "limit": "100", "with_id": "true"}
    assert echoed["method"] == "GET"


async def test_depth_snapshot_decodes_like_json_loads(exchange: FakeExchange):
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url) as rest:
            book = await rest.get_json("/depth", {"symbol": "ETHUSDT"})
    expected = json.loads(exchange.sent["ETHUSDT"])  # independent decoder of the exact bytes sent
    assert book == expected
    assert isinstance(book["lastUpdateId"], int) and book["lastUpdateId"] > 2**62  # not narrowed to float


async def test_request_json_sends_body_and_query_verbatim(exchange: FakeExchange):
    # A signed request: the signature covers this exact query string and body, so both go out unchanged.
    query = "timestamp=1700000000000&symbol=BTCUSDT&signature=ab%2Bcd%2F%3D"
    raw_body = b'{"channel":"spot.orders","time":1700000000}'
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, headers={"X-Default": "d"}) as rest:
            echoed = await rest.request_json("POST", "/echo", query, {"X-Call": "c"}, raw_body)
            as_json = await rest.request_json("put", "echo", body={"listenKey": "k", "n": [1, 2]})
            in_path = await rest.get_json("/echo?symbol=A", {"limit": 5})
    assert echoed["method"] == "POST"
    assert echoed["raw_query"] == query
    assert echoed["body"] == raw_body.decode()
    assert echoed["headers"]["X-Default"] == "d" and echoed["headers"]["X-Call"] == "c"
    assert as_json["method"] == "PUT"
    assert json.loads(as_json["body"]) == {"listenKey": "k", "n": [1, 2]}
    assert as_json["headers"]["Content-Type"] == "application/json"
    assert in_path["raw_query"] == "symbol=A&limit=5"


async def test_empty_body_returns_none(exchange: FakeExchange):
    path = exchange.script("empty", Reply(200, b""))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url) as rest:
            assert await rest.request_json("DELETE", path) is None


# --------------------------------------------------------------------------- retries

async def test_retries_on_500_then_succeeds(exchange: FakeExchange):
    path = exchange.script("flaky", Reply(500, b"oops"), Reply(502, b"bad gateway"), Reply(200, b'{"ok": 1}'))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, retries=3, **FAST) as rest:
            assert await rest.get_json(path) == {"ok": 1}
    assert exchange.hits["flaky"] == 3


async def test_gives_up_after_retries_with_last_status(exchange: FakeExchange):
    path = exchange.script("down", Reply(503, b"maintenance"))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, retries=2, **FAST) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json(path)
    assert exchange.hits["down"] == 3
    assert info.value.status == 503
    assert str(info.value) == f"GET {exchange.base_url}{path} failed after 3 attempts: HTTP 503: maintenance"


async def test_429_retry_after_is_honoured_and_pauses_other_requests(exchange: FakeExchange):
    path = exchange.script("limited", Reply(429, b'{"code":-1003}', {"Retry-After": "1"}),
                           Reply(200, b'{"ok": true}'))
    async with asyncio.timeout(15):
        async with RestClient(exchange.base_url, retries=2, backoff=(0.01, 0.02)) as rest:
            first = asyncio.create_task(rest.get_json(path))
            while not exchange.script_sent_at.get("limited"):  # bounded by the asyncio.timeout above
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)  # let the client read the 429
            other = await rest.get_json("/echo")
            assert await first == {"ok": True}
    assert other["method"] == "GET"
    assert exchange.hits["limited"] == 2
    refused_at = exchange.script_sent_at["limited"][0]
    # Lower bounds only: the backoff alone would be <= 0.02 s, so >= ~1 s shows Retry-After was obeyed,
    # by the retry and by the unrelated request sent during the pause.
    assert exchange.arrivals["limited"][1] - refused_at >= 0.9
    assert exchange.arrivals["echo"][0] - refused_at >= 0.9


async def test_retry_after_is_capped(exchange: FakeExchange):
    path = exchange.script("banned", Reply(418, b"banned", {"Retry-After": "100000"}), Reply(200, b"[1]"))
    async with asyncio.timeout(10):  # would time out if the 100000 s Retry-After were obeyed
        async with RestClient(exchange.base_url, max_retry_after=0.05, **FAST) as rest:
            assert await rest.get_json(path) == [1]
    assert exchange.hits["banned"] == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
async def test_no_retry_on_other_4xx_and_clear_message(exchange: FakeExchange, status: int):
    body = b'{"code":-1100,"msg":"Illegal characters found in parameter \'symbol\'."}'
    path = exchange.script("bad", Reply(status, body))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, retries=3, **FAST) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json(path, {"symbol": "B@D"})
    assert exchange.hits["bad"] == 1
    assert info.value.status == status
    assert str(info.value) == f"GET {exchange.base_url}{path} failed: HTTP {status}: {body.decode()}"


async def test_error_message_is_one_line_with_200_body_chars(exchange: FakeExchange):
    body = ("line one\r\nline two\t" + "".join(chr(ord("a") + i % 26) for i in range(1000))).encode()
    path = exchange.script("long", Reply(400, body))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message and "\t" not in message
    expected_snippet = " ".join(body.decode().split())[:200]
    assert message.endswith(": HTTP 400: " + expected_snippet)


async def test_invalid_json_body_is_a_rest_error(exchange: FakeExchange):
    path = exchange.script("garbage", Reply(200, b'{"bids": [["1.0", '))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, **FAST) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json(path)
    assert info.value.status == 200
    assert "invalid JSON" in str(info.value) and '{"bids": [["1.0",' in str(info.value)
    assert exchange.hits["garbage"] == 1  # a malformed body is not retried


async def test_redirect_is_not_followed(exchange: FakeExchange):
    path = exchange.script("moved", Reply(302, b"", {"Location": "/echo"}))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, headers={"X-MBX-APIKEY": "key-must-stay-home"}) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json(path)
    assert info.value.status == 302
    assert exchange.hits["echo"] == 0


async def test_oversized_body_is_refused(exchange: FakeExchange):
    path = exchange.script("huge", Reply(200, b"[" + b"1," * 5000 + b"1]"))
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, max_body_bytes=1000) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json(path)
    assert "larger than 1000 bytes" in str(info.value)
    assert exchange.hits["huge"] == 1


async def test_timeout_is_a_rest_error_and_retried(exchange: FakeExchange):
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, timeout=0.2, retries=1, **FAST) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json("/slow")
    assert info.value.status is None
    assert str(info.value) == f"GET {exchange.base_url}/slow failed after 2 attempts: timed out after 0.2 s"
    assert exchange.hits["slow"] == 2


async def test_connection_refused_is_a_rest_error(refused_url: str):
    async with asyncio.timeout(10):
        async with RestClient(refused_url, retries=2, **FAST) as rest:
            with pytest.raises(RestError) as info:
                await rest.get_json("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert info.value.status is None
    message = str(info.value)
    assert message.startswith(f"GET {refused_url}/api/v3/depth failed after 3 attempts: connection failed (")
    assert "Connection refused" in message


# --------------------------------------------------------------------------- secrets

SECRET_SIGNATURE = "f3a9c1d2e4b5a6978877665544332211sig"
SECRET_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET_LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
SECRETS = (SECRET_SIGNATURE, SECRET_API_KEY, SECRET_LISTEN_KEY)


def _texts_of(err: BaseException) -> list[str]:
    import traceback
    texts = ["".join(traceback.format_exception(err))]
    seen: set[int] = set()
    node: BaseException | None = err
    while node is not None and id(node) not in seen:  # bounded: each exception visited once
        seen.add(id(node))
        texts += [str(node), repr(node), repr(node.args)]
        texts += [repr(v) for v in vars(node).values()] if hasattr(node, "__dict__") else []
        node = node.__cause__ or node.__context__
    return texts


def _assert_no_secret(texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret leaked in: {text[:300]}"
            assert secret[:12] not in text, f"part of a secret leaked in: {text[:300]}"


SCENARIOS = ["echo-400", "echo-500-retried", "echo-invalid-json", "timeout", "refused", "query-in-path"]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_secrets_never_in_messages_reprs_causes_or_logs(exchange: FakeExchange, refused_url: str,
                                                              scenario: str, caplog: pytest.LogCaptureFixture):
    caplog.set_level("DEBUG")
    base, path, params = exchange.base_url, "/echo-error/400", {"symbol": "BTCUSDT",
                                                              "listenKey": SECRET_LISTEN_KEY,
                                                              "signature": SECRET_SIGNATURE}
    options: dict = {"retries": 0}
    if scenario == "echo-500-retried":
        path, options = "/echo-error/503", {"retries": 2, **FAST}
    elif scenario == "echo-invalid-json":
        path = "/echo-error/200"  # a 200 whose text body (echoing the query) is not JSON
    elif scenario == "timeout":
        path, options = "/slow", {"retries": 1, "timeout": 0.2, **FAST}
    elif scenario == "refused":
        base, options = refused_url, {"retries": 1, **FAST}
    elif scenario == "query-in-path":
        path, params = f"/echo-error/400?listenKey={SECRET_LISTEN_KEY}&signature={SECRET_SIGNATURE}", None
    async with asyncio.timeout(10):
        rest = RestClient(base, headers={"X-MBX-APIKEY": SECRET_API_KEY}, **options)
        try:
            with pytest.raises(RestError) as info:
                await rest.get_json(path, params, {"X-Signature": SECRET_SIGNATURE})
            _assert_no_secret(_texts_of(info.value) + [repr(rest)])
            # Raised clean: no aiohttp exception (whose text may hold the full URL) rides along.
            assert info.value.__cause__ is None and info.value.__context__ is None
        finally:
            await rest.close()
    if scenario.startswith("echo"):
        # The server really did echo the secrets back, so the redaction was tested, not bypassed.
        assert "rejected GET" in str(info.value) and "***" in str(info.value)
    _assert_no_secret([record.getMessage() for record in caplog.records] + [caplog.text])


async def test_secret_in_base_url_credentials_not_shown():
    rest = RestClient(f"https://user:{SECRET_API_KEY}@api.example.com/api/v4")
    assert rest.base_url == "https://api.example.com/api/v4"
    _assert_no_secret([repr(rest), rest.base_url])
    await rest.close()


# --------------------------------------------------------------------------- concurrency and rate

async def test_50_snapshots_concurrently_respect_max_concurrency(exchange: FakeExchange):
    symbols = [f"SYM{i:02d}USDT" for i in range(50)]
    exchange.gate_size = 4
    # An injected session with a connector limit far above 4: only the client's semaphore bounds it.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        rest = RestClient(exchange.base_url, max_concurrency=4, session=session,
                          rate_limit=RateLimit(rate=1000.0, burst=50))
        async with asyncio.timeout(30):
            books = await asyncio.gather(*(rest.get_json("/gated/depth", {"symbol": s}) for s in symbols))
        await rest.close()
        assert not session.closed  # the caller owns an injected session
    assert exchange.max_in_flight == 4
    assert exchange.hits["gated"] == 50
    for symbol, book in zip(symbols, books):
        assert book == json.loads(exchange.sent[symbol])


@pytest.mark.parametrize(("count", "weight", "rate", "burst"), [(15, 1, 25.0, 5), (8, 2, 40.0, 4)])
async def test_rate_limit_spaces_requests(exchange: FakeExchange, count: int, weight: int, rate: float,
                                          burst: int):
    rest = RestClient(exchange.base_url, max_concurrency=16, rate_limit=RateLimit(rate=rate, burst=burst))
    try:
        async with asyncio.timeout(20):
            started = time.monotonic()
            await asyncio.gather(*(rest.get_json("/depth", {"symbol": f"S{i}"}, weight=weight)
                                   for i in range(count)))
    finally:
        await rest.close()
    assert exchange.hits["depth"] == count
    # The bucket grants count*weight tokens no earlier than (count*weight - burst) / rate after the start.
    # A generous lower bound only: never an upper bound.
    minimum = (count * weight - burst) / rate
    assert max(exchange.arrivals["depth"]) - started >= 0.9 * minimum


async def test_cancelled_request_frees_its_slot(exchange: FakeExchange):
    async with asyncio.timeout(10):
        async with RestClient(exchange.base_url, max_concurrency=1) as rest:
            stuck = asyncio.create_task(rest.get_json("/slow"))
            while exchange.hits["slow"] == 0:  # bounded by the asyncio.timeout above
                await asyncio.sleep(0.005)
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):  # cancellation is not turned into a RestError
                await stuck
            assert (await rest.get_json("/echo"))["method"] == "GET"


# --------------------------------------------------------------------------- life cycle

async def test_close_closes_the_session_without_warnings(exchange: FakeExchange):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with asyncio.timeout(10):
            rest = RestClient(exchange.base_url)
            assert rest.session is None  # created lazily
            await rest.get_json("/echo")
            await rest.get_json("/echo")
            session = rest.session
            assert session is not None and not session.closed
            await rest.close()
            await rest.close()  # idempotent
            assert session.closed and rest.session is None and rest.closed
            async with RestClient(exchange.base_url) as scoped:
                await scoped.get_json("/echo")
                scoped_session = scoped.session
            assert scoped_session is not None and scoped_session.closed
        del rest, scoped, session, scoped_session
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]
    assert exchange.hits["echo"] == 3


async def test_the_unclosed_warning_check_can_fail():
    # The control for the test above: an unclosed session is reported in the way it looks for.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = aiohttp.ClientSession()
        del session
        gc.collect()
    assert [w for w in caught if "Unclosed client session" in str(w.message)]


async def test_closed_client_refuses_requests(exchange: FakeExchange):
    rest = RestClient(exchange.base_url)
    await rest.close()
    async with asyncio.timeout(10):
        with pytest.raises(RestError, match="client is closed"):
            await rest.get_json("/echo")
        with pytest.raises(RestError, match="closed"):
            async with rest:
                pass
    assert exchange.hits["echo"] == 0
    assert rest.session is None


# --------------------------------------------------------------------------- configuration, parsing

@pytest.mark.parametrize("kwargs", [
    {"base_url": "ftp://example.com"}, {"base_url": "/api/v3"}, {"base_url": "https://x.com/?a=1"},
    {"timeout": 0}, {"timeout": float("nan")}, {"max_concurrency": 0}, {"max_concurrency": 2.5},
    {"retries": -1}, {"backoff": (0.5, 0.1)}, {"backoff": (0, 1)}, {"backoff": 1.0},
    {"rate_limit": 5}, {"max_body_bytes": 0}, {"max_retry_after": -1}, {"session": object()},
])
def test_invalid_configuration_is_refused(kwargs: dict):
    args = {"base_url": "https://api.binance.com", **kwargs}
    with pytest.raises(ConfigurationError):
        RestClient(args.pop("base_url"), **args)


def test_retry_after_parsing():
    assert _retry_after_seconds("2") == 2.0
    assert _retry_after_seconds(" 1.5 ") == 1.5
    assert _retry_after_seconds("-3") == 0.0
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("soon") is None
    assert _retry_after_seconds("inf") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)  # HTTP-date, whole seconds
    assert _retry_after_seconds(date, now=now) == 42.0
    assert _retry_after_seconds(email.utils.formatdate(now - 42, usegmt=True), now=now) == 0.0
