"""The soak's Markdown report: totals, errors by kind, 10 s windows, and the checks with their outcome."""

from __future__ import annotations

import statistics
from collections import Counter

from bench.soak.run import Sample, SoakResult

WINDOW = 10.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def recovered_at(result: SoakResult) -> float:
    """When the service answered a search again after Elasticsearch was started (its shards recovered)."""
    up = result.outage.get("up_done", float("inf"))
    return min((s.t for s in result.queries if s.t >= up and s.kind == "200"), default=float("inf"))


def _in_outage(result: SoakResult, t: float) -> bool:
    """From the stop until the first answered search after the start: the outage as a client sees it."""
    outage = result.outage
    return bool(outage) and outage["down_start"] <= t < recovered_at(result)


def _met_outage(result: SoakResult, query: Sample) -> bool:
    """A query sent during the outage, or still in flight when it began (sent before the stop, answered
    after it): the ones in flight at the kill, which the cluster test excuses too."""
    return _in_outage(result, query.t) or (
        bool(result.outage) and query.t < result.outage["down_start"] <= query.t + query.latency)


def counts_since_reindex(result: SoakResult) -> list[tuple[float, int]]:
    """The article counts read from the moment the reindex started, outside the outage: what the
    count promise is about. Earlier counts are not: the upserts keep adding articles, so a count read
    before the reindex began is naturally below the count read when it began."""
    start = result.reindex.get("start")
    if start is None:
        return []
    return [(t, c) for t, c in result.counts if c is not None and t >= start and not _in_outage(result, t)]


def counts_below_before(result: SoakResult) -> list[tuple[float, int]]:
    """Counts that break the rule "the article count seen over time is never below the count before
    the reindex, except during the outage"."""
    before = result.count_before_reindex
    return [] if before is None else [(t, c) for t, c in counts_since_reindex(result) if c < before]


def checks(result: SoakResult) -> list[tuple[str, bool, str]]:
    """(what, met, detail) for each promise the soak tests."""
    before = result.count_before_reindex
    low = counts_below_before(result)
    outside = [s for s in result.queries if not _met_outage(result, s)]
    failed = [s for s in outside if s.kind != "200" and s.kind != "503 overloaded"]
    failed_outside = Counter(s.kind for s in failed)
    during = [s for s in result.queries if _met_outage(result, s)]
    return [
        ("the reindex succeeded", result.reindex.get("state") == "succeeded", str(result.reindex.get("state"))),
        ("article count, from the reindex's start on, never below the pre-reindex count outside the outage",
         before is not None and not low,
         f"before: {before}; lowest since the reindex started, outside the outage: "
         f"{min((c for _, c in counts_since_reindex(result)), default=None)}"
         + (f"; below at t={', '.join(f'{t:.0f}' for t, _ in low[:5])} s" if low else "")),
        ("no failed query outside the outage (the ones in flight at the stop count with it; shed `503 overloaded` "
         "apart: admission control at work)",
         not failed_outside,
         ", ".join(f"{k}: {v}" for k, v in failed_outside.items())
         + (f" (sent at t={', '.join(f'{q.t:.1f}' for q in failed[:10])} s)" if failed else "") or "none"),
        ("queries during the outage answered 200 or 503 (no timeouts, no 500)",
         all(s.kind == "200" or s.kind.startswith("503") for s in during), ", ".join(f"{k}: {v}" for k, v in
                                                                  Counter(s.kind for s in during).items())),
        ("every acknowledged upsert is readable (GET /articles/{id}) at the end", not result.missing_at_end,
         f"{len(result.acknowledged) - len(result.missing_at_end)} of {len(result.acknowledged)}"
         + (f"; missing e.g. {', '.join(result.missing_at_end[:5])}" if result.missing_at_end else "")),
        ("every acknowledged upsert is found by searching its word at the end",
         not result.unfound_by_search and not result.missing_at_end,
         f"{len(result.acknowledged) - len(result.unfound_by_search) - len(result.missing_at_end)} of "
         f"{len(result.acknowledged)}"),
    ]


def _window_rows(result: SoakResult) -> list[str]:
    end = result.config.duration
    rows = []
    start = 0.0
    while start < end:
        stop = start + WINDOW
        window: list[Sample] = [s for s in result.queries if start <= s.t < stop]
        ok = [s.latency * 1000 for s in window if s.kind == "200"]
        errors = Counter(s.kind for s in window if s.kind != "200")
        counts = [c for t, c in result.counts if start <= t < stop]
        seen = ", ".join("–" if c is None else str(c) for c in counts)
        events = []
        if result.reindex and start <= result.reindex.get("start", -1) < stop:
            events.append("reindex starts")
        if result.reindex and start <= result.reindex.get("end", -1) < stop:
            events.append(f"reindex {result.reindex.get('state')}")
        if result.outage and start <= result.outage.get("down_start", -1) < stop:
            events.append("ES stopping")
        if result.outage and start <= result.outage.get("up_done", -1) < stop:
            events.append("ES up")
        rows.append(f"| {start:.0f}–{stop:.0f} | {len(window)} | {len(ok)} | "
                    f"{', '.join(f'{k}: {v}' for k, v in sorted(errors.items())) or '–'} | "
                    f"{_pct(ok, 0.5):.0f} | {_pct(ok, 0.99):.0f} | {seen or '–'} | {'; '.join(events)} |")
        start = stop
    return rows


def render(result: SoakResult, command: str) -> str:
    config = result.config
    queries = result.queries
    by_kind = Counter(s.kind for s in queries)
    upserts = Counter(s.kind for s in result.upserts)
    ok = [s.latency * 1000 for s in queries if s.kind == "200"]
    outage = result.outage
    lines = [
        "# Soak test",
        "",
        f"`{command}` — run of {result.started_at}, {config.duration:.0f} s at {config.rate:g} queries/s "
        "(hybrid, bm25, vector in turn, over the judged queries), "
        f"one upsert per second, a full reindex from t={result.reindex.get('start', 0):.0f} s, Elasticsearch "
        f"(dev node on port {config.es_port}) stopped at t={outage.get('down_start', 0):.0f} s and started again "
        f"at t={outage.get('up_start', 0):.0f} s (the node answered at t={outage.get('up_done', 0):.0f} s, searches "
        f"were answered again from t={recovered_at(result):.0f} s: the outage below). Everything "
        "on loopback, on the shared 2-core development machine (other engineers' jobs ran meanwhile, so "
        "latencies are pessimistic).",
        "",
        "## Checks",
        "",
        "| check | met | detail |",
        "|---|---|---|",
        *(f"| {what} | {'met' if met else '**not met**'} | {detail} |" for what, met, detail in checks(result)),
        "",
        "## Totals",
        "",
        f"- queries sent: {len(queries)}; answered 200: {by_kind.get('200', 0)}; p50 {_pct(ok, 0.5):.0f} ms, "
        f"p99 {_pct(ok, 0.99):.0f} ms, mean {statistics.fmean(ok) if ok else float('nan'):.0f} ms (200s only)",
        f"- errors by kind: {', '.join(f'{k}: {v}' for k, v in sorted(by_kind.items()) if k != '200') or 'none'}",
        f"- upserts: {len(result.upserts)} sent, {len(result.acknowledged)} acknowledged; by status: "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(upserts.items()))}",
        f"- reindex: job {result.reindex.get('job_id')} {result.reindex.get('state')}, "
        f"t={result.reindex.get('start', 0):.0f}–{result.reindex.get('end', 0):.0f} s; article count before it: "
        f"{result.count_before_reindex}",
        "",
        "## Over time (10 s windows)",
        "",
        "Latency percentiles over the window's 200 answers (ms); articles = `/admin/stats` every 2 s "
        "(– = no answer: Elasticsearch down).",
        "",
        "| t (s) | sent | 200 | errors | p50 | p99 | articles seen | events |",
        "|---|---:|---:|---|---:|---:|---|---|",
        *_window_rows(result),
        "",
        "## /metrics at the end",
        "",
        "```",
        *result.metrics_excerpt,
        "```",
        "",
    ]
    return "\n".join(lines)
