"""Bearer-token authentication and the audit trail for /admin.

Tokens are compared in constant time; only a short fingerprint of the token
(its "token id") is ever logged or returned, never the token itself.

`check_admin` is the one check. `AdminGate` (pure ASGI, outside the routes) applies it to every
/admin request before its body is read, and throttles client IPs that keep failing; the routes'
`require_admin` dependency applies the same check again for apps built without the gate. The gate
also writes the audit line of every authenticated call, with its outcome and what the route noted of what it
changed (`note`: a rollback's indices, a rule list's versions and the words added or removed, …).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.deps import SettingsDep
from service.errors import ApiError, error_body
from service.limits import ClientBuckets, Network, client_ip, retry_after
from service.observability import ResponseStatus

audit = logging.getLogger("service.audit")

REALM = 'Bearer realm="gov-search-admin"'
MIN_TOKEN_CHARS = 16
ADMIN_PREFIX = "/admin"


class AdminTokenError(ValueError):
    """ADMIN_TOKEN holds a token too short to resist guessing: the API refuses to start."""


def validate_tokens(tokens: Sequence[str]) -> list[str]:
    """The configured tokens, or AdminTokenError naming how many are too short (never the tokens)."""
    short = [token for token in tokens if len(token) < MIN_TOKEN_CHARS]
    if short:
        raise AdminTokenError(f"ADMIN_TOKEN: {len(short)} of {len(tokens)} token(s) are shorter than "
                              f"{MIN_TOKEN_CHARS} characters; generate one with "
                              "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`")
    return list(tokens)


class InvalidToken(Exception):
    """The cause of a 403: carries the refused token's id for the audit log (never the token)."""

    def __init__(self, presented: str) -> None:
        super().__init__(token_id(presented))
        self.who = token_id(presented)


def _who(exc: ApiError) -> str | None:
    cause = exc.__cause__
    return cause.who if isinstance(cause, InvalidToken) else None


def token_id(token: str) -> str:
    return "tok-" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


def check_admin(authorization: str | None, tokens: Sequence[str]) -> str:
    """The caller's token id, or an ApiError (401/403) that says what is wrong."""
    if not tokens:
        raise ApiError(403, "admin_disabled", "admin endpoints are disabled: set ADMIN_TOKEN (comma-separated "
                       "bearer tokens) in the API's environment to enable them", headers={"WWW-Authenticate": REALM})
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "unauthenticated", "send `Authorization: Bearer <admin token>`",
                       headers={"WWW-Authenticate": REALM})
    presented = presented.strip()
    # Compare against every token so timing does not reveal which one (or whether any) was close.
    matched = False
    for candidate in tokens:
        matched |= hmac.compare_digest(candidate.encode("utf-8"), presented.encode("utf-8"))
    if not matched:
        raise ApiError(403, "forbidden", "the admin token is not valid",
                       headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'}) from InvalidToken(presented)
    return token_id(presented)


def require_admin(request: Request, settings: SettingsDep) -> str:
    """Dependency of every /admin route: the caller's token id (401/403 otherwise)."""
    try:
        who = check_admin(request.headers.get("authorization"), settings.admin_token)
    except ApiError as exc:
        _log(_who(exc), request.method, request.url.path, exc.status)
        raise
    request.state.admin = who
    return who


def _log(who: object, method: str, path: str, status: int) -> None:
    audit.warning("admin call refused who=%s what=%s %s outcome=%d", who or "-", method, path, status)


def is_admin_path(path: str) -> bool:
    """A path only the admin token opens."""
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


class AdminGate:
    """Pure ASGI: /admin requests without a valid bearer token are refused before their body is read;
    a client IP with `max_failures` failed attempts within `window_seconds` gets 429 for every admin
    request (a correct token included, so a blocked guesser learns nothing) until its budget refills."""

    def __init__(self, app: ASGIApp, tokens: Sequence[str], proxies: tuple[Network, ...] = (),
                 max_failures: int = 10, window_seconds: float = 300) -> None:
        self.app = app
        self.tokens = list(tokens)
        self.proxies = proxies
        self.failures = ClientBuckets(max_failures * 60.0 / window_seconds, max_failures)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_admin_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), scope.get("path", "")
        ip = client_ip(scope, self.proxies)
        wait = self.failures.blocked(ip)
        if wait > 0:
            seconds = retry_after(wait)
            _log(f"ip={ip}", method, path, 429)
            await JSONResponse(error_body("too_many_failures", "too many failed admin authentications from this "
                                          f"address; retry in {seconds} s"), status_code=429,
                               headers={"Retry-After": seconds})(scope, receive, send)
            return
        who: str | None
        try:
            who = check_admin(Headers(scope=scope).get("authorization"), self.tokens)
        except ApiError as exc:
            who = _who(exc)
            if exc.code != "admin_disabled":
                self.failures.take(ip)
            _log(who, method, path, exc.status)
            await JSONResponse(error_body(exc.code, exc.message, **exc.extra), status_code=exc.status,
                               headers=exc.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["admin"] = who
        response = ResponseStatus(send)
        try:
            await self.app(scope, receive, response)
        finally:
            # One audit line per authenticated admin call, with its outcome and what the route noted.
            noted = scope["state"].get(AUDIT_NOTE) or {}
            audit.info("admin call who=%s what=%s %s outcome=%d%s", who, method, path, response.status,
                       "".join(f" {key}={value}" for key, value in noted.items()))


AUDIT_NOTE = "audit_note"


def note(request: Request, **changed: object) -> None:
    """Add `changed` (name=value, values as short text) to the audit line of this admin call: what it changed,
    so that the trail tells what happened, not only that a PUT was made."""
    request.scope.setdefault("state", {}).setdefault(AUDIT_NOTE, {}).update(
        {key: _short(value) for key, value in changed.items()})


def _short(value: object, limit: int = 300) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit})"


AdminDep = Annotated[str, Depends(require_admin)]
"""The admin caller's token id; the request is refused (401/403) without a valid token."""
