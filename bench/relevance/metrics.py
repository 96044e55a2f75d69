"""Ranking metrics over article ids and graded judgments.

Grades are integers: 3 = exactly what was asked, 2 = clearly relevant,
1 = marginally relevant; any article without a judgment counts as 0.

- nDCG@k uses the exponential gain 2^grade - 1 and the log2(rank + 1) discount;
  the ideal ranking is built from *all* judged articles, so an article the system
  never returned still lowers the score.
- Recall@k and reciprocal rank count an article as relevant when its grade is
  at least `min_grade` (default 1: every judged article).
- Reciprocal rank looks at the first k results only (MRR@k): 0 when none of
  them is relevant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean


def gain(grade: int) -> float:
    return float(2 ** grade - 1) if grade > 0 else 0.0


def dcg(grades: Iterable[int]) -> float:
    """Discounted cumulative gain of grades listed in rank order (rank 1 first)."""
    return sum(gain(g) / math.log2(rank + 1) for rank, g in enumerate(grades, start=1))


def _check(judgments: Mapping[str, int], k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if not any(g > 0 for g in judgments.values()):
        raise ValueError("a query needs at least one article with a positive grade")


def _dedupe(ranking: Sequence[str]) -> list[str | None]:
    """An article counts once, at its best rank: a repeat keeps its slot but earns nothing (None)."""
    seen: set[str] = set()
    out: list[str | None] = []
    for article in ranking:
        out.append(None if article in seen else article)
        seen.add(article)
    return out


def ndcg_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 10) -> float:
    _check(judgments, k)
    top = _dedupe(ranking[:k])
    ideal = dcg(sorted((g for g in judgments.values() if g > 0), reverse=True)[:k])
    return dcg(judgments.get(a, 0) if a is not None else 0 for a in top) / ideal


def recall_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 10, *, min_grade: int = 1) -> float:
    _check(judgments, k)
    relevant = {a for a, g in judgments.items() if g >= min_grade}
    if not relevant:
        raise ValueError(f"no article has grade >= {min_grade}")
    return len(relevant & set(ranking[:k])) / len(relevant)


def reciprocal_rank(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 10, *,
                    min_grade: int = 1) -> float:
    _check(judgments, k)
    rank = first_relevant_rank(ranking[:k], judgments, min_grade=min_grade)
    return 1.0 / rank if rank else 0.0


def first_relevant_rank(ranking: Sequence[str], judgments: Mapping[str, int], *, min_grade: int = 1) -> int | None:
    """1-based rank of the first article with grade >= min_grade, None when there is none."""
    for rank, article in enumerate(ranking, start=1):
        if judgments.get(article, 0) >= min_grade:
            return rank
    return None


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return fmean(values) if values else float("nan")
