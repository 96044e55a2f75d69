"""Query suggestions without a node: the privacy floor, hidden words, recency-decayed ranking, matching
by Chinese prefix, full pinyin, initials and mixed input, and the merge with title suggestions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.hidden import HiddenWords, Hides, hidden_by
from service.popular import PopularIndex, PopularQueries, PopularQuery, from_buckets
from service.suggest import merged

NOW = 1_700_000_000.0  # seconds
DAY = 86_400.0


def bucket(query: str, *per_day: tuple[float, int], searchers: int | None = None) -> dict[str, Any]:
    """A terms bucket of the log's aggregation: (days ago, searches that day) per day, by `searchers` different
    searchers (default: one per search)."""
    days = [{"key": (NOW - ago * DAY) * 1000, "doc_count": count} for ago, count in per_day]
    searches = sum(count for _, count in per_day)
    return {"key": query, "doc_count": searches, "days": {"buckets": days},
            "searchers": {"value": searches if searchers is None else searchers}}


def popular(*buckets: dict[str, Any]) -> list[PopularQuery]:
    return from_buckets(buckets, min_searchers=5, half_life_days=7.0, now=NOW)


def test_a_query_below_the_privacy_floor_is_never_kept() -> None:
    kept = popular(bucket("安全生产", (0, 5)), bucket("张三的低保申请", (0, 4)), bucket("疫情防控", (1, 3), (2, 3)),
                   bucket("办证请加微信", (0, 40), searchers=1), bucket("港西镇", (0, 9), (1, 9), searchers=4))
    assert sorted((p.query, p.searches) for p in kept) == [("安全生产", 5), ("疫情防控", 6)]


def test_long_queries_contact_details_and_links_are_never_shown() -> None:
    kept = popular(bucket("12345热线", (0, 9)), bucket("COVID19 疫苗", (0, 9)), bucket("拨打13812345678办证", (0, 9)),
                   bucket("加微信 fake123", (0, 9)), bucket("www.example.cn", (0, 9)), bucket("a@b.cn", (0, 9)),
                   bucket("港西镇" * 11, (0, 9)))
    assert sorted(p.query for p in kept) == ["12345热线", "COVID19 疫苗"]


def test_weight_decays_with_age_so_recent_searches_outrank_old_ones() -> None:
    recent, old = popular(bucket("疫情防控", (0, 5)), bucket("垃圾分类", (14, 12)))
    assert recent.query == "疫情防控" and recent.weight == pytest.approx(5.0)
    assert old.weight == pytest.approx(12 * 0.25)  # two half-lives ago
    assert [p.query for p in popular(bucket("垃圾分类", (14, 30)), bucket("疫情防控", (0, 5)))] == ["垃圾分类",
                                                                                                "疫情防控"]


INDEX = PopularIndex(popular(bucket("安全生产", (0, 6)), bucket("安全生产检查", (0, 20)), bucket("食品安全", (0, 50)),
                            bucket("阿Q正传", (0, 5)), bucket("港西镇", (0, 8))))


@pytest.mark.parametrize(("typed", "expected"), [
    ("安全", ["安全生产检查", "安全生产", "食品安全"]),  # prefix first, then by weight; then a later word
    ("anquan", ["安全生产检查", "安全生产", "食品安全"]),  # full pinyin
    ("aqsc", ["安全生产检查", "安全生产"]),  # initials
    ("安quan", ["安全生产检查", "安全生产", "食品安全"]),  # mixed
    ("aq", ["阿Q正传", "安全生产检查", "安全生产", "食品安全"]),  # 阿Q's full pinyin "aq…" beats initials
    ("gangxi", ["港西镇"]), ("gxz", ["港西镇"]), ("xizhen", ["港西镇"]),
    ("疫情", []), ("zzz", []),
])
def test_popular_queries_match_by_chinese_prefix_pinyin_and_initials(typed: str, expected: list[str]) -> None:
    assert [p.query for p in INDEX.matching(typed, 8)] == expected


def test_matching_stops_at_size_and_ignores_blank_input() -> None:
    assert [p.query for p in INDEX.matching("anquan", 1)] == ["安全生产检查"]
    assert INDEX.matching("  ", 8) == [] and PopularIndex([]).matching("aq", 8) == []


def title(article_id: str, text: str) -> dict[str, str]:
    return {"id": article_id, "title": text}


def test_queries_lead_in_at_most_half_the_list_and_titles_fill_the_rest() -> None:
    titles = [title(f"a{i}", f"标题{i}") for i in range(8)]
    items = merged(["q1", "q2", "q3", "q4", "q5", "q6"], titles, 6)
    assert [(i["kind"], i["text"]) for i in items] == [("query", "q1"), ("query", "q2"), ("query", "q3"),
                                                       ("title", "标题0"), ("title", "标题1"), ("title", "标题2")]
    assert items[0] == {"kind": "query", "text": "q1", "id": None, "title": None}
    assert items[3] == {"kind": "title", "text": "标题0", "id": "a0", "title": "标题0"}


def test_queries_take_the_room_titles_leave_and_a_title_equal_to_a_query_is_left_out() -> None:
    items = merged(["港西镇召开会议", "q2", "q3", "q4"], [title("a", "港西鎮召开会议"), title("b", "其他")], 4)
    assert [(i["kind"], i["text"]) for i in items] == [("query", "港西镇召开会议"), ("query", "q2"),
                                                       ("query", "q3"), ("title", "其他")]
    assert merged([], [title("a", "T")], 8) == [{"kind": "title", "text": "T", "id": "a", "title": "T"}]


class _Hidden:
    """`service.hidden.HiddenQueries` with `words` hidden (no node)."""

    def __init__(self, *words: str) -> None:
        self.words = HiddenWords(words)

    async def hides(self) -> Hides:
        return lambda query: hidden_by(query, self.words.keys)


def test_hidden_words_take_a_query_off_the_suggestions_the_moment_they_are_hidden() -> None:
    log = _Log([bucket("某某违纪举报", (0, 20)), bucket("违纪举报电话", (0, 10)), bucket("ABC公司", (0, 9)),
                bucket("安全生产", (0, 9))])
    hidden = _Hidden()
    queries = PopularQueries(log, min_searchers=5, half_life_days=7, refresh_seconds=60, hidden=hidden)  # type: ignore[arg-type]

    async def typed(text: str, size: int) -> list[str]:
        return [p.query for p in await queries.matching(text, size)]

    asyncio.run(queries.refresh())
    assert asyncio.run(typed("违纪", 8)) == ["违纪举报电话", "某某违纪举报"]  # a prefix match first
    hidden.words = HiddenWords(["电话"])
    assert asyncio.run(typed("违纪", 1)) == ["某某违纪举报"]  # the hidden better match does not take the one place
    hidden.words = HiddenWords(["违紀", "ａｂｃ"])  # traditional and full-width: normalised like queries
    assert asyncio.run(typed("违纪", 8)) == [] and asyncio.run(typed("abc", 8)) == []
    hidden.words = HiddenWords([])
    assert asyncio.run(typed("违纪", 8)) == ["违纪举报电话", "某某违纪举报"]  # unhidden: back, no refresh needed
    assert len(log.requests) == 1


class _Log:
    """The search log's aggregation as a recorded answer (or a failure), counting the requests."""

    def __init__(self, buckets: list[dict[str, Any]] | Exception) -> None:
        self.buckets = buckets
        self.requests: list[tuple[int, int]] = []

    async def popular(self, size: int, min_searchers: int) -> list[dict[str, Any]]:
        self.requests.append((size, min_searchers))
        if isinstance(self.buckets, Exception):
            raise self.buckets
        return self.buckets


def test_keystrokes_read_memory_and_a_stale_list_is_refreshed_once_in_the_background() -> None:
    log = _Log([bucket("安全生产", (0, 9))])
    queries = PopularQueries(log, min_searchers=5, half_life_days=7, refresh_seconds=60, hidden=_Hidden())  # type: ignore[arg-type]

    async def keystrokes() -> tuple[list[str], list[str]]:
        first = [p.query for p in await queries.matching("aq", 8)]  # nothing yet: the first refresh starts now
        for _ in range(5):
            await queries.matching("aqs", 8)
        await queries._task  # the background refresh (the pinyin forms are computed in a thread)
        return first, [p.query for p in await queries.matching("aqsc", 8)]

    assert asyncio.run(keystrokes()) == ([], ["安全生产"])
    assert log.requests == [(2000, 5)]  # one aggregation for seven keystrokes


def test_a_failed_refresh_keeps_the_list() -> None:
    log = _Log([bucket("安全生产", (0, 9))])
    queries = PopularQueries(log, min_searchers=5, half_life_days=7, refresh_seconds=60, hidden=_Hidden())  # type: ignore[arg-type]
    asyncio.run(queries.refresh())
    log.buckets = ConnectionError("node away")
    asyncio.run(queries.refresh())
    assert [p.query for p in queries.index.popular] == ["安全生产"]


def test_a_searcher_is_a_pseudonym_of_the_day_never_the_address() -> None:
    from datetime import date

    from service.analytics import Pseudonyms

    today = [date(2026, 11, 30)]
    pseudonyms = Pseudonyms(today=lambda: today[0])
    first = pseudonyms.of("192.0.2.7")
    assert first == pseudonyms.of("192.0.2.7") != pseudonyms.of("192.0.2.8")
    assert len(first) == 16 and "192" not in first and int(first, 16) >= 0
    assert Pseudonyms(today=lambda: today[0]).of("192.0.2.7") != first  # another process: another key
    today[0] = date(2026, 12, 1)
    assert pseudonyms.of("192.0.2.7") != first  # a new day, a new key: yesterday's searches cannot be linked
