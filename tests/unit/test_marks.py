"""What a snippet's marks keep (`service.marks`): whole words, not stray characters."""

from __future__ import annotations

import pytest

from service.marks import marked, single_characters_asked, tidy


@pytest.mark.parametrize(("fragment", "q", "tidied"), [
    # smartcn splits words it does not know into characters; touching marks become one.
    ("申请<em>低</em><em>保</em>的", "怎么申请低保", "申请<em>低保</em>的"),
    ("<em>王</em><em>卫</em><em>中</em>讲话", "王卫中讲话", "<em>王卫中</em>讲话"),
    # A lone character marked elsewhere says nothing: dropped.
    ("落实<em>包</em><em>保</em>责任，<em>保</em>质<em>保</em>量", "低保", "落实<em>包保</em>责任，保质保量"),
    ("<em>5</em>月14日", "5G基站", "5月14日"),
    ("今年<em>垃圾</em>分类怎么<em>做</em>", "垃圾分类怎么做", "今年<em>垃圾</em>分类怎么做"),
    # Escaped text counts as the character it stands for.
    ("A<em>&amp;</em>B <em>&amp;&lt;</em>", "A&B", "A&amp;B <em>&amp;&lt;</em>"),
    # The query asks for one character: kept.
    ("<em>镇</em>政府 <em>税</em>务", "港西 税", "<em>镇</em>政府 <em>税</em>务"),
    ("无标记的文字", "低保", "无标记的文字"),
])
def test_tidy_joins_touching_marks_and_drops_lone_characters(fragment: str, q: str, tidied: str) -> None:
    assert tidy(fragment, q) == tidied


def test_single_characters_are_asked_by_a_one_character_part() -> None:
    assert single_characters_asked("税") and single_characters_asked("港西镇 税")
    assert not single_characters_asked("港西镇 垃圾分类") and not single_characters_asked("")


def test_marked_reads_the_marked_texts_unescaped() -> None:
    assert marked("<em>安全</em>生产<em>&lt;检查&gt;</em>") == ["安全", "<检查>"]
    assert marked("没有") == []
