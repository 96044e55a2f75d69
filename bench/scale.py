"""`python -m bench.scale`: relevance and query cost by corpus size, side by side.

Measures nothing itself. It reads what the benchmarks wrote: the known-item relevance run's
`relevance-learned.json` at each main-index size (`python -m bench.relevance --known-item --n-main N
--out DIR`) and the query benchmark's raw numbers (`python -m bench.perf --parts queries ... --json
FILE`), and writes bench/results/scale.md (the tables, each figure with the run it came from) and
scale.png (the same figures by size). Held-out figures are the relevance run's aggregates; nothing
per query is read or written.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from bench.perf.load import Cell
from bench.perf.queries_run import QueryResults
from bench.relevance.known_item import N_FULL
from bench.relevance.report import _md_table
from bench.relevance.train import MAIN_ALIAS
from govsearch.paths import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"
CONFIGS = ("bm25", "vector", "hybrid fusion (before)", "hybrid learned (after)")


def relevance_run(directory: Path) -> dict[str, Any]:
    """One known-item run: its figures, the size of its main index, where it came from."""
    run = json.loads((directory / "relevance-learned.json").read_text(encoding="utf-8"))
    main = run["indices"][MAIN_ALIAS]
    return {**run, "articles": main["articles"], "passages": main["passages"], "path": directory}


def perf_sizes(path: Path) -> list[dict[str, Any]]:
    """The query sizes of one perf run, each with the run's command, date and load average."""
    run = json.loads(path.read_text(encoding="utf-8"))
    source = {"command": run["command"], "started": run["started"], "load": (run["load_start"][0],
                                                                            run["load_end"][0]), "path": path}
    return [{**size, "run": source} for size in run["query_sizes"]]


def _cell(size: dict[str, Any], target: str, mode: str, cache: str = "warm", concurrency: int = 1) -> Cell | None:
    return results_of(size).cell(target, mode, cache, concurrency)


def results_of(size: dict[str, Any]) -> QueryResults:
    """A query size's results as the perf run held them (the JSON is their dataclass fields)."""
    return QueryResults(**{**size["results"], "cells": [Cell(**cell) for cell in size["results"]["cells"]]})


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def relevance_tables(runs: list[dict[str, Any]]) -> list[tuple[list[str], list[list[str]]]]:
    """Known items (dev MRR@10, S@1) and the judged set with distractors (nDCG@10), one row per size."""
    Table = tuple[list[str], list[list[str]]]
    known: Table = (["main index (articles / passages)", *[f"{c} MRR@10" for c in CONFIGS], "learned S@1",
              "learned S@10", "held-out MRR@10 bm25 / learned"], [])
    judged: Table = (["main index (articles / passages)", *[f"{c} nDCG@10" for c in CONFIGS],
               "learned paraphrase", "learned exact"], [])
    for run in runs:
        size = f"{run['articles']:,} / {run['passages']:,}"
        fig = run["figures"]
        learned = fig["hybrid learned (after)"]
        known[1].append([size, *[f"{fig[c]['known items dev']['mrr']:.3f}" for c in CONFIGS],
                         f"{learned['known items dev']['s1']:.3f}", f"{learned['known items dev']['s10']:.3f}",
                         f"{fig['bm25']['known items held-out']['mrr']:.3f} / "
                         f"{learned['known items held-out']['mrr']:.3f}"])
        by_kind = learned["judged +distractors nDCG@10 by kind"]
        judged[1].append([size, *[f"{fig[c]['judged +distractors nDCG@10']:.3f}" for c in CONFIGS],
                          f"{by_kind['paraphrase']:.3f}", f"{by_kind['exact']:.3f}"])
    return [known, judged]


def cost_table(sizes: list[dict[str, Any]], modes: list[str]) -> tuple[list[str], list[list[str]]]:
    """Warm c=1 latency per mode: the service's p50 / p95, raw Elasticsearch p50 and its own `took` p50."""
    header = ["index (articles / passages)", "MiB on disk",
              *[f"{m} service p50 / p95 ms" for m in modes], *[f"{m} raw ES p50 · took ms" for m in modes],
              "load average (start, end)"]
    rows = []
    for size in sizes:
        service = [_cell(size, "service", m) for m in modes]
        es = [_cell(size, "es", m) for m in modes]
        rows.append([f"{size['label']} ({size['articles']:,} / {size['passages']:,})",
                     f"{size['store_bytes'] / 2**20:,.0f}",
                     *[f"{_ms(c.pct(50))} / {_ms(c.pct(95))}" if c else "–" for c in service],
                     *[f"{_ms(c.pct(50))} · {_ms(c.took_p50)}" if c else "–" for c in es],
                     "{:.1f}, {:.1f}".format(*size["run"]["load"])])
    return header, rows


def chart(runs: list[dict[str, Any]], sizes: list[dict[str, Any]], modes: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.8))
    x = [run["articles"] for run in runs]
    for config in CONFIGS:
        line = left.plot(x, [r["figures"][config]["known items dev"]["mrr"] for r in runs], marker="o",
                         label=f"{config}: known items MRR@10")
        left.plot(x, [r["figures"][config]["judged +distractors nDCG@10"] for r in runs], marker="s",
                  linestyle="--", color=line[0].get_color(), label=f"{config}: judged nDCG@10")
    left.set_xscale("log")
    left.set_xlabel("articles in the main index")
    left.set_title("Relevance by corpus size")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    left.grid(alpha=0.3)
    xs = [size["articles"] for size in sizes]
    for mode in modes:
        line = right.plot(xs, [c.pct(50) if (c := _cell(s, "service", mode)) else None for s in sizes],
                          marker="o", label=f"{mode}: service p50")
        right.plot(xs, [c.took_p50 if (c := _cell(s, "es", mode)) else None for s in sizes], marker="s",
                   linestyle="--", color=line[0].get_color(), label=f"{mode}: Elasticsearch took p50")
    right.set_xscale("log")
    right.set_xlabel("articles in the index")
    right.set_ylabel("ms (warm, 1 client)")
    right.set_title("Query cost by corpus size")
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relevance", type=Path, action="append", required=True, metavar="DIR",
                        help="a directory with a known-item run's relevance-learned.json (repeat, one per size)")
    parser.add_argument("--perf", type=Path, action="append", default=[], metavar="FILE",
                        help="a query benchmark's --json file (repeatable); every index size in it is a row")
    parser.add_argument("--out", type=Path, default=RESULTS, metavar="DIR", help="where scale.md/.png go")
    args = parser.parse_args(argv)

    runs = sorted((relevance_run(d) for d in args.relevance), key=lambda r: r["articles"])
    sizes = sorted((s for f in args.perf for s in perf_sizes(f)), key=lambda s: s["articles"])
    modes = sorted({c["mode"] for s in sizes for c in s["results"]["cells"]}, key=["bm25", "vector", "hybrid"].index)
    command = "python -m bench.scale " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = ["# Relevance and query cost by corpus size", "", f"Generated by `{command}` from the runs below.", "",
             "## Relevance", "",
             "Known-item runs (`bench/relevance/learned.py`), one per main-index size:", ""]
    for run in runs:
        env, report = run["env"], os.path.relpath(run["path"] / "relevance-learned.md", PROJECT_ROOT)
        lines.append(f"- {run['articles']:,} articles: `{report}`"
                     f" — {env['date']}, code {env['code']}, load average {env.get('load average', 'not recorded')}")
    (kh, krows), (jh, jrows) = relevance_tables(runs)
    lines += ["", "Known items (`tags` as the query, one right answer; dev split 2023-2026). A main index of up to "
              f"{N_FULL:,} xwlb records asks 300 dev queries drawn from its own records; a larger one asks those "
              f"of the {N_FULL:,} selection, so from there on the rows are the same questions over a bigger "
              "haystack (`bench/relevance/known_item.py`). Held-out: 300 queries of 2012+2013 over their own index "
              f"of 12,100 articles, the same one from {N_FULL:,} on (below that, its 5,100 distractors come from the "
              "smaller main index) — a control, not a function of the main index's size; aggregates only.", "",
              _md_table(kh, krows, "l" + "r" * (len(kh) - 1)), "",
              "The judged set (147 township queries over the 48 sample articles) asked of the main index, whose "
              "other articles are distractors.", "",
              _md_table(jh, jrows, "l" + "r" * (len(jh) - 1)), ""]
    if sizes:
        lines += ["## Query cost", "", "Query benchmark runs (`bench/perf`): warm query cache, one client, the "
                  "same 55-query mix at every size; raw ES = the identical requests sent to Elasticsearch "
                  "directly, `took` = Elasticsearch's own time. An index is named by its alias: `bench-perf-qN` "
                  "(label `sample + N xwlb`) holds the sample and the first N xwlb records, a `--query-index` the "
                  "index named (e.g. the known-item main index above).", ""]
        for source in {id(s["run"]): s["run"] for s in sizes}.values():
            lines.append(f"- `{source['command']}` — {source['started']}")
        ch, crows = cost_table(sizes, modes)
        lines += ["", _md_table(ch, crows, "lr" + "r" * (len(ch) - 2)), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    chart(runs, sizes, modes, args.out / "scale.png")
    lines += ["![relevance and query cost by size](scale.png)", ""]
    (args.out / "scale.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out / 'scale.md'} and scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
