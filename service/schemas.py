"""The public JSON contract (v1), as pydantic models so OpenAPI at /docs documents it exactly."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Hit(BaseModel):
    id: str = Field(description="Article id; GET /articles/{id} returns the whole article.")
    title: str
    snippet: str = Field(description="HTML-escaped best passage excerpt; query words wrapped in <em>…</em>.")
    text: str = Field(description="The best passage of the article, plain text.")
    score: float = Field(ge=0, le=1, description="Relevance in [0, 1], comparable across queries of one mode "
                         "(bm25: s/(s+20) of the BM25 score; vector: cosine similarity; hybrid: the weighted "
                         "mean of those two, or with FUSION=rrf the fused score over the best possible).")
    publisher: str | None
    town: str | None
    date: str | None = Field(description="YYYY-MM-DD, or null when the source gives no date.")
    department: str | None
    source: str | None
    url: str | None


class FacetBucket(BaseModel):
    value: str | int
    count: int = Field(description="Articles (not passages) in the result set with this value.")


class Facets(BaseModel):
    publisher: list[FacetBucket]
    department: list[FacetBucket]
    year: list[FacetBucket]


class SearchResponse(BaseModel):
    query: str
    mode: Literal["hybrid", "bm25", "vector"]
    total: int = Field(description="Articles in the result set: every page up to total can be fetched.")
    page: int
    size: int
    took_ms: float
    hits: list[Hit]
    facets: Facets
    degraded: bool = Field(False, description="True when the embedding model failed and results are BM25 only.")
    degraded_reason: str | None = None


class Passage(BaseModel):
    position: int
    text: str
    char_start: int
    char_end: int


class Article(BaseModel):
    id: str
    title: str
    body: str
    publisher: str | None
    town: str | None
    date: str | None
    department: str | None
    section: str | None
    newsletter: str | None
    doc_number: str | None
    source: str | None
    url: str | None
    passages: list[Passage]


class ErrorDetail(BaseModel):
    code: str
    message: str
    parameter: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    422: {"model": ErrorResponse, "description": "A parameter is invalid; `error.parameter` names it."},
    503: {"model": ErrorResponse, "description": "Elasticsearch is unreachable or the index is not built."},
}
