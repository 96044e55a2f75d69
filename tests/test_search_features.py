"""The government-site search features on the sample corpus, through the real app, node and model:
pinyin suggestions, typo correction (did_you_mean), traditional and full-width input."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient


def search(client: TestClient, q: str, **params: object) -> dict:
    response = client.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def suggestions(client: TestClient, q: str) -> list[str]:
    response = client.get("/suggest", params={"q": q})
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["suggestions"] if item["kind"] == "title"]


@pytest.mark.parametrize("typed", ["aqsc", "anquan", "安quan", "anquansheng", "AQSC"])
def test_pinyin_full_initials_and_mixed_suggest_the_safety_meeting(client: TestClient, typed: str) -> None:
    titles = suggestions(client, typed)
    assert "港西镇召开疫情防控和安全生产工作会议" in titles, titles
    if typed != "anquan":  # 安全 alone is in other titles too (食品安全, 安全管控)
        assert all("安全" in title for title in titles), titles


@pytest.mark.parametrize("typed", ["sidaluanjian", "sidalu", "sdlj", "私da"])
def test_pinyin_matches_a_word_in_the_middle_of_a_title(client: TestClient, typed: str) -> None:
    # 私搭乱建 is the 19th character of "综合执法队：联合镇拆违办对高铁沿线私搭乱建等行为加强巡查执法".
    assert suggestions(client, typed)[0] == "综合执法队：联合镇拆违办对高铁沿线私搭乱建等行为加强巡查执法"


def test_pinyin_that_matches_no_title_suggests_nothing(client: TestClient) -> None:
    assert suggestions(client, "qqqqxz") == []


@pytest.mark.parametrize("typed", ["安全生产", "港西镇召开疫", "疫情防控"])
def test_title_suggestions_hold_what_was_typed_when_some_title_does(client: TestClient, typed: str) -> None:
    titles = suggestions(client, typed)
    assert titles and all(typed in title for title in titles), titles


def test_titles_sharing_words_are_suggested_when_none_holds_the_text(client: TestClient) -> None:
    titles = suggestions(client, "召开安全生产会议")  # no title says it so; some share most of its words
    assert titles and not any("召开安全生产会议" in title for title in titles)
    titles = suggestions(client, "港西镇疫情")  # three of its four pairs: 港西镇 alone is not enough
    assert titles and all("港西镇" in title and "疫情" in title for title in titles), titles


def test_traditional_input_suggests_simplified_titles(client: TestClient) -> None:
    assert suggestions(client, "安全生產") == suggestions(client, "安全生产") != []


@pytest.mark.parametrize(("typo", "meant"), [("安全生厂", "安全生产"), ("禁铺退捕", "禁捕退捕"),
                                             ("港西镇 安全生厂", "港西镇 安全生产"), ("疫情防空", "疫情防控"),
                                             ("私搭乱见", "私搭乱建"),
                                             ("然气安全", "燃气安全")])  # 然气 is a pair of 天然气: a rare word's check
def test_a_typo_gets_did_you_mean_and_the_correction_finds_it(client: TestClient, typo: str, meant: str) -> None:
    body = search(client, typo, mode="bm25")
    assert body["did_you_mean"] == meant
    corrected = search(client, meant, mode="bm25")
    assert corrected["did_you_mean"] is None
    assert corrected["hits"] and any(meant.split()[-1] in hit["snippet"].replace("<em>", "").replace("</em>", "")
                                     or meant.split()[-1] in hit["title"] for hit in corrected["hits"][:3])


@pytest.mark.parametrize("q", ["港西镇", "安全生产检查", "给老人装电视", "崇港委〔2022〕171号", "河长制"])
def test_words_that_exist_are_never_corrected(client: TestClient, q: str) -> None:
    assert search(client, q, mode="bm25")["did_you_mean"] is None


@pytest.mark.parametrize("q", ["学校", "身份证", "缴费", "停车", "供暖", "户籍", "工资", "公园", "堡镇"])
def test_real_words_the_sample_lacks_are_not_corrected_into_others(client: TestClient, q: str) -> None:
    """No passage holds these, but they are words. The corrections once proposed were pairs that stand in a
    row only across punctuation (学乐 of 好学、乐学; 身份镇 of 身份 / 镇 over a line break; 众暖 of 群众“暖心),
    characters that share only a radical (缴 and 经: 纟; 停 and 火: 人), words of the segmenter's dictionary
    (工资 → 工贸, 公园 → 颂园) and a character beside a stop word (户籍 → 户及, 堡镇 → 在镇)."""
    assert search(client, q, mode="bm25")["did_you_mean"] is None


@pytest.mark.parametrize("q", ["违建", "违建 港西镇", "乱搭乱建投诉"])
def test_words_a_synonym_rule_names_are_never_corrected(seeded_rules: TestClient, q: str) -> None:
    """违建 never occurs in the sample, but a synonym rule knows it (违建 => 违章建筑): it is searched as the
    official terms, not "corrected" to a word of the index that sounds alike (为建)."""
    body = search(seeded_rules, q, mode="bm25")
    assert body["did_you_mean"] is None
    assert body["understood"] and body["understood"]["synonyms"]


def test_a_document_number_that_does_not_exist_is_not_corrected(client: TestClient) -> None:
    assert search(client, "崇港委〔2022〕999号", mode="bm25")["did_you_mean"] is None


@pytest.mark.parametrize(("traditional", "simplified"), [("違章建築", "违章建筑"), ("安全生產", "安全生产"),
                                                         ("義診活動", "义诊活动")])
@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_traditional_input_finds_what_simplified_finds(client: TestClient, traditional: str, simplified: str,
                                                       mode: str) -> None:
    body = search(client, traditional, mode=mode)
    expected = search(client, simplified, mode=mode)
    assert expected["hits"]
    assert [h["id"] for h in body["hits"]] == [h["id"] for h in expected["hits"]]
    assert body["query"] == traditional  # echoed as typed
    assert [h["snippet"] for h in body["hits"]] == [h["snippet"] for h in expected["hits"]]


def test_full_width_letters_and_digits_match_their_ascii_forms(client: TestClient) -> None:
    body = search(client, "崇港委〔２０２２〕１７１号", mode="bm25")
    expected = search(client, "崇港委〔2022〕171号", mode="bm25")
    assert expected["hits"] and [h["id"] for h in body["hits"]] == [h["id"] for h in expected["hits"]]


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_month_in_the_query_becomes_a_reported_date_filter(client: TestClient, mode: str) -> None:
    body = search(client, "2023年2月 疫情防控", mode=mode)
    assert body["understood"] == {"text": "疫情防控", "date_from": "2023-02-01", "date_to": "2023-02-28",
                                  "date_applied": True, "town": None, "synonyms": []}
    assert body["hits"] and all(hit["date"] and hit["date"].startswith("2023-02") for hit in body["hits"])
    unfiltered = search(client, "疫情防控", mode=mode)
    assert body["total"] < unfiltered["total"]


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_two_joined_dates_in_the_query_become_one_range(client: TestClient, mode: str) -> None:
    body = search(client, "2022年12月到2023年2月 疫情防控", mode=mode)
    assert body["understood"] == {"text": "疫情防控", "date_from": "2022-12-01", "date_to": "2023-02-28",
                                  "date_applied": True, "town": None, "synonyms": []}
    assert body["hits"] and all("2022-12-01" <= hit["date"] <= "2023-02-28" for hit in body["hits"])
    february = search(client, "2023年2月 疫情防控", mode=mode)
    assert body["total"] >= february["total"]
    assert {hit["id"] for hit in february["hits"]} <= {hit["id"] for hit in body["hits"]}


@pytest.mark.parametrize("mode", ["bm25", "hybrid", "vector"])
def test_a_date_range_that_holds_no_answer_gives_the_words_at_any_time(client: TestClient, mode: str) -> None:
    """The 2022-12-29 人大 session was published in 2023: its date words must not empty the page."""
    body = search(client, "2022年12月29日 人民代表大会", mode=mode)
    assert body["understood"]["date_from"] == body["understood"]["date_to"] == "2022-12-29"
    assert body["understood"]["date_applied"] is False
    words = search(client, "人民代表大会", mode=mode)
    assert body["total"] == words["total"] > 0
    assert [hit["id"] for hit in body["hits"]] == [hit["id"] for hit in words["hits"]]


@pytest.mark.parametrize("mode", ["bm25", "hybrid", "vector"])
def test_a_date_range_where_only_single_characters_match_gives_the_words_at_any_time(client: TestClient,
                                                                                      mode: str) -> None:
    """A passage of 2023年2月 holds 有, 事 and 好 (the word clause matches it), none a pair of 有事好商量: the
    articles that quote it, at other times, are the answer (first, but in vector mode, which ranks by meaning)."""
    body = search(client, "2023年2月 有事好商量", mode=mode)
    assert body["understood"]["date_applied"] is False
    shown = body["hits"] if mode == "vector" else body["hits"][:1]
    assert any("有事好商量" in hit["text"] for hit in shown)


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_passage_matched_through_character_pairs_alone_is_marked_there(client: TestClient, mode: str) -> None:
    """smartcn keeps 防火墙 whole, so only the bigram field finds 防火 in it; the snippet shows and marks it."""
    hits = search(client, "防火", mode=mode)["hits"]
    wall = [hit for hit in hits if "防火墙" in hit["text"]]
    assert wall and all("<em>防火</em>墙" in hit["snippet"] for hit in wall)
    view = client.get(f"/articles/{wall[0]['id']}", params={"q": "防火"}).json()
    assert "防火" in view["marks"]


@pytest.mark.parametrize("mode", ["bm25", "hybrid", "vector"])
def test_a_hits_title_marks_the_query_words_it_holds(client: TestClient, mode: str) -> None:
    hits = search(client, "疫情防控", mode=mode)["hits"]
    titled = [hit for hit in hits if "疫情防控" in hit["title"]]
    # vector mode finds by meaning: the service marks none of its hits (an exact title aside, below)
    assert titled and all(("<em>疫情防控</em>" in hit["title_snippet"]) == (mode != "vector") for hit in titled)
    assert all(hit["title_snippet"].replace("<em>", "").replace("</em>", "") == html.escape(hit["title"])
               for hit in hits)
    exact = search(client, "港西镇召开疫情防控工作会议", mode=mode)["hits"][0]
    assert exact["title_snippet"] == "<em>港西镇召开疫情防控工作会议</em>"


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_one_character_query_is_marked_in_titles_too(client: TestClient, mode: str) -> None:
    titled = [hit for hit in search(client, "镇", mode=mode)["hits"] if "镇" in hit["title"]]
    assert titled and all("<em>镇</em>" in hit["title_snippet"] for hit in titled)


def test_a_date_range_emptied_by_another_filter_is_not_blamed(client: TestClient) -> None:
    """2023年2月 holds 疫情防控 articles, none of 泖港镇: the town filter empties the page, not the date."""
    assert search(client, "2023年2月 疫情防控", mode="hybrid")["understood"]["date_applied"] is True
    body = search(client, "2023年2月 疫情防控", mode="hybrid", town="泖港镇")
    assert body["understood"]["date_applied"] is True
    assert all(hit["match"] == "meaning" for hit in body["hits"])


def _holds(hit: dict, words: str) -> bool:
    return all(word in hit["title"] + hit["text"] for word in words.split())


@pytest.mark.parametrize("q", ["垃圾分类", "港西镇 疫情防控"])
def test_sort_by_date_lists_the_articles_holding_the_query_newest_first_in_bm25_and_hybrid(client: TestClient,
                                                                                           q: str) -> None:
    """Not the articles sharing one pair of characters (分类 of 垃圾分类: relevance keeps them last, a date order
    would mix them in), nor hybrid's fused list, which a relevance depth cuts short: the whole set, counted."""
    bm25, hybrid = (search(client, q, mode=mode, sort="date", size=50) for mode in ("bm25", "hybrid"))
    assert bm25["ranking"] == hybrid["ranking"] == "date"
    assert hybrid["total"] == bm25["total"] == len(bm25["hits"]) > 0
    assert [hit["id"] for hit in hybrid["hits"]] == [hit["id"] for hit in bm25["hits"]]
    assert all(_holds(hit, q) for hit in hybrid["hits"])
    dates = [hit["date"] for hit in hybrid["hits"] if hit["date"]]
    assert dates == sorted(dates, reverse=True)
    relevance = search(client, q, mode="bm25", size=50)
    assert {hit["id"] for hit in relevance["hits"] if _holds(hit, q)} == {hit["id"] for hit in hybrid["hits"]}
    for bucket in hybrid["facets"]["year"]:  # a year's count is what choosing it returns
        year = bucket["value"]
        chosen = search(client, q, mode="hybrid", sort="date", date_from=f"{year}-01-01", date_to=f"{year}-12-31")
        assert chosen["total"] == bucket["count"]


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_sort_by_date_marks_and_labels_its_hits_as_word_matches(client: TestClient, mode: str) -> None:
    hits = search(client, "疫情防控", mode=mode, sort="date", size=50)["hits"]
    assert hits and all(hit["match"] == "words" for hit in hits)
    titled = [hit for hit in hits if "疫情防控" in hit["title"]]
    assert titled and all("<em>疫情防控</em>" in hit["title_snippet"] for hit in titled)


@pytest.mark.parametrize(("q", "modes"), [("？", ["bm25", "hybrid", "vector"]), ("。，！？", ["bm25", "hybrid", "vector"]),
                                          ("的", ["bm25", "hybrid"]), ("了 的", ["bm25", "hybrid"])])
def test_sort_by_date_of_punctuation_or_stop_words_alone_finds_nothing(client: TestClient, q: str,
                                                                      modes: list[str]) -> None:
    """As in relevance order (vector mode answers stop words by meaning, in both orders)."""
    for mode in modes:
        assert search(client, q, mode=mode, sort="date")["total"] == 0, mode


def test_sort_by_date_of_words_no_article_holds_as_typed_lists_those_holding_most_of_them(client: TestClient) -> None:
    body = search(client, "给老人装电视", sort="date")
    assert body["total"] > 0 and all(hit["match"] == "words" for hit in body["hits"])
    dates = [hit["date"] for hit in body["hits"] if hit["date"]]
    assert dates == sorted(dates, reverse=True)


def test_sort_by_date_reads_what_a_question_asks_about(client: TestClient) -> None:
    asked = search(client, "垃圾分类怎么做", sort="date", size=50)
    assert asked["hits"] and all("垃圾分类" in hit["title"] + hit["text"] for hit in asked["hits"])


def test_sort_by_date_wants_every_part_of_the_query(client: TestClient) -> None:
    """No sample article mentions 冬奥会: its 港西镇 articles are no answer to 港西镇 冬奥会 by date."""
    assert search(client, "港西镇 冬奥会", sort="date")["total"] == 0
    assert search(client, "港西镇 冬奥会", sort="date", mode="bm25")["total"] == 0


def test_a_town_office_filters_by_its_one_name(client: TestClient) -> None:
    """An old link or a portal may still say 镇党群办: the same articles as 党群办, the one facet value."""
    office = search(client, "工作", mode="bm25", department="党群办")
    assert office["total"] > 0
    assert search(client, "工作", mode="bm25", department="镇党群办")["total"] == office["total"]


def test_a_named_town_ranks_its_articles_first(client: TestClient) -> None:
    body = search(client, "港西镇 安全生产", mode="bm25")
    assert body["understood"]["town"] == "港西镇" and body["understood"]["date_from"] is None
    assert [hit["town"] for hit in body["hits"][:3]] == ["港西镇"] * 3


def test_a_query_without_date_words_or_names_understands_nothing(client: TestClient) -> None:
    assert search(client, "安全生产检查")["understood"] is None
