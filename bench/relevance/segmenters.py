"""`python -m bench.relevance.segmenters`: the word analysis of the indices side by side.

Runs `python -m bench.relevance --known-item --reuse-index` once per WORD_SEGMENTER choice, on the same
code and node, each into bench/results/segmenters/<choice>/ (its full relevance-learned.md), then writes
bench/results/relevance-segmenters.md: per choice and configuration, the judged set on the sample alone
and with the 8k xwlb distractors, known items on the dev split (2023-2026) and, as aggregates only, on
the held-out years. Only the word fields' analysis changes between runs: the bigram sub-fields, the
vectors (from the embedding cache) and the learned ranker are the same. Choose on dev and the judged
set; the held-out column is reported, never tuned on.

A choice whose indices exist with that segmenter is not rebuilt; the others are (vectors come from the
cache, so a rebuild costs the indexing only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

from bench.relevance import report
from govsearch.paths import PROJECT_ROOT
from govsearch.settings import Settings

CHOICES: tuple[str, ...] = get_args(Settings.model_fields["word_segmenter"].annotation)
RESULTS = PROJECT_ROOT / "bench" / "results"
CONFIGS = ("bm25", "hybrid fusion (before)", "hybrid learned (after)")


def run_one(segmenter: str, out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.relevance", "--known-item", "--reuse-index", "--out", str(out)]
    print(f"== WORD_SEGMENTER={segmenter} {' '.join(command[1:])}", flush=True)
    subprocess.run(command, env={**os.environ, "WORD_SEGMENTER": segmenter}, cwd=PROJECT_ROOT, check=True)
    result: dict[str, Any] = json.loads((out / "relevance-learned.json").read_text(encoding="utf-8"))
    return result


def table(figures: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["word analysis", "configuration", "judged sample nDCG@10", "judged +8k distractors nDCG@10",
              "paraphrase +distr.", "name +distr.", "known items dev MRR@10", "dev S@1", "held-out MRR@10",
              "held-out S@1", "exact titles at rank 1"]
    rows = []
    for segmenter, by_config in figures.items():
        for config in CONFIGS:
            f = by_config[config]
            kinds = f["judged +distractors nDCG@10 by kind"]
            rows.append([segmenter, config, f"{f['judged sample nDCG@10']:.3f}",
                         f"{f['judged +distractors nDCG@10']:.3f}",
                         f"{kinds.get('paraphrase', float('nan')):.3f}", f"{kinds.get('name', float('nan')):.3f}",
                         f"{f['known items dev']['mrr']:.3f}", f"{f['known items dev']['s1']:.3f}",
                         f"{f['known items held-out']['mrr']:.3f}", f"{f['known items held-out']['s1']:.3f}",
                         f"{f['exact titles at rank 1']:.3f}"])
    return header, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relevance.segmenters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=CHOICES, default=list(CHOICES), help="choices to run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the reports go (default: %(default)s)")
    args = parser.parse_args(argv)
    results = {s: run_one(s, args.out / "segmenters" / s) for s in args.only}
    figures = {s: r["figures"] for s, r in results.items()}
    header, rows = table(figures)
    report.print_table("word analysis side by side", header, rows)
    env = next(iter(results.values()))["env"]
    codes = {r["env"]["code"] for r in results.values()}
    given = sys.argv[1:] if argv is None else argv
    command = "python -m bench.relevance.segmenters" + "".join(f" {a}" for a in given)
    lines = [
        *report._header_lines("Word analysis: smartcn vs jieba with the mined user dictionary", command,
                              {k: v for k, v in env.items() if k != "word segmenter"}), "",
        f"Every run on code {', '.join(sorted(codes))}. Full reports: " +
        ", ".join(f"[{s}](segmenters/{s}/relevance-learned.md)" for s in results) + ".", "",
        "Only the analysis of the word fields (`title`, `text`) differs: `smartcn` (today), `jieba_search` "
        "(jieba + `mappings/userdict.txt`, one token per word) and `jieba_index` (also the dictionary words "
        "inside longer words). Judged set: `queries.json` over the sample alone and over the sample + 8k xwlb "
        "records of 2014-2026; known items: editors' tags → their record, dev 2023-2026 and held-out 2012+2013 "
        "(aggregates only, never looked at per query, not used for the choice).", "",
        report._md_table(header, rows, "ll" + "r" * (len(header) - 2)), "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "relevance-segmenters.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out / 'relevance-segmenters.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
