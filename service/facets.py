"""Facets: how many articles of the result set have each town, publisher, department and year.

One meaning everywhere: a count is of *articles* (not passages) in the set that `total`
counts. bm25 mode pages in Elasticsearch, so its counts come from aggregations over every
matching article (`aggregations` + `from_aggregations`); vector and hybrid modes fuse a fixed
candidate list in the service, so their counts are taken over that fused list (`count`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

FACET_FIELDS = ("town", "publisher", "department", "year")
MAX_BUCKETS = 30
# Exact article counts up to this many distinct articles per bucket (Elasticsearch's maximum).
_CARDINALITY_PRECISION = 40_000

Buckets = list[dict[str, Any]]


def aggregations() -> dict[str, Any]:
    """The aggregations a bm25 request carries: the article count and each facet, in articles."""
    per_article = {"articles": {"cardinality": {"field": "article_id", "precision_threshold": _CARDINALITY_PRECISION}}}
    aggs: dict[str, Any] = dict(per_article)
    for name in FACET_FIELDS:
        aggs[f"facet_{name}"] = {
            "terms": {"field": name, "size": MAX_BUCKETS, "order": {"articles": "desc"}},
            "aggs": per_article,
        }
    return aggs


def from_aggregations(aggs: Mapping[str, Any]) -> tuple[int, dict[str, Buckets]]:
    """(total articles, facets) from the response to `aggregations()`."""
    facets = {
        name: [{"value": _value(bucket["key"]), "count": bucket["articles"]["value"]}
               for bucket in aggs[f"facet_{name}"]["buckets"]]
        for name in FACET_FIELDS
    }
    return int(aggs["articles"]["value"]), facets


def count(sources: Iterable[Mapping[str, Any]]) -> dict[str, Buckets]:
    """Facets over a list of articles (one `_source` each), most frequent first, ties by value."""
    counters: dict[str, Counter[Any]] = {name: Counter() for name in FACET_FIELDS}
    for source in sources:
        for name in FACET_FIELDS:
            value = _year(source.get("date")) if name == "year" else source.get(name)
            if value:
                counters[name][value] += 1
    return {name: [{"value": value, "count": n}
                   for value, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))[:MAX_BUCKETS]]
            for name, counter in counters.items()}


def _year(day: str | None) -> int | None:
    return int(day[:4]) if day else None


def _value(key: Any) -> Any:
    """Elasticsearch returns numeric terms keys as floats: 2023.0 is the year 2023."""
    return int(key) if isinstance(key, float) and key.is_integer() else key
