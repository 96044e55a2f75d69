"""service.facets: article counts over a fused list, and the bm25 mode's aggregations."""

from __future__ import annotations

from service import facets
from service.facets import FACET_FIELDS, MAX_BUCKETS


def test_count_counts_articles_by_count_then_value() -> None:
    sources = [
        {"article_id": "a", "publisher": "乙", "department": "党群办", "date": "2022-03-01"},
        {"article_id": "b", "publisher": "甲", "department": None, "date": "2021-12-31"},
        {"article_id": "c", "publisher": "乙", "department": "党群办", "date": "2022-07-15"},
        {"article_id": "d", "publisher": "甲", "date": None},
        {"article_id": "e", "publisher": "丙", "department": "", "date": "2023-01-01"},
    ]
    counts = facets.count(sources)
    assert set(counts) == set(FACET_FIELDS)
    # 甲 and 乙 tie at 2: ordered by value (乙 U+4E59 < 甲 U+7532); 丙 (1) after them despite sorting first.
    assert counts["publisher"] == [{"value": "乙", "count": 2}, {"value": "甲", "count": 2},
                                   {"value": "丙", "count": 1}]
    assert counts["department"] == [{"value": "党群办", "count": 2}]  # None and "" are no value
    assert counts["year"] == [{"value": 2022, "count": 2}, {"value": 2021, "count": 1}, {"value": 2023, "count": 1}]
    assert all(isinstance(b["value"], int) for b in counts["year"])


def test_count_caps_each_facet_at_max_buckets_keeping_the_most_frequent() -> None:
    sources = [{"publisher": f"机构{i:03d}", "date": None} for i in range(MAX_BUCKETS + 10)]
    sources += [{"publisher": "机构999", "date": None}] * 3
    buckets = facets.count(sources)["publisher"]
    assert len(buckets) == MAX_BUCKETS
    assert buckets[0] == {"value": "机构999", "count": 3}
    assert [b["value"] for b in buckets[1:]] == [f"机构{i:03d}" for i in range(MAX_BUCKETS - 1)]


def test_count_of_nothing_is_empty_buckets() -> None:
    assert facets.count([]) == {name: [] for name in FACET_FIELDS}


def test_aggregations_count_articles_per_bucket() -> None:
    aggs = facets.aggregations()
    assert aggs["articles"]["cardinality"]["field"] == "article_id"
    for name in FACET_FIELDS:
        terms = aggs[f"facet_{name}"]
        assert terms["terms"]["field"] == name
        assert terms["terms"]["size"] == MAX_BUCKETS
        assert terms["terms"]["order"] == {"articles": "desc"}
        assert terms["aggs"]["articles"]["cardinality"]["field"] == "article_id"


# Recorded from a bm25 request (`aggregations()`) on the sample index; numeric keys come back as floats.
RECORDED = {
    "articles": {"value": 37},
    "facet_town": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
        {"key": "港西镇", "doc_count": 130, "articles": {"value": 28}},
    ]},
    "facet_publisher": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
        {"key": "上海市崇明区港西镇人民政府", "doc_count": 120, "articles": {"value": 25}},
        {"key": "上海市崇明区庙镇人民政府", "doc_count": 40, "articles": {"value": 12}},
    ]},
    "facet_department": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
        {"key": "党群办", "doc_count": 30, "articles": {"value": 9}},
    ]},
    "facet_year": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
        {"key": 2022.0, "doc_count": 100, "articles": {"value": 30}},
        {"key": 2021, "doc_count": 20, "articles": {"value": 7}},
    ]},
}


def test_from_aggregations_reads_article_counts_and_integer_years() -> None:
    total, counts = facets.from_aggregations(RECORDED)
    assert total == 37
    assert counts["publisher"] == [{"value": "上海市崇明区港西镇人民政府", "count": 25},
                                   {"value": "上海市崇明区庙镇人民政府", "count": 12}]
    assert counts["department"] == [{"value": "党群办", "count": 9}]
    assert counts["town"] == [{"value": "港西镇", "count": 28}]
    assert counts["year"] == [{"value": 2022, "count": 30}, {"value": 2021, "count": 7}]
    assert [type(b["value"]) for b in counts["year"]] == [int, int]
