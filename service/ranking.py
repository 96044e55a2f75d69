"""The ranking stage of hybrid search: which fused candidates count, and in what order they are shown.

- `plausible`: a candidate only the vector side found (it shares no word with the query) counts
  only if its cosine reaches VECTOR_ONLY_MIN_SIMILARITY or, while no BM25 candidate holds the whole
  query (each of its parts verbatim), the vector side ranks it in its top VECTOR_ONLY_TOP_RANK; the
  rest neither pad the list nor count in `total`. A query some article holds whole (a name, a
  document number, an exact phrase) is answered in words: the vector side's nearest articles to it
  were nearly all unrelated on the judged set (0 of 179 relevant on the sample's train half).
- `LearnedRanker`: a model over `service.features` reorders the remaining candidates. It is a JSON
  file (`RANKER_MODEL`) holding the format, the ranking's version name (`learned-v8`), the feature
  list it was trained on, its `kind` and the model: `lambdamart`, a LightGBM text model evaluated
  with numpy (`service.trees`), or `linear`, per-feature means, scales and weights (score =
  Σ w·(x − mean)/scale); it is
  written by `python -m bench.relevance.train`, which keeps whichever kind measured best on dev.

Invariants: known items (exact title or document number) stay first whatever the model says;
ties are broken by article id, so pages never shuffle; a missing, unreadable or mismatched model
file, or a model failing on one query, is logged and the search answers in fusion's order — the
ranker never fails a search. A learned hit's `score` is the logistic of the model's output: in
[0, 1] and in the order shown, but not calibrated across queries like the fusion scores.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from service import features
from service.fusion import Candidate, Fused, calibrate_cosine, in_order
from service.query import coverage_segments
from service.trees import Forest

log = logging.getLogger(__name__)

MODEL_FORMAT = "gov-search-ranker/1"


def plausible(q: str, entries: list[Fused], lists: dict[str, list[Candidate]], *, min_similarity: float,
              top_rank: int) -> list[Fused]:
    """`entries` (order kept) without the vector-only candidates that are neither at a cosine of `min_similarity`
    or more nor, while no BM25 candidate holds every part of `q` (`features.segment_cover`, read from the
    coverage clauses), within the vector side's `top_rank` best."""
    parts = len(coverage_segments(q))
    if parts and any(features.segment_cover(c.clauses, parts) == parts for c in lists.get("bm25", ())):
        top_rank = 0
    cosine = {c.article_id: calibrate_cosine(c.score) for c in lists.get("vector", ())}
    return [e for e in entries
            if e.holds_words or e.ranks.get("vector", top_rank + 1) <= top_rank
            or cosine.get(e.article_id, 0.0) >= min_similarity]


class Reranker(Protocol):
    """What the searcher asks to order fused candidates (`LearnedRanker`, or a training recorder)."""

    name: str

    def rerank(self, q: str, entries: list[Fused], lists: dict[str, list[Candidate]],
               depth: int) -> list[Fused] | None:
        """`entries` in the new order with new scores, or None to keep fusion's order."""
        ...


class Scorer(Protocol):
    """A loaded model: one score per feature row, higher is better."""

    def predict(self, rows: Any) -> Any: ...


class TreeScorer:
    """LambdaMART: LightGBM's model text, evaluated with numpy (`service.trees`; no LightGBM in the API)."""

    def __init__(self, model_text: str) -> None:
        self.forest = Forest(model_text)
        if self.forest.num_feature != len(features.FEATURES):
            raise ValueError(f"the model reads {self.forest.num_feature} features, not {len(features.FEATURES)}")

    def predict(self, rows: Any) -> Any:
        return self.forest.predict(rows)


class LinearScorer:
    """A linear model over standardised features: Σ weight·(x − mean)/scale (every scale > 0)."""

    def __init__(self, model: dict[str, Any]) -> None:
        import numpy as np

        self.mean, self.scale, self.weights = (np.asarray(model[k], dtype=np.float64)
                                               for k in ("mean", "scale", "weights"))
        n = len(features.FEATURES)
        if not (self.mean.shape == self.scale.shape == self.weights.shape == (n,)):
            raise ValueError(f"a linear model needs {n} means, scales and weights")
        if not (np.all(np.isfinite(self.weights)) and np.all(np.isfinite(self.mean)) and np.all(self.scale > 0)):
            raise ValueError("a linear model's means and weights must be finite and its scales positive")

    def predict(self, rows: Any) -> Any:
        return ((rows - self.mean) / self.scale) @ self.weights


KINDS: dict[str, Callable[[Any], Scorer]] = {"lambdamart": TreeScorer, "linear": LinearScorer}


class LearnedRanker:
    """A loaded model; `name` is the version the response's `ranking` reports."""

    def __init__(self, name: str, model: Scorer) -> None:
        self.name = name
        self.model = model

    def rerank(self, q: str, entries: list[Fused], lists: dict[str, list[Candidate]],
               depth: int) -> list[Fused] | None:
        if not entries:
            return entries
        try:
            import numpy as np

            raw = self.model.predict(np.asarray(features.rows(q, entries, lists, depth), dtype=np.float64))
        except Exception:
            log.exception("ranker %s failed on a query; answering in fusion's order", self.name)
            return None
        scored = [Fused(e.article_id, _logistic(float(s)), e.candidate, e.ranks, e.exact)
                  for e, s in zip(entries, raw)]
        return in_order(scored)


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-500.0, min(500.0, x))))


def model_document(name: str, kind: str, model: str | dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    """The JSON document `load` reads: format, version name, feature list, kind, provenance, model
    (`lambdamart`: LightGBM's model text; `linear`: {mean, scale, weights}, one each per feature)."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}")
    return {"format": MODEL_FORMAT, "name": name, "features": list(features.FEATURES), "kind": kind,
            "trained": trained, "model": model}


def load(path: Path | None) -> LearnedRanker | None:
    """The ranker in `path`, or None (logged as an error) when it is unset, missing, corrupt or was
    trained on other features than `service.features.FEATURES`."""
    if path is None or not str(path).strip():
        return None
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("format") != MODEL_FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {MODEL_FORMAT!r}")
        if document.get("features") != list(features.FEATURES):
            raise ValueError("trained on another feature list than service.features.FEATURES")
        kind = document.get("kind", "lambdamart")
        if kind not in KINDS:
            raise ValueError(f"unknown model kind {kind!r}")
        return LearnedRanker(str(document["name"]), KINDS[kind](document["model"]))
    except Exception as exc:
        log.error("ranker model %s not loaded (%s: %s); hybrid search uses fusion", path, type(exc).__name__, exc)
        return None
