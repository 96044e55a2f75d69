"""What the OpenAPI document says about credentials, derived from the middlewares that check them.

The portal key (`service.apikeys`) and the admin token (`service.auth`) are checked by middleware, not by
FastAPI dependencies, so FastAPI cannot see them: this adds their security schemes, which operations take
which, and the answers they cause (401, 403, 429, with their Retry-After and rate headers), so a portal's
generated client knows them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from service import apikeys
from service.auth import is_admin_path
from service.schemas import RETRY_AFTER_HEADER

SCHEMES: dict[str, dict[str, Any]] = {
    "PortalKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                        "description": "A portal's API key (API_KEYS_FILE); optional unless REQUIRE_API_KEY."},
    "PortalKeyQuery": {"type": "apiKey", "in": "query", "name": apikeys.QUERY_PARAM,
                       "description": "The same key as a query parameter, for simple embeds."},
    "AdminToken": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN."},
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_COUNT = {"type": "integer", "minimum": 0}
RATE_HEADERS: dict[str, Any] = {
    "X-RateLimit-Limit": {"description": "Requests per minute allowed to this API key (or, on a 429 without a key, "
                          "to this address).", "schema": _COUNT},
    "X-RateLimit-Remaining": {"description": "Requests left in the key's bucket after this one.", "schema": _COUNT},
}
KEY_RESPONSES = {
    "401": {"description": "The API key is not valid, or REQUIRE_API_KEY and none was sent.", "content": _ERROR},
    "403": {"description": "The key is used from an origin it does not allow.", "content": _ERROR},
    "429": {"description": "Over the key's rate (or, without a key, the per-address rate); see Retry-After.",
            "content": _ERROR, "headers": {**RETRY_AFTER_HEADER, **RATE_HEADERS}},
}
ADMIN_RESPONSES = {
    "401": {"description": "No admin token.", "content": _ERROR},
    "403": {"description": "A wrong admin token.", "content": _ERROR},
    "429": {"description": "Too many failed admin logins from this address; see Retry-After.", "content": _ERROR,
            "headers": RETRY_AFTER_HEADER},
}


def document_credentials(app: FastAPI) -> None:
    """Make `app.openapi()` state the credentials of every operation (computed once, like FastAPI's own)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = SCHEMES
        security: list[dict[str, list[str]]]
        responses: dict[str, dict[str, Any]]
        for path, operations in schema.get("paths", {}).items():
            if is_admin_path(path):
                security, responses = [{"AdminToken": []}], ADMIN_RESPONSES
            elif apikeys.is_protected(path):
                security, responses = [{}, {"PortalKeyHeader": []}, {"PortalKeyQuery": []}], KEY_RESPONSES
            else:
                continue
            for operation in operations.values():
                operation["security"] = security
                for status, response in responses.items():
                    operation.setdefault("responses", {}).setdefault(status, response)
                if responses is KEY_RESPONSES:  # every answer to a request with a key carries its rate
                    for status, response in operation["responses"].items():
                        if status.startswith("2"):
                            response.setdefault("headers", {}).update(RATE_HEADERS)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
