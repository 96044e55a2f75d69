"""The perf benchmark's query sources (`bench/perf/queries.py`): the cold cells' pool outside the mix."""

from __future__ import annotations

import json
from pathlib import Path

from bench.perf import queries
from bench.relevance import judged


def _write_year(directory: Path, year: int, tags: list[str]) -> None:
    with (directory / f"xwlb-{year}.jsonl").open("w", encoding="utf-8") as out:
        for n, tag in enumerate(tags):
            record = {"id": f"{year}-{n}", "title": f"t{n}", "date": f"{year}-01-0{n % 9 + 1}", "body": "b",
                      "tags": tag}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def test_unseen_queries_are_distinct_and_outside_the_mix() -> None:
    pool = queries.unseen(1000)
    assert len(pool) == len(set(pool))
    assert not set(pool) & set(queries.QUERIES)
    # without the xwlb corpus: the judged set's queries that the mix does not already hold, all of them
    assert set(pool) == {q.query for q in judged.load()} - set(queries.QUERIES)
    assert queries.unseen(1000) == pool  # seeded
    assert queries.unseen(10) == pool[:10]


def test_unseen_queries_take_short_training_year_keywords_never_held_out_ones(tmp_path: Path) -> None:
    _write_year(tmp_path, 2012, ["留出 年份"])  # a held-out year
    _write_year(tmp_path, 2016, ["乡村 道路", "很长的关键词 " * 5, "乡村 道路", ""])
    _write_year(tmp_path, 2024, ["开发 年份"])  # a dev year
    judged_count = len(queries.unseen(1000))
    pool = queries.unseen(1000, tmp_path)
    assert pool[judged_count:] == ["乡村 道路"]  # once; the long one, the empty one and other splits left out
    assert len(queries.unseen(judged_count, tmp_path)) == judged_count
