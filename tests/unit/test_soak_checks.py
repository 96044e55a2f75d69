"""bench/soak's article-count check on synthetic timelines: only counts read once the reindex started
are compared with the count read when it started, and counts during the outage are excused."""

from __future__ import annotations

from bench.soak.report import checks, counts_below_before
from bench.soak.run import Sample, SoakConfig, SoakResult

COUNT_CHECK = "article count"


def timeline(counts: list[tuple[float, int | None]], *, before: int | None = 100, reindex_start: float = 10.0,
             outage: tuple[float, float] | None = (50.0, 60.0)) -> SoakResult:
    result = SoakResult(SoakConfig(duration=90, rate=1, es_port=1, outage_seconds=10), counts=counts,
                        count_before_reindex=before,
                        reindex={"start": reindex_start, "end": 40.0, "state": "succeeded"})
    if outage:
        result.outage = {"down_start": outage[0], "down_done": outage[0] + 1, "up_start": outage[1] - 2,
                         "up_done": outage[1] - 1}
        # The first answered search after the start ends the outage as a client sees it.
        result.queries = [Sample(outage[1], "200", 0.01)]
    return result


def count_check(result: SoakResult) -> bool:
    return next(met for what, met, _ in checks(result) if what.startswith(COUNT_CHECK))


def test_counts_before_the_reindex_started_are_not_compared() -> None:
    # Upserts grew the count from 90 to 100 before the reindex: those early reads are no violation.
    result = timeline([(0.0, 90), (4.0, 95), (8.0, 99), (12.0, 100), (20.0, 103), (45.0, 110)])
    assert counts_below_before(result) == []
    assert count_check(result)


def test_a_drop_after_the_reindex_started_is_caught() -> None:
    result = timeline([(0.0, 90), (12.0, 100), (30.0, 60), (45.0, 110)])
    assert counts_below_before(result) == [(30.0, 60)]
    assert not count_check(result)


def test_the_outage_is_excused_and_unanswered_reads_are_skipped() -> None:
    result = timeline([(12.0, 100), (52.0, None), (55.0, 3), (61.0, 101)])
    assert counts_below_before(result) == []
    assert count_check(result)
    after = timeline([(12.0, 100), (55.0, 3), (62.0, 99)])
    assert counts_below_before(after) == [(62.0, 99)]  # once searches answer again, the rule holds again


def test_no_pre_reindex_count_means_the_check_is_not_met() -> None:
    assert not count_check(timeline([(12.0, 100)], before=None))


QUERY_CHECK = "no failed query outside the outage"


def query_check(result: SoakResult) -> tuple[bool, str]:
    return next((met, detail) for what, met, detail in checks(result) if what.startswith(QUERY_CHECK))


def test_a_query_in_flight_when_elasticsearch_stops_counts_with_the_outage() -> None:
    # Sent at 49.9 s, answered 503 at 50.3 s: the stop (50 s) caught it mid-flight, like a kill in the cluster test.
    result = timeline([(12.0, 100)])
    result.queries += [Sample(49.9, "503 unavailable", 0.4), Sample(45.0, "200", 0.05)]
    assert query_check(result) == (True, "none")


def test_a_query_that_failed_before_the_stop_or_after_recovery_is_a_failure() -> None:
    result = timeline([(12.0, 100)])
    result.queries += [Sample(49.0, "503 unavailable", 0.2), Sample(70.0, "timeout", 5.0),
                       Sample(71.0, "503 overloaded", 0.01)]
    met, detail = query_check(result)
    assert not met
    assert detail == "503 unavailable: 1, timeout: 1 (sent at t=49.0, 70.0 s)"
