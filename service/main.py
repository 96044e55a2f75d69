"""The FastAPI application: clients opened in the lifespan, thin routers, one error shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from govsearch.settings import Settings, get_settings
from service import apikeys, errors
from service.auth import audit_admin_calls
from service.routes import admin, articles, health, search, web
from service.runtime import Runtime

log = logging.getLogger("service")

API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings)
        app.state.runtime = runtime
        log.info("gov-search ready: Elasticsearch %s, alias %s, model %s",
                 settings.elasticsearch_url, settings.index_alias, settings.embedding_model)
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
    )
    errors.install(app)
    app.middleware("http")(audit_admin_calls)
    # Portal keys guard /search, /suggest, /articles; CORS is added after it so it wraps it and
    # 401/403/429 answers reach browsers with CORS headers (portals can read the error message).
    keys = apikeys.load(settings.api_keys_file)
    app.add_middleware(apikeys.ApiKeyMiddleware, registry=keys, require_key=settings.require_api_key)
    cors_origins = apikeys.cors_allowlist(settings.cors_origins, keys)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                           expose_headers=["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"], max_age=600)
    for router in (search.router, articles.router, health.router, admin.router, web.router):
        app.include_router(router)
    return app


app = create_app()
