"""Suggestions as you type (GET /suggest): popular past queries and article titles, in one list.

What was typed is normalised like every query (`govsearch.rules.normalize_text`: 安全生產 → 安全生产).
Input with Latin letters (aqsc, anquan, 安quan) is matched as pinyin against the titles' indexed
pinyin forms (`govsearch.pinyin`); anything else against the title words. One suggestion per title.
Popular past queries (`service.popular`, in memory) match the same ways and come first, taking at most
half of the list while titles fill the rest; a title that is one of the suggested queries is left out.
Each item says its kind: `query` (run that search) or `title` (that article).
"""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch

from govsearch import pinyin
from govsearch.rules import normalize_text
from govsearch.settings import Settings
from service.popular import PopularQueries
from service.query import SHARED_WORDS_CLAUSE, pinyin_suggest_search, suggest_search


def titles_body(typed: str, size: int, *, timeout: float) -> dict[str, Any]:
    """The title request for `typed`: by pinyin forms when it has Latin letters, else by title words."""
    text = normalize_text(typed)
    if pinyin.is_pinyin_query(text):
        return pinyin_suggest_search(pinyin.query_form(text), size, timeout=timeout)
    return suggest_search(text, size, timeout=timeout)


async def suggest_titles(es: AsyncElasticsearch, settings: Settings, typed: str, size: int) -> list[dict[str, str]]:
    """[{id, title}] for `typed`, best first, no title twice. Titles that only share words with it
    (SHARED_WORDS_CLAUSE) come only when no title contains it: typing 安全生产 suggests titles holding 安全生产."""
    body = titles_body(typed, size, timeout=settings.es_search_timeout)
    result = await es.search(index=settings.index_alias, **body)
    hits = result["hits"]["hits"]
    containing = [hit for hit in hits if hit.get("matched_queries") != [SHARED_WORDS_CLAUSE]]
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    for hit in containing or hits:
        title = hit["_source"].get("title") or ""
        if title and title not in seen:  # two articles may share a title: one suggestion is enough
            seen.add(title)
            items.append({"id": hit["_source"]["article_id"], "title": title})
    return items


def merged(queries: list[str], titles: list[dict[str, str]], size: int) -> list[dict[str, str | None]]:
    """One ranked list of at most `size`: the queries (best first) in at most half of it (rounded up) unless
    the titles run short, then the titles without those equal to a kept query (normalised, any case)."""
    room = max((size + 1) // 2, size - len(titles))
    kept = queries[:room]
    seen = {query.lower() for query in kept}
    rest = [title for title in titles if normalize_text(title["title"]).lower() not in seen]
    kept += queries[room:room + max(0, size - len(kept) - len(rest))]  # titles lost to duplicates: more queries
    items: list[dict[str, str | None]] = [{"kind": "query", "text": query, "id": None, "title": None}
                                          for query in kept]
    items += [{"kind": "title", "text": title["title"], **title} for title in rest[:size - len(kept)]]
    return items


async def suggest(es: AsyncElasticsearch, settings: Settings, popular: PopularQueries, typed: str,
                  size: int) -> list[dict[str, str | None]]:
    """Popular past queries and titles for `typed`, best first (see the module docstring)."""
    queries = [p.query for p in await popular.matching(normalize_text(typed), size)]
    return merged(queries, await suggest_titles(es, settings, typed, size), size)
