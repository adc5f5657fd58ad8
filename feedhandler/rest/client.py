"""Async JSON REST client for order-book snapshots and signed endpoints (listen keys).

One shared ``aiohttp.ClientSession`` per client, a concurrency cap (semaphore), an optional token-bucket
rate limit, and retries with capped exponential backoff and jitter on transient failures (connection
errors, timeouts, HTTP 429/418/5xx, honouring ``Retry-After``). Bodies are decoded with
``msgspec.json.decode``.

Secrets: query strings and headers carry API keys, signatures and listen keys. They never appear in error
messages, reprs or log records: messages name the method and ``base_url + path`` without the query, errors
are raised without the aiohttp exception attached (its text holds the full URL), and any echo of a
parameter or header value in a response body quoted in a message is replaced by ``***``.
"""
from __future__ import annotations

import asyncio
import email.utils
import errno as errno_module
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence, Union
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

import aiohttp
import msgspec
from yarl import URL

from feedhandler.core.errors import ConfigurationError, RestError
from feedhandler.rest.ratelimit import RateLimit

__all__ = ["RestClient", "Params"]

log = logging.getLogger(__name__)

#: Query parameters: a mapping or a sequence of pairs (encoded with ``urllib.parse.urlencode`` in the given
#: order), or a pre-encoded query string sent verbatim (what a signature was computed over).
Params = Union[Mapping[str, Any], Sequence[tuple[str, Any]], str, None]

_SNIPPET_CHARS = 200          # body characters quoted in an error message
_SNIPPET_WINDOW_BYTES = 64 * 1024  # body bytes scanned for secrets before the snippet is cut
_MIN_SECRET_CHARS = 6         # shorter values (limit=100, side=BUY) are not worth redacting
_REDACTED = "***"


def _is_retryable_status(status: int) -> bool:
    # 429: rate limited; 418: Binance's IP ban after ignoring 429s; 5xx: server trouble.
    return status == 429 or status == 418 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date. ``None`` when absent or unusable.

    Shared with the transports (a refused WebSocket upgrade carries the same header).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


_retry_after_seconds = parse_retry_after


def _text_param(value: Any) -> str:
    # Exchanges expect lowercase booleans (Gate.io ``with_id=true``); str() would give "True".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode_query(params: Params) -> str:
    if params is None:
        return ""
    if isinstance(params, str):
        return params.lstrip("?")
    items: Iterable[tuple[str, Any]] = params.items() if isinstance(params, Mapping) else params
    return urlencode([(str(k), _text_param(v)) for k, v in items if v is not None])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


def _describe_transport_error(exc: BaseException) -> str:
    """A short description of a transport failure that holds no URL (aiohttp's texts include the query)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    name = type(exc).__name__
    os_error = getattr(exc, "os_error", None)
    code = getattr(os_error if os_error is not None else exc, "errno", None)
    if isinstance(code, int) and code in errno_module.errorcode:
        return f"{name}: {os.strerror(code)}"
    return name


@dataclass(slots=True)
class _Attempt:
    """The outcome of one HTTP attempt: a response, or a transport error described without secrets."""
    status: int | None = None
    body: bytes = b""
    retry_after: float | None = None
    error: str | None = None
    retryable: bool = False


class _BodyTooLarge(Exception):
    pass


class RestClient:
    """Async JSON REST client with one shared session, a concurrency cap, a rate limit and retries.

    Parameters
    ----------
    base_url : str
        Scheme and host, optionally with a path prefix: ``"https://api.binance.com"`` or
        ``"https://api.gateio.ws/api/v4"``. Request paths are appended to it.
    timeout : float, default 10.0
        Total seconds per attempt (connect, send, headers and body), as an ``aiohttp.ClientTimeout``.
    max_concurrency : int, default 8
        Requests in flight at once; further calls wait their turn (FIFO).
    rate_limit : RateLimit or None, default None
        Token bucket charged ``weight`` tokens per attempt, right before it is sent. Share one instance
        between clients that draw on the same exchange budget.
    retries : int, default 3
        Extra attempts after the first on transient failures: connection errors, timeouts, truncated
        bodies and HTTP 429, 418 and 5xx. Other statuses (4xx, 3xx) fail at once. All methods are retried;
        pass ``retries=0`` for a request that must not be sent twice.
    backoff : (float, float), default (0.1, 2.0)
        ``(base, cap)`` seconds. Before retry ``n`` (0-based) the client sleeps a random time in
        ``[d/2, d]`` with ``d = min(cap, base * 2**n)`` (jitter spreads retries of many callers).
    headers : mapping or None
        Headers sent with every request (for example ``{"X-MBX-APIKEY": key}``); per-call headers
        override them. Never shown in reprs, messages or logs.
    session : aiohttp.ClientSession or None
        A session to use instead of creating one. The caller owns it: ``close()`` leaves it open.
    max_retry_after : float, default 30.0
        Cap on a server's ``Retry-After`` (Binance sends long ones with a 418 IP ban); longer waits are
        cut to this, and the request then fails if the server still refuses.
    max_body_bytes : int, default 64 MiB
        Larger response bodies fail the request instead of exhausting memory.

    Notes
    -----
    The session is created lazily inside the running event loop (on the first request or on
    ``async with``), and the client is then tied to that loop. A 429/418 with ``Retry-After`` pauses every
    request of this client, not only the one that got it, since exchanges count the budget per IP or key.
    Redirects are not followed (a 3xx is an error), so credentials in headers never go to another host.

    Examples
    --------
    >>> async with RestClient("https://api.binance.com", rate_limit=RateLimit(20, 100)) as rest:  # doctest: +SKIP
    ...     book = await rest.get_json("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000}, weight=50)
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_concurrency: int = 8,
        rate_limit: RateLimit | None = None,
        retries: int = 3,
        backoff: tuple[float, float] = (0.1, 2.0),
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        max_retry_after: float = 30.0,
        max_body_bytes: int = 64 * 1024 * 1024,
    ):
        try:
            url = URL(base_url)
        except (TypeError, ValueError):
            raise ConfigurationError("RestClient base_url must be an absolute http(s) URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError(
                "RestClient base_url must be an absolute http(s) URL such as 'https://api.binance.com', "
                f"got scheme {url.scheme!r}")
        if url.query_string or url.fragment:
            raise ConfigurationError("RestClient base_url must not carry a query or fragment; pass params")
        if not _positive(timeout):
            raise _invalid("timeout", "a finite number of seconds > 0", timeout)
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise _invalid("max_concurrency", "an int >= 1", max_concurrency)
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise _invalid("rate_limit", "a RateLimit or None", type(rate_limit).__name__)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise _invalid("retries", "an int >= 0", retries)
        try:
            base_delay, cap_delay = backoff
        except (TypeError, ValueError):
            raise _invalid("backoff", "a (base, cap) pair of seconds", backoff) from None
        if not (_positive(base_delay) and _positive(cap_delay) and cap_delay >= base_delay):
            raise _invalid("backoff", "(base, cap) with 0 < base <= cap", backoff)
        if not (_positive(max_retry_after) or max_retry_after == 0):
            raise _invalid("max_retry_after", "a finite number of seconds >= 0", max_retry_after)
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise _invalid("max_body_bytes", "an int >= 1", max_body_bytes)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise _invalid("session", "an aiohttp.ClientSession or None", type(session).__name__)

        self._base = str(url).rstrip("/")
        # What messages and reprs show: no user:password.
        self._display_base = str(url.with_user(None)).rstrip("/")
        self._base_secrets = [s for s in (url.user, url.password) if s and len(s) >= _MIN_SECRET_CHARS]
        self._timeout_seconds = float(timeout)
        self._timeout = aiohttp.ClientTimeout(total=float(timeout))
        self._max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._rate_limit = rate_limit
        self._retries = retries
        self._backoff = (float(base_delay), float(cap_delay))
        self._headers: dict[str, str] = {str(k): str(v) for k, v in (headers or {}).items()}
        self._session = session
        self._owns_session = session is None
        self._max_retry_after = float(max_retry_after)
        self._max_body = max_body_bytes
        self._closed = False
        self._paused_until = 0.0  # monotonic time before which no request is sent (after 429/418)

    # ------------------------------------------------------------------ life cycle

    @property
    def base_url(self) -> str:
        """The base URL (without any user:password part)."""
        return self._display_base

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use, or ``None`` before the first request and after ``close()``."""
        return self._session

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # The connector limit matches the semaphore so idle keep-alive connections stay bounded too.
            connector = aiohttp.TCPConnector(limit=self._max_concurrency, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if this client created it. Idempotent; the client cannot be used afterwards."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def __aenter__(self) -> RestClient:
        if self._closed:
            raise RestError(f"RestClient for {self._display_base} is closed")
        self._get_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (f"RestClient({self._display_base!r}, timeout={self._timeout_seconds:g}, "
                f"max_concurrency={self._max_concurrency}, rate_limit={self._rate_limit!r}, "
                f"retries={self._retries}, closed={self._closed})")

    # ------------------------------------------------------------------ requests

    async def get_json(self, path: str, params: Params = None, headers: Mapping[str, str] | None = None,
                       *, weight: float = 1) -> Any:
        """``GET base_url + path`` and return the decoded JSON body.

        Parameters
        ----------
        path : str
            Appended to ``base_url`` (``"/api/v3/depth"``). A query written into it (``"/depth?a=1"``) is
            sent first, before ``params``.
        params : mapping, sequence of pairs, str or None
            Query parameters. A mapping or pairs are encoded with ``urllib.parse.urlencode`` in their order
            (booleans as ``true``/``false``, ``None`` values skipped), so a signature computed over
            ``urlencode(params)`` matches; a str is sent verbatim as the query string.
        headers : mapping or None
            Extra headers for this request (override the client's).
        weight : float, default 1
            Tokens charged to the rate limit per attempt (the exchange's request weight).

        Returns
        -------
        Any
            The decoded JSON (dicts, lists, str, int of any size, float, bool, None); ``None`` for an empty
            body.

        Raises
        ------
        RestError
            On a non-2xx status (after retries when transient), a timeout, a connection failure, an invalid
            JSON body or a closed client. ``status`` is the HTTP status, or ``None`` when no response came.
        """
        return await self.request_json("GET", path, params, headers, weight=weight)

    async def get_bytes(self, path: str, params: Params = None, headers: Mapping[str, str] | None = None,
                        *, weight: float = 1) -> bytes:
        """``GET`` exactly as :meth:`get_json` (retries, rate limit, body cap, errors) but return the raw body.

        For callers that decode the body themselves without building Python objects (the compiled depth
        snapshot decoder, ``feedhandler.sync.snapshot``).
        """
        return await self.request_json("GET", path, params, headers, weight=weight, _raw=True)

    async def request_json(self, method: str, path: str, params: Params = None,
                           headers: Mapping[str, str] | None = None, body: Any = None, *,
                           weight: float = 1, _raw: bool = False) -> Any:
        """Send ``method base_url + path`` and return the decoded JSON body.

        Parameters
        ----------
        method : str
            HTTP method (``"GET"``, ``"POST"``, ``"PUT"``, ``"DELETE"``...).
        path, params, headers, weight
            As for :meth:`get_json`.
        body : bytes, str, mapping, list or None
            Request body. bytes and str are sent verbatim (what a signature was computed over); a mapping or
            list is JSON-encoded with ``Content-Type: application/json``.

        Returns
        -------
        Any
            The decoded JSON body; ``None`` for an empty body.

        Raises
        ------
        RestError
            As for :meth:`get_json`.
        """
        method = str(method).upper()
        query = _encode_query(params)
        path, _, path_query = path.partition("?")
        path = path.partition("#")[0]
        if path_query:  # a query written into the path ("/depth?symbol=X") goes first, verbatim
            path_query = path_query.partition("#")[0]
            query = path_query + "&" + query if query else path_query
        target = self._base + "/" + path.lstrip("/") if path else self._base
        display = self._display_url(target)
        call_headers = dict(self._headers)
        if headers:
            call_headers.update({str(k): str(v) for k, v in headers.items()})
        data, content_type = _encode_body(body)
        if content_type is not None and not any(k.lower() == "content-type" for k in call_headers):
            call_headers["Content-Type"] = content_type
        secrets = self._secrets(query, call_headers)
        url = URL(target + ("?" + query if query else ""), encoded=True)

        attempts = self._retries + 1
        status: int | None = None
        reason = ""
        for attempt in range(attempts):
            if self._closed:
                reason = "client is closed"
                status = None
                break
            outcome = await self._attempt(method, url, call_headers, data, weight)
            status = outcome.status
            retry_after = None
            if outcome.error is not None:
                reason = outcome.error
                if not outcome.retryable:
                    break
            elif 200 <= outcome.status < 300:  # type: ignore[operator]
                return outcome.body if _raw else self._decode(method, display, outcome, secrets)
            else:
                reason = f"HTTP {outcome.status}: {self._snippet(outcome.body, secrets)}"
                if not _is_retryable_status(outcome.status):  # type: ignore[arg-type]
                    break
                if outcome.retry_after is not None:
                    retry_after = min(outcome.retry_after, self._max_retry_after)
                    if outcome.status in (429, 418):
                        # The budget is the exchange's, shared by every request: pause them all.
                        self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
            if attempt + 1 == attempts:
                break
            delay = self._backoff_delay(attempt)
            if retry_after is not None:
                delay = max(delay, retry_after)
            log_level = logging.WARNING if status in (429, 418) else logging.DEBUG
            log.log(log_level, "%s %s attempt %d/%d failed (%s); retrying in %.2f s",
                    method, display, attempt + 1, attempts, reason, delay)
            await asyncio.sleep(delay)

        tries = f" after {attempt + 1} attempts" if attempt > 0 else ""
        # Raised here, outside any ``except`` block, so neither __cause__ nor __context__ carries an
        # aiohttp exception (whose text holds the full URL with the query).
        raise RestError(f"{method} {display} failed{tries}: {reason}", status)

    # ------------------------------------------------------------------ internals

    async def _wait_if_paused(self) -> None:
        # A loop, not one sleep: another request may extend the pause while this one waits.
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    def _backoff_delay(self, retry_index: int) -> float:
        base, cap = self._backoff
        delay = min(cap, base * (2.0 ** min(retry_index, 60)))
        return random.uniform(delay / 2.0, delay)

    async def _attempt(self, method: str, url: URL, headers: Mapping[str, str], data: bytes | None,
                       weight: float) -> _Attempt:
        """One HTTP exchange. Transport errors become an ``_Attempt`` here, so no exception (and no URL
        inside one) travels further."""
        async with self._semaphore:
            # Tokens are taken after the concurrency slot, right before sending, so the server sees
            # requests spaced by the limiter (a request waiting for a slot does not hold tokens).
            if self._rate_limit is not None:
                await self._wait_if_paused()  # no tokens spent while the exchange asked us to wait
                await self._rate_limit.acquire(weight)
            await self._wait_if_paused()
            if self._closed:
                return _Attempt(error="client is closed")
            session = self._get_session()
            try:
                async with session.request(method, url, headers=headers, data=data, timeout=self._timeout,
                                           allow_redirects=False, raise_for_status=False) as response:
                    status = response.status
                    body = await self._read_body(response)
                    return _Attempt(status=status, body=body,
                                    retry_after=_retry_after_seconds(response.headers.get("Retry-After")))
            except TimeoutError:  # aiohttp's timeout errors subclass TimeoutError
                return _Attempt(error=f"timed out after {self._timeout_seconds:g} s", retryable=True)
            except _BodyTooLarge:
                return _Attempt(status=status, error=f"HTTP {status}: response body larger than "
                                f"{self._max_body} bytes", retryable=False)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                return _Attempt(error=f"connection failed ({_describe_transport_error(exc)})", retryable=True)
            except (aiohttp.ClientError, ValueError) as exc:
                # InvalidURL, bad header values...: their texts may quote the URL or a header, so only
                # the type is kept.
                return _Attempt(error=f"request failed ({_describe_transport_error(exc)})", retryable=False)
            except RuntimeError:
                if self._closed or session.closed:  # closed under an in-flight request
                    return _Attempt(error="client is closed")
                raise

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._max_body
        if response.content_length is not None and response.content_length > limit:
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        # Read in chunks to enforce the cap even without (or despite compression of) Content-Length.
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, method: str, display: str, outcome: _Attempt, secrets: Sequence[str]) -> Any:
        body = outcome.body
        if not body.strip():
            return None
        try:
            return msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            problem = str(exc)  # msgspec names the position only, never the input
        raise RestError(f"{method} {display} failed: HTTP {outcome.status} with invalid JSON body ({problem}): "
                        f"{self._snippet(body, secrets)}", outcome.status)

    def _display_url(self, target: str) -> str:
        # ``target`` is base + path, the query already split off.
        return self._display_base + target[len(self._base):]

    def _secrets(self, query: str, headers: Mapping[str, str]) -> list[str]:
        """Every string that must not appear in a message: parameter and header values (raw and
        URL-encoded, since servers echo the query), the whole query, and base-URL credentials."""
        values = set(self._base_secrets)
        if query:
            values.add(query)
            values.update(v for _, v in parse_qsl(query, keep_blank_values=True))
            values.update(v for part in query.split("&") for v in part.split("=", 1)[1:])
        values.update(headers.values())
        encoded = set()
        for value in values:
            encoded.add(quote(value, safe=""))
            encoded.add(quote_plus(value, safe=""))
        values |= encoded
        # Longest first, so a value is cut whole before a shorter value that it contains.
        return sorted((v for v in values if len(v) >= _MIN_SECRET_CHARS), key=len, reverse=True)

    @staticmethod
    def _snippet(body: bytes, secrets: Sequence[str]) -> str:
        # Redact before collapsing whitespace and cutting to 200 characters, over a window much longer
        # than the snippet, so that a secret is replaced whole; then mask a secret's prefix left at the
        # very end (possible only when the window cut a secret and collapsing pulled it forward).
        text = body[:_SNIPPET_WINDOW_BYTES].decode("utf-8", errors="replace")
        text = _one_line(_redact(text, secrets))[:_SNIPPET_CHARS]
        for secret in secrets:
            for size in range(min(len(secret) - 1, len(text)), 3, -1):
                if text.endswith(secret[:size]):
                    text = text[:-size] + _REDACTED
                    break
        return text or "(empty body)"


def _invalid(name: str, requirement: str, value: Any) -> ConfigurationError:
    return ConfigurationError(f"RestClient {name} must be {requirement}, got {value!r}")


def _positive(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            and value > 0)


def _encode_body(body: Any) -> tuple[bytes | None, str | None]:
    if body is None:
        return None, None
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), None
    if isinstance(body, str):
        return body.encode("utf-8"), None
    if isinstance(body, (Mapping, list, tuple)):
        return msgspec.json.encode(body), "application/json"
    raise TypeError(f"request body must be bytes, str, a mapping or a list, got {type(body).__name__}")
