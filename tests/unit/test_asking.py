"""The asking-words task of `bench.relevance`: which keywords become subjects, how each is asked, how hits are counted."""

from __future__ import annotations

from bench.relevance import asking


def _record(year: int, tags: str) -> dict[str, str]:
    return {"date": f"{year}-03-01", "tags": tags, "title": "t", "body": "b"}


def test_keywords_are_single_chinese_words_of_the_years_asked_once_each_sorted() -> None:
    records = [_record(2024, "垃圾分类,地震、[视频]防汛抗旱 ABC 1949年 一 中华人民共和国成立"),
               _record(2024, "地震"), _record(2013, "高考")]
    assert asking.keywords(records, frozenset({2024})) == sorted(["垃圾分类", "地震", "防汛抗旱"])


def test_subjects_need_enough_holders_and_are_framed_by_the_templates_in_turn() -> None:
    records = [_record(2024, "地震,防汛,高考,台风")]
    texts = {f"a{i}": "地震 防汛" + ("高考" if i < asking.MIN_HOLDERS - 1 else "") + ("台风" if i % 2 else "")
             for i in range(2 * asking.MIN_HOLDERS)}
    chosen = asking.subjects(records, frozenset({2024}), texts)
    # 高考 is held by one article too few; 台风 by half of them, 地震 and 防汛 by all (texts are normalized already)
    assert [(s.subject, len(s.holders)) for s in chosen] == [("台风", asking.MIN_HOLDERS), ("地震", 2 * asking.MIN_HOLDERS),
                                                         ("防汛", 2 * asking.MIN_HOLDERS)]
    assert [s.question for s in chosen] == [t.format(s.subject) for t, s in zip(asking.TEMPLATES, chosen)]
    assert [s.framed for s in chosen] == [t.format(s.subject) for t, s in zip(asking.FRAMES, chosen)]


def test_precision_counts_the_first_k_hits_holding_the_subject_and_a_short_list_scores_less() -> None:
    holders = frozenset({"a", "c"})  # of 今天发生地震 (a), 台风 (b), 地震预警 (c): the articles holding 地震
    assert asking.precision(["a", "b", "c"], holders, k=3) == 2 / 3
    assert asking.precision(["a"], holders, k=2) == 0.5
    assert asking.precision(["x", "a"], holders, k=1) == 0.0


def test_every_template_asks_or_frames_with_words_the_query_understanding_leaves_out() -> None:
    from govsearch.rules import asked

    for template in (*asking.TEMPLATES, *asking.FRAMES):
        assert asked(template.format("防汛抗旱")) == "防汛抗旱", template
