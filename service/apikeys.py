"""Portal API keys: who is calling the public API, from which web origins, and how fast.

A key file (settings `API_KEYS_FILE`) looks like::

    {"keys": [{"key": "…", "name": "portal-a", "origins": ["https://a.gov.cn"], "rate_limit_per_minute": 600}]}

Keys are sent as the `X-API-Key` header, or the `api_key` query parameter for simple embeds. On the
public routes (/search, /suggest, /articles/…, /hot, /events/click):

* an unknown key → 401; a key used from a browser Origin that is not in its list → 403;
* each key has its own token bucket (in-process), so one noisy portal cannot starve the others:
  over its rate → 429 with `Retry-After`;
* without a key: allowed unless `REQUIRE_API_KEY` is true, and rate-limited per client IP
  (KEYLESS_RATE_LIMIT_PER_MINUTE, KEYLESS_BURST; the IP from `service.limits.client_ip`, so
  X-Forwarded-For counts only from TRUSTED_PROXIES): over it → 429 with `Retry-After`;
* our own pages never need a key: `/` and `/article.html` are served with a short-lived signed page
  token (cookie `gs_page`, HttpOnly, SameSite=Strict), and requests carrying a valid one pass when
  keys are required. Headers a client chooses (`Origin`, `Sec-Fetch-Site`, `Host`) exempt nothing:
  a script can fetch the page to get a token, but then it is a keyless client like any other,
  rate-limited by its address.

A key embedded in a portal's page is visible to anyone who reads that page: it identifies and
rate-limits a portal, it is not a secret. The origin check only binds browsers (other clients can
send any Origin header).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from govsearch.settings import web_origin
from service.errors import error_body
from service.limits import ClientBuckets, Network, client_ip, retry_after

log = logging.getLogger(__name__)

PROTECTED_PREFIXES = ("/search", "/suggest", "/articles/", "/hot", "/events/")
DEFAULT_RATE_PER_MINUTE = 600
HEADER = "x-api-key"
QUERY_PARAM = "api_key"
PAGE_COOKIE = "gs_page"


class KeyFileError(ValueError):
    """The keys file is missing or malformed: the API refuses to start rather than run unprotected."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _refunding_503(send: Send, give_back: Callable[[], None]) -> Send:
    """`send`, returning the caller's token when the answer is a 503 (shed, or Elasticsearch away): the
    service's own trouble is not charged to the portal's key or the client's address."""
    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] == 503:
            give_back()
        await send(message)

    return sending


def _origin_of(header: str) -> str | None:
    """The request's `Origin` header as a `web_origin`; None for one that is not (`null`, from a sandbox)."""
    try:
        return web_origin(header)
    except ValueError:
        return None


class TokenBucket:
    """`capacity` requests at once, refilled at `rate_per_minute`; thread-safe, monotonic clock."""

    def __init__(self, rate_per_minute: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(capacity if capacity is not None else rate_per_minute)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, float]:
        """(allowed, seconds until the next token when refused / tokens left when allowed)."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True, self.tokens
            return False, (1 - self.tokens) / self.rate if self.rate > 0 else 60.0

    def give_back(self) -> None:
        """Return the token a request took that the service could not answer (503): the key is not charged."""
        with self._lock:
            self.tokens = min(self.capacity, self.tokens + 1)


@dataclass
class ApiKey:
    name: str
    digest: str
    origins: frozenset[str]
    rate_limit_per_minute: int
    bucket: TokenBucket = field(repr=False)


@dataclass
class KeyRegistry:
    keys: dict[str, ApiKey] = field(default_factory=dict)  # sha256(key) -> ApiKey

    def lookup(self, presented: str) -> ApiKey | None:
        # Looked up by digest, so the comparison's timing says nothing about the stored keys.
        return self.keys.get(_digest(presented))

    @property
    def origins(self) -> list[str]:
        return sorted({origin for key in self.keys.values() for origin in key.origins})

    def __len__(self) -> int:
        return len(self.keys)


def parse(data: Any, *, source: str = "API keys") -> KeyRegistry:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeyFileError(f'{source}: expected {{"keys": [ ... ]}}')
    registry = KeyRegistry()
    names: set[str] = set()
    for index, entry in enumerate(data["keys"]):
        where = f"{source}: keys[{index}]"
        if not isinstance(entry, dict):
            raise KeyFileError(f"{where}: expected an object")
        key, name = entry.get("key"), entry.get("name")
        if not isinstance(key, str) or len(key.strip()) < 16:
            raise KeyFileError(f"{where}: 'key' must be a string of at least 16 characters")
        if not isinstance(name, str) or not name.strip():
            raise KeyFileError(f"{where}: 'name' is required")
        if name in names:
            raise KeyFileError(f"{where}: duplicate name {name!r}")
        origins = entry.get("origins", [])
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise KeyFileError(f"{where}: 'origins' must be a list of strings")
        try:
            allowed = frozenset(web_origin(origin) for origin in origins)
        except ValueError as exc:
            raise KeyFileError(f"{where}: {exc}") from None
        rate = entry.get("rate_limit_per_minute", DEFAULT_RATE_PER_MINUTE)
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            raise KeyFileError(f"{where}: 'rate_limit_per_minute' must be a positive integer")
        digest = _digest(key.strip())
        if digest in registry.keys:
            raise KeyFileError(f"{where}: the same key is listed twice")
        names.add(name)
        registry.keys[digest] = ApiKey(name=name, digest=digest,
                                       origins=allowed,
                                       rate_limit_per_minute=rate, bucket=TokenBucket(rate))
    return registry


def load(path: Path | None) -> KeyRegistry:
    """The registry from API_KEYS_FILE; empty when no file is configured."""
    if path is None or str(path) in ("", "."):  # API_KEYS_FILE= (empty) means no keys
        return KeyRegistry()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise KeyFileError(f"API_KEYS_FILE {path} does not exist") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"API_KEYS_FILE {path} cannot be read as JSON: {exc}") from exc
    registry = parse(data, source=f"API_KEYS_FILE {path}")
    log.info("loaded %d portal API key(s) from %s", len(registry), path)
    return registry


def cors_allowlist(configured: Iterable[str], registry: KeyRegistry) -> list[str]:
    """settings.cors_origins plus every key's origins (both already `web_origin`s), without duplicates, order kept."""
    return list(dict.fromkeys([*configured, *registry.origins]))


class PageTokens:
    """Signed, expiring tokens for our own pages: `v1.<expiry>.<hmac>`, nothing stored server-side."""

    def __init__(self, secret: bytes | None, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self.ttl = ttl_seconds
        self.clock = clock

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self.secret, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def issue(self) -> str:
        payload = f"v1.{int(self.clock()) + self.ttl}"
        return f"{payload}.{self._sign(payload)}"

    def remaining(self, token: str | None) -> float:
        """Seconds the token is still valid for; 0 when it is missing, forged or expired."""
        if not token or not token.isascii() or token.count(".") != 2:
            return 0.0
        payload, _, signature = token.rpartition(".")
        if not hmac.compare_digest(signature.encode("ascii"), self._sign(payload).encode("ascii")):
            return 0.0
        try:
            expires = int(payload.split(".")[1])
        except ValueError:
            return 0.0
        return max(0.0, expires - self.clock())

    def set_cookie(self, secure: bool = False) -> str:
        """A Set-Cookie value carrying a fresh token: only sent back to this site's own requests."""
        return (f"{PAGE_COOKIE}={self.issue()}; Max-Age={self.ttl}; Path=/; HttpOnly; SameSite=Strict"
                + ("; Secure" if secure else ""))


def _page_token(headers: Headers) -> str | None:
    return cookie_parser(headers.get("cookie", "")).get(PAGE_COOKIE)


def is_protected(path: str) -> bool:
    """A path the portal keys (and the keyless per-address limit) apply to."""
    return any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in PROTECTED_PREFIXES)


def _same_origin(headers: Headers) -> bool:
    """A browser request from a page of this host (a browser's Origin cannot be forged by the page).
    Used only to let a key be used from our own pages; it never replaces a key: other programs can
    send any Origin."""
    origin = headers.get("origin")
    host = headers.get("host", "").lower()
    return bool(origin) and bool(host) and urlsplit(origin).netloc.lower() == host


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


class ApiKeyMiddleware:
    """Pure ASGI middleware (no body buffering) guarding the public API routes."""

    def __init__(self, app: ASGIApp, registry: KeyRegistry, require_key: bool = False,
                 page_tokens: PageTokens | None = None, keyless_rate_per_minute: int = 0, keyless_burst: int = 60,
                 proxies: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.registry = registry
        self.require_key = require_key
        self.page_tokens = page_tokens or PageTokens(None, 3600)
        self.keyless_rate = keyless_rate_per_minute
        self.keyless = ClientBuckets(keyless_rate_per_minute, keyless_burst) if keyless_rate_per_minute > 0 else None
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or not is_protected(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        presented = headers.get(HEADER)
        if presented is None and scope.get("query_string"):
            values = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True).get(QUERY_PARAM)
            presented = values[0] if values else None
        if presented is None or not presented.strip():
            await self._keyless(scope, receive, send, headers)
            return

        key = self.registry.lookup(presented.strip())
        if key is None:
            await _error(401, "invalid_api_key", "the API key is not valid")(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin and not _same_origin(headers) and _origin_of(origin) not in key.origins:
            log.warning("API key %s used from origin %s, not in its list", key.name, origin)
            await _error(403, "origin_not_allowed",
                         f"this API key may not be used from origin {origin}")(scope, receive, send)
            return
        allowed, value = key.bucket.take()
        limit = str(key.rate_limit_per_minute)
        if not allowed:
            retry_after = str(max(1, math.ceil(value)))
            await _error(429, "rate_limited",
                         f"rate limit of {key.rate_limit_per_minute} requests per minute exceeded for this API "
                         f"key; retry in {retry_after} s",
                         {"Retry-After": retry_after, "X-RateLimit-Limit": limit,
                          "X-RateLimit-Remaining": "0"})(scope, receive, send)
            return
        scope.setdefault("state", {})["api_key"] = key.name
        remaining = str(int(value))

        send = _refunding_503(send, key.bucket.give_back)

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-ratelimit-limit", limit.encode()),
                                      (b"x-ratelimit-remaining", remaining.encode())]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _keyless(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        """No key: our own page's token, when keys are required; the per-IP bucket in any case."""
        page_left = self.page_tokens.remaining(_page_token(headers))
        if self.require_key and page_left <= 0:
            await _error(401, "api_key_required",
                         "an API key is required: send it as the X-API-Key header (or the api_key "
                         "query parameter)")(scope, receive, send)
            return
        if self.keyless is not None:
            ip = client_ip(scope, self.proxies)
            allowed, value = self.keyless.take(ip)
            send = _refunding_503(send, partial(self.keyless.give_back, ip))
            if not allowed:
                seconds = retry_after(value)
                log.info("keyless client %s over %d requests per minute", ip, self.keyless_rate)
                await _error(429, "rate_limited",
                             f"rate limit of {self.keyless_rate} requests per minute per client without an API "
                             f"key exceeded; retry in {seconds} s",
                             {"Retry-After": seconds, "X-RateLimit-Limit": str(self.keyless_rate),
                              "X-RateLimit-Remaining": "0"})(scope, receive, send)
                return
        if 0 < page_left < self.page_tokens.ttl / 2:
            # Renew the page's token as it is used, so a page left open keeps working.
            cookie = self.page_tokens.set_cookie(secure=scope.get("scheme") == "https").encode("latin-1")

            async def send_with_cookie(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send)
