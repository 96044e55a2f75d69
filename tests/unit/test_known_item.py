"""bench.relevance.known_item without the corpus: the query each kind cuts from a record, the untitled
form of a record, and the nested selections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.relevance import failures, known_item

RECORD = {
    "id": "xwlb-1", "date": "2016-01-05", "title": "全国各地举行新年倒计时活动", "tags": "新年,倒计时、[视频]祈福",
    "body": "短句。点燃欢庆的焰火，许下祈福的心愿，敲响希望的钟声\n昨晚，有着近600年历史的故宫太庙建筑群迎来了新年倒计时活动！"
            "在哈尔滨，夜里温度已经降到零下30度，人们依然热情不减？" + "很长" * 40 + "。",
}


def test_each_kind_cuts_its_query_from_the_record() -> None:
    assert known_item.tags_query(RECORD) == "新年 倒计时 祈福"
    # Sentences of 15-60 characters, end punctuation dropped: the middle one of the three usable.
    assert known_item.sentence_query(RECORD) == "昨晚，有着近600年历史的故宫太庙建筑群迎来了新年倒计时活动"
    assert known_item.title_query(RECORD) == RECORD["title"]
    assert known_item.sentence_query({**RECORD, "body": "太短。" + "太长" * 40}) is None
    assert known_item.tags_query({**RECORD, "tags": ""}) is None


def test_the_untitled_record_keeps_its_id_and_body_under_its_stand_in_title() -> None:
    bare = known_item.retitled(RECORD, "另一条新闻的标题")
    assert bare["title"] == "另一条新闻的标题" and bare["body"] == RECORD["body"]
    assert known_item.article_id(bare) == known_item.article_id(RECORD)


def _corpus(tmp_path: Path) -> Path:
    for year in (2012, 2013, 2016, 2024):
        with (tmp_path / f"xwlb-{year}.jsonl").open("w", encoding="utf-8") as sink:
            for i in range(80 if year == 2016 else 40):  # enough train-year records outside main for stand-in titles
                sink.write(json.dumps({**RECORD, "id": f"xwlb-{year}-{i}", "date": f"{year}-03-01",
                                       "title": f"{RECORD['title']}（{year}-{i}）"}, ensure_ascii=False) + "\n")
    return tmp_path


def test_selections_are_nested_and_the_untitled_records_are_outside_the_main_ones(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(known_item, "N_FULL", 60)
    source = _corpus(tmp_path)
    small = known_item.corpora(source, n_main=20, n_held_out=30, n_distractors=10, n_untitled=8)
    large = known_item.corpora(source, n_main=60, n_held_out=30, n_distractors=10, n_untitled=8)
    ids = lambda records: {r["id"] for r in records}
    assert ids(small.main) <= ids(large.main) and len(large.main) == 60
    assert ids(small.untitled) == ids(large.untitled) and not ids(small.untitled) & ids(large.main)
    assert all(known_item.year_of(r) in known_item.TRAIN_YEARS for r in small.untitled)
    assert len(small.held_out) == 30 + 10 and ids(small.distractors) <= ids(small.main)
    # The answers stand under other records' titles, none a query's; the distractors keep theirs.
    indexed = small.untitled_index()
    assert [r["id"] for r in indexed] == [r["id"] for r in [*small.untitled, *small.distractors]]
    assert [r["title"] for r in indexed[:8]] == small.stand_ins and len(small.stand_ins) == 8
    assert not {r["title"] for r in small.untitled} & set(small.stand_ins)
    assert indexed[8:] == small.distractors
    titles = small.items("train", 100, "title")
    assert {i.article_id for i in titles} == {known_item.article_id(r) for r in small.untitled}
    assert all(i.query.startswith(RECORD["title"]) for i in titles)
    assert {i.year for i in small.items("heldout", 100)} <= known_item.HELD_OUT_YEARS
    with pytest.raises(ValueError):
        small.items("dev", 10, "title")


def _record(rid: str, title: str, body: str, day: str = "2024-03-05") -> dict[str, str]:
    return {"id": rid, "date": day, "title": title, "body": body}


def _ranked(*records: dict[str, str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    ids = [known_item.article_id(r) for r in records]
    return ids, dict(zip(ids, records))


def test_a_dev_miss_is_put_down_to_the_first_cause_that_applies() -> None:
    answer = _record("a", "韩正参加山东代表团审议", "韩正来到山东代表团，审议政府工作报告。")
    ids, records = _ranked(answer)
    assert failures.cause("山东代表团 审议", answer, ids, records) is None  # found first: no miss
    copy = _record("b", "韩正参加山东代表团 审议", "韩正来到山东代表团，审议政府工作报告。 ")
    rerun = _record("c", "韩正参加山东代表团审议", "韩正来到山东代表团，同代表们一起审议。", "2026-03-05")
    series = _record("d", "赵乐际参加山东代表团审议", "赵乐际来到山东代表团审议。")
    partial = _record("e", "山东代表团开放日", "山东代表团向媒体开放。")
    cases = [(copy, "exact duplicate first"), (rerun, "same title, another event"),
             (series, "both hold the same parts"), (partial, "answer holds more of the query's parts")]
    for first, expected in cases:
        ids, records = _ranked(first, answer)
        assert failures.cause("山东代表团 审议", answer, ids, records) == expected
    ids, records = _ranked(answer, partial)
    assert failures.cause("山东代表团 政府工作报告 审议", partial, ids, records) == "first holds more of the query's parts"
    ids, records = _ranked(series)
    assert failures.cause("山东代表团 审议", answer, ids, records) == "not in the top 10"
    # 今年 (this year, read today) excludes a 2024 answer: the understood filter lost it.
    assert failures.cause("今年 山东代表团 审议", answer, ids, records) == "date word read as a filter"
    assert failures.counts(["not in the top 10", None, "not in the top 10"]) == {
        c: 2 if c == "not in the top 10" else 0 for c in failures.CAUSES}


def test_the_parts_a_record_holds_are_counted_after_normalisation() -> None:
    record = _record("a", "韓正參加山東代表團審議", "審議 政府工作報告")
    assert failures.parts_held("山东代表团 审议 政府工作报告 荷兰", record) == 3


def test_past_n_full_the_main_index_grows_by_records_no_query_asks_about(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(known_item, "N_FULL", 60)
    source = _corpus(tmp_path)
    sizes = {n: known_item.corpora(source, n_main=n, n_held_out=30, n_distractors=10, n_untitled=8)
             for n in (60, 70, 1000)}
    ids = lambda records: [r["id"] for r in records]
    assert len(sizes[70].main) == 70 and len(sizes[1000].main) == 120  # every 2016 + 2024 record
    assert set(ids(sizes[60].main)) < set(ids(sizes[70].main)) < set(ids(sizes[1000].main))
    for bigger in (sizes[70], sizes[1000]):
        assert ids(bigger.asked) == ids(sizes[60].main)
        assert ids(bigger.held_out) == ids(sizes[60].held_out) and ids(bigger.untitled) == ids(sizes[60].untitled)
        for split in ("train", "dev"):
            assert bigger.items(split, 100) == sizes[60].items(split, 100)


def test_mirrors_are_built_like_the_held_out_index_from_their_own_split_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(known_item, "N_FULL", 120)
    for year in (2012, 2013, 2014, 2015, 2018, 2021, 2022, 2024, 2025, 2026):
        with (tmp_path / f"xwlb-{year}.jsonl").open("w", encoding="utf-8") as sink:
            for i in range(20):
                sink.write(json.dumps({**RECORD, "id": f"xwlb-{year}-{i}", "date": f"{year}-03-01",
                                       "title": f"{RECORD['title']}（{year}-{i}）"}, ensure_ascii=False) + "\n")
    selection = known_item.corpora(tmp_path, n_main=120, n_held_out=12, n_distractors=9, n_untitled=4)
    years = lambda records: {known_item.year_of(r) for r in records}
    # The held-out index is one case of the same construction: its era's records, then the distractors.
    held = known_item.read_records(tmp_path, known_item.HELD_OUT_YEARS)
    assert selection.held_out == known_item.dense_era(held, selection.asked, 12, 9)
    assert set(selection.mirrors) == set(known_item.MIRRORS)
    for name, mirror in selection.mirrors.items():
        split, era = known_item.MIRRORS[name]
        assert mirror.split == split and mirror.years == era <= known_item.SPLIT_YEARS[split]
        assert len(mirror.records) == 12 + 9
        assert years(mirror.records[:12]) <= era  # the era's records: 12 of its 40
        distractors = mirror.records[12:]
        assert years(distractors) <= known_item.TRAIN_YEARS - era  # never a dev or held-out year, never the era
        assert {r["id"] for r in distractors} <= {r["id"] for r in selection.asked}
        asked = selection.items(split, 100, mirror=name)
        assert asked and {i.year for i in asked} <= era and {i.split for i in asked} == {split}
        assert {i.article_id for i in asked} <= {known_item.article_id(r) for r in mirror.records[:12]}
        assert all(i.id.startswith(f"{split}-{name}-") for i in asked)
    with pytest.raises(ValueError):
        selection.items("train", 10, mirror="devmirror")
    with pytest.raises(ValueError):
        selection.items("train", 10, "title", mirror="trainmirror1415")


def test_without_the_xwlb_corpus_the_selections_fail_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no xwlb-YYYY.jsonl file in"):
        known_item.corpora(tmp_path)
