"""`python -m bench.relevance.train`: train the learned ranker of hybrid search (LambdaMART, LightGBM).

Training pairs come from the service's own hybrid candidates: each query runs through
`service.search.Searcher` with a `Recorder` in the ranker's place, which keeps the feature rows
(`service.features`) of every fused candidate and answers in fusion's order. Labels:

- known items (`bench.relevance.known_item`): the train split (2014-2022) of the main index,
  label 1 for the record's article, 0 for every other candidate;
- the judged set's train half (`judged.split`: every other query) over the same index (sample +
  distractors) and over the sample alone, labels = grades.

The dev split (known items of 2023-2026 and the judged set's other half) picks among a few
LightGBM settings by MRR@10 (known items) + nDCG@10 (judged). The 2012/2013 held-out years are
never read here. Everything is seeded and single-threaded, so a rerun on the same index writes
the same model. The result is `service/models/ranker-learned-v1.json` (`service.ranking.load`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.relevance import judged, known_item, metrics
from bench.relevance.runner import XWLB, alias_for
from govsearch.paths import CACHE_DIR
from govsearch.settings import Settings
from service import features, ranking
from service.fusion import Candidate, Fused

VERSION = "learned-v1"
SEED = 20261128
# Hybrid queries cost ~0.3-0.6 s each on the shared 2-core machine (embedding + two requests + page).
N_TRAIN = 800
N_DEV = 300
JUDGED_WEIGHT = 8.0  # a judged query (graded, hand-made) counts for this many known-item queries
MAIN_ALIAS = alias_for("usem3", prefix="eval-ki")
HELD_OUT_ALIAS = alias_for("usem3", prefix="eval-kiheld")
SAMPLE_ALIAS = alias_for("usem3")
MODEL_FILE = Path(__file__).resolve().parents[2] / "service" / "models" / f"ranker-{VERSION}.json"
# LightGBM settings compared on dev; the first is the default a tie keeps. All stay well under the
# 1 MB the model file may take (31 leaves x 300 trees measured 1.03 MB).
VARIANTS: tuple[dict[str, Any], ...] = (
    {"num_leaves": 7, "n_estimators": 150, "learning_rate": 0.05, "min_child_samples": 20},
    {"num_leaves": 15, "n_estimators": 150, "learning_rate": 0.05, "min_child_samples": 20},
    {"num_leaves": 15, "n_estimators": 200, "learning_rate": 0.03, "min_child_samples": 50},
)


@dataclass
class Group:
    """One query's candidates as the searcher fused them: ids in fusion order, feature rows, labels."""

    query: str
    source: str  # known-item split or judged set, and index
    ids: list[str]
    rows: list[list[float]]
    labels: list[int]
    grades: dict[str, int]  # every judged article of the query, found or not (the ideal ranking's)
    weight: float = 1.0
    entries: list[Fused] = field(default_factory=list, repr=False)
    lists: dict[str, list[Candidate]] = field(default_factory=dict, repr=False)


class Recorder:
    """A `service.ranking.Reranker` that keeps what the ranker would see and leaves fusion's order."""

    name = "recorder"

    def __init__(self) -> None:
        self.last: tuple[str, list[Fused], dict[str, list[Candidate]], list[list[float]]] | None = None

    def rerank(self, q: str, entries: list[Fused], lists: dict[str, list[Candidate]],
               depth: int) -> list[Fused] | None:
        self.last = (q, list(entries), lists, features.rows(q, entries, lists, depth))
        return None


async def collect(settings: Settings, queries: Sequence[tuple[str, dict[str, int]]], source: str,
                  weight: float = 1.0, say=print) -> list[Group]:
    """Run `queries` ((text, grades)) as hybrid searches over `settings.index_alias`; one group each."""
    from service.backend import ElasticsearchBackend
    from service.query import SearchRequest
    from service.runtime import Runtime
    from service.search import Searcher

    runtime = await Runtime.open(settings.model_copy(update={"ranker_model": None}))
    recorder = Recorder()
    searcher = Searcher(ElasticsearchBackend(runtime.es), runtime.query_embedder, runtime.settings,
                        runtime.admission, recorder)
    groups: list[Group] = []
    try:
        for i, (q, grades) in enumerate(queries):
            recorder.last = None
            await searcher.search(SearchRequest(q=q, mode="hybrid", size=10))
            if recorder.last is None:
                continue
            _, entries, lists, rows = recorder.last
            ids = [e.article_id for e in entries]
            groups.append(Group(q, source, ids, rows, [grades.get(a, 0) for a in ids], grades, weight, entries,
                                lists))
            if (i + 1) % 250 == 0:
                say(f"  {source}: {i + 1}/{len(queries)} queries")
    finally:
        await runtime.close()
    return groups


def bench_settings(alias: str, **overrides: Any) -> Settings:
    """Settings of the benchmark's in-process runs: its own index and embedding cache, a patient timeout,
    no per-client rate limit (thousands of queries from one client in minutes)."""
    base = Settings()
    return Settings(index_alias=alias, embedding_cache_dir=CACHE_DIR / "bench" / "embeddings",
                    es_request_timeout=max(base.es_request_timeout, 30.0), keyless_rate_limit_per_minute=0,
                    **overrides)


def fit(groups: Sequence[Group], params: dict[str, Any]) -> Any:
    import lightgbm
    import numpy as np

    useful = [g for g in groups if any(g.labels) and len(g.ids) > 1]
    model = lightgbm.LGBMRanker(objective="lambdarank", random_state=SEED, deterministic=True, n_jobs=1,
                                force_row_wise=True, verbose=-1, label_gain=[0, 1, 3, 7],
                                lambdarank_truncation_level=20, **params)
    model.fit(np.asarray([r for g in useful for r in g.rows]), np.asarray([y for g in useful for y in g.labels]),
              group=[len(g.ids) for g in useful],
              sample_weight=np.asarray([g.weight for g in useful for _ in g.ids]))
    return model.booster_


def score_groups(booster: Any, groups: Sequence[Group]) -> dict[str, float]:
    """Mean reciprocal rank (known items) / nDCG@10 (judged) per source, as the ranker orders each group."""
    import numpy as np

    by_source: dict[str, list[float]] = {}
    for g in groups:
        order = g.ids
        if booster is not None and g.ids:
            scores = booster.predict(np.asarray(g.rows), num_threads=1)
            exact = [r[features.FEATURES.index("exact")] for r in g.rows]
            order = [a for _, _, _, a in sorted(zip((not e for e in exact), -scores, g.ids, g.ids))]
        value = (metrics.ndcg_at_k(order, g.grades, 10) if "judged" in g.source
                 else metrics.reciprocal_rank(order, g.grades, 10))
        by_source.setdefault(g.source, []).append(value)
    return {s: statistics.fmean(v) for s, v in by_source.items()}


def ranking_cost_ms(ranker: ranking.LearnedRanker, groups: Sequence[Group]) -> tuple[float, float]:
    """p50 and p95 milliseconds of the whole ranking stage (features + model + sort) per query."""
    times = []
    depth = Settings().candidate_depth
    for g in groups:
        started = time.perf_counter()
        ranker.rerank(g.query, g.entries, g.lists, depth)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relevance.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=N_TRAIN, help="known-item train queries (default %(default)s)")
    parser.add_argument("--n-dev", type=int, default=N_DEV, help="known-item dev queries (default %(default)s)")
    parser.add_argument("--out", type=Path, default=MODEL_FILE, help="model file (default: %(default)s)")
    args = parser.parse_args(argv)
    return asyncio.run(_train(args))


async def _train(args: argparse.Namespace) -> int:
    say = print
    corpora = known_item.corpora(XWLB)
    judged_set = judged.load()
    train_j, dev_j = judged.split(judged_set)
    from indexer import elastic

    es = elastic.connect(Settings().elasticsearch_url)
    try:
        for alias in (MAIN_ALIAS, SAMPLE_ALIAS):
            if elastic.alias_target(es, alias) is None:
                say(f"error: index {alias} is missing: build it with `python -m bench.relevance --known-item`")
                return 1
        resolved = {alias: judged.resolve(judged_set, judged.Corpus.from_index(es, alias))[0]
                    for alias in (MAIN_ALIAS, SAMPLE_ALIAS)}
    finally:
        es.close()

    def judged_pairs(alias: str, ids: set[str]) -> list[tuple[str, dict[str, int]]]:
        return [(q.query, q.grades) for q in resolved[alias] if q.id in ids]

    train_ids, dev_ids = {q.id for q in train_j}, {q.id for q in dev_j}
    main, sample = bench_settings(MAIN_ALIAS), bench_settings(SAMPLE_ALIAS)
    say(f"collecting candidates: {args.n_train} train / {args.n_dev} dev known items, judged {len(train_ids)} / "
        f"{len(dev_ids)}, on {MAIN_ALIAS} and {SAMPLE_ALIAS} ...")
    train = await collect(main, [(i.query, i.grades) for i in corpora.items("train", args.n_train)],
                          "known-item train", say=say)
    train += await collect(main, judged_pairs(MAIN_ALIAS, train_ids), "judged+distractors train", JUDGED_WEIGHT)
    train += await collect(sample, judged_pairs(SAMPLE_ALIAS, train_ids), "judged sample train", JUDGED_WEIGHT)
    dev = await collect(main, [(i.query, i.grades) for i in corpora.items("dev", args.n_dev)], "known-item dev",
                        say=say)
    dev += await collect(main, judged_pairs(MAIN_ALIAS, dev_ids), "judged+distractors dev")
    dev += await collect(sample, judged_pairs(SAMPLE_ALIAS, dev_ids), "judged sample dev")

    baseline = score_groups(None, dev)
    say("dev, fusion order: " + _fmt(baseline))
    best: tuple[float, int, Any, dict[str, float]] | None = None
    for i, params in enumerate(VARIANTS):
        booster = fit(train, params)
        scores = score_groups(booster, dev)
        say(f"dev, variant {i} {params}: " + _fmt(scores))
        total = sum(scores.values())
        if best is None or total > best[0] + 1e-9:
            best = (total, i, booster, scores)
    assert best is not None
    _, chosen, booster, scores = best
    trained = {
        "command": "python -m bench.relevance.train",
        "seed": SEED, "params": VARIANTS[chosen], "lightgbm": _lightgbm_version(),
        "train": {s: sum(g.source == s for g in train) for s in sorted({g.source for g in train})},
        "index": {"known items and judged+distractors": MAIN_ALIAS, "judged sample": SAMPLE_ALIAS},
        "dev": {"fusion": _rounded(baseline), VERSION: _rounded(scores)},
        "held_out_years_used": False,
    }
    document = ranking.model_document(VERSION, booster.model_to_string(), trained)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    loaded = ranking.load(args.out)
    assert loaded is not None, f"{args.out} does not load back"
    p50, p95 = ranking_cost_ms(loaded, dev)
    say(f"chose variant {chosen}; wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB); "
        f"ranking stage {p50:.2f} ms p50, {p95:.2f} ms p95 over {len(dev)} dev queries")
    return 0


def _fmt(scores: dict[str, float]) -> str:
    return ", ".join(f"{s} {v:.3f}" for s, v in sorted(scores.items()))


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {s: round(v, 4) for s, v in sorted(scores.items())}


def _lightgbm_version() -> str:
    import lightgbm

    return str(lightgbm.__version__)


if __name__ == "__main__":
    sys.exit(main())
