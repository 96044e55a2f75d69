"""/admin endpoints about searching (not indexing): the search analytics and best bets (办事直达)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from service.auth import require_admin
from service.deps import BestBetsDep, QueryLogDep
from service.errors import NotFound
from service.schemas import BAD_BODY_RESPONSE, NOT_FOUND_RESPONSE, AnalyticsReport, BestBet, BestBetIn, BestBetList

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/analytics", response_model=AnalyticsReport)
async def analytics(query_log: QueryLogDep,
                    size: Annotated[int, Query(ge=1, le=200, description="Rows per list.")] = 20,
                    days: Annotated[int, Query(ge=1, le=3650, description="The period, in days up to now.")] = 30,
                    ) -> AnalyticsReport:
    """Top queries with their clicks and click-through, queries that found nothing, and the totals."""
    return AnalyticsReport.model_validate(await query_log.analytics(size, days))


BetId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The rule's id, chosen by the admin.")]


@router.get("/bestbets", response_model=BestBetList)
async def list_best_bets(best_bets: BestBetsDep) -> BestBetList:
    """Every best-bet rule."""
    return BestBetList.model_validate({"best_bets": await best_bets.all()})


@router.put("/bestbets/{bet_id}", response_model=BestBet,
            responses={201: {"model": BestBet, "description": "Created."}, **BAD_BODY_RESPONSE})
async def put_best_bet(bet_id: BetId, rule: BestBetIn, best_bets: BestBetsDep, response: Response) -> BestBet:
    """Create or replace a rule; searches show it as soon as this returns (other replicas within 10 s)."""
    stored, created = await best_bets.put(bet_id, rule.model_dump())
    response.status_code = 201 if created else 200
    return BestBet.model_validate(stored)


@router.delete("/bestbets/{bet_id}", status_code=204, response_class=Response, responses=NOT_FOUND_RESPONSE)
async def delete_best_bet(bet_id: BetId, best_bets: BestBetsDep) -> Response:
    if not await best_bets.delete(bet_id):
        raise NotFound("best bet", bet_id)
    return Response(status_code=204)
