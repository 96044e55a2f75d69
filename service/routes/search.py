"""GET /search: parameters in, validation, then the searcher."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from govsearch.rules import normalize_text, office_spellings
from service.deps import BestBetsDep, NetworksDep, QueryLogDep, SearcherDep
from service.errors import invalid_parameter
from service.limits import client_ip
from service.marks import covered
from service.params import FILTER_SCHEMA, MAX_FILTER_CHARS, MAX_FILTER_VALUES, IsoDate, SearchText, filter_values
from service.query import Filters, SearchRequest
from service.schemas import ERROR_RESPONSES, SearchMode, SearchResponse, SortOrder

router = APIRouter(tags=["search"])

MAX_WINDOW = 1000
MAX_SIZE = 50
MATCHED_SHARE = 0.5
"""A search found its words, for the search log (`matched`: only such queries become popular), when one of its
hits shows at least this share of the query's characters marked (`marks.covered`, of what it asks about): a query
that found only articles near in meaning, or only one common word of it (宇宙飞船 镇), is no popular query."""
_CAPS = f" At most {MAX_FILTER_VALUES} values of at most {MAX_FILTER_CHARS} characters; blank values are ignored."


@router.get("/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
async def search(
    request: Request,
    networks: NetworksDep,
    searcher: SearcherDep,
    query_log: QueryLogDep,
    best_bets: BestBetsDep,
    q: SearchText,
    mode: Annotated[SearchMode, Query(description="Retrieval mode.")] = "hybrid",
    size: Annotated[int, Query(ge=1, le=MAX_SIZE, description="Hits per page.")] = 10,
    page: Annotated[int, Query(ge=1, description=f"1-based page; page × size ≤ {MAX_WINDOW}.")] = 1,
    publisher: Annotated[list[str] | None, Query(description=f"Repeatable: any of these publishers.{_CAPS}",
                                                json_schema_extra=FILTER_SCHEMA)] = None,
    town: Annotated[list[str] | None, Query(description=f"Repeatable: any of these towns.{_CAPS}",
                                                json_schema_extra=FILTER_SCHEMA)] = None,
    department: Annotated[list[str] | None, Query(description=f"Repeatable: any of these departments.{_CAPS}",
                                                json_schema_extra=FILTER_SCHEMA)] = None,
    date_from: Annotated[IsoDate | None, Query(description="YYYY-MM-DD, inclusive; not after date_to.")] = None,
    date_to: Annotated[IsoDate | None, Query(description="YYYY-MM-DD, inclusive.")] = None,
    sort: Annotated[SortOrder, Query(description="Order of the hits.")] = "relevance",
) -> dict[str, Any]:
    """Hybrid search over township government news: one hit per article, best passage highlighted."""
    if page * size > MAX_WINDOW:
        raise invalid_parameter("page", f"page × size must be at most {MAX_WINDOW} (got {page * size})")
    if date_from and date_to and date_from > date_to:
        raise invalid_parameter("date_from", "must not be after date_to")
    filters = Filters(
        publisher=filter_values("publisher", publisher), town=filter_values("town", town),
        department=tuple(dict.fromkeys(name for value in filter_values("department", department)
                                       for name in office_spellings(value))), date_from=date_from,
        date_to=date_to,
    )
    response = await searcher.search(SearchRequest(q=q, mode=mode, size=size, page=page, sort=sort, filters=filters))
    response["best_bets"] = await best_bets.matching(q)
    if page == 1:  # one search, however many pages of it are read
        text = normalize_text(q)
        query_log.record_search(text, response["total"],
                                matched=any(covered(text, (hit["snippet"], hit["title_snippet"])) >= MATCHED_SHARE
                                            for hit in response["hits"]),
                                corrected=response["did_you_mean"] is not None,
                                address=client_ip(request.scope, networks.trusted_proxies))
    return response
