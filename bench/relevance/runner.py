"""Indices to evaluate against, the API to ask, and the evaluation loop.

Everything measured goes through `GET /search`: either an in-process app
(`fastapi.testclient.TestClient(create_app(settings))`, the same application
`uvicorn service.main:app` serves) or a running server given with `--api`.
Settings variants (fusion method, RRF k, weights, ...) are applied to the
in-process app with `Runtime.with_settings`, which keeps its clients and loaded
models, so one loaded model serves all variants.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from elasticsearch import Elasticsearch

from bench.relevance import metrics
from bench.relevance.judged import Corpus, JudgedQuery
from govsearch.paths import CACHE_DIR, PROJECT_ROOT, SAMPLE_CORPUS, XWLB_CORPUS
from govsearch.rules import normalize_text
from govsearch.settings import Settings, get_settings
from indexer import elastic

log = logging.getLogger(__name__)

MODES = ("bm25", "vector", "hybrid")
SAMPLE = SAMPLE_CORPUS
XWLB = XWLB_CORPUS
# Settings the benchmark may vary per run; anything else comes from the environment as usual.
TUNABLE = ("fusion", "rrf_k", "bm25_weight", "vector_weight", "candidate_depth", "knn_num_candidates",
           "vector_min_similarity", "synonyms_enabled")


class BenchError(RuntimeError):
    """A run that cannot produce meaningful numbers; the message says why."""


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

@dataclass
class QueryRun:
    query: JudgedQuery
    ranking: list[str]
    titles: list[str]
    ndcg: float
    recall: float
    rr: float
    took_ms: float
    degraded: bool
    did_you_mean: str | None = None
    synonyms: list[str] = field(default_factory=list)  # official terms the service searched besides the query

    @property
    def first_relevant(self) -> int | None:
        return metrics.first_relevant_rank(self.ranking, self.query.grades)

    @property
    def corrected(self) -> bool:
        """Whether `did_you_mean` proposed the words a typo query means (`JudgedQuery.intended`), as normalised."""
        return (self.did_you_mean is not None and self.query.intended is not None
                and normalize_text(self.did_you_mean) == normalize_text(self.query.intended))


@dataclass
class Scores:
    ndcg: float
    recall: float
    mrr: float
    n: int


@dataclass
class RunResult:
    """One configuration (model, mode, settings) over the whole judged set."""

    label: str
    model: str
    mode: str
    settings: dict[str, Any]
    runs: list[QueryRun]
    notes: list[str] = field(default_factory=list)

    def scores(self, keep: Callable[[JudgedQuery], bool] = lambda q: True) -> Scores:
        runs = [r for r in self.runs if keep(r.query)]
        return Scores(metrics.mean(r.ndcg for r in runs), metrics.mean(r.recall for r in runs),
                      metrics.mean(r.rr for r in runs), len(runs))

    def by_kind(self, kind: str) -> Scores:
        return self.scores(lambda q: q.kind == kind)

    def citizen(self) -> Scores:
        return self.scores(lambda q: q.citizen)

    def worst(self, n: int) -> list[QueryRun]:
        return sorted(self.runs, key=lambda r: (r.ndcg, r.rr, r.query.id))[:n]

    @property
    def degraded(self) -> int:
        return sum(r.degraded for r in self.runs)

    @property
    def mean_took_ms(self) -> float:
        return metrics.mean(r.took_ms for r in self.runs)


# --------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------

class SearchAPI(Protocol):
    description: str

    def search(self, q: str, mode: str, size: int) -> dict[str, Any]: ...


class HttpAPI:
    """A running server (`--api http://127.0.0.1:8000`): whatever index and settings it has."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        import httpx

        headers = {"X-API-Key": api_key} if api_key else {}
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=60.0, headers=headers)
        self.description = f"running server {base_url}"
        try:
            ready = self.client.get("/readyz")
        except httpx.HTTPError as exc:
            raise BenchError(f"no API at {base_url}: {exc}") from exc
        if ready.status_code != 200:
            raise BenchError(f"the API at {base_url} is not ready: {ready.text}")
        self.alias = ready.json().get("alias", "?")

    def search(self, q: str, mode: str, size: int) -> dict[str, Any]:
        response = self.client.get("/search", params={"q": q, "mode": mode, "size": size})
        if response.status_code != 200:
            raise BenchError(f"GET /search q={q!r} mode={mode} answered {response.status_code}: {response.text}")
        return response.json()

    def corpus(self, queries: Sequence[JudgedQuery]) -> Corpus:
        """What the server can return of the judged articles: each judged id through GET /articles/{id},
        each title not found that way through a search for it (an exact title is a known-item query)."""
        titles: dict[str, str] = {}
        for article_id in {j.article_id for q in queries for j in q.judgments if j.article_id}:
            response = self.client.get(f"/articles/{article_id}")
            if response.status_code == 200:
                titles[article_id] = response.json().get("title", "")
        missing = {j.title for q in queries for j in q.judgments} - set(titles.values())
        for title in missing:
            for hit in self.search(title, "bm25", 10)["hits"]:
                if hit["title"] == title:
                    titles[hit["id"]] = title
        return Corpus(titles)

    def close(self) -> None:
        self.client.close()


class InProcessAPI:
    """The app in this process, behind FastAPI's TestClient (real HTTP semantics, no socket)."""

    def __init__(self, settings: Settings) -> None:
        from fastapi.testclient import TestClient

        from service.main import create_app

        self.app = create_app(settings)
        self.client = TestClient(self.app)
        self.client.__enter__()  # runs the lifespan: ES clients, the model, the searcher
        self.settings = settings
        self.description = "in-process app (fastapi TestClient)"

    def embedder(self, model: str) -> Any:
        """The app's own loaded model, so building an index does not load it a second time."""
        return self.app.state.runtime.embedders.get(model)

    def configure(self, settings: Settings) -> None:
        """Serve with `settings` from now on: the same clients and loaded models, another searcher."""
        self.app.state.runtime = self.app.state.runtime.with_settings(settings)
        self.settings = settings

    def search(self, q: str, mode: str, size: int) -> dict[str, Any]:
        response = self.client.get("/search", params={"q": q, "mode": mode, "size": size})
        if response.status_code != 200:
            raise BenchError(f"GET /search q={q!r} mode={mode} answered {response.status_code}: {response.text}")
        return response.json()

    def close(self) -> None:
        self.client.__exit__(None, None, None)


# --------------------------------------------------------------------------
# Indices
# --------------------------------------------------------------------------

@dataclass
class IndexInfo:
    alias: str
    index: str
    model: str
    articles: int
    passages: int
    built: bool
    seconds: float = 0.0
    embed_seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def rate(self) -> float:
        return self.passages / self.seconds if self.seconds else float("nan")


def alias_for(model: str, prefix: str = "eval") -> str:
    """eval-usem3, eval-minilm, eval-dist20000-usem3: no alias is another's prefix followed by '-',
    so pruning one alias's old indices (`<alias>-*`) never touches another's."""
    safe = "".join(c if c.isalnum() else "-" for c in model.lower()).strip("-")
    return f"{prefix}-{safe}"


def ensure_index(es: Elasticsearch, alias: str, model: str, sources: Sequence[Path], *, reuse: bool,
                 embedder: Callable[[], Any], say: Callable[[str], None]) -> IndexInfo:
    """Build `sources` behind `alias` with `model` and the word analysis of WORD_SEGMENTER, or reuse what
    is there when asked to and it fits (same model, same segmenter)."""
    from indexer.pipeline import BuildFailed, build

    segmenter = get_settings().word_segmenter
    live = elastic.alias_target(es, alias)
    if reuse and live is not None:
        meta = elastic.index_meta(es, live)
        if meta.get("embedding_model") == model and meta.get("word_segmenter", "smartcn") == segmenter:
            stats = elastic.index_stats(es, alias, live)
            say(f"reusing {alias} -> {live} ({stats['articles']} articles, {stats['passages']} passages, {model})")
            info = IndexInfo(alias, live, model, stats["articles"], stats["passages"], built=False)
            earlier = _build_log().get(live)
            if earlier:  # how long it took when it was built, for the report
                info.seconds, info.embed_seconds = earlier["seconds"], earlier["embed_seconds"]
                info.cache_hits, info.cache_misses = earlier["cache_hits"], earlier["cache_misses"]
            return info
        say(f"{alias} was built with {meta.get('embedding_model')!r} and {meta.get('word_segmenter', 'smartcn')!r}, "
            f"not {model!r} and {segmenter!r}: rebuilding")
    say(f"building {alias} with {model} and {segmenter} from {', '.join(_short(s) for s in sources)} ...")
    last = [time.monotonic()]

    def progress(p: Any) -> None:
        if time.monotonic() - last[0] >= 30:
            last[0] = time.monotonic()
            say(f"  {p.phase}: {p.passages_loaded}/{p.passages_total} passages loaded, {p.rate:.1f}/s")

    try:
        result = build(es, embedder(), list(sources), alias=alias, keep_previous=0, on_progress=progress,
                       segmenter=segmenter, merge_segments=get_settings().index_merge_segments)
    except BuildFailed as exc:
        raise BenchError(f"building {alias} failed: {exc}") from exc
    say(f"  {result.articles} articles, {result.passages} passages in {result.seconds:.1f} s "
        f"({result.passages_per_second:.1f} passages/s; embedding {result.embed_seconds:.1f} s, "
        f"cache {result.cache_hits} hits / {result.cache_misses} computed)")
    info = IndexInfo(alias, result.index, model, result.articles, result.passages, built=True,
                     seconds=result.seconds, embed_seconds=result.embed_seconds,
                     cache_hits=result.cache_hits, cache_misses=result.cache_misses)
    _record_build(info)
    return info


# Build timings by index name, so a report on a reused index can still say what building it cost.
BUILD_LOG = CACHE_DIR / "bench" / "relevance-builds.json"


def _build_log() -> dict[str, dict[str, Any]]:
    try:
        return json.loads(BUILD_LOG.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record_build(info: IndexInfo) -> None:
    log_ = _build_log()
    log_[info.index] = {"alias": info.alias, "model": info.model, "articles": info.articles,
                        "passages": info.passages, "seconds": round(info.seconds, 1),
                        "embed_seconds": round(info.embed_seconds, 1), "cache_hits": info.cache_hits,
                        "cache_misses": info.cache_misses}
    try:
        BUILD_LOG.parent.mkdir(parents=True, exist_ok=True)
        BUILD_LOG.write_text(json.dumps(log_, indent=1), encoding="utf-8")
    except OSError as exc:
        log.warning("could not record build timings in %s: %s", BUILD_LOG, exc)


def _short(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT.parent))
    except ValueError:
        return str(path)


@contextmanager
def distractor_file(source: Path, n: int) -> Iterator[tuple[Path, int]]:
    """`n` records spread evenly over the JSONL files under `source` (sorted; every total/n-th line),
    written to a temporary file outside the repository and removed afterwards."""
    files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source]
    if not files:
        raise FileNotFoundError(f"no *.jsonl under {source}")
    counts = []
    for f in files:
        with f.open("rb") as handle:
            counts.append(sum(1 for line in handle if line.strip()))
    total = sum(counts)
    n = min(n, total)
    wanted = {math.floor(i * total / n) for i in range(n)}
    with tempfile.TemporaryDirectory(prefix="gov-search-distractors-") as tmp:
        out = Path(tmp) / f"xwlb-sample-{n}.jsonl"
        position = 0
        with out.open("wb") as sink:
            for f in files:
                with f.open("rb") as handle:
                    for line in handle:
                        if not line.strip():
                            continue
                        if position in wanted:
                            sink.write(line if line.endswith(b"\n") else line + b"\n")
                        position += 1
        yield out, n


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------

def evaluate(api: SearchAPI, queries: Sequence[JudgedQuery], *, mode: str, k: int, label: str, model: str,
             settings: dict[str, Any]) -> RunResult:
    runs: list[QueryRun] = []
    for q in queries:
        started = time.perf_counter()
        body = api.search(q.query, mode, k)
        elapsed = (time.perf_counter() - started) * 1000
        ranking = [hit["id"] for hit in body["hits"]]
        titles = [hit["title"] for hit in body["hits"]]
        runs.append(QueryRun(
            query=q, ranking=ranking, titles=titles,
            ndcg=metrics.ndcg_at_k(ranking, q.grades, k),
            recall=metrics.recall_at_k(ranking, q.grades, k),
            rr=metrics.reciprocal_rank(ranking, q.grades, k),
            took_ms=float(body.get("took_ms", elapsed)),
            degraded=bool(body.get("degraded")),
            did_you_mean=body.get("did_you_mean"),
            synonyms=[term for s in (body.get("understood") or {}).get("synonyms", []) for term in s["terms"]],
        ))
    result = RunResult(label, model, mode, settings, runs)
    if result.degraded:
        result.notes.append(f"{result.degraded} answers were degraded (embedding failed, BM25 only)")
    return result


def tunables(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in TUNABLE}
