"""/admin endpoints about searching (not indexing): the search analytics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.auth import require_admin
from service.deps import QueryLogDep
from service.schemas import AnalyticsReport

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/analytics", response_model=AnalyticsReport)
async def analytics(query_log: QueryLogDep,
                    size: Annotated[int, Query(ge=1, le=200, description="Rows per list.")] = 20,
                    days: Annotated[int, Query(ge=1, le=3650, description="The period, in days up to now.")] = 30,
                    ) -> AnalyticsReport:
    """Top queries with their clicks and click-through, queries that found nothing, and the totals."""
    return AnalyticsReport.model_validate(await query_log.analytics(size, days))
