"""The ranker trainer's fits (`bench.relevance.train`) on small synthetic groups."""

from __future__ import annotations

import numpy as np

from bench.relevance.train import Group, fit_linear
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
