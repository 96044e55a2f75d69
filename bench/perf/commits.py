"""`python -m bench.perf.commits`: the hybrid load test at 16 clients through the API of several commits side
by side, with the CPU each spends per search in the API process and in the Elasticsearch node.

Each `LABEL=REV` is a git revision of this repository (`before=HEAD~3`, `after=HEAD`; `WORKTREE` is the
working tree as it is): the revision is unpacked (`git archive`) into a scratch directory and one API
process runs from there, its own code first on its import path. Every API queries the same index
(`--alias`, default the 20k query index `python -m bench.perf` builds) on the node of ES_URL/ES_PORT.
After one unmeasured pass over every query of the mix (`bench.perf.queries`: query-embedding caches
warm), the same warm mix is sent to each API in turn at `--concurrency` clients, the order reversed
every round, so slow spells on a shared machine hit every revision alike.

Before the load, every revision's answers are compared with the first's: `/search` for every distinct
query of the mix, modes bm25 and hybrid, pages 1 and 2, the whole JSON but `took_ms` (a change meant to
cost less, not to rank differently, shows 0 differing). Every revision answers them ANSWER_PASSES times,
each pass compared with the reference's first, so answers served from a cache an earlier request filled
(`service.pagecache`) are compared as well as those computed afresh.

Per cell: req/s, p50/p99, errors, shed (503 `overloaded`), and CPU milliseconds per successful search
for the API process and for the node (`bench.perf.machine.CpuMeter`: CPU time over the cell divided by
the searches), the figures a 2-core box shared with other users cannot fake the way it fakes latencies.
Shed searches cost a little CPU too, and are not in the divisor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.perf import queries as query_mix
from bench.perf.load import ApiProcess, Cell, service_cell
from bench.perf.machine import CpuMeter, cores_text, load_average
from govsearch.paths import PROJECT_ROOT
from govsearch.settings import get_settings

WORKTREE = "WORKTREE"


@dataclass(frozen=True)
class Revision:
    label: str
    rev: str  # a git revision, or WORKTREE

    @classmethod
    def parse(cls, text: str) -> Revision:
        label, sep, rev = text.partition("=")
        if not sep or not label.strip() or not rev.strip():
            raise argparse.ArgumentTypeError(f"expected LABEL=REV, not {text!r}")
        return cls(label.strip(), rev.strip())

    def commit(self) -> str:
        """The commit `rev` names (WORKTREE: the working tree's HEAD, plus whatever is not committed)."""
        rev = "HEAD" if self.rev == WORKTREE else self.rev
        return subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                              check=True, capture_output=True, text=True).stdout.strip()

    def checkout(self, scratch: Path) -> Path:
        """The directory the API runs from: the working tree, or the revision unpacked under `scratch`."""
        if self.rev == WORKTREE:
            return PROJECT_ROOT
        root = scratch / self.label
        root.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(PROJECT_ROOT), "archive", self.commit()], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        return root


@dataclass
class Measured:
    label: str
    round: int
    cell: Cell
    api_ms: float
    es_ms: float
    load: float


# What the answers are compared on: the perf mix's distinct queries in these modes and pages.
COMPARED_MODES = ("bm25", "hybrid")
COMPARED_PAGES = (1, 2)
ANSWER_PASSES = 2


async def answers(url: str) -> dict[tuple[str, str, int], Any]:
    """The API's `/search` answers for every compared (mode, query, page), without `took_ms`."""
    out: dict[tuple[str, str, int], Any] = {}
    async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
        for mode in COMPARED_MODES:
            for q in query_mix.distinct():
                for page in COMPARED_PAGES:
                    response = await client.get(f"{url}/search", params={"q": q, "mode": mode, "page": page})
                    answer = response.json()
                    answer.pop("took_ms", None)
                    out[(mode, q, page)] = (response.status_code, answer)
    return out


async def run(revisions: list[Revision], args: argparse.Namespace,
              scratch: Path) -> tuple[list[Measured], dict[str, tuple[int, int]]]:
    """The measured cells, and per revision (answers compared with the first revision's, how many differ)."""
    settings = get_settings()
    es_url = settings.es_url or f"http://127.0.0.1:{settings.es_port}"
    env = {"INDEX_ALIAS": args.alias, "ES_URL": es_url, "EMBEDDING_MODEL": settings.embedding_model,
           "JOBS_INDEX": "bench-perf-jobs"}
    apis: dict[str, ApiProcess] = {}
    out: list[Measured] = []
    try:
        for revision in revisions:
            root = revision.checkout(scratch)
            apis[revision.label] = ApiProcess(env, scratch / f"api-{revision.label}.log", root=root).start()
        for api in apis.values():  # every query once: the query-embedding cache warm, not measured
            await service_cell(api.url, "hybrid", "warmup", 4, query_mix.distinct(), args.cell_seconds)
        reference = await answers(apis[revisions[0].label].url)
        same: dict[str, tuple[int, int]] = {}
        for n, revision in enumerate(revisions):
            passes = [await answers(apis[revision.label].url) for _ in range(ANSWER_PASSES - (n == 0))]
            same[revision.label] = (len(reference) * len(passes),
                                    sum(theirs[key] != value for theirs in passes for key, value in reference.items()))
        mix = query_mix.mix(args.requests)
        for n in range(args.rounds):
            for revision in revisions if n % 2 == 0 else revisions[::-1]:
                api = apis[revision.label]
                meter = CpuMeter(es_url, api.pid).start()
                cell = await service_cell(api.url, "hybrid", "warm", args.concurrency, mix, args.cell_seconds)
                cell.cpu = meter.stop()
                per_search = cell.cpu["wall"] / max(cell.n, 1) * 1000  # type: ignore[operator]
                measured = Measured(revision.label, n + 1, cell, (cell.cpu["api"] or 0.0) * per_search,
                                    (cell.cpu["es"] or 0.0) * per_search, load_average()[0])
                out.append(measured)
                print(f"[{datetime.now():%H:%M:%S}] round {n + 1} {revision.label}: {cell.throughput:.1f} req/s, "
                      f"p99 {cell.pct(99) or 0:.0f} ms, API {measured.api_ms:.1f} ms, node {measured.es_ms:.1f} ms "
                      f"per search, {cell.shed} shed, load {measured.load:.1f}", file=sys.stderr, flush=True)
    finally:
        for api in apis.values():
            api.stop()
    return out, same


def render(revisions: list[Revision], args: argparse.Namespace, measured: list[Measured],
           same: dict[str, tuple[int, int]], started: str, load_start: float) -> str:
    lines = [
        "# Hybrid search at 16 clients, API and node CPU per search, by revision",
        "",
        f"Run {started}, `python -m bench.perf.commits {' '.join(sys.argv[1:])}`, index `{args.alias}`; load "
        f"average {load_start:.1f} at the start, {load_average()[0]:.1f} at the end (1-min; 2 cores shared with "
        "other users).",
        "",
        "Revisions: " + ", ".join(f"**{r.label}** = `{r.rev}` ({r.commit()[:7]})" for r in revisions) + ".",
        "",
        f"Answers compared with **{revisions[0].label}**'s (`/search`, modes {' and '.join(COMPARED_MODES)}, pages "
        f"{' and '.join(map(str, COMPARED_PAGES))}, every distinct query of the mix, the whole JSON but `took_ms`; "
        f"{ANSWER_PASSES} passes per revision, the reference's second against its first): "
        + "; ".join(f"**{label}** {differ} of {total} differ" for label, (total, differ) in same.items()) + ".",
        "",
        f"{args.requests} warm hybrid requests per cell at {args.concurrency} clients, revisions alternating (order "
        "reversed every round). CPU ms per search = the process's CPU time over the cell / successful searches.",
        "",
        "| round | revision | req/s | p50 ms | p99 ms | errors | shed | API CPU ms/search | node CPU ms/search | "
        "cores used (of 2) | load average |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for m in measured:
        lines.append(f"| {m.round} | {m.label} | {m.cell.throughput:.1f} | {m.cell.pct(50) or 0:.0f} | "
                     f"{m.cell.pct(99) or 0:.0f} | {m.cell.errors} | {m.cell.shed} | {m.api_ms:.1f} | {m.es_ms:.1f} | "
                     f"{cores_text(m.cell.cpu)} | {m.load:.1f} |")
    lines += ["", "Medians over the rounds:", "",
              "| revision | req/s | p99 ms | API CPU ms/search | node CPU ms/search | API + node |",
              "|---|---:|---:|---:|---:|---:|"]
    for revision in revisions:
        mine = [m for m in measured if m.label == revision.label]
        api, es = statistics.median(m.api_ms for m in mine), statistics.median(m.es_ms for m in mine)
        lines.append(f"| {revision.label} | {statistics.median(m.cell.throughput for m in mine):.1f} | "
                     f"{statistics.median(m.cell.pct(99) or 0 for m in mine):.0f} | {api:.1f} | {es:.1f} | "
                     f"{api + es:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf.commits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revisions", nargs="+", type=Revision.parse, metavar="LABEL=REV",
                        help=f"a git revision to run (the first is the reference; {WORKTREE}: the working tree)")
    parser.add_argument("--alias", default="bench-perf-q20000", help="the index to query (default: the 20k "
                        "query index `python -m bench.perf` builds)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400, help="requests per cell (default 400)")
    parser.add_argument("--cell-seconds", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "perf-commits.md")
    args = parser.parse_args(argv)
    if len({r.label for r in args.revisions}) != len(args.revisions):
        parser.error("every revision needs its own label")
    started, load_start = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), load_average()[0]
    with tempfile.TemporaryDirectory(prefix="perf-commits-") as scratch:
        measured, same = asyncio.run(run(args.revisions, args, Path(scratch)))
    text = render(args.revisions, args, measured, same, started, load_start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
