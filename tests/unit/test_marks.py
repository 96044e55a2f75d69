"""What a snippet's marks keep (`service.marks`): whole words, not stray characters."""

from __future__ import annotations

import html

import pytest

from service.marks import covered, marked, query_text, snippet, tidy


@pytest.mark.parametrize(("fragment", "q", "tidied"), [
    # smartcn splits words it does not know into characters; touching marks that are the query's text become one,
    # and a mark covers as much of the query's text as the passage holds around it.
    ("申请<em>低</em><em>保</em>的", "低保怎么办", "申请<em>低保</em>的"),
    ("办理<em>低</em><em>保</em>的", "怎么申请低保", "办理<em>低保</em>的"),
    ("<em>王</em><em>卫</em><em>中</em>讲话", "王卫中", "<em>王卫中</em>讲话"),
    # ... of what the query asks about: not its asking or framing words, nor the lone 做 they leave
    ("今年<em>垃圾</em>分类怎么<em>做</em>", "垃圾分类怎么做", "今年<em>垃圾分类</em>怎么做"),
    ("<em>防汛</em>相关<em>新</em><em>闻</em>发布", "请问防汛相关新闻", "<em>防汛</em>相关新闻发布"),
    # ... over what the stop filter took out of the query: 里, 的, 你
    ("八里<em>庙</em><em>村</em>召开", "八里庙村", "<em>八里庙村</em>召开"),
    ("学习<em>党</em>的<em>二十大</em>精神", "党的二十大", "学习<em>党的二十大</em>精神"),
    ("<em>卫</em>你<em>健康</em>", "卫你健康", "<em>卫你健康</em>"),
    # Touching marks that are not the query's text together stay apart, and lone characters go: 北 and 村 of
    # 北双村 do not make 北村, 港 and 镇 of 港西镇 not 港镇.
    ("协<em>北</em><em>村</em>村委会", "北双村", "协北村村委会"),
    ("泖<em>港</em><em>镇</em><em>人大</em>", "港西镇 人大", "泖港镇<em>人大</em>"),
    ("落实<em>包</em><em>保</em>责任，<em>保</em>质<em>保</em>量", "低保", "落实包保责任，保质保量"),
    # A mark covers a whole part of the query the passage holds, never a piece of one (the second review's cases).
    ("加固<em>疫情</em>防线", "疫情防控", "加固<em>疫情</em>防线"),
    ("企业负责<em>人</em>的安全意识", "老人的电视", "企业负责人的安全意识"),
    ("区委<em>副书记</em>", "党委副书记", "区委<em>副书记</em>"),
    ("<em>治理</em>成效", "治理成果", "<em>治理</em>成效"),
    ("机关<em>党</em>的建设", "党的二十大", "机关党的建设"),
    # Touching marks that are not query text together stay two.
    ("<em>12月</em><em>1日</em>", "12月31日", "<em>12月</em><em>1日</em>"),
    ("<em>5</em>月14日", "5G基站", "5月14日"),
    # Escaped text counts as the character it stands for, and is escaped again.
    ("A<em>&amp;</em>B <em>&amp;&lt;</em>", "A&B", "<em>A&amp;B</em> <em>&amp;&lt;</em>"),
    ("X<em>&lt;b&gt;</em>", "<b>", "X<em>&lt;b&gt;</em>"),
    # The query asks for a character alone: that character's marks are kept; its other parts read as ever.
    ("<em>镇</em>政府 <em>税</em>务", "港西 税", "镇政府 <em>税</em>务"),
    ("八里<em>庙</em><em>村</em>召开 <em>a</em>", "八里庙村 a", "<em>八里庙村</em>召开 <em>a</em>"),
    ("协<em>北</em><em>村</em>村委会<em>税</em>", "北双村 税", "协北村村委会<em>税</em>"),
    ("无标记的文字", "低保", "无标记的文字"),
])
def test_tidy_joins_touching_marks_and_drops_lone_characters(fragment: str, q: str, tidied: str) -> None:
    assert tidy(fragment, q) == tidied


def test_the_official_terms_searched_count_as_the_query_text() -> None:
    # 老人 → 老年人 (a synonym rule): its characters marked apart are joined as the query's 老人 would be
    assert tidy("关爱<em>老</em><em>年</em><em>人</em>", "给老人装电视", also=("老年人",)) == "关爱<em>老年人</em>"
    assert tidy("关爱<em>老</em><em>年</em><em>人</em>", "给老人装电视") == "关爱老年人"


def test_marked_reads_the_marked_texts_unescaped() -> None:
    assert marked("<em>安全</em>生产<em>&lt;检查&gt;</em>") == ["安全", "<检查>"]
    assert marked("没有") == []


def test_query_text_finds_the_longest_runs_of_the_query_in_a_passage() -> None:
    text = "筑牢“防火墙”，加装凸面广角镜"
    assert [text[s:e] for s, e in query_text(text, "防火")] == ["防火"]
    assert [text[s:e] for s, e in query_text(text, "凸面镜 防火墙")] == ["防火墙", "凸面"]
    assert query_text(text, "倪志佳") == [] and query_text("", "防火") == []
    assert [text[s:e] for s, e in query_text(text, "加装", also=("广角镜",))] == ["加装", "广角镜"]


def test_a_snippet_the_highlighter_left_unmarked_shows_and_marks_the_query_text() -> None:
    text = "第一句与查询无关。" * 20 + "筑牢<防火墙>安全。"
    unmarked = text[:40]  # what the highlighter returns for a passage it found no word of
    shown = snippet(unmarked, text, "防火", (), 40, words_found=True)
    assert "<em>防火</em>墙" in shown and "&lt;" in shown and len(marked(shown)) == 1
    # marks the highlighter made are kept as they are (tidied)
    assert snippet("<em>防火</em>墙", text, "防火", (), 40, words_found=True) == "<em>防火</em>墙"
    # nothing of the query in the passage: its first characters, escaped
    assert snippet(None, "a<b 与此无关", "防火", (), 4, words_found=True) == "a&lt;b "
    # found by meaning alone: the service marks nothing
    assert snippet(unmarked, text, "防火", (), 40, words_found=False) == html.escape(unmarked)


def test_query_text_does_not_cut_a_number_or_a_latin_word() -> None:
    assert query_text("崇港委〔2022〕171号，11月17日", "170号") == []
    assert query_text("第170号文件", "170号") == [(1, 5)]
    assert query_text("5G基站 5Gx", "5G") == [(0, 2)]


def test_covered_is_the_share_of_the_query_the_marks_show() -> None:
    assert covered("宇宙飞船 镇", ["开展<em>镇</em>级活动"]) == 0.2
    assert covered("给老人装电视", ["为<em>老人</em>装好<em>电视</em>", "无标记"]) == 4 / 6
    assert covered("安全生产", ["无标记"]) == 0.0
    assert covered("请问防汛相关新闻", ["<em>防汛</em>工作"]) == 1.0  # what it asks about: 防汛


def test_a_character_the_query_asks_for_alone_is_marked_where_the_highlighter_left_none() -> None:
    # title_snippet: the service marks titles itself (no highlighter fragment)
    assert snippet(None, "港西镇税务所", "港西镇 税", (), 40, words_found=True) == "<em>港西镇</em><em>税</em>务所"
    assert snippet(None, "税务所", "税", (), 40, words_found=True) == "<em>税</em>务所"
    assert snippet(None, "港西镇税务所", "港西镇", (), 40, words_found=True) == "<em>港西镇</em>税务所"
