"""GET /articles/{id}: the whole article as a reader sees it, with its passages."""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, Path

from govsearch.actions import article_doc_id
from govsearch.schema import METADATA_FIELDS
from service.deps import EsDep, SettingsDep
from service.errors import NotFound
from service.query import article_passages_search
from service.schemas import ERROR_RESPONSES, NOT_FOUND_RESPONSE, ArticleView

router = APIRouter(tags=["articles"])


@router.get("/articles/{article_id}", response_model=ArticleView,
            responses={**NOT_FOUND_RESPONSE, **ERROR_RESPONSES})
async def get_article(article_id: Annotated[str, Path(max_length=200)], es: EsDep,
                      settings: SettingsDep) -> dict[str, Any]:
    alias = settings.index_alias
    try:
        doc = await es.get(index=alias, id=article_doc_id(article_id))
    except NotFoundError as exc:
        if getattr(exc, "body", None) and isinstance(exc.body, dict) and exc.body.get("found") is False:
            raise NotFound("article", article_id) from exc
        raise
    source = doc["_source"]
    passages = await es.search(index=alias, **article_passages_search(article_id, timeout=settings.es_search_timeout))
    return {
        **{name: source.get(name) for name in METADATA_FIELDS},
        "id": article_id,
        "body": source.get("body", ""),
        "passages": [hit["_source"] for hit in passages["hits"]["hits"]],
    }
