"""GET /articles/{id}: the whole article as a reader sees it, with its passages."""

from __future__ import annotations

from typing import Annotated

from elasticsearch import AsyncElasticsearch, NotFoundError
from fastapi import APIRouter, Depends, Path

from indexer.actions import article_doc_id
from service.deps import get_es, get_settings
from service.errors import ApiError
from service.schemas import ERROR_RESPONSES, Article, ErrorResponse
from service.settings import Settings

router = APIRouter(tags=["articles"])


@router.get("/articles/{article_id}", response_model=Article,
            responses={404: {"model": ErrorResponse, "description": "No article has this id."}, **ERROR_RESPONSES})
async def get_article(
    article_id: Annotated[str, Path(max_length=200)],
    es: Annotated[AsyncElasticsearch, Depends(get_es)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> dict:
    alias = settings.index_alias
    try:
        doc = await es.get(index=alias, id=article_doc_id(article_id))
    except NotFoundError as exc:
        if getattr(exc, "body", None) and isinstance(exc.body, dict) and exc.body.get("found") is False:
            raise ApiError(404, "not_found", f"no article with id {article_id!r}") from exc
        raise
    source = doc["_source"]
    passages = await es.search(
        index=alias, size=1000, sort=[{"position": "asc"}],
        query={"bool": {"filter": [{"term": {"doc_type": "passage"}}, {"term": {"article_id": article_id}}]}},
        source_includes=["position", "text", "char_start", "char_end"],
    )
    return {
        "id": article_id,
        **{key: source.get(key) for key in ("title", "body", "publisher", "town", "date", "department", "section",
                                            "newsletter", "doc_number", "source", "url")},
        "passages": [hit["_source"] for hit in passages["hits"]["hits"]],
    }
