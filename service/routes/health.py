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
    """200 only when Elasticsearch answers and the alias exists: only then can a search succeed."""
    try:
        exists = bool(await es.indices.exists_alias(name=settings.index_alias))
    except Exception as exc:  # any failure to reach ES means "not ready", never a 500
        return JSONResponse({"status": "not_ready", "reason": f"Elasticsearch unreachable ({type(exc).__name__})"},
                            status_code=503)
    if not exists:
        return JSONResponse({"status": "not_ready", "reason": f"alias {settings.index_alias!r} does not exist"},
                            status_code=503)
    return JSONResponse({"status": "ready", "alias": settings.index_alias})


# Load balancers often probe with HEAD: same answers, without a body (kept out of the OpenAPI document).
router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)
