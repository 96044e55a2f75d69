"""GET /hot (热门搜索) and POST /events/click: the public side of the search log (`service.analytics`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from govsearch.rules import normalize_text
from service.deps import HiddenQueriesDep, QueryLogDep, SettingsDep
from service.schemas import BAD_BODY_RESPONSE, ERROR_RESPONSES, ClickEvent, HotSearches

router = APIRouter(tags=["search"])


@router.get("/hot", response_model=HotSearches, responses=ERROR_RESPONSES)
async def hot(query_log: QueryLogDep, hidden: HiddenQueriesDep, settings: SettingsDep,
              size: Annotated[int, Query(ge=1, le=50, description="At most this many queries.")] = 10) -> HotSearches:
    """The most searched queries of the last HOT_DAYS days (热门搜索), under the same rules as query
    suggestions: searched by at least SUGGEST_MIN_SEARCHES different people, found an article holding their
    words, offered no typo correction, no hidden word (SUGGEST_HIDDEN_QUERIES, /admin/hidden-queries;
    `service.analytics`, `service.hidden`)."""
    hot = await query_log.hot(size, settings.suggest_min_searches, await hidden.hides())
    return HotSearches.model_validate({"hot": hot})


@router.post("/events/click", status_code=204, response_class=Response,
             responses={**ERROR_RESPONSES, **BAD_BODY_RESPONSE})
async def click(event: ClickEvent, query_log: QueryLogDep) -> Response:
    """Record that a result was opened, for click-through in /admin/analytics. Stores the query, the
    article id and its position only; never who clicked."""
    query_log.record_click(normalize_text(event.query.strip()), event.article_id, event.position)
    return Response(status_code=204)
