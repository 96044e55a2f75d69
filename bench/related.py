"""`python -m bench.related`: do the related articles (GET /articles/{id}/related) make sense?

Judged peers stand in for "related": two articles of data/sample are peers when both are judged
relevant (grade >= 2) to one query of bench/relevance/queries.json. For every article with peers, the
service's own two rankings (`service.related.related_candidates`: more_like_this, and kNN from the
first passage's vector) are scored alone and fused (`rank_related`) at several RRF constants:

- peer recall@5: the share of the article's peers in its top 5 (out of at most 5),
- hit@5: whether any peer is in the top 5.

It reads the index behind INDEX_ALIAS (the sample must be indexed: `make index`) and writes
bench/results/related.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections import defaultdict
from pathlib import Path

from elasticsearch import AsyncElasticsearch

from govsearch.paths import PROJECT_ROOT
from govsearch.settings import Settings
from service.related import RELATED_RRF_K, rank_related, related_candidates

QUERIES = PROJECT_ROOT / "bench" / "relevance" / "queries.json"
RESULT = PROJECT_ROOT / "bench" / "results" / "related.md"
TOP = 5
RRF_KS = (5, 10, 60)


def judged_peers(path: Path = QUERIES) -> dict[str, set[str]]:
    """Article id -> the other articles judged relevant (grade >= 2) to one query with it."""
    peers: dict[str, set[str]] = defaultdict(set)
    for query in json.loads(path.read_text(encoding="utf-8"))["queries"]:
        good = {j["article_id"] for j in query["judgments"] if j["grade"] >= 2}
        for article_id in good:
            peers[article_id] |= good - {article_id}
    return {article_id: ids for article_id, ids in peers.items() if ids}


def score(ranked: list[str], peers: set[str]) -> tuple[float, float]:
    top = ranked[:TOP]
    found = sum(article_id in peers for article_id in top)
    return found / min(TOP, len(peers)), float(found > 0)


async def measure(settings: Settings) -> dict[str, tuple[float, float]]:
    peers = judged_peers()
    variants: dict[str, list[tuple[float, float]]] = defaultdict(list)
    es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=30)
    try:
        for article_id, ids in sorted(peers.items()):
            lists = await related_candidates(es, settings, article_id)
            for name, label in (("bm25", "more_like_this alone"), ("vector", "kNN (first passage) alone")):
                variants[label].append(score([c.article_id for c in lists.get(name, [])], ids))
            for k in RRF_KS:
                label = f"fused, RRF k={k}" + (" (the service)" if k == RELATED_RRF_K else "")
                variants[label].append(score([item["id"] for item in rank_related(lists, TOP, rrf_k=k)], ids))
    finally:
        await es.close()
    return {label: (statistics.mean(r for r, _ in rows), statistics.mean(h for _, h in rows))
            for label, rows in variants.items()}


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    settings = Settings()
    results = asyncio.run(measure(settings))
    articles = len(judged_peers())
    lines = [
        "# Related articles on the sample", "",
        f"`python -m bench.related` over the index behind `{settings.index_alias}`: {articles} articles of",
        "data/sample have judged peers (both grade >= 2 for one query of bench/relevance/queries.json).", "",
        f"| ranking | peer recall@{TOP} | hit@{TOP} |", "|---|---:|---:|",
        *(f"| {label} | {recall:.3f} | {hit:.3f} |" for label, (recall, hit) in results.items()), "",
    ]
    RESULT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
