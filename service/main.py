"""The FastAPI application: clients opened in the lifespan, thin routers, one error shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response

from govsearch.settings import Settings, get_settings
from service import apikeys, errors, heap, logredact, params
from service.auth import AdminGate, validate_tokens
from service.limits import BodySizeLimit, ConfiguredNetworks
from service.metrics import Metrics, RequestMetrics, count_elasticsearch_errors
from service.observability import RequestContext, configure_logging
from service.openapi import document_credentials
from service.routes import admin, admin_search, analytics, articles, backups, docs, health, metrics, search, web
from service.runtime import Runtime

log = logging.getLogger("service")

API_VERSION = "1.0.0"


class JsonCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with refused preflights answered in the one JSON error shape (400)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else "refused"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
        return JSONResponse(errors.error_body("cors_rejected", f"CORS preflight refused: {reason}"),
                            status_code=400, headers=headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    admin_tokens = validate_tokens(settings.admin_token)  # refuses to start with a short token
    networks = ConfiguredNetworks.parse(settings)  # a bad address setting stops the start here
    proxies = networks.trusted_proxies
    logredact.install()
    configure_logging(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings)
        app.state.runtime = runtime
        if settings.gc_settle:
            heap.settle()
        log.info("gov-search ready: Elasticsearch %s, alias %s, model %s",
                 settings.elasticsearch_url_shown, settings.index_alias, settings.embedding_model)
        try:
            yield
        finally:
            await app.state.runtime.close()

    app = FastAPI(
        title="gov-search 政务搜索",
        version=API_VERSION,
        description="Hybrid (BM25 + dense vector) search over township government news. "
        "Every error is JSON `{\"error\": {\"code\", \"message\"}}`.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by service.routes.docs
        redoc_url=None,  # ReDoc exists only as a CDN script: off
        dependencies=[Depends(params.once_each)],  # ?q=a&q=b is a 422, not a search for b
    )
    errors.install(app)
    app.state.networks = networks
    app.state.metrics = Metrics()
    count_elasticsearch_errors(app, app.state.metrics)
    # Middleware added later wraps what was added before. From the outside in: the request id (so every log
    # line of the request carries it), request metrics (refusals counted too), CORS (so every answer,
    # errors included, reaches browsers with CORS headers), the body-size cap, the admin gate (no token,
    # no body read), then portal keys and keyless per-IP limits on /search, /suggest, /articles.
    keys = apikeys.load(settings.api_keys_file)
    secret = settings.page_token_secret.get_secret_value().encode("utf-8") if settings.page_token_secret else None
    page_tokens = apikeys.PageTokens(secret, settings.page_token_ttl_seconds)
    app.state.page_tokens = page_tokens
    app.add_middleware(apikeys.ApiKeyMiddleware, registry=keys, require_key=settings.require_api_key,
                       page_tokens=page_tokens, keyless_rate_per_minute=settings.keyless_rate_limit_per_minute,
                       keyless_burst=settings.keyless_burst, proxies=proxies)
    app.add_middleware(AdminGate, tokens=admin_tokens, proxies=proxies,
                       max_failures=settings.admin_auth_max_failures, window_seconds=settings.admin_auth_window_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    # Always installed: with no origin allowed, a preflight is refused in the JSON shape (not a 405).
    app.add_middleware(JsonCORSMiddleware, allow_origins=apikeys.cors_allowlist(settings.cors_origins, keys),
                       allow_methods=["GET"], allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                       expose_headers=["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-Request-ID"],
                       max_age=600)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(RequestContext)
    for router in (search.router, analytics.router, articles.router, health.router, admin.router,
                   admin_search.router, backups.router, metrics.router,
                   web.router, docs.router):
        app.include_router(router)
    document_credentials(app)
    return app


app = create_app()
