"""Suggestions as you type (GET /suggest): article titles for Chinese, pinyin or both mixed.

What was typed is normalised like every query (`govsearch.rules.normalize_text`: 安全生產 → 安全生产).
Input with Latin letters (aqsc, anquan, 安quan) is matched as pinyin against the titles' indexed
pinyin forms (`govsearch.pinyin`); anything else against the title words. One suggestion per title.
"""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch

from govsearch import pinyin
from govsearch.rules import normalize_text
from govsearch.settings import Settings
from service.query import pinyin_suggest_search, suggest_search


async def suggest_titles(es: AsyncElasticsearch, settings: Settings, typed: str, size: int) -> list[dict[str, str]]:
    """[{id, title}] for `typed`, best first, no title twice."""
    text = normalize_text(typed)
    if pinyin.is_pinyin_query(text):
        body = pinyin_suggest_search(pinyin.query_form(text), size, timeout=settings.es_search_timeout)
    else:
        body = suggest_search(text, size, timeout=settings.es_search_timeout)
    result = await es.search(index=settings.index_alias, **body)
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    for hit in result["hits"]["hits"]:
        title = hit["_source"].get("title") or ""
        if title and title not in seen:  # two articles may share a title: one suggestion is enough
            seen.add(title)
            items.append({"id": hit["_source"]["article_id"], "title": title})
    return items
