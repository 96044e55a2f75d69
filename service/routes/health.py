"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import EsDep, SettingsDep
from service.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """200 while the process is up, whatever Elasticsearch is doing."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not ready: `reason` says why."}})
async def readyz(es: EsDep, settings: SettingsDep) -> JSONResponse:
    """200 only when Elasticsearch answers, the alias exists and every primary shard behind it is started (not
    red: right after a node restart they recover for a while, and searches answer 503 meanwhile): only then
    can a search succeed."""
    alias = settings.index_alias
    try:
        exists = bool(await es.indices.exists_alias(name=alias))
        # Asked only of an alias that exists: of a missing index, health waits 30 s for it to appear.
        status = (await es.cluster.health(index=alias))["status"] if exists else None
    except Exception as exc:  # any failure to reach ES means "not ready", never a 500
        return JSONResponse({"status": "not_ready", "reason": f"Elasticsearch unreachable ({type(exc).__name__})"},
                            status_code=503)
    if not exists:
        return JSONResponse({"status": "not_ready", "reason": f"alias {alias!r} does not exist"}, status_code=503)
    if status == "red":
        return JSONResponse({"status": "not_ready", "reason": f"shards of the index behind {alias!r} are not started "
                             "yet (recovering after a restart?)"}, status_code=503)
    return JSONResponse({"status": "ready", "alias": alias})


# Load balancers often probe with HEAD: same answers, without a body (kept out of the OpenAPI document).
router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)
