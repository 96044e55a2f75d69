"""Text rules behind the search features, without a node: normalisation, pinyin forms, and the typo
checker's pieces (sound and shape likeness, which words it looks at, what it proposes and verifies)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from govsearch.pinyin import is_pinyin_query, query_form, suffix_forms, title_fields
from govsearch.rules import asked, normalize_text, office_spellings
from service.spelling import Speller, looks_alike, page_proposals, sounds_alike, unheld_words, unseen_pairs, words


@pytest.mark.parametrize(("typed", "normal"), [
    ("違章建築", "违章建筑"), ("安全生產", "安全生产"), ("ＡＢＣ１２３", "ABC123"), ("港西鎮　會議", "港西镇 会议"),
    ("安全生产", "安全生产"), ("崇港委〔2022〕171号，。：（）", "崇港委〔2022〕171号，。：（）"),
])
def test_normalize_text_simplifies_and_folds_full_width_letters_only(typed: str, normal: str) -> None:
    assert normalize_text(typed) == normal


@pytest.mark.parametrize(("typed", "normal"), [
    # Simplified text OpenCC's phrase rules would rewrite (opencc-purepy: 结束 → 結束, 显著 → 显着): kept as written.
    ("圆满结束 成效显著", "圆满结束 成效显著"), ("习近平结束对沙特的国事访问", "习近平结束对沙特的国事访问"), ("乾坤", "乾坤"),
    # Traditional text: converted, phrase rules included, also for characters the simplified standard has too.
    ("圓滿結束 成效顯著", "圆满结束 成效显著"), ("乾淨", "干净"), ("後來", "后来"), ("一隻", "一只"),
])
def test_normalize_text_changes_traditional_text_only(typed: str, normal: str) -> None:
    assert normalize_text(typed) == normal


def test_normalize_text_keeps_every_position() -> None:
    body = "違章建築（ＡＢＣ）…… 乾淨，頭髮。" * 3
    assert len(normalize_text(body)) == len(body)


def test_title_pinyin_forms_start_at_every_character() -> None:
    full, initials = suffix_forms("港西镇安全生产2022")
    assert full[0] == "gangxizhenanquanshengchan2022" and full[3] == "anquanshengchan2022"
    assert initials[:2] == ["gxzaqsc2022", "xzaqsc2022"] and initials[-1] == "2"
    assert title_fields("安全") == {"title_pinyin": ["anquan", "quan"], "title_initials": ["aq", "q"]}


@pytest.mark.parametrize("text", ["重庆市重要会议", "银行行长步行去行政服务中心", "长江长大了", "港西镇开展安全生产检查",
                                  "乐清音乐节", "还款还是还钱"])
def test_remembered_word_pinyin_equals_pypinyin_s_own_even_when_asked_again(text: str) -> None:
    from pypinyin import lazy_pinyin

    expected = [item for item in lazy_pinyin(text) if item.isascii() and item.isalnum()]
    assert query_form(text) == "".join(expected)
    assert query_form(text) == "".join(expected)  # now from the remembered words


@pytest.mark.parametrize(("typed", "pinyin", "form"), [
    ("aqsc", True, "aqsc"), ("AnQuan", True, "anquan"), ("安quan", True, "anquan"), ("xi'an", True, "xian"),
    ("安全", False, "anquan"), ("a.b", False, "ab"), ("2022", False, "2022"),
])
def test_pinyin_queries_are_letters_possibly_mixed_with_characters(typed: str, pinyin: bool, form: str) -> None:
    assert is_pinyin_query(typed) is pinyin
    assert query_form(typed) == form


def test_sound_and_shape_likeness() -> None:
    assert sounds_alike("厂", "产")  # chang ~ chan
    assert sounds_alike("晴", "情")  # same syllable
    assert not sounds_alike("铺", "捕")
    assert looks_alike("铺", "捕")  # 甫
    assert looks_alike("全", "金")  # 王
    assert looks_alike("空", "控") and looks_alike("健", "建")  # one is a part of the other
    assert not looks_alike("厂", "产")  # only a stroke in common
    # A shared radical is no likeness: 缴费 is not a typo of 经费, nor 停车 of 火车, nor 学校 of 学乐.
    assert not looks_alike("缴", "经") and not looks_alike("停", "火") and not looks_alike("校", "乐")
    # Nor a part of too many characters: 港沿镇 is no typo of 港西镇 (口), nor 中美 of 中央 (大), nor 服务型 of 服务社 (土).
    assert not looks_alike("沿", "西") and not looks_alike("美", "央") and not looks_alike("型", "社")


def test_only_chinese_words_outside_document_numbers_are_checked() -> None:
    assert words("港西镇 安全生厂 ABC 崇港委〔2022〕999号") == ["港西镇", "安全生厂"]


def _suggest(text: str, options: dict[int, list[str]]) -> dict[str, Any]:
    return {"suggest": {"w0": [{"text": text[i:i + 2], "offset": i, "length": 2,
                                "options": [{"text": o, "freq": 3, "score": 0.5} for o in options.get(i, [])]}
                               for i in range(len(text) - 1)]}}


class _Backend:
    """Answers the suggest request with the given options and each phrase count from `found`; the passages
    returned write the word out, unless `texts` gives their texts."""

    def __init__(self, suggest: dict[str, Any], found: dict[str, int], texts: dict[str, str] | None = None,
                 analysis: dict[str, list[str]] | None = None) -> None:
        self.suggest = suggest
        self.found = found
        self.texts = texts or {}
        self.analysis = analysis or {}  # the word analysis's tokens of a text; unlisted: one token per character
        self.counted: list[str] = []
        self.analyzed: list[str] = []
        self.requests = 0

    async def analyze(self, index: str, field: str, text: str) -> list[str]:
        self.analyzed.append(text)
        return self.analysis.get(text, list(text))

    async def msearch(self, index: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        self.requests += 1
        if "suggest" in bodies[0]:
            return [self.suggest]
        words = [body["query"]["bool"]["should"][0]["match_phrase"]["text"] for body in bodies]
        self.counted.extend(words)
        return [{"hits": {"total": {"value": self.found.get(w, 0)},
                          "hits": [{"_source": {"title": "", "text": self.texts.get(w, f"开展{w}工作")}}]
                          if self.found.get(w) else []}} for w in words]


def _did_you_mean(query: str, backend: _Backend) -> str | None:
    return asyncio.run(Speller(backend, "alias", 1.0).did_you_mean(query))


def test_a_same_sound_proposal_verified_in_the_index_is_the_correction() -> None:
    # 生厂 is missing: its neighbours 生产 (sound alike), 生活 (neither) and 工厂 (other position, unalike).
    backend = _Backend(_suggest("安全生厂", {2: ["生产", "生活", "工厂"]}), {"安全生产": 13})
    assert _did_you_mean("安全生厂", backend) == "安全生产"
    assert backend.counted == ["安全生产"]  # 生活 is neither alike in sound nor shape: never verified


def test_a_shape_proposal_two_bigrams_agree_on_is_the_correction() -> None:
    backend = _Backend(_suggest("禁铺退捕", {0: ["禁捕", "禁止"], 1: ["捕退"]}), {"禁捕退捕": 5})
    assert _did_you_mean("禁铺退捕", backend) == "禁捕退捕"


def test_no_correction_when_the_corrected_word_is_nowhere_or_nothing_is_missing() -> None:
    assert _did_you_mean("安全生厂", _Backend(_suggest("安全生厂", {2: ["生产"]}), {})) is None
    assert _did_you_mean("安全生产", _Backend(_suggest("安全生产", {}), {"安全生产": 13})) is None
    assert _did_you_mean("ABC", _Backend(_suggest("", {}), {})) is None


def test_a_number_is_never_corrected_into_another() -> None:
    # 第三届 is in no passage, 第二届 is (二 and 三 look alike): another session, not a typo
    backend = _Backend(_suggest("第三届人民代表大会", {0: ["第二"], 1: ["二届"]}), {"第二届人民代表大会": 4})
    assert _did_you_mean("第三届人民代表大会", backend) is None
    assert backend.counted == []


def test_a_word_the_segmenter_keeps_whole_is_not_corrected() -> None:
    # No passage holds 公园 (the pair is missing), but the word analysis reads it as one word of its dictionary.
    backend = _Backend(_suggest("公园", {0: ["公元"]}), {"公元": 3}, analysis={"公园": ["公园"]})
    assert _did_you_mean("公园", backend) is None
    backend = _Backend(_suggest("公园", {0: ["公元"]}), {"公元": 3}, analysis={"公园": ["公", "园"]})
    assert _did_you_mean("公园", backend) == "公元"  # had the analysis split it, the same-sound proposal would stand


def test_a_correction_that_reads_as_a_stop_word_is_not_proposed() -> None:
    # 户及 is written out (住户及家属) but 及 is a stop word: the search looks for 户 alone. The next proposal stands.
    backend = _Backend(_suggest("户籍", {0: ["户及", "户机"]}), {"户及": 9, "户机": 1}, analysis={"户及": ["户"]})
    assert _did_you_mean("户籍", backend) == "户机"
    assert backend.analyzed == ["户籍", "户及", "户机"]
    backend = _Backend(_suggest("堡镇", {0: ["在镇"]}), {"在镇": 9}, analysis={"在镇": ["镇"]})
    assert _did_you_mean("堡镇", backend) is None


def test_a_word_whose_pairs_run_on_across_punctuation_is_not_written_out_and_not_proposed() -> None:
    # 身份证 is in no passage; 身份 + 镇 stand in a row in the bigram field only across a line break.
    backend = _Backend(_suggest("身份证", {1: ["份镇"]}), {"身份镇": 2}, texts={"身份镇": "亮明身份\n镇、村干部"})
    assert _did_you_mean("身份证", backend) is None
    assert backend.counted == ["身份镇"]


def test_unseen_pairs_says_whether_the_returned_passages_lack_a_pair_of_a_word() -> None:
    assert not unseen_pairs("安全生产 港西镇", ["港西镇开展安全生产检查", "生产经营单位"])
    assert unseen_pairs("安全生厂", ["港西镇开展安全检查", "生产经营单位"])  # 全生 and 生厂 nowhere
    assert unseen_pairs("安全", [])
    assert not unseen_pairs("ABC 崇港委〔2022〕999号", [])  # no word to check


def test_a_word_whose_pairs_all_exist_is_corrected_from_the_page_when_no_passage_writes_it() -> None:
    # 防空 is a word and 疫情 another: every pair of 疫情防空 exists, the word as a whole nowhere; the page the search
    # returned holds 疫情防控, which the index writes out as words.
    found = ["疫情防控工作", "防空警报试鸣", "疫情防汛"]
    backend = _Backend(_suggest("", {}), {"疫情防控": 20})
    assert asyncio.run(Speller(backend, "alias", 1.0).did_you_mean("疫情防空", found, {"suggest": {}})) == "疫情防控"
    assert backend.counted == ["疫情防控", "疫情防空"]  # the proposal and the typed word itself, in one request
    assert backend.requests == 1  # no suggester request: the proposals come from the page


def test_a_rare_word_some_passage_writes_is_not_corrected() -> None:
    backend = _Backend(_suggest("", {}), {"疫情防控": 20, "疫情防空": 1})
    found = ["疫情防控工作", "防空"]
    assert asyncio.run(Speller(backend, "alias", 1.0).did_you_mean("疫情防空", found, {"suggest": {}})) is None


def test_a_rare_word_with_no_alike_neighbour_on_the_page_sends_nothing() -> None:
    backend = _Backend(_suggest("", {}), {})
    found = ["给老年人送电视机", "给老人送电视"]  # 送 is no likeness of 装
    assert asyncio.run(Speller(backend, "alias", 1.0).did_you_mean("给老人装电视", found, {"suggest": {}})) is None
    assert backend.requests == 0


def test_page_proposals_are_the_pages_words_one_alike_character_away() -> None:
    texts = ["开展疫情防控工作", "疫情防控", "疫情防汛", "航空防空", "第二届"]
    assert [(p.position, p.char, p.sound, p.support) for p in page_proposals("疫情防空", texts)] == [(3, "控", True, 2)]
    assert page_proposals("第三届", texts) == []  # 二 and 三 look alike, but a number is never changed into another


def test_unheld_words_are_the_checked_words_of_three_to_eight_characters_no_passage_holds() -> None:
    assert unheld_words("疫情防空 港西镇 防汛", ["港西镇防汛", "疫情防控"]) == ["疫情防空"]
    assert unheld_words("疫情防控", ["开展疫情防控"]) == []
    assert unheld_words("请把这一长串字都当作一个词来查", []) == []  # past 8 characters: a phrase, not a word


def test_did_you_mean_sends_nothing_when_the_search_found_every_pair() -> None:
    backend = _Backend(_suggest("安全生厂", {2: ["生产"]}), {"安全生产": 13})
    assert asyncio.run(Speller(backend, "alias", 1.0).did_you_mean("安全生产", ["安全生产检查"])) is None
    assert backend.requests == 0


@pytest.mark.parametrize(("q", "about"), [
    ("高考什么时候", "高考"), ("怎么申请低保", "申请低保"), ("个税怎么交", "个税"), ("垃圾分类怎么做", "垃圾分类"),
    ("垃圾分类", "垃圾分类"), ("低保能办吗", "低保能办"), ("港西镇 哪些村 停水?", "港西镇 停水"), ("什么", "什么"),
    ("港西镇 税 怎么交", "港西镇 税"),  # a lone character typed as a part stays
    ("吗啡", "吗啡"),  # a particle only where a part ends
    ("垃圾分类是什么", "垃圾分类"), ("乡村共享家是什么项目", "乡村共享家 项目"), ("虹桥镇有多少名志愿者", "虹桥镇 名志愿者"),
    ("电气数科落户在哪里", "电气数科落户"), ("是否", "是否"),  # 是, 有 or 在 before the asking word goes with it
    # Framing words where a part starts or ends: out; inside a part: kept.
    ("请问垃圾分类怎么做", "垃圾分类"), ("我想了解一下港西镇 防汛", "港西镇 防汛"), ("防汛相关新闻", "防汛"),
    ("关于倪志佳等同志职务任免的通知", "倪志佳等同志职务任免的通知"), ("港西镇 最新消息", "港西镇"),
    ("想知道高考的情况", "高考"), ("群众的事", "群众的事"), ("麻烦问下防汛", "防汛"), ("帮我找找防汛有关的文章", "防汛"),
    ("我想看防汛的最新报道", "防汛"), ("查一下防汛相关", "防汛"), ("工作动态", "工作动态"), ("查处违法", "查处违法"),
    ("看病难", "看病难"), ("想象力", "想象力"), ("问题清单", "问题清单"), ("政府信息公开", "政府信息公开"),
    ("能不能告诉我防汛", "防汛"), ("有没有防汛的新闻", "防汛"), ("停水咋办", "停水"), ("可不可以办低保", "办低保"),
    ("新闻发布会", "新闻发布会"), ("信息安全的情况", "信息安全"), ("相关新闻", "相关新闻"), ("请问", "请问"),
    # The other interrogative words and A-not-A forms; not the 何 of 任何, the 哪 of 哪吒 or a word such as 差不多.
    ("低保是啥", "低保"), ("低保啥时候发", "低保"), ("养老金为什么", "养老金"), ("河长制谁负责", "河长制 负责"),
    ("高考何时开始", "高考 开始"), ("哪个部门管食品安全", "部门管食品安全"), ("停水咋回事", "停水"), ("办证多久", "办证"),
    ("低保好不好", "低保"), ("需不需要办证", "办证"), ("任何时候都要防汛", "任何时候都要防汛"), ("哪吒票房", "哪吒票房"),
    ("差不多", "差不多"), ("谁", "谁"), ("煤气管子安不安全", "煤气管子安全"), ("干不干净", "干净"),
    # Further leads (打听, 咨询, 问问, a doubled verb) and tails (方面的新闻; the matter itself: 的具体情况, 这件事 …).
    ("打听一下防汛", "防汛"), ("咨询一下低保", "低保"), ("帮忙查查防汛", "防汛"), ("我想问问低保", "低保"),
    ("防汛方面的新闻", "防汛"), ("防汛的具体情况", "防汛"), ("防汛的详细内容", "防汛"), ("防汛这件事", "防汛"),
    ("防汛的事情", "防汛"), ("预算执行情况", "预算执行情况"), ("查查防汛", "查查防汛"),
])
def test_asked_leaves_out_the_words_that_ask(q: str, about: str) -> None:
    assert asked(q) == about


@pytest.mark.parametrize(("department", "spellings"), [
    ("党群办", ("党群办", "镇党群办")), ("镇党群办", ("党群办", "镇党群办")),
    ("社区事务受理中心", ("社区事务受理中心",)), ("镇江市", ("镇江市",)),  # no town office: as given
])
def test_a_town_office_is_filtered_under_both_of_its_spellings(department: str, spellings: tuple[str, ...]) -> None:
    assert office_spellings(department) == spellings
