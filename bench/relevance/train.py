"""`python -m bench.relevance.train`: train the learned ranker of hybrid search, LambdaMART or linear.

Training pairs come from the service's own hybrid candidates: each query runs through the service's
searcher (`service.runtime.Runtime`, synonym rules and all) with a `Recorder` in the ranker's place
(`Searcher.with_ranker`), which keeps the feature rows (`service.features`) of every fused candidate and
answers in fusion's order. Labels:

- known items (`bench.relevance.known_item`) of the train years (2014-2022), label 1 for the
  record's article, 0 for every other candidate, of three kinds: `tags` and `sentence` queries
  over the main index and over the train mirrors (dense-era indices built like the held-out one,
  `known_item.MIRRORS`), `title` queries over the untitled index (the body found from its title);
- the judged set's train half (`judged.split`: every other query) over the main index (sample +
  distractors) and over the sample alone, labels = grades;
- subjects of `bench.relevance.asking` from the train years' keywords (none a dev subject), each asked as is,
  as a question and framed, over the main index: label 1 for every candidate holding the subject verbatim.

Candidates compared on dev (known items of 2023-2026, `tags` as posed, over the main index and over the dev
mirror, the judged set's other half, and the dev subjects of `bench.relevance.asking` asked as they are — a
keyword many articles hold verbatim, whose first ten hits should hold it): LambdaMART (LightGBM, a few
settings) and a regularised linear model (pairwise logistic regression on standardised features, a few
strengths; `service.ranking.LinearScorer` runs it with numpy alone), each trained on all three kinds (+
judged) without and with the train mirrors' queries. The one with the best sum of MRR@10 (known items, main
and mirror) + nDCG@10 (judged) + precision@10 (the subjects) on dev is written, with every candidate's dev
figures in its `trained` record. The 2012/2013 held-out years are never read here. Everything is seeded and
single-threaded, so a rerun on the same indices writes the same model. The result is
`service/models/ranker-learned-v8.json` (`service.ranking.load`).

Collecting the candidates (some 3,500 hybrid searches) is most of the run; `--candidates FILE` keeps
them (the searches' fused entries and lists, which only the indices and the search code decide) and a
later run with the same queries reuses them, computing the feature rows afresh (`features.rows` is a
function of the query, the entries, the lists and the depth alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.relevance import asking, judged, known_item, metrics
from bench.relevance.runner import XWLB, alias_for
from govsearch.paths import CACHE_DIR
from govsearch.settings import Settings
from govsearch.splits import DEV_YEARS, TRAIN_YEARS
from service import features, ranking
from service.fusion import Candidate, Fused

VERSION = "learned-v8"
SEED = 20261128
# Hybrid queries cost ~0.3-0.6 s each on the shared 2-core machine (embedding + two requests + page).
N_TRAIN = {"tags": 800, "sentence": 400, "title": known_item.N_UNTITLED}
N_TRAIN_MIRROR = {"tags": 600, "sentence": 300}  # per train mirror
N_DEV = 300
N_TRAIN_SUBJECTS = 300  # asked subjects of the train years, before those that are dev subjects too are left out
N_DEV_MIRROR = 600  # the task the held-out one mirrors, so the choice's noise there is halved (SE ~0.01 at 300)
JUDGED_WEIGHT = 8.0  # a judged query (graded, hand-made) counts for this many known-item queries
MAIN_ALIAS = alias_for("usem3", prefix="eval-ki")
HELD_OUT_ALIAS = alias_for("usem3", prefix="eval-kiheld")
# Named for its selection (`known_item.Corpora.untitled_index`: the answers under stand-in titles): the index of
# the same size in which they were titled by their dates (eval-kiuntitled, up to learned-v4) is never reused for it.
UNTITLED_ALIAS = alias_for("usem3", prefix="eval-kiretitled")
SAMPLE_ALIAS = alias_for("usem3")
MIRROR_ALIAS = {name: alias_for("usem3", prefix=f"eval-ki{name}") for name in known_item.MIRRORS}
MODEL_FILE = Path(__file__).resolve().parents[2] / "service" / "models" / f"ranker-{VERSION}.json"
# LightGBM settings compared on dev. All stay well under the 1 MB the model file may take (31 leaves x
# 300 trees measured 1.03 MB).
TREE_VARIANTS: tuple[dict[str, Any], ...] = (
    {"num_leaves": 7, "n_estimators": 150, "learning_rate": 0.05, "min_child_samples": 20},
    {"num_leaves": 15, "n_estimators": 150, "learning_rate": 0.05, "min_child_samples": 20},
    {"num_leaves": 15, "n_estimators": 200, "learning_rate": 0.03, "min_child_samples": 50},
)
# Inverse L2 strengths of the linear model compared on dev.
LINEAR_C = (0.01, 0.1, 1.0)
# Training signal sets compared on dev: which known-item kinds join the judged train half, and whether the
# train mirrors' queries do.
SIGNALS = {"tags+sentence+title": (known_item.KINDS, False), "tags+sentence+title+mirrors": (known_item.KINDS, True)}


@dataclass
class Group:
    """One query's candidates as the searcher fused them: ids in fusion order, feature rows, labels."""

    query: str
    source: str  # known-item split or judged set, and index
    ids: list[str]
    rows: list[list[float]]
    labels: list[int]
    grades: dict[str, int]  # every judged article of the query, found or not (the ideal ranking's)
    depth: int  # the candidate depth the rows were computed with
    weight: float = 1.0
    entries: list[Fused] = field(default_factory=list, repr=False)
    lists: dict[str, list[Candidate]] = field(default_factory=dict, repr=False)


# What the recorder saw during the current search: one box per search task (asyncio copies the context).
_RECORDED: ContextVar[list[tuple[list[Fused], dict[str, list[Candidate]], int]]] = ContextVar("recorded")
# Searches in flight at once while collecting (the searcher's admission allows 4).
CONCURRENCY = 3


class Recorder:
    """A `service.ranking.Reranker` that keeps what the ranker would see and leaves fusion's order."""

    name = "recorder"

    def rerank(self, q: str, entries: list[Fused], lists: dict[str, list[Candidate]],
               depth: int) -> list[Fused] | None:
        _RECORDED.get().append((list(entries), lists, depth))
        return None


async def collect(settings: Settings, queries: Sequence[tuple[str, dict[str, int]]], source: str,
                  weight: float = 1.0, say=print) -> list[Group]:
    """Run `queries` ((text, grades)) as hybrid searches over `settings.index_alias`, CONCURRENCY at a
    time; one group each (in `queries` order), none for a query without candidates."""
    from service.query import SearchRequest
    from service.runtime import Runtime

    runtime = await Runtime.open(settings.model_copy(update={"ranker_model": None}))
    searcher = runtime.searcher.with_ranker(Recorder())
    slots = asyncio.Semaphore(CONCURRENCY)
    done = [0]

    async def one(q: str, grades: dict[str, int]) -> Group | None:
        async with slots:
            box: list[tuple[list[Fused], dict[str, list[Candidate]], int]] = []
            _RECORDED.set(box)
            await searcher.search(SearchRequest(q=q, mode="hybrid", size=10))
        done[0] += 1
        if done[0] % 250 == 0:
            say(f"  {source}: {done[0]}/{len(queries)} queries")
        if not box:
            return None
        entries, lists, depth = box[0]
        ids = [e.article_id for e in entries]
        return Group(q, source, ids, features.rows(q, entries, lists, depth), [grades.get(a, 0) for a in ids],
                     grades, depth, weight, entries, lists)

    try:
        found = await asyncio.gather(*(one(q, grades) for q, grades in queries))
    finally:
        await runtime.close()
    return [g for g in found if g is not None]


def bench_settings(alias: str, **overrides: Any) -> Settings:
    """Settings of the benchmark's in-process runs: its own index and embedding cache, patient timeouts
    (relevance is measured, not latency: on a loaded machine Elasticsearch's own search timeout would
    cut candidate lists short and the query embedding would degrade hybrid to BM25), no per-client
    rate limit (thousands of queries from one client in minutes)."""
    base = Settings()
    return Settings(index_alias=alias, embedding_cache_dir=CACHE_DIR / "bench" / "embeddings",
                    es_request_timeout=max(base.es_request_timeout, 120.0),
                    es_search_timeout=max(base.es_search_timeout, 20.0),
                    query_embedding_timeout=max(base.query_embedding_timeout, 20.0),
                    keyless_rate_limit_per_minute=0, **overrides)


def _useful(groups: Sequence[Group]) -> list[Group]:
    """The groups a ranker can learn from: some candidate labelled better than another (not every candidate
    alike, as when all of a judged query's candidates carry one grade)."""
    return [g for g in groups if len(set(g.labels)) > 1]


def fit_lambdamart(groups: Sequence[Group], params: dict[str, Any]) -> str:
    """LightGBM's model text of a LambdaMART ranker trained on `groups`."""
    import lightgbm
    import numpy as np

    useful = _useful(groups)
    model = lightgbm.LGBMRanker(objective="lambdarank", random_state=SEED, deterministic=True, n_jobs=1,
                                force_row_wise=True, verbose=-1, label_gain=[0, 1, 3, 7],
                                lambdarank_truncation_level=20, **params)
    model.fit(np.asarray([r for g in useful for r in g.rows]), np.asarray([y for g in useful for y in g.labels]),
              group=[len(g.ids) for g in useful],
              sample_weight=np.asarray([g.weight for g in useful for _ in g.ids]))
    return str(model.booster_.model_to_string())


def fit_linear(groups: Sequence[Group], c: float) -> dict[str, list[float]]:
    """A linear ranker ({mean, scale, weights}) by pairwise logistic regression: every (better, worse)
    candidate pair of a query gives the difference of their standardised rows, a query's pairs sharing
    its weight; L2-regularised with inverse strength `c`, no intercept (a difference has none)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    useful = _useful(groups)
    rows = np.asarray([r for g in useful for r in g.rows], dtype=np.float64)
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    scale[scale == 0] = 1.0
    diffs, weights = [], []
    for g in useful:
        z = (np.asarray(g.rows, dtype=np.float64) - mean) / scale
        labels = np.asarray(g.labels)
        better, worse = np.nonzero(labels[:, None] > labels[None, :])
        diffs.append(z[better] - z[worse])
        weights.append(np.full(len(better), g.weight / len(better)))
    x, w = np.concatenate(diffs), np.concatenate(weights)
    # Both orientations of every pair, so the classes are balanced and the fit has no reason for an intercept.
    x, y, w = np.concatenate([x, -x]), np.r_[np.ones(len(w)), np.zeros(len(w))], np.concatenate([w, w])
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=2000)
    model.fit(x, y, sample_weight=w * len(useful) / w.sum())
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": model.coef_[0].tolist()}


def scorer(kind: str, model: str | dict[str, Any]) -> ranking.Scorer:
    return ranking.KINDS[kind](model)


def score_groups(model: ranking.Scorer | None, groups: Sequence[Group]) -> dict[str, float]:
    """Mean reciprocal rank (known items) / nDCG@10 (judged) per source, as `model` orders each group
    (None: fusion's order), known items (exact title / document number) first as the service does."""
    import numpy as np

    by_source: dict[str, list[float]] = {}
    exact = features.FEATURES.index("exact")
    for g in groups:
        order = g.ids
        if model is not None and g.ids:
            scores = model.predict(np.asarray(g.rows, dtype=np.float64))
            order = [a for _, _, a in sorted(zip((not r[exact] for r in g.rows), -scores, g.ids))]
        if g.source.startswith("asking"):  # the share of the first ten holding the subject (graded 1)
            value = asking.precision(order, g.grades)
        elif "judged" in g.source:
            value = metrics.ndcg_at_k(order, g.grades, 10)
        else:
            value = metrics.reciprocal_rank(order, g.grades, 10)
        by_source.setdefault(g.source, []).append(value)
    return {s: statistics.fmean(v) for s, v in by_source.items()}


@dataclass
class Trained:
    """One candidate model and its dev figures."""

    signals: str
    kind: str
    params: dict[str, Any]
    model: str | dict[str, Any]
    dev: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.dev.values())


def candidates(train: Sequence[Group], dev: Sequence[Group], say=print) -> list[Trained]:
    """Every (signal set, kind, setting) trained on `train` and scored on `dev`, in a fixed order."""
    out: list[Trained] = []
    for signals, (kinds, mirrors) in SIGNALS.items():
        chosen = [g for g in train if not g.source.startswith("known-item")
                  or (g.source.split()[1] in kinds and (mirrors or "mirror" not in g.source))]
        settings = [*[("lambdamart", p) for p in TREE_VARIANTS], *[("linear", {"C": c}) for c in LINEAR_C]]
        for kind, params in settings:
            model = fit_lambdamart(chosen, params) if kind == "lambdamart" else fit_linear(chosen, params["C"])
            trained = Trained(signals, kind, params, model, score_groups(scorer(kind, model), dev))
            say(f"dev, {signals}, {kind} {params}: {_fmt(trained.dev)}")
            out.append(trained)
    return out


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
    parser.add_argument("--n-main", type=int, default=known_item.N_MAIN,
                        help="xwlb records the main index holds (default %(default)s)")
    parser.add_argument("--n-dev", type=int, default=N_DEV, help="known-item dev queries (default %(default)s)")
    parser.add_argument("--candidates", type=Path, default=None, metavar="FILE",
                        help="keep the collected candidates in FILE and reuse those of the same queries from it "
                        "(outside the repository, e.g. .cache/ranker-candidates.pickle)")
    parser.add_argument("--out", type=Path, default=MODEL_FILE, help="model file (default: %(default)s)")
    args = parser.parse_args(argv)
    gathered = asyncio.run(gather(args.n_main, args.n_dev, args.candidates))
    if gathered is None:
        return 1
    kept = f" --candidates {args.candidates}" if args.candidates else ""
    write_best(*gathered, args.out, f"python -m bench.relevance.train --n-main {args.n_main}{kept}")
    return 0


@dataclass
class Ask:
    """One batch of queries to collect candidates for: where they are asked and what their groups are."""

    split: str  # train | dev
    alias: str
    queries: list[tuple[str, dict[str, int]]]
    source: str
    weight: float = 1.0


def asks(n_main: int, n_dev: int, resolved: dict[str, list[judged.JudgedQuery]],
         train_ids: set[str], dev_ids: set[str], texts: dict[str, str]) -> list[Ask]:
    """Every batch the trainer collects, train then dev, in a fixed order (`texts`: the main index's articles,
    `asking.texts_from_index`)."""
    corpora = known_item.corpora(XWLB, n_main=n_main)

    def judged_pairs(alias: str, ids: set[str]) -> list[tuple[str, dict[str, int]]]:
        return [(q.query, q.grades) for q in resolved[alias] if q.id in ids]

    def pairs(items: list[known_item.KnownItem]) -> list[tuple[str, dict[str, int]]]:
        return [(i.query, i.grades) for i in items]

    def holders(subject: asking.Subject) -> dict[str, int]:
        return dict.fromkeys(subject.holders, 1)

    dev_subjects = asking.subjects(corpora.asked, DEV_YEARS, texts)
    kept_apart = {s.subject for s in dev_subjects}
    train_subjects = [s for s in asking.subjects(corpora.asked, TRAIN_YEARS, texts, N_TRAIN_SUBJECTS)
                      if s.subject not in kept_apart]

    out = [Ask("train", UNTITLED_ALIAS if kind == "title" else MAIN_ALIAS,
               pairs(corpora.items("train", n, kind)), f"known-item {kind} train") for kind, n in N_TRAIN.items()]
    for name, mirror in corpora.mirrors.items():
        if mirror.split == "train":
            out += [Ask("train", MIRROR_ALIAS[name], pairs(corpora.items("train", n, kind, mirror=name)),
                        f"known-item {kind} train {name}") for kind, n in N_TRAIN_MIRROR.items()]
    out += [Ask("train", MAIN_ALIAS, judged_pairs(MAIN_ALIAS, train_ids), "judged+distractors train", JUDGED_WEIGHT),
            Ask("train", SAMPLE_ALIAS, judged_pairs(SAMPLE_ALIAS, train_ids), "judged sample train", JUDGED_WEIGHT),
            Ask("train", MAIN_ALIAS, [(form, holders(s)) for s in train_subjects
                                      for form in (s.subject, s.question, s.framed)], "asking train"),
            Ask("dev", MAIN_ALIAS, pairs(corpora.items("dev", n_dev)), "known-item dev")]
    out += [Ask("dev", MIRROR_ALIAS[name], pairs(corpora.items("dev", N_DEV_MIRROR, mirror=name)),
                f"known-item dev {name}")
            for name, mirror in corpora.mirrors.items() if mirror.split == "dev"]
    out += [Ask("dev", MAIN_ALIAS, judged_pairs(MAIN_ALIAS, dev_ids), "judged+distractors dev"),
            Ask("dev", SAMPLE_ALIAS, judged_pairs(SAMPLE_ALIAS, dev_ids), "judged sample dev"),
            Ask("dev", MAIN_ALIAS, [(s.subject, holders(s)) for s in dev_subjects], "asking dev")]
    return out


async def gather(n_main: int, n_dev: int, keep: Path | None = None,
                 say=print) -> tuple[list[Group], list[Group]] | None:
    """The train and dev groups (None, said why, when an index is missing); with `keep`, the groups of a batch
    with the same alias and queries are taken from that file (rows recomputed) and every batch is saved there."""
    import pickle

    judged_set = judged.load()
    train_j, dev_j = judged.split(judged_set)
    from indexer import elastic

    es = elastic.connect(Settings().elasticsearch_url)
    try:
        for alias in (MAIN_ALIAS, UNTITLED_ALIAS, SAMPLE_ALIAS, *MIRROR_ALIAS.values()):
            if elastic.alias_target(es, alias) is None:
                say(f"error: index {alias} is missing: build it with `python -m bench.relevance --known-item`")
                return None
        resolved = {alias: judged.resolve(judged_set, judged.Corpus.from_index(es, alias))[0]
                    for alias in (MAIN_ALIAS, SAMPLE_ALIAS)}
        texts = asking.texts_from_index(es, MAIN_ALIAS)
    finally:
        es.close()
    batches = asks(n_main, n_dev, resolved, {q.id for q in train_j}, {q.id for q in dev_j}, texts)
    # Kept as plain tuples of the searches' outcome (no class of this module, which may run as __main__).
    kept: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    if keep is not None and keep.exists():
        kept = pickle.loads(keep.read_bytes())
    say("collecting candidates: " + ", ".join(f"{b.source} {len(b.queries)} on {b.alias}" for b in batches))
    found: dict[str, list[Group]] = {"train": [], "dev": []}
    for batch in batches:
        key = (batch.alias, batch.source, json.dumps(batch.queries, ensure_ascii=False, sort_keys=True))
        if key in kept:
            groups = [Group(q, batch.source, [e.article_id for e in entries], features.rows(q, entries, lists, depth),
                            [grades.get(e.article_id, 0) for e in entries], grades, depth, batch.weight, entries, lists)
                      for q, grades, depth, entries, lists in kept[key]]
            say(f"  {batch.source}: {len(groups)} groups reused from {keep}")
        else:
            groups = await collect(bench_settings(batch.alias), batch.queries, batch.source, batch.weight, say=say)
            kept[key] = [(g.query, g.grades, g.depth, g.entries, g.lists) for g in groups]
            if keep is not None:
                keep.parent.mkdir(parents=True, exist_ok=True)
                keep.write_bytes(pickle.dumps(kept))
        found[batch.split] += groups
    return found["train"], found["dev"]


def write_best(train: list[Group], dev: list[Group], out: Path, command: str, say=print) -> Trained:
    """Train every candidate, write the one best on dev to `out` (`command` gathered the groups), return it."""
    baseline = score_groups(None, dev)
    say("dev, fusion order: " + _fmt(baseline))
    tried = candidates(train, dev, say)
    best = max(tried, key=lambda t: t.total)  # the first of equals: a fixed order, a deterministic choice
    trained_record = {
        "command": command,
        "seed": SEED, "signals": best.signals, "params": best.params, "lightgbm": _lightgbm_version(),
        "train": {s: sum(g.source == s for g in train) for s in sorted({g.source for g in train})},
        "index": {"known items (tags, sentence) and judged+distractors": MAIN_ALIAS,
                  "known items (title)": UNTITLED_ALIAS, "judged sample": SAMPLE_ALIAS,
                  **{f"known items ({split} mirror {min(years)}-{max(years)})": MIRROR_ALIAS[name]
                     for name, (split, years) in known_item.MIRRORS.items()}},
        "dev": {"fusion": _rounded(baseline), VERSION: _rounded(best.dev)},
        "dev_candidates": [{"signals": t.signals, "kind": t.kind, "params": t.params, "dev": _rounded(t.dev)}
                           for t in tried],
        "held_out_years_used": False,
    }
    document = ranking.model_document(VERSION, best.kind, best.model, trained_record)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    loaded = ranking.load(out)
    assert loaded is not None, f"{out} does not load back"
    p50, p95 = ranking_cost_ms(loaded, dev)
    say(f"chose {best.signals}, {best.kind} {best.params}; wrote {out} ({out.stat().st_size / 1024:.0f} KiB); "
        f"ranking stage {p50:.2f} ms p50, {p95:.2f} ms p95 over {len(dev)} dev queries")
    return best


def _fmt(scores: dict[str, float]) -> str:
    return ", ".join(f"{s} {v:.3f}" for s, v in sorted(scores.items()))


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {s: round(v, 4) for s, v in sorted(scores.items())}


def _lightgbm_version() -> str:
    import lightgbm

    return str(lightgbm.__version__)


if __name__ == "__main__":
    sys.exit(main())
