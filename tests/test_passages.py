"""Articles → passages: sentence-aware chunks with exact offsets, overlap, and repeats indexed once."""

from __future__ import annotations

import pytest

from govsearch.paths import SAMPLE_CORPUS
from govsearch.schema import Article, Passage
from indexer.newsletter import parse_newsletter
from indexer.passages import embedding_text, split_passages

SAMPLE = SAMPLE_CORPUS
SENTENCE_ENDS = tuple("。！？!?；;…”’)）》")


def _article(body: str, title: str = "测试文章") -> Article:
    return Article(article_id="a1b2c3d4e5f60718", title=title, body=body, publisher=None, town=None, date=None,
                   department=None, section=None, source="test", url=None, newsletter=None, doc_number=None)


@pytest.fixture(scope="module")
def sample() -> list[tuple[Article, list[Passage]]]:
    pairs = []
    for path in sorted(SAMPLE.glob("*.txt")):
        for article in parse_newsletter(path.read_text(encoding="utf-8"), str(path)):
            pairs.append((article, split_passages(article)))
    return pairs


def test_passages_are_exact_slices_of_their_article(sample: list[tuple[Article, list[Passage]]]) -> None:
    seen_ids: set[str] = set()
    for article, passages in sample:
        assert passages
        assert [p.position for p in passages] == list(range(len(passages)))
        for passage in passages:
            assert passage.article_id == article.article_id
            assert passage.passage_id == f"{article.article_id}-{passage.position}"
            assert article.body[passage.char_start:passage.char_end] == passage.text
            assert passage.text == passage.text.strip()
            assert passage.passage_id not in seen_ids
            seen_ids.add(passage.passage_id)
        starts = [p.char_start for p in passages]
        assert starts == sorted(starts)


def test_sample_passages_stay_within_bounds_and_on_sentence_ends(
        sample: list[tuple[Article, list[Passage]]]) -> None:
    for article, passages in sample:
        if len(article.body) <= 400:
            assert [p.text for p in passages] == [article.body]  # a short article is one passage
            continue
        for passage in passages:
            assert 150 <= len(passage.text) <= 400, (article.title, len(passage.text))
            assert passage.text.endswith(SENTENCE_ENDS) or article.body[passage.char_end:][:1] in ("", "\n")


def test_passages_cover_the_whole_body(sample: list[tuple[Article, list[Passage]]]) -> None:
    for article, passages in sample:
        covered = [False] * len(article.body)
        for passage in passages:
            covered[passage.char_start:passage.char_end] = [True] * (passage.char_end - passage.char_start)
        assert all(covered[i] for i, ch in enumerate(article.body) if not ch.isspace()), article.title


def test_the_scrapers_repeated_paragraph_is_indexed_once(sample: list[tuple[Article, list[Passage]]]) -> None:
    [(summary, passages)] = [(a, p) for a, p in sample if a.title == "泗湖山镇11月份重点工作"]
    repeated = next(p for p in summary.body.split("\n") if p.startswith("11月17日,我镇召开创省卫工作再推进会"))
    assert summary.body.count(repeated) == 1
    assert sum(p.text.count(repeated) for p in passages) <= 1
    assert sum(p.text.count("确保创卫工作一举成功") for p in passages) == 1


def test_a_repeated_paragraph_elsewhere_in_an_article_goes_into_one_passage_only() -> None:
    repeat = "镇党委书记强调，要提高思想认识，凝聚创卫思想共识，各部门单位要发扬连续作战的拼搏精神，确保创卫工作一举成功。"
    filler = "会议部署了下一阶段的重点工作任务，并对各项工作提出了具体要求。" * 6
    other_punctuation = repeat.replace("，", ",").replace("。", ".")
    one_word_changed = repeat.replace("凝聚", "凝结")
    body = "\n".join([repeat, filler, other_punctuation, filler.replace("会议", "大会"), one_word_changed,
                      filler.replace("会议", "例会"), repeat])
    article = _article(body)
    passages = split_passages(article)
    assert article.body == body  # the body is never altered
    assert sum("确保创卫工作一举成功" in p.text for p in passages) == 1
    assert sum("大会部署了下一阶段" in p.text for p in passages) >= 1  # different paragraphs all stay
    for passage in passages:
        assert body[passage.char_start:passage.char_end] == passage.text


def test_consecutive_passages_share_whole_trailing_sentences() -> None:
    sentences = [f"第{i}项工作已经按计划完成并通过验收。" for i in range(1, 60)]
    body = "".join(sentences)
    passages = split_passages(_article(body), min_chars=150, max_chars=400, overlap_chars=50)
    assert len(passages) > 2
    for before, after in zip(passages, passages[1:]):
        overlap = before.char_end - after.char_start
        assert 0 < overlap <= 50
        shared = body[after.char_start:before.char_end]
        assert shared.endswith("。") and body[after.char_start - 1] == "。"  # whole sentences only
        assert 150 <= len(after.text) <= 400


def test_an_overlong_sentence_is_cut_at_commas() -> None:
    clause = "各村社区要进一步压实属地责任并加强日常巡查"
    body = "，".join([clause] * 60) + "。"
    passages = split_passages(_article(body), max_chars=400)
    assert len(passages) > 1
    for passage in passages:
        assert len(passage.text) <= 400
    for passage in passages[:-1]:
        assert body[passage.char_end - 1] == "，"


def test_a_sentence_without_any_pause_is_cut_hard() -> None:
    body = "甲" * 1000
    passages = split_passages(_article(body), max_chars=400)
    assert [len(p.text) for p in passages] == [400, 400, 200]


def test_a_subheading_opens_a_passage_rather_than_closing_one() -> None:
    paragraphs = []
    for n in range(1, 5):
        paragraphs.append(f"{n}、第{n}项重点工作")
        paragraphs += [f"本月第{k}周组织开展了{n}项专题活动，进一步推动各项工作有序进行，取得了阶段性成效。"
                       for k in range(1, 4)]
    passages = split_passages(_article("\n".join(paragraphs)))
    for passage in passages[:-1]:
        assert not passage.text.split("\n")[-1].endswith("重点工作"), passage.text


def test_a_short_article_is_exactly_one_passage() -> None:
    [passage] = split_passages(_article("静南村:12月5日,区委副书记来村检查指导工作。"))
    assert (passage.position, passage.char_start, passage.text) == (0, 0, "静南村:12月5日,区委副书记来村检查指导工作。")


def test_embedding_text_puts_the_title_first() -> None:
    article = _article("正文第一句。", title="港西镇召开疫情防控工作会议")
    [passage] = split_passages(article)
    assert embedding_text(article, passage) == "港西镇召开疫情防控工作会议\n正文第一句。"


def test_the_repeat_check_stays_linear_when_thousands_of_paragraphs_open_alike() -> None:
    import random

    from indexer.passages import _Repeats

    repeats = _Repeats()
    rng = random.Random(7)
    words = "村镇安全生产消防检查防汛农业医疗养老教育道路河道垃圾分类文明创建疫苗接种"
    paragraphs = ["关于做好以下工作的通知：" + "".join(rng.choice(words) for _ in range(40)) for _ in range(4000)]
    assert not any(repeats.is_repeat(p) for p in paragraphs)  # alike at the start, but each is different
    assert repeats.comparisons <= 2 * repeats._BUCKET * len(paragraphs)  # before: ~n²/2 = 8 million
    assert repeats.is_repeat(paragraphs[10])  # a verbatim repeat is still found, however far back
