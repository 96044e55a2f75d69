"""GET /metrics: Prometheus text format, not public.

With METRICS_TOKEN set only `Authorization: Bearer <METRICS_TOKEN>` is served; without it only
clients whose address (as TRUSTED_PROXIES resolves it) is in METRICS_ALLOW_FROM, loopback by default
(both parsed once, when the app is created: `service.limits.ConfiguredNetworks`).
"""

from __future__ import annotations

import asyncio
import hmac
from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from service.deps import JobStoreDep, NetworksDep, RuntimeDep, SettingsDep
from service.errors import ApiError
from service.limits import client_ip, in_networks
from service.metrics import MetricsDep
from service.schemas import ErrorResponse

router = APIRouter(tags=["operations"])
REALM = 'Bearer realm="gov-search-metrics"'


def require_metrics_access(request: Request, settings: SettingsDep, networks: NetworksDep) -> None:
    """401/403 unless the caller holds METRICS_TOKEN or, with no token configured, is an allowed address."""
    if settings.metrics_token is not None:
        expected = settings.metrics_token.get_secret_value().encode("utf-8")
        scheme, _, presented = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "unauthenticated", "send `Authorization: Bearer <METRICS_TOKEN>`",
                           headers={"WWW-Authenticate": REALM})
        if not hmac.compare_digest(expected, presented.strip().encode("utf-8")):
            raise ApiError(403, "forbidden", "the metrics token is not valid", headers={"WWW-Authenticate": REALM})
        return
    ip = client_ip(request.scope, networks.trusted_proxies)
    if not in_networks(ip, networks.metrics_allow_from):
        raise ApiError(403, "forbidden", "/metrics is served only to METRICS_ALLOW_FROM addresses or with "
                       "METRICS_TOKEN")


@router.get("/metrics", dependencies=[Depends(require_metrics_access)], response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format."},
                       401: {"model": ErrorResponse, "description": "METRICS_TOKEN is set and was not sent."},
                       403: {"model": ErrorResponse, "description": "Wrong token, or an address not allowed."}})
async def metrics(metrics: MetricsDep, runtime: RuntimeDep, store: JobStoreDep, settings: SettingsDep) -> Response:
    """Request counts and latencies by route and mode, shed searches, query-cache hits, ES errors, job states."""
    metrics.runtime_state.runtime = runtime
    try:
        # Within a search's wait at most: the admin client waits minutes for a node that hangs, and a scrape
        # that times out loses the process's own metrics, which matter most then.
        jobs: list[dict[str, Any]] = await asyncio.wait_for(asyncio.to_thread(store.list, 100),
                                                            timeout=settings.es_request_timeout)
        metrics.runtime_state.job_states = dict(Counter(job["state"] for job in jobs))
    except Exception:  # Elasticsearch away or slow: the job states are left out of this scrape
        metrics.runtime_state.job_states = None
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
