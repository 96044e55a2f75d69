"""`--compare-synonyms`: the judged set with the synonym rules on and off (SYNONYMS_ENABLED), per mode and
kind, and what typo correction (`did_you_mean`) does for the typo queries; writes relevance-synonyms.md.

Both runs ask the same index through the same app; only `synonyms_enabled` differs, so the difference is
the expansion alone. The rules are the live set the app reads (seeded from data/synonyms.txt when the
node holds none). Exact-kind nDCG@10 must not drop with synonyms on: the typed words keep their weight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.relevance import metrics, report
from bench.relevance.judged import KINDS, JudgedQuery
from bench.relevance.runner import MODES, RunResult, SearchAPI, evaluate, tunables
from govsearch.settings import Settings


def compare(api: Any, queries: Sequence[JudgedQuery], main_results: Sequence[RunResult], *, alias: str, model: str,
            settings_for: Callable[..., Settings], say: Callable[[str], None]) -> tuple[list[RunResult],
                                                                                         list[RunResult]]:
    """(synonyms on, synonyms off) per mode; `main_results` are the on runs when the defaults have them on."""
    on = list(main_results) if settings_for(alias, model).synonyms_enabled else []
    if not on:
        on = _runs(api, queries, settings_for(alias, model, synonyms_enabled=True), model, "synonyms on", say)
    off = _runs(api, queries, settings_for(alias, model, synonyms_enabled=False), model, "synonyms off", say)
    api.configure(settings_for(alias, model))
    return [_label(r, "on") for r in on], [_label(r, "off") for r in off]


def _runs(api: Any, queries: Sequence[JudgedQuery], settings: Settings, model: str, what: str,
          say: Callable[[str], None]) -> list[RunResult]:
    api.configure(settings)
    results = []
    for mode in MODES:
        say(f"  {mode}, {what} ...")
        results.append(evaluate(api, queries, mode=mode, k=10, label=mode, model=model, settings=tunables(settings)))
    return results


def _label(result: RunResult, state: str) -> RunResult:
    return RunResult(f"{result.mode}, synonyms {state}", result.model, result.mode, result.settings, result.runs,
                     list(result.notes))


def delta_table(on: Sequence[RunResult], off: Sequence[RunResult]) -> tuple[list[str], list[list[str]]]:
    """Per mode and kind: nDCG@10 and Recall@10 off → on."""
    header = ["mode", "metric", "all", *KINDS]
    rows = []
    for with_, without in zip(on, off):
        for metric, attr in (("nDCG@10", "ndcg"), ("Recall@10", "recall")):
            cells = [_change(getattr(without.scores(), attr), getattr(with_.scores(), attr))]
            cells += [_change(getattr(without.by_kind(k), attr), getattr(with_.by_kind(k), attr)) for k in KINDS]
            rows.append([with_.mode, metric, *cells])
    return header, rows


def _change(before: float, after: float) -> str:
    return f"{before:.3f} → {after:.3f} ({after - before:+.3f})"


def exact_verdicts(on: Sequence[RunResult], off: Sequence[RunResult]) -> list[str]:
    lines = []
    for with_, without in zip(on, off):
        a, b = with_.by_kind("exact").ndcg, without.by_kind("exact").ndcg
        lines.append(f"- {with_.mode}: exact nDCG@10 {b:.3f} → {a:.3f}: **{'met' if a >= b - 1e-9 else 'not met'}**")
    return lines


def changed_rows(on: RunResult, off: RunResult) -> list[list[str]]:
    """Queries the expansion touched in one mode: what was added, and nDCG@10 off → on."""
    before = {run.query.id: run for run in off.runs}
    rows = []
    for run in on.runs:
        if run.synonyms:
            old = before[run.query.id]
            rows.append([run.query.id, run.query.kind, run.query.query, "、".join(run.synonyms),
                         f"{old.ndcg:.3f}", f"{run.ndcg:.3f}", f"{run.ndcg - old.ndcg:+.3f}"])
    return rows


CHANGED_HEADER = ["id", "kind", "query", "also searched", "nDCG off", "nDCG on", "Δ"]


def expanded_share(on: RunResult) -> list[str]:
    counts = {k: (sum(bool(r.synonyms) for r in on.runs if r.query.kind == k),
                  sum(r.query.kind == k for r in on.runs)) for k in KINDS}
    return [f"{k} {n}/{total}" for k, (n, total) in counts.items()]


def typo_rows(api: SearchAPI, result: RunResult) -> tuple[list[str], list[list[str]], list[str]]:
    """For every typo query of `result`'s mode: the suggestion, whether it is the word meant, and nDCG@10 of
    the typo as typed, of the suggestion searched (what the page's link does), and of the words meant."""
    rows, offered, right, as_typed, suggested, meant = [], 0, 0, [], [], []
    for run in result.runs:
        q = run.query
        if q.kind != "typo":
            continue
        dym, ok = run.did_you_mean, run.corrected
        offered += dym is not None
        right += ok
        searched = _ndcg(api, dym, q, result.mode) if dym else run.ndcg
        target = _ndcg(api, q.intended, q, result.mode) if q.intended else run.ndcg
        as_typed.append(run.ndcg)
        suggested.append(searched)
        meant.append(target)
        rows.append([q.id, q.query, q.intended or "", dym or "(none)", "yes" if ok else "no", f"{run.ndcg:.3f}",
                     f"{searched:.3f}" if dym else "", f"{target:.3f}"])
    n = len(rows)
    summary = [
        f"- suggestion offered for {offered}/{n} typo queries, the word meant in {right}/{n}",
        f"- mean nDCG@10 ({result.mode}): as typed {metrics.mean(as_typed):.3f}; after following the suggestion "
        f"(as typed where there is none) {metrics.mean(suggested):.3f}; the words meant {metrics.mean(meant):.3f}",
    ]
    return TYPO_HEADER, rows, summary


TYPO_HEADER = ["id", "typo", "meant", "did_you_mean", "right", "nDCG as typed", "nDCG of the suggestion",
               "nDCG of the words meant"]


def _ndcg(api: SearchAPI, text: str, q: JudgedQuery, mode: str) -> float:
    body = api.search(text, mode, 10)
    return metrics.ndcg_at_k([hit["id"] for hit in body["hits"]], q.grades, 10)


def scale_section(on: Sequence[RunResult], off: Sequence[RunResult], title: str) -> list[str]:
    """The off → on comparison on another index (the sample plus distractors), as markdown lines."""
    header, rows = delta_table(on, off)
    return [f"## {title}", "", *exact_verdicts(on, off), "",
            report._md_table(header, rows, "ll" + "r" * (len(header) - 2)), ""]


def markdown(api: SearchAPI, on: Sequence[RunResult], off: Sequence[RunResult], queries: Sequence[JudgedQuery], *,
             env: dict[str, str], command: str, indices: Sequence[Any], rules: int,
             sections: Sequence[str] = ()) -> str:
    hybrid_on, hybrid_off = on[-1], off[-1]
    header, rows = delta_table(on, off)
    typo_header, typo, typo_summary = typo_rows(api, hybrid_on)
    intro = [
        f"The judged set through `GET /search` with the synonym rules on (the default, {rules} rules of "
        "`data/synonyms.txt` as seeded into `SYNONYMS_INDEX`) and off (`SYNONYMS_ENABLED=false`); same index, "
        "same app, nothing else differs. An expanded query adds each official term as a phrase clause at "
        "`SYNONYM_BOOST` on the BM25 side (`service/query.py`); the vector side embeds the query as typed.",
        "",
        "Caveat: the rules were written after the `paraphrase` and `question` queries existed and some use the "
        "same plain words (老兵, 放鞭炮, 烧稻草, 奶粉, 酒后开车), so their gains are partly in-sample; phrases "
        "copied from judged queries were removed from the file before this run. The `colloquial`, `typo` and "
        "`traditional` queries were written after the rules were frozen.",
        "",
        "Exact-kind nDCG@10 must not drop with synonyms on:",
        "",
        *exact_verdicts(on, off),
        "",
        "Queries expanded (hybrid): " + ", ".join(expanded_share(hybrid_on)) + ".",
        "",
        "Off → on, per mode and kind:",
        "",
        report._md_table(header, rows, "ll" + "r" * (len(header) - 2)),
        "",
        "Every run:",
    ]
    extra = ["## Queries the expansion touched (hybrid)", "",
             report._md_table(CHANGED_HEADER, changed_rows(hybrid_on, hybrid_off), "llllrrr"), "",
             "## Typo queries and did_you_mean (hybrid)", "",
             "`did_you_mean` comes from `service/spelling.py` (same-sound / similar-shape characters proposed from the "
             "index's own character pairs); it is the same in every mode. `right` = the suggestion is the query "
             "the typo was made from (`intended` in queries.json). The page shows it as a link; following it "
             "searches the suggestion.", "",
             *typo_summary, "",
             report._md_table(typo_header, typo, "llllrrrr"), "", *sections]
    return report.variants_markdown("Relevance: synonyms on and off", intro, [*on, *off], queries, env=env,
                                    command=command, indices=indices, chart=None, extra=extra)
