"""The known-item yardstick issue 10 names: plain Elasticsearch, no gov-search at all.

Each article once, its title and body as `text` fields with Elasticsearch's default (`standard`) analyzer,
which cuts Chinese into single characters, and the query as a `multi_match` over both (`best_fields`, the
default). The same articles as the index a task asks (read by the indexer's own reader, so the ids match)
and the same known items: what the held-out target (MRR@10 ≥ 0.97) and bm25's figures compare against.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

from bench.relevance import metrics
from bench.relevance.known_item import KnownItem
from indexer.sources import ReadReport, read_sources

MAPPINGS = {"properties": {"title": {"type": "text"}, "body": {"type": "text"}}}
SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0}


def ensure_index(es: Elasticsearch, index: str, sources: Sequence[Path], *, reuse: bool) -> int:
    """`index` holding every article of `sources`, built unless `reuse` and it already holds as many articles
    as the sources give. Returns the number of articles."""
    articles = list(_documents(index, sources))
    if reuse and es.indices.exists(index=index) and es.count(index=index)["count"] == len(articles):
        return len(articles)
    es.indices.delete(index=index, ignore_unavailable=True)
    es.indices.create(index=index, settings=SETTINGS, mappings=MAPPINGS)
    helpers.bulk(es.options(request_timeout=300), articles, chunk_size=1000)
    es.indices.refresh(index=index)
    return len(articles)


def _documents(index: str, sources: Sequence[Path]) -> Iterator[dict[str, Any]]:
    for article in read_sources(sources, ReadReport()):
        yield {"_index": index, "_id": article.article_id, "title": article.title, "body": article.body}


def search(es: Elasticsearch, index: str, query: str, size: int = 10) -> tuple[list[str], int]:
    """The ids of the first `size` articles and how many articles match at all."""
    response = es.search(index=index, query={"multi_match": {"query": query, "fields": ["title", "body"]}},
                         size=size, source=False, track_total_hits=True)
    return [hit["_id"] for hit in response["hits"]["hits"]], response["hits"]["total"]["value"]


def known_items(es: Elasticsearch, index: str, items: Sequence[KnownItem]) -> tuple[list[float], list[int]]:
    """Each item's reciprocal rank within the first 10, and each query's count of matching articles."""
    ranks, totals = [], []
    for item in items:
        ranking, total = search(es, index, item.query)
        ranks.append(metrics.reciprocal_rank(ranking, item.grades, 10))
        totals.append(total)
    return ranks, totals
