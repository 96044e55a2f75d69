"""GET /search: parameters in, validation, then the searcher."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from service.deps import get_searcher
from service.errors import invalid_parameter
from service.query import Filters, SearchRequest
from service.schemas import ERROR_RESPONSES, SearchResponse
from service.search import Searcher

router = APIRouter(tags=["search"])

MAX_QUERY_CHARS = 200
MAX_WINDOW = 1000
# Control characters (NUL included) carry no meaning in a search box; they are dropped, not searched.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@router.get("/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
async def search(
    searcher: Annotated[Searcher, Depends(get_searcher)],
    q: Annotated[str, Query(description="What to search for, 1–200 characters after trimming.",
                            max_length=4 * MAX_QUERY_CHARS)],
    mode: Annotated[Literal["hybrid", "bm25", "vector"], Query(description="Retrieval mode.")] = "hybrid",
    size: Annotated[int, Query(ge=1, le=50, description="Hits per page.")] = 10,
    page: Annotated[int, Query(ge=1, description=f"1-based page; page × size ≤ {MAX_WINDOW}.")] = 1,
    publisher: Annotated[list[str] | None, Query(description="Repeatable: any of these publishers.")] = None,
    town: Annotated[list[str] | None, Query(description="Repeatable: any of these towns.")] = None,
    department: Annotated[list[str] | None, Query(description="Repeatable: any of these departments.")] = None,
    date_from: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive.")] = None,
    date_to: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive.")] = None,
    sort: Annotated[Literal["relevance", "date"], Query(description="Order of the hits.")] = "relevance",
) -> dict:
    """Hybrid search over township government news: one hit per article, best passage highlighted."""
    text = _CONTROL.sub(" ", q).strip()
    if not text:
        raise invalid_parameter("q", "must contain something to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise invalid_parameter("q", f"must be at most {MAX_QUERY_CHARS} characters (got {len(text)})")
    if page * size > MAX_WINDOW:
        raise invalid_parameter("page", f"page × size must be at most {MAX_WINDOW} (got {page * size})")
    if date_from and date_to and date_from > date_to:
        raise invalid_parameter("date_from", "must not be after date_to")
    filters = Filters(
        publisher=tuple(publisher or ()), town=tuple(town or ()), department=tuple(department or ()),
        date_from=date_from, date_to=date_to,
    )
    return await searcher.search(SearchRequest(q=text, mode=mode, size=size, page=page, sort=sort, filters=filters))
