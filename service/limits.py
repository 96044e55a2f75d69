"""Request limits that must hold before any route runs: body size, client IPs, per-client buckets.

* `BodySizeLimit` (pure ASGI, nothing buffered): a request whose Content-Length exceeds
  MAX_REQUEST_BYTES is answered 413 at once, unread; a chunked body is counted while the app reads
  it and stopped with 413 as soon as it passes the cap.
* `client_ip`: the address rate limits and throttles key on. X-Forwarded-For is believed only when
  the direct peer is one of TRUSTED_PROXIES, and then only up to the first address that is not one.
* `ConfiguredNetworks`: TRUSTED_PROXIES and METRICS_ALLOW_FROM, parsed once at startup.
* `ClientBuckets`: one token bucket per client IP, bounded in memory.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govsearch.settings import Settings
from service.errors import error_body

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RequestTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the cap. An HTTPException, so FastAPI's body
    parsing lets it through and the app's handler renders it as the one JSON error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


def too_large_response(limit: int) -> JSONResponse:
    return JSONResponse(error_body("too_large", f"the request body is larger than the limit of {limit} bytes"),
                        status_code=413, headers={"Connection": "close"})


class BodySizeLimit:
    """Refuse request bodies over `max_bytes`: from Content-Length before reading, or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await JSONResponse(error_body("bad_request", "Content-Length is not a valid length"),
                                   status_code=400, headers={"Connection": "close"})(scope, receive, send)
                return
            if length > self.max_bytes:
                await too_large_response(self.max_bytes)(scope, receive, send)
                return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except RequestTooLarge:
            # Normally the app's HTTPException handler has answered already; this covers apps that did not.
            if started:
                raise
            await too_large_response(self.max_bytes)(scope, receive, send)


# ---- client addresses -------------------------------------------------------------------------------


def parse_networks(values: Iterable[str], *, setting: str = "TRUSTED_PROXIES") -> tuple[Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{setting}: {value!r} is not an IP address or CIDR network") from exc
    return tuple(networks)


def in_networks(address: str, networks: tuple[Network, ...]) -> bool:
    """True when `address` is an IP address inside one of `networks` (anything unparsable is not)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


@dataclass(frozen=True)
class ConfiguredNetworks:
    """The address settings, parsed once when the app is created (a bad value stops the start, naming
    its setting): TRUSTED_PROXIES for `client_ip`, METRICS_ALLOW_FROM for /metrics."""

    trusted_proxies: tuple[Network, ...]
    metrics_allow_from: tuple[Network, ...]

    @classmethod
    def parse(cls, settings: Settings) -> ConfiguredNetworks:
        return cls(trusted_proxies=parse_networks(settings.trusted_proxies),
                   metrics_allow_from=parse_networks(settings.metrics_allow_from, setting="METRICS_ALLOW_FROM"))


def client_ip(scope: Scope, proxies: tuple[Network, ...]) -> str:
    """The client's address: the direct peer, unless that is a trusted proxy; then the right-most
    X-Forwarded-For entry that is not a trusted proxy (entries further left could be forged)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not proxies or not in_networks(peer, proxies):
        return peer
    forwarded = ",".join(Headers(scope=scope).getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not in_networks(hop, proxies):
            return hop
    return hops[0] if hops else peer


# ---- per-client token buckets -----------------------------------------------------------------------


class ClientBuckets:
    """A token bucket per client (`capacity` at once, refilled at `rate_per_minute`), for at most
    `max_clients` clients: the least recently seen are forgotten first (a forgotten client starts full)."""

    def __init__(self, rate_per_minute: float, capacity: float, *, max_clients: int = 50_000,
                 clock: Any = None) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(capacity)
        self.max_clients = max_clients
        self.clock = clock or time.monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, updated)
        self._lock = threading.Lock()

    def _level(self, client: str, now: float) -> float:
        tokens, updated = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - updated) * self.rate)

    def take(self, client: str) -> tuple[bool, float]:
        """(allowed, tokens left when allowed / seconds until the next token when refused)."""
        with self._lock:
            now = self.clock()
            tokens = self._level(client, now)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._store(client, tokens, now)
            if allowed:
                return True, tokens
            return False, (1 - tokens) / self.rate if self.rate > 0 else 60.0

    def give_back(self, client: str) -> None:
        """Return the token a request took that the service could not answer (503): the client is not charged."""
        with self._lock:
            if client in self._buckets:
                now = self.clock()
                self._store(client, min(self.capacity, self._level(client, now) + 1), now)

    def blocked(self, client: str) -> float:
        """Seconds until `client` has a token again; 0 when it has one now (nothing is taken)."""
        with self._lock:
            if client not in self._buckets:
                return 0.0
            tokens = self._level(client, self.clock())
            if tokens >= 1:
                return 0.0
            return (1 - tokens) / self.rate if self.rate > 0 else 60.0

    def _store(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        self._buckets.move_to_end(client)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
