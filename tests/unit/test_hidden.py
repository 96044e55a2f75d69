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


class _Node:
    """The hidden-queries document's `get`, failing while `down`, counting the calls."""

    def __init__(self) -> None:
        self.down = True
        self.gets = 0

    async def get(self, index: str, id: str, source: bool = True) -> dict:
        self.gets += 1
        if self.down:
            raise ConnectionError("node away")
        return {"_version": 2, "_source": {"words": ["垃圾"], "updated": "2026-11-30T00:00:00+00:00"}}


def test_a_process_that_could_not_read_the_list_hides_everything_and_asks_again_soon(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Started while Elasticsearch was away, a replica used to show hidden words on /hot for 10 s after it came
    back (an empty list, cached as if read). Now it hides every query until the list is read, and retries after
    RETRY_SECONDS, one attempt at a time."""
    import asyncio

    from service import ruledoc
    from service.hidden import HiddenQueries

    node = _Node()
    hidden = HiddenQueries(node, "unit-hidden", always=["代办"])  # type: ignore[arg-type]

    async def shown(query: str) -> bool:
        return not (await hidden.hides())(query)

    assert asyncio.run(shown("垃圾分类")) is False and asyncio.run(shown("安全生产")) is False
    assert node.gets == 1  # asked once; the second request within RETRY_SECONDS did not ask again
    node.down = False
    monkeypatch.setattr(ruledoc, "RETRY_SECONDS", 0.0)
    assert asyncio.run(shown("垃圾分类")) is False and asyncio.run(shown("安全生产")) is True
    assert asyncio.run(shown("请找代办")) is False  # SUGGEST_HIDDEN_QUERIES: hidden as well
