"""The hidden words without a node: how a list is read and checked, and what a word hides."""

from __future__ import annotations

import pytest

from service.hidden import MAX_WORD_CHARS, MAX_WORDS, HiddenWordError, HiddenWords, hidden_by


def test_a_word_hides_every_query_holding_it_in_any_form() -> None:
    keys = HiddenWords(["违紀", "ａｂｃ", " 加微信 "]).keys  # traditional, full-width, spaces: as queries are read
    assert [q for q in ("某某违纪举报", "ABC公司", "abc", "请加微信", "安全生产", "违 纪") if hidden_by(q, keys)] == [
        "某某违纪举报", "ABC公司", "abc", "请加微信"]


def test_the_list_keeps_what_was_written_once_per_word() -> None:
    words = HiddenWords([" 违纪 ", "違紀", "ABC", "abc", "代办"])
    assert words.lines == ["违纪", "ABC", "代办"]  # stripped; the same word written again is kept once
    assert sorted(words.keys) == ["abc", "代办", "违纪"]
    assert HiddenWords([]).lines == [] and not hidden_by("任何查询", HiddenWords([]).keys)


@pytest.mark.parametrize(("words", "position", "reason"), [
    (["违纪", "  "], 1, "empty word"),
    (["违纪", "", "代办"], 1, "empty word"),
    (["港" * (MAX_WORD_CHARS + 1)], 0, "longer than"),
    ([f"词{i}" for i in range(MAX_WORDS + 1)], MAX_WORDS, "more than"),
])
def test_a_bad_word_is_named_by_its_place(words: list[str], position: int, reason: str) -> None:
    with pytest.raises(HiddenWordError) as caught:
        HiddenWords(words)
    assert caught.value.position == position and caught.value.reason.startswith(reason)


def test_as_many_words_as_allowed_and_the_longest_word_are_accepted() -> None:
    assert len(HiddenWords([f"词{i}" for i in range(MAX_WORDS)]).lines) == MAX_WORDS
    assert HiddenWords(["港" * MAX_WORD_CHARS]).lines == ["港" * MAX_WORD_CHARS]
