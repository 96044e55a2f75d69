"""What the learned ranker knows about a (query, candidate article) pair: one row of numbers.

Computed in the service from what the two candidate lists already carry (no extra request):
the BM25 and kNN scores and ranks (also as 1/rank, which a linear model can use), the score of
each named BM25 clause on the article's best passage (`service.query.BM25_CLAUSES`: words,
bigrams, any bigram, title phrase, text phrase — raw and as a share of the query's best for that
clause, so how much of the query's wording and phrasing the passage holds), which retrievers
found the article, the fusion prior (the
default normalized fusion's 2:1 mean of the calibrated scores, a sum trees cannot form alone), the
known-item flag, how much of the query the title holds (characters, character bigrams, whole query
segments), the query's own shape (length, segments, whether it asks (`rules.ASKING`), document
number, how well each side matches it at best, how many BM25 candidates it has) and the article's shape (title length,
passages, which passage matched); and, from the zero-weight coverage clauses of the BM25 request
(`service.query.coverage_clauses`), how many of the query's space-separated parts the passage holds
verbatim (title or text; as a share, as a count missing and as a gap to the query's best candidate),
how many candidates hold them all (several: the query alone cannot tell them apart), and whether all
the query's words stand close together in the text; and, against the candidates under the same title
(a recurring report: 习近平会见…, 国务院常务会议 — many of them in a dense era), how many such rivals
there are and how the candidate compares with the best of them in query parts held, BM25 and cosine.

Invariants: `FEATURES` names the columns in order and is recorded with every trained model
(`service.ranking` refuses a model whose list differs); every value is a finite float; a side
that did not find the article contributes its "absent" value (score 0, rank depth + 1), never a
guess. The article's date is deliberately not a feature: the known-item training labels come
from year-stratified splits, so a date feature would learn the split, not relevance.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from govsearch.rules import ASKING, CJK, asked, find_doc_number
from service.fusion import Fused, calibrate_bm25, calibrate_cosine
from service.query import BM25_CLAUSES, NEAR_CLAUSE, SEGMENT_CLAUSE, coverage_segments

FEATURES: tuple[str, ...] = (
    "bm25_score", "bm25_calibrated", "bm25_rank", "bm25_ratio_to_best", "in_bm25",
    "cosine", "vector_rank", "cosine_gap_to_best", "in_vector", "in_both", "fused_prior", "exact",
    "title_char_cover", "title_bigram_cover", "title_segment_cover", "query_in_title", "title_precision",
    "title_chars", "passage_count", "passage_position",
    "query_chars", "query_segments", "query_is_question", "query_has_doc_number",
    "query_best_bm25", "query_best_cosine", "query_bm25_candidates",
    "bm25_reciprocal_rank", "vector_reciprocal_rank",
    "segment_cover", "segments_missing", "segment_cover_gap", "query_full_cover_candidates", "near",
    *[f"clause_{name}" for name in BM25_CLAUSES], *[f"clause_{name}_ratio" for name in BM25_CLAUSES],
    "title_rivals", "rival_cover_gap", "rival_bm25_ratio", "rival_cosine_gap",
)

_TEXT = re.compile(f"[{CJK}A-Za-z0-9]+")


@dataclass(frozen=True)
class QueryShape:
    """The query's text as the title features compare it: segments (runs of letters/digits/CJK), their
    characters and character bigrams."""

    text: str
    segments: tuple[str, ...]
    chars: frozenset[str]
    bigrams: frozenset[str]

    @classmethod
    def of(cls, q: str, question: str | None = None) -> QueryShape:
        """`q`'s shape; `question`: the text whose asking words say it is a question (`q` itself by default)."""
        segments = tuple(_TEXT.findall(q.lower()))
        return cls(question or q, segments, frozenset("".join(segments)), frozenset(_bigrams(segments)))

    def row(self) -> list[float]:
        return [float(sum(map(len, self.segments))), float(len(self.segments)),
                float(bool(ASKING.search(self.text))), float(find_doc_number(self.text) is not None)]


@dataclass(frozen=True)
class TitleShape:
    """A candidate's title as the title features read it: lower-cased, its segments joined, their
    characters and character bigrams."""

    lower: str
    joined: str
    chars: frozenset[str]
    bigrams: frozenset[str]


# Titles whose shape is kept (`title_shape`): a search reads ~100 candidate titles, and popular articles
# come back query after query, so most of them are met before (bench/results/perf-notes.md, issue 11).
TITLE_SHAPES = 8192


@functools.lru_cache(maxsize=TITLE_SHAPES)
def title_shape(title: str) -> TitleShape:
    lower = title.lower()
    segments = _TEXT.findall(lower)
    joined = "".join(segments)
    return TitleShape(lower, joined, frozenset(joined), frozenset(_bigrams(segments)))


def _bigrams(segments: Sequence[str]) -> list[str]:
    return [s[i:i + 2] for s in segments for i in range(len(s) - 1)]


def _share(part: frozenset[str] | set[str], whole: frozenset[str] | set[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def segment_cover(clauses: dict[str, float], segments: int) -> int:
    """How many of the query's `segments` coverage parts matched (`service.query.SEGMENT_CLAUSE`)."""
    return sum(SEGMENT_CLAUSE.format(i) in clauses for i in range(segments))


def rows(q: str, entries: Sequence[Fused], lists: dict[str, list], depth: int) -> list[list[float]]:
    """One feature row per entry (in `entries` order), columns as `FEATURES`.

    `lists` are the retrievers' article lists the entries were fused from (for the best score of
    each side); `depth` is the candidate depth (an absent side's rank is depth + 1)."""
    shape = QueryShape.of(asked(q), question=q)
    joined = "".join(shape.segments)
    best_bm25 = max((c.score for c in lists.get("bm25", ())), default=0.0)
    best_cos = max((calibrate_cosine(c.score) for c in lists.get("vector", ())), default=0.0)
    # How well the query is matched at all: a weak best BM25 (a paraphrase) is when the vector side counts.
    query_row = [*shape.row(), calibrate_bm25(best_bm25), best_cos, float(len(lists.get("bm25", ())))]
    bm25_of = {c.article_id: c.score for c in lists.get("bm25", ())}
    clauses_of = {c.article_id: c.clauses for c in lists.get("bm25", ())}
    best_clause = {name: max((c.clauses.get(name, 0.0) for c in lists.get("bm25", ())), default=0.0)
                   for name in BM25_CLAUSES}
    cos_of = {c.article_id: calibrate_cosine(c.score) for c in lists.get("vector", ())}
    segments = len(coverage_segments(q))
    covered_of = {c.article_id: segment_cover(c.clauses, segments) for c in lists.get("bm25", ())}
    best_covered = max(covered_of.values(), default=0)
    full_cover = float(sum(n == segments for n in covered_of.values()) if segments else 0)
    titles = [title_shape(str(entry.candidate.source.get("title") or "")) for entry in entries]
    rivals = _TitleRivals(entries, titles, covered_of, bm25_of, cos_of)
    out: list[list[float]] = []
    for entry, title in zip(entries, titles):
        source = entry.candidate.source
        bm25 = bm25_of.get(entry.article_id, 0.0)
        cosine = cos_of.get(entry.article_id, 0.0)
        in_bm25, in_vector = "bm25" in entry.ranks, "vector" in entry.ranks
        clauses = clauses_of.get(entry.article_id, {})
        covered = covered_of.get(entry.article_id, 0)
        clause = [clauses.get(name, 0.0) for name in BM25_CLAUSES]
        out.append([
            bm25, calibrate_bm25(bm25), float(entry.ranks.get("bm25", depth + 1)),
            bm25 / best_bm25 if best_bm25 > 0 else 0.0, float(in_bm25),
            cosine, float(entry.ranks.get("vector", depth + 1)), best_cos - cosine if in_vector else 1.0,
            float(in_vector), float(in_bm25 and in_vector), (2 * calibrate_bm25(bm25) + cosine) / 3,
            float(entry.exact),
            _share(shape.chars, title.chars), _share(shape.bigrams, title.bigrams),
            sum(s in title.lower for s in shape.segments) / len(shape.segments) if shape.segments else 0.0,
            float(bool(joined) and joined in title.joined),
            _share(title.bigrams, shape.bigrams),
            float(len(title.lower)), float(source.get("passage_count") or 1), float(source.get("position") or 0),
            *query_row,
            1.0 / entry.ranks["bm25"] if in_bm25 else 0.0, 1.0 / entry.ranks["vector"] if in_vector else 0.0,
            covered / segments if segments else 0.0, float(segments - covered),
            (best_covered - covered) / segments if segments else 0.0, full_cover, float(NEAR_CLAUSE in clauses),
            *clause,
            *[v / best_clause[name] if best_clause[name] > 0 else 0.0 for name, v in zip(BM25_CLAUSES, clause)],
            *rivals.row(title, covered, bm25, cosine, segments),
        ])
    return out


class _TitleRivals:
    """The candidates grouped by title (its letters, digits and CJK, lower-cased: `titles[i].joined` for
    `entries[i]`): each group's size and best query parts held, BM25 score and cosine."""

    def __init__(self, entries: Sequence[Fused], titles: Sequence[TitleShape], covered_of: dict[str, int],
                 bm25_of: dict[str, float], cos_of: dict[str, float]) -> None:
        self.size: dict[str, int] = {}
        self.covered: dict[str, int] = {}
        self.bm25: dict[str, float] = {}
        self.cosine: dict[str, float] = {}
        for entry, title in zip(entries, titles):
            key = title.joined
            aid = entry.article_id
            self.size[key] = self.size.get(key, 0) + 1
            self.covered[key] = max(self.covered.get(key, 0), covered_of.get(aid, 0))
            self.bm25[key] = max(self.bm25.get(key, 0.0), bm25_of.get(aid, 0.0))
            self.cosine[key] = max(self.cosine.get(key, 0.0), cos_of.get(aid, 0.0))

    def row(self, title: TitleShape, covered: int, bm25: float, cosine: float,
            segments: int) -> list[float]:
        """Rivals under the same title (others), the gap to their best parts held (share of the query's),
        the BM25 score as a share of their best, the gap to their best cosine; an untitled candidate is
        its own group."""
        key = title.joined
        if not key:
            return [0.0, 0.0, 1.0 if bm25 > 0 else 0.0, 0.0]
        best_bm25 = self.bm25[key]
        return [float(self.size[key] - 1), (self.covered[key] - covered) / segments if segments else 0.0,
                bm25 / best_bm25 if best_bm25 > 0 else 0.0, self.cosine[key] - cosine]
