"""The user dictionary miner (indexer.userdict) and the committed mappings/userdict.txt."""

from __future__ import annotations

import json
from pathlib import Path

from govsearch.paths import SAMPLE_CORPUS
from indexer.userdict import USERDICT, WORD_FREQUENCY, metadata_terms, pattern_terms, render, tag_terms


def _year(directory: Path, year: int, tags: list[str]) -> None:
    lines = [json.dumps({"id": f"{year}-{i}", "title": "t", "body": "b", "tags": tag}, ensure_ascii=False)
             for i, tag in enumerate(tags)]
    (directory / f"xwlb-{year}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_tags_come_from_training_years_only_and_must_be_frequent_chinese_words(tmp_path: Path) -> None:
    _year(tmp_path, 2013, ["留出年份词"] * 5)  # held out: never mined
    _year(tmp_path, 2025, ["开发年份词"] * 5)  # dev: its tags are known-item queries
    _year(tmp_path, 2014, ["河长制,禁捕退捕"] * 3 + ["罕见词"] * 2 + ["COVID", "2014年"] * 3)
    assert tag_terms(tmp_path) == {"河长制": "n", "禁捕退捕": "n"}


def test_places_and_people_need_rare_stems_and_repeated_sightings() -> None:
    texts = ["协西村召开会议，推进镇村建设。镇党委书记王卫中主持。", "协西村和推进镇。书记王卫中，本村"]
    news = ["推进改革" * 40, "王老师"]
    assert pattern_terms(texts, news) == {"协西村": "ns", "王卫中": "nr"}


def test_the_committed_dictionary_is_what_the_plugin_accepts_and_has_every_metadata_word() -> None:
    lines = USERDICT.read_text(encoding="utf-8").splitlines()
    words = [line.split(" ")[0] for line in lines]
    assert words == sorted(set(words))
    assert all(len(line.split(" ")) == 3 and line.split(" ")[1] == str(WORD_FREQUENCY) for line in lines)
    metadata = metadata_terms(SAMPLE_CORPUS)
    assert {"港西镇", "协西村", "城运中心"} <= set(metadata) <= set(words)
    assert render({"港西镇": "ns", "协西村": "ns"}) == f"协西村 {WORD_FREQUENCY} ns\n港西镇 {WORD_FREQUENCY} ns\n"
