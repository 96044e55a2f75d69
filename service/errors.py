"""One error shape for every failure: `{"error": {"code", "message"}}` with the right status.

Portals code against this; a stack trace or an HTML error page is never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from elastic_transport import ConnectionError as ESConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError as ESApiError
from elasticsearch import NotFoundError as ESNotFoundError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

if TYPE_CHECKING:
    from service.jobs import JobConflict

log = logging.getLogger(__name__)

TRANSIENT_ES_STATUSES = (429, 503)
"""Elasticsearch statuses that mean "not now" (recovering shards, full queues): answered 503, not 500."""


class ApiError(Exception):
    """An error meant for the client, with its status, a stable code and a readable message."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers
        self.extra = extra


NOT_IN_TIME = "the search backend did not answer in time; try again shortly"
"""A request timeout and the search deadline tell the client the same."""


class ServiceUnavailable(ApiError):
    """503 `unavailable`. `es_kind`: the Elasticsearch failure it stands for (`service.metrics.ES_ERROR_KINDS`'
    kinds: timeout, index_missing, api_error), counted like one the handlers below answer; None: not one."""

    def __init__(self, message: str, *, es_kind: str | None = None) -> None:
        super().__init__(503, "unavailable", message, headers={"Retry-After": "5"})
        self.es_kind = es_kind


class NotFound(ApiError):
    """404 for an id nothing has: `NotFound("article", article_id)`."""

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(404, "not_found", f"no {what} with id {ident!r}")


class Conflict(ApiError):
    """409: the request is valid but the current state forbids it (a job is running, ...)."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(409, code, message, **extra)


def job_running(conflict: JobConflict) -> Conflict:
    """409 `job_running` for a refused reindex lease: its holder (`job_id`), process and expiry."""
    return Conflict("job_running", conflict.message(), job_id=conflict.running_job_id,
                    lease_expires=conflict.lease_expires)


def invalid_parameter(name: str, message: str) -> ApiError:
    return ApiError(422, "invalid_parameter", f"{name}: {message}", parameter=name)


_SOURCES = ("query", "body", "path", "header", "cookie")


def parameter_name(location: Sequence[int | str]) -> str:
    """The parameter a validation error's location names, without the part of the request it came from:
    ("query", "size") → size, ("body", "rules", 1) → rules.1, ("body", "body") → body (an article's field
    named body), ("body",) → body (the whole body missing)."""
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in _SOURCES:
        parts = parts[1:]
    return ".".join(parts) or "request"


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if tuple(first.get("loc", ()))[:1] == ("body",) and media_type and media_type != "application/json" \
                and not media_type.endswith("+json"):
            # FastAPI reads such a body as bytes, and the model then says "Input should be a valid dictionary".
            return JSONResponse(error_body("unsupported_media_type",
                                           f"the body must be JSON (Content-Type: application/json), not {media_type}"),
                                status_code=415)
        if first.get("type") == "json_invalid":
            detail = first.get("ctx", {}).get("error") or first.get("msg", "")
            return JSONResponse(error_body("invalid_json", f"the body is not valid JSON: {detail}"), status_code=400)
        name = parameter_name(first.get("loc", ()))
        return JSONResponse(
            error_body("invalid_parameter", f"{name}: {first.get('msg', 'invalid value')}", parameter=name),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 400: FastAPI could not parse a JSON body at all (nested past the parser's depth, say): what `invalid_json`
        # names for a body that is not JSON.
        code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed",
                413: "too_large"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(ESConnectionError)
    async def _es_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("Elasticsearch unreachable: %s", exc)
        return JSONResponse(error_body("unavailable", "the search backend is unreachable; try again shortly"),
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(ConnectionTimeout)
    async def _es_slow(request: Request, exc: Exception) -> JSONResponse:
        log.warning("Elasticsearch did not answer within ES_REQUEST_TIMEOUT: %s", exc)
        return JSONResponse(error_body("unavailable", NOT_IN_TIME),
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(ESNotFoundError)
    async def _es_missing(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body("unavailable", "the search index is not built yet"), status_code=503,
                            headers={"Retry-After": "30"})

    @app.exception_handler(ESApiError)
    async def _es_error(request: Request, exc: Exception) -> JSONResponse:
        # 503 (shards still recovering after a restart) and 429 (queues full) pass: a 503 to the client.
        if isinstance(exc, ESApiError) and exc.meta.status in TRANSIENT_ES_STATUSES:
            log.warning("Elasticsearch not ready (%s): %s", exc.meta.status, exc.message)
            return JSONResponse(error_body("unavailable", "the search backend is not ready; try again shortly"),
                                status_code=503, headers={"Retry-After": "5"})
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "an internal error occurred; it has been logged"),
                            status_code=500)
