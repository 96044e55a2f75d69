"""Related articles: the articles most like one article, for its view's 相关文章 list.

Two rankings of other articles, fused by reciprocal rank like hybrid search: more_like_this over
the article's title and text (shared characteristic words), and kNN from its first passage's vector
as stored in the index (so the neighbours follow the index's own model, with no embedding work
here). Measured on the sample's 48 articles against the judged queries (two articles are related
when both are relevant to one judged query; 30 articles have such peers), the share of those peers
in the top 5: more_like_this 0.68, kNN 0.71, fused with k=10 0.74 (k=5 0.74, k=60 0.73);
`python -m bench.related` measures it again (bench/results/related.md).

Invariants: the article itself is never in its list; one entry per article; at most `size`.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch

from govsearch.settings import Settings
from service.backend import ElasticsearchBackend
from service.errors import NotFound
from service.fusion import Candidate, fuse, group_by_article
from service.query import related_source_search, related_text_search, related_vector_search

RELATED_RRF_K = 10
MAX_RELATED = 20


async def related_candidates(es: AsyncElasticsearch, settings: Settings, article_id: str) -> dict[str, list[Candidate]]:
    """The two rankings of other articles (`bm25`: more_like_this, `vector`: kNN; the latter absent
    for an article without passages), each one candidate per article. Raises `NotFound` for an
    unknown article."""
    backend = ElasticsearchBackend(es)
    timeout = settings.es_search_timeout
    (found,) = await backend.msearch(settings.index_alias, [related_source_search(article_id, timeout=timeout)])
    docs = {hit["_source"].get("doc_type"): hit for hit in found["hits"]["hits"]}
    article = docs.get("article")
    if article is None:
        raise NotFound("article", article_id)
    source = article["_source"]
    bodies = [related_text_search(article_id, source.get("title") or "", source.get("body") or "",
                                  depth=MAX_RELATED, timeout=timeout)]
    vector = docs.get("passage", {}).get("fields", {}).get("vector")
    if vector:
        bodies.append(related_vector_search(article_id, vector[0], depth=MAX_RELATED,
                                            num_candidates=settings.knn_num_candidates,
                                            min_similarity=settings.vector_min_similarity, timeout=timeout))
    responses = await backend.msearch(settings.index_alias, bodies)
    return {name: group_by_article(response["hits"]["hits"]) for name, response in zip(("bm25", "vector"), responses)}


def rank_related(lists: dict[str, list[Candidate]], size: int, rrf_k: int = RELATED_RRF_K) -> list[dict[str, Any]]:
    """The fused list: up to `size` articles, best first, each its metadata plus `id` and `score` in
    [0, 1] (the fused RRF score over the best possible)."""
    fused = fuse(lists, method="rrf", weights={}, rrf_k=rrf_k)
    return [{**entry.candidate.source, "id": entry.article_id, "score": entry.score} for entry in fused[:size]]


async def related_articles(es: AsyncElasticsearch, settings: Settings, article_id: str,
                           size: int) -> list[dict[str, Any]]:
    """Up to `size` articles like `article_id`, best first. Raises `NotFound` for an unknown article."""
    return rank_related(await related_candidates(es, settings, article_id), size)
