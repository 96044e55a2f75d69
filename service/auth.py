"""Bearer-token authentication and the audit trail for /admin.

Tokens are compared in constant time; only a short fingerprint of the token
(its "token id") is ever logged or returned, never the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated

from fastapi import Depends, Request

from service.deps import SettingsDep
from service.errors import ApiError

audit = logging.getLogger("service.audit")

REALM = 'Bearer realm="gov-search-admin"'


def token_id(token: str) -> str:
    return "tok-" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


def require_admin(request: Request, settings: SettingsDep) -> str:
    """The caller's token id, or a 401/403 that says what is wrong."""
    if not settings.admin_token:
        raise ApiError(403, "admin_disabled", "admin endpoints are disabled: set ADMIN_TOKEN (comma-separated "
                       "bearer tokens) in the API's environment to enable them", headers={"WWW-Authenticate": REALM})
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        _log(request, None, 401)
        raise ApiError(401, "unauthenticated", "send `Authorization: Bearer <admin token>`",
                       headers={"WWW-Authenticate": REALM})
    presented = presented.strip()
    # Compare against every token so timing does not reveal which one (or whether any) was close.
    matched = False
    for candidate in settings.admin_token:
        matched |= hmac.compare_digest(candidate.encode("utf-8"), presented.encode("utf-8"))
    if not matched:
        _log(request, token_id(presented), 403)
        raise ApiError(403, "forbidden", "the admin token is not valid",
                       headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    who = token_id(presented)
    request.state.admin = who
    return who


def _log(request: Request, who: str | None, status: int) -> None:
    audit.warning("admin call refused who=%s what=%s %s outcome=%d", who or "-", request.method,
                  request.url.path, status)


async def audit_admin_calls(request: Request, call_next):  # type: ignore[no-untyped-def]
    """Middleware: one audit line per authenticated admin call, with its outcome."""
    response = await call_next(request)
    who = getattr(request.state, "admin", None)
    if who is not None:
        audit.info("admin call who=%s what=%s %s outcome=%d", who, request.method, request.url.path,
                   response.status_code)
    return response


AdminDep = Annotated[str, Depends(require_admin)]
"""The admin caller's token id; the request is refused (401/403) without a valid token."""
