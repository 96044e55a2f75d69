"""The ranker trainer's fits (`bench.relevance.train`) on small synthetic groups."""

from __future__ import annotations

import numpy as np

from bench.relevance import asking
from bench.relevance.train import Group, fit_linear, score_groups
from service import features

N = len(features.FEATURES)


def _group(query: str, labels: list[int], rng: np.random.Generator) -> Group:
    rows = rng.random((len(labels), N))
    rows[:, 0] = labels  # the first feature tells the better candidates
    return Group(query=query, source="test", ids=[f"{query}-{i}" for i in range(len(labels))], rows=rows.tolist(),
                 labels=labels, grades={}, depth=50)


def test_a_query_whose_candidates_all_carry_one_grade_teaches_nothing_and_breaks_nothing() -> None:
    """A judged query whose every candidate is graded alike has no better-worse pair: it is left out of the fit
    (it once divided by its zero pairs)."""
    rng = np.random.default_rng(3)
    groups = [_group(f"q{i}", [1, 0, 0, 0], rng) for i in range(20)] + [_group("alike", [2, 2, 2], rng)]
    model = fit_linear(groups, 1.0)
    assert len(model["weights"]) == N and np.argmax(np.abs(model["weights"])) == 0 and model["weights"][0] > 0


def test_each_dev_task_is_scored_by_its_own_measure() -> None:
    """Known items by reciprocal rank, judged queries by nDCG@10, asked subjects by the share of the first ten
    that hold the subject (`asking.precision`), in the order a model gives (None: the candidates' own order)."""
    ids = [f"a{i}" for i in range(12)]
    rows = [[0.0] * N for _ in ids]
    holders = {"a1": 1, "a3": 1, "a11": 1}  # a11 lies past the first ten
    groups = [Group("q", source, ids, rows, [0] * len(ids), grades, depth=50)
              for source, grades in (("known-item dev", {"a1": 1}), ("judged sample dev", {"a0": 3}),
                                     ("asking dev", holders))]
    scores = score_groups(None, groups)
    assert scores == {"known-item dev": 0.5, "judged sample dev": 1.0,
                      "asking dev": asking.precision(ids, holders)} and scores["asking dev"] == 0.2
