"""Query understanding without a node: date words → a date range, known towns/publishers → a boost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from service.query import Filters, SearchRequest, bm25_query
from service.understanding import Understanding, date_range

TODAY = date(2024, 3, 15)


@pytest.mark.parametrize(("q", "start", "end", "rest"), [
    ("2022年12月 安全生产", date(2022, 12, 1), date(2022, 12, 31), "安全生产"),
    ("安全生产2023年2月", date(2023, 2, 1), date(2023, 2, 28), "安全生产"),
    ("2024年2月29日会议", date(2024, 2, 29), date(2024, 2, 29), "会议"),
    ("去年 防汛", date(2023, 1, 1), date(2023, 12, 31), "防汛"),
    ("今年的防汛工作", date(2024, 1, 1), date(2024, 12, 31), "防汛工作"),  # the 的 goes with the date word
    ("2022年12月的 会议", date(2022, 12, 1), date(2022, 12, 31), "会议"),
    ("目的 去年", date(2023, 1, 1), date(2023, 12, 31), "目的"),
    ("上个月疫苗接种", date(2024, 2, 1), date(2024, 2, 29), "疫苗接种"),
    ("本月 会议", date(2024, 3, 1), date(2024, 3, 31), "会议"),
    # written with digits and a separator, or in Chinese numerals
    ("2023-02 医保", date(2023, 2, 1), date(2023, 2, 28), "医保"),
    ("医保2023.2", date(2023, 2, 1), date(2023, 2, 28), "医保"),
    ("2023/2/7 会议", date(2023, 2, 7), date(2023, 2, 7), "会议"),
    ("2022-12-05的会议", date(2022, 12, 5), date(2022, 12, 5), "会议"),
    ("二〇二三年二月 两会", date(2023, 2, 1), date(2023, 2, 28), "两会"),
    ("二零二二年十二月二十五日", date(2022, 12, 25), date(2022, 12, 25), ""),
    ("2023年2月份 港西镇", date(2023, 2, 1), date(2023, 2, 28), "港西镇"),  # no stray 份 left to search
    # two joined: one range; the second may leave out the year or month the first gave; 以来/至今 run to today
    ("2022年12月到2023年2月 疫情防控", date(2022, 12, 1), date(2023, 2, 28), "疫情防控"),
    ("2023年1月至3月会议", date(2023, 1, 1), date(2023, 3, 31), "会议"),
    ("2023年2月 - 3月", date(2023, 2, 1), date(2023, 3, 31), ""),
    ("2022年12月5日-10日", date(2022, 12, 5), date(2022, 12, 10), ""),
    ("2022年12月5日到12月10日的通知", date(2022, 12, 5), date(2022, 12, 10), "通知"),
    ("2022-12至2023-02 医保", date(2022, 12, 1), date(2023, 2, 28), "医保"),
    ("从去年到今年 防汛", date(2023, 1, 1), date(2024, 12, 31), "防汛"),
    ("2023年2月到2022年12月", date(2022, 12, 1), date(2023, 2, 28), ""),  # written the other way round
    ("2023年3月以来的工作", date(2023, 3, 1), TODAY, "工作"),
    ("自2023年1月至今", date(2023, 1, 1), TODAY, ""),
    # what follows a joiner but is no date stays in the text; so does an impossible second date
    ("2023年1月至10家企业", date(2023, 1, 1), date(2023, 1, 31), "至10家企业"),
    ("2023年2月到10日", date(2023, 2, 1), date(2023, 2, 28), "到10日"),
    ("2023年2月5日到30日", date(2023, 2, 5), date(2023, 2, 5), "到30日"),
])
def test_date_words_become_a_range_and_leave_the_text(q: str, start: date, end: date, rest: str) -> None:
    assert date_range(q, TODAY) == ((start, end), rest)


def test_last_month_in_january_is_december_of_last_year() -> None:
    assert date_range("上月", date(2024, 1, 10)) == ((date(2023, 12, 1), date(2023, 12, 31)), "")


@pytest.mark.parametrize("q", ["港西镇2022年党员代表会议", "2022年度述职", "2022年13月", "2023年2月30日", "老年人",
                               "2024-13", "2023-02-30", "GB2024-3", "版本1.2024.3", "增长2024.35亿元", "二〇二四年十三月",
                               "2023.2亿元", "增长2022.12%", "2023.12版", "京ICP备2023-2号", "0571-2023-12",
                               "2022-12-05-01"])
def test_no_range_for_a_bare_year_or_an_impossible_date(q: str) -> None:
    assert date_range(q, TODAY) is None


class _Names:
    def __init__(self) -> None:
        self.requests = 0

    async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        self.requests += 1
        return [{"aggregations": {"town": {"buckets": [{"key": "港西镇", "doc_count": 30}, {"key": "庙镇", "doc_count": 2}]},
                                  "publisher": {"buckets": [{"key": "上海市崇明区港西镇人民政府", "doc_count": 20}]}}}]


def _apply(req: SearchRequest, backend: _Names) -> tuple[SearchRequest, Any]:
    return asyncio.run(Understanding(backend, "alias", 1.0, today=lambda: TODAY).apply(req))


def test_a_named_town_is_boosted_and_dates_filter() -> None:
    backend = _Names()
    req, understood = _apply(SearchRequest(q="港西镇 上个月 安全生产"), backend)
    assert req.q == "港西镇 安全生产" and req.boost == ("town", "港西镇")
    assert (req.filters.date_from, req.filters.date_to) == (date(2024, 2, 1), date(2024, 2, 29))
    assert understood.as_json() == {"text": "港西镇 安全生产", "date_from": "2024-02-01", "date_to": "2024-02-29",
                                    "date_applied": True, "town": "港西镇", "synonyms": []}
    clause = {"constant_score": {"filter": {"term": {"town": "港西镇"}}, "boost": 10.0}}
    assert clause in bm25_query(req.q, req.filters, req.boost)["bool"]["should"]
    assert clause not in bm25_query(req.q, req.filters)["bool"]["should"]


def test_the_longest_known_name_wins_and_names_are_cached() -> None:
    backend = _Names()
    req, understood = _apply(SearchRequest(q="上海市崇明区港西镇人民政府 通知"), backend)
    assert req.boost == ("publisher", "上海市崇明区港西镇人民政府") and understood.date_from is None
    understanding = Understanding(backend, "alias", 1.0, today=lambda: TODAY)
    for _ in range(3):
        asyncio.run(understanding.apply(SearchRequest(q="防汛")))
    assert backend.requests == 2  # one per Understanding: the names are cached


def test_nothing_understood_leaves_the_request_alone() -> None:
    req = SearchRequest(q="安全生产")
    assert _apply(req, _Names()) == (req, None)


def test_explicit_dates_win_and_a_query_of_only_a_date_word_is_searched_as_words() -> None:
    explicit = SearchRequest(q="去年 防汛", filters=Filters(date_from=date(2020, 1, 1)))
    assert _apply(explicit, _Names()) == (explicit, None)
    alone = SearchRequest(q="去年")
    assert _apply(alone, _Names()) == (alone, None)


class _Down:
    async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        raise ConnectionError("node away")


def test_unreadable_names_boost_nothing_and_dates_still_apply() -> None:
    req, understood = asyncio.run(Understanding(_Down(), "alias", 1.0, today=lambda: TODAY).apply(
        SearchRequest(q="港西镇 去年 防汛")))
    assert req.boost is None and understood.town is None and understood.date_from == date(2023, 1, 1)


def test_names_that_could_not_be_read_are_not_asked_for_by_every_search() -> None:
    """A node that hangs costs the request its timeout: asked by every search, the names alone would add it to
    each one."""
    class Counting(_Down):
        asked = 0

        async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
            Counting.asked += 1
            return await super().msearch(index, bodies)

    understanding = Understanding(Counting(), "alias", 1.0, today=lambda: TODAY)
    for _ in range(5):
        asyncio.run(understanding.apply(SearchRequest(q="港西镇 防汛")))
    assert Counting.asked == 1


class _Titles(_Names):
    """An index holding one article titled 今年7350亿元中央预算内投资基本下达完毕 (title.exact, lower case)."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[dict[str, Any]] = []

    async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        (body,) = bodies
        if "aggs" in body:
            return await super().msearch(index, bodies)
        self.lookups.append(body)
        titles = [c["term"]["title.exact"]["value"] for c in body["query"]["bool"]["should"] if "title.exact" in c["term"]]
        found = titles == ["今年7350亿元中央预算内投资基本下达完毕"]
        return [{"hits": {"hits": [{"_source": {"article_id": "a1"}}] if found else []}}]


def test_a_date_word_inside_an_exact_title_is_part_of_the_title_not_a_filter() -> None:
    title = SearchRequest(q="今年7350亿元中央预算内投资基本下达完毕")
    backend = _Titles()
    assert _apply(title, backend) == (title, None)
    req, understood = _apply(SearchRequest(q="今年 中央预算内投资"), backend)
    assert req.q == "中央预算内投资" and understood.date_from == date(2024, 1, 1)
    assert len(backend.lookups) == 2  # one lookup per query holding a date word, none for the others
    _apply(SearchRequest(q="中央预算内投资"), backend)
    assert len(backend.lookups) == 2
