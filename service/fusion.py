"""Combining the BM25 and vector rankings in the service.

The dev node has no rrf/linear retrievers (and they are licence-gated), so the
fusion happens here, on article-level rankings. Scores are put on a [0, 1]
scale that means the same thing for every query of a mode:

- bm25:   s / (s + BM25_HALF): 0.5 is a passage scoring BM25_HALF, a good match on
          most of the query's words; the transform keeps BM25's order.
- vector: the cosine similarity of query and passage, clipped to [0, 1].
- rrf:    the fused RRF score divided by the best possible one (rank 1 in both
          lists), so 1.0 means "first for both retrievers".
- normalized: the weighted mean of the two calibrated scores above.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from service.query import hit_source

BM25_HALF = 20.0


@dataclass
class Candidate:
    """One article as a retriever saw it: its best passage and that passage's raw score.

    `source` is what the request fetched: the whole passage in bm25 mode, the candidate fields only
    (`service.query.CANDIDATE_DOC_VALUES`) in vector and hybrid modes, whose page is fetched afterwards
    by `doc_id` (the passage document's id) from `index` (the concrete index that answered).
    `clauses`: the score of each named query clause the passage matched (`service.query.BM25_CLAUSES`),
    empty for a vector hit. `version`: the passage's (`_seq_no`, `_primary_term`) when the search asked for
    them (`service.pagecache` keys the page's hits by it)."""

    article_id: str
    score: float
    source: dict[str, Any]
    highlight: str | None
    exact: bool = False
    doc_id: str = ""
    index: str = ""
    clauses: dict[str, float] = field(default_factory=dict)
    version: tuple[int, int] | None = None


@dataclass
class Fused:
    article_id: str
    score: float
    candidate: Candidate
    ranks: dict[str, int] = field(default_factory=dict)
    exact: bool = False

    @property
    def holds_words(self) -> bool:
        """Whether the word search found the article (the BM25 side, or the exact title or document number):
        it holds words of the query, as a hit only the vector side found may not."""
        return "bm25" in self.ranks or self.exact


def calibrate_bm25(score: float) -> float:
    return score / (score + BM25_HALF) if score > 0 else 0.0


def calibrate_cosine(es_score: float) -> float:
    """Elasticsearch reports cosine kNN scores as (1 + cos) / 2; give back the cosine itself."""
    return min(1.0, max(0.0, 2.0 * es_score - 1.0))


def group_by_article(hits: list[dict[str, Any]], *, exact_query: str | None = None) -> list[Candidate]:
    """Keep each article's best passage, in the order the retriever ranked them."""
    seen: dict[str, Candidate] = {}
    for hit in hits:
        source, doc_id = hit_source(hit)
        article_id = source["article_id"]
        if article_id in seen:
            continue
        fragments = hit.get("highlight", {}).get("text")
        # A list of names, or {name: score} when the search asked for `include_named_queries_score`.
        matched = hit.get("matched_queries") or []
        seen[article_id] = Candidate(
            article_id=article_id,
            score=float(hit.get("_score") or 0.0),
            source=source,
            highlight=fragments[0] if fragments else None,
            exact=exact_query is not None and exact_query in matched,
            doc_id=doc_id,
            index=hit.get("_index", ""),
            clauses={name: float(score) for name, score in matched.items()} if isinstance(matched, dict) else {},
            version=version_of(hit),
        )
    return list(seen.values())


def version_of(hit: dict[str, Any]) -> tuple[int, int] | None:
    """The hit's (`_seq_no`, `_primary_term`), or None when the search did not ask for them."""
    seq_no, term = hit.get("_seq_no"), hit.get("_primary_term")
    return (int(seq_no), int(term)) if seq_no is not None and term is not None else None


def fuse(
    lists: dict[str, list[Candidate]],
    *,
    method: Literal["rrf", "normalized"],
    weights: dict[str, float],
    rrf_k: int = 60,
) -> list[Fused]:
    """Fuse per-retriever article rankings into one.

    Known-item matches (an exact title or document number) go first whatever the
    method; the rest is ordered by the fused score, ties broken by article id so
    pages never shuffle between requests.
    """
    fused: dict[str, Fused] = {}
    largest: dict[str, float] = {}  # each article's largest contribution so far (lists hold an article once)
    for name, candidates in lists.items():
        weight = weights.get(name, 1.0)
        for rank, candidate in enumerate(candidates, start=1):
            if method == "rrf":
                part = weight / (rrf_k + rank)
            else:
                part = weight * _calibrated(name, candidate.score)
            entry = fused.get(candidate.article_id)
            if entry is None:
                entry = fused[candidate.article_id] = Fused(candidate.article_id, 0.0, candidate)
            entry.ranks[name] = rank
            entry.exact = entry.exact or candidate.exact
            entry.score += part
            # The passage shown is the one from the retriever that contributed most; it keeps the BM25 clauses the
            # article matched (`service.query.holds_wording` reads them).
            if part > largest.get(candidate.article_id, -1.0):
                entry.candidate = (candidate if candidate.clauses or not entry.candidate.clauses
                                   else replace(candidate, clauses=entry.candidate.clauses))
                largest[candidate.article_id] = part
    best = sum(weights.get(name, 1.0) for name in lists) or 1.0
    if method == "rrf":
        best /= rrf_k + 1
    for entry in fused.values():
        entry.score = min(1.0, entry.score / best)
    return in_order(fused.values())


def in_order(entries: Iterable[Fused]) -> list[Fused]:
    """`entries` as shown: known items first, then by score, ties broken by article id."""
    return sorted(entries, key=lambda e: (not e.exact, -e.score, e.article_id))


def _calibrated(name: str, score: float) -> float:
    return calibrate_cosine(score) if name == "vector" else calibrate_bm25(score)


def ranked(candidates: list[Candidate], name: str, pinned: Sequence[Candidate] = ()) -> list[Fused]:
    """One retriever's ranking in the fused shape with calibrated scores, `pinned` known items first."""
    order = list(pinned) + [c for c in candidates if c.article_id not in {p.article_id for p in pinned}]
    return [Fused(c.article_id, 1.0 if c in pinned else _calibrated(name, c.score), c, {name: i}, c in pinned)
            for i, c in enumerate(order, start=1)]
