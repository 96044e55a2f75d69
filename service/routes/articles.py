"""GET /articles/{id}: the whole article as a reader sees it, with its passages; GET /articles/{id}/related:
the articles like it."""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, Path, Query

from govsearch.actions import article_doc_id
from govsearch.rules import normalize_text
from govsearch.schema import METADATA_FIELDS
from service import marks
from service.deps import EsDep, SearcherDep, SettingsDep
from service.errors import NotFound
from service.params import MarkedText
from service.query import article_passages_search
from service.related import MAX_RELATED, related_articles
from service.schemas import ERROR_RESPONSES, NOT_FOUND_RESPONSE, ArticleView, RelatedResponse
from service.synonyms import added_terms

router = APIRouter(tags=["articles"])

ArticleId = Annotated[str, Path(max_length=200)]


@router.get("/articles/{article_id}", response_model=ArticleView,
            responses={**NOT_FOUND_RESPONSE, **ERROR_RESPONSES})
async def get_article(article_id: ArticleId, es: EsDep, settings: SettingsDep, searcher: SearcherDep,
                      q: MarkedText) -> dict[str, Any]:
    alias = settings.index_alias
    try:
        doc = await es.get(index=alias, id=article_doc_id(article_id))
    except NotFoundError as exc:
        if getattr(exc, "body", None) and isinstance(exc.body, dict) and exc.body.get("found") is False:
            raise NotFound("article", article_id) from exc
        raise
    source = doc["_source"]
    text = normalize_text(q) if q else None
    synonyms = added_terms(await searcher.expansions(text)) if text else ()
    passages = await es.search(index=alias, **article_passages_search(
        article_id, timeout=settings.es_search_timeout, q=text, synonyms=synonyms))
    hits = passages["hits"]["hits"]
    return {
        **{name: source.get(name) for name in METADATA_FIELDS},
        "id": article_id,
        "body": source.get("body", ""),
        "passages": [hit["_source"] for hit in hits],
        "marks": _marks(hits, text, synonyms, source.get("title", "")) if text else [],
    }


def _marks(hits: list[dict[str, Any]], q: str, synonyms: tuple[str, ...], title: str) -> list[str]:
    """What the search's highlighter marks in the article's passages and title for `q` and the official terms
    searched for it (`service.marks`), each text once, longest first; when it marks nothing (a match through
    character pairs alone), the query's text the passages and the title hold (`marks.query_text`), as the
    search's snippet marks it."""
    found = [text for hit in hits for fragments in hit.get("highlight", {}).values() for fragment in fragments
             for text in marks.marked(marks.tidy(fragment, q, synonyms))]
    if not found:
        texts = [title, *(hit["_source"].get("text", "") for hit in hits)]
        found = [text[start:end] for text in texts for start, end in marks.query_text(text, q, synonyms)]
    return sorted(dict.fromkeys(found), key=len, reverse=True)


@router.get("/articles/{article_id}/related", response_model=RelatedResponse,
            responses={**NOT_FOUND_RESPONSE, **ERROR_RESPONSES})
async def get_related(article_id: ArticleId, es: EsDep, settings: SettingsDep,
                      size: Annotated[int, Query(ge=1, le=MAX_RELATED, description="At most this many articles.")] = 5,
                      ) -> dict[str, Any]:
    """Other articles like this one (shared words and nearby passage vectors), best first; 404 for an
    unknown id."""
    return {"id": article_id, "related": await related_articles(es, settings, article_id, size)}
