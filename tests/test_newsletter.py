"""Scraped pages → articles: the sample corpus read the way a reader would read it."""

from __future__ import annotations

import re
from datetime import date

import pytest

from govsearch.paths import SAMPLE_CORPUS
from govsearch.schema import Article
from indexer.newsletter import parse_newsletter

SAMPLE = SAMPLE_CORPUS
ISSUE = "000_8cdefb45965e14db.txt"  # 港西动态2022年第11期: header, columns, attributions, briefs
MAOGANG = "001_b5af243b8712285e.txt"  # no header; a word broken over lines; a title after its article
NANTONG = "002_c2cd66ded24d6744.txt"  # several towns, articles closed by bylines
SIHUSHAN = "003_9aeb3c10d5b56d61.txt"  # untitled monthly work summary with numbered items
HONGQIAO = "004_f67e90fa6815c35e.txt"  # no attributions: articles separated by title groups only

CHROME = ("扫一扫", "Scan me", "公众评价", "参与评价", "打印本页", "关闭窗口", "返回顶部", "分享到", "上一篇", "下一篇")
HEADER_LABELS = ("信息来源", "发布时间", "发布日期", "索引号", "主题分类", "公开主体", "发文字号", "成文日期")


def _parse(name: str) -> list[Article]:
    return parse_newsletter((SAMPLE / name).read_text(encoding="utf-8"), str(SAMPLE / name))


@pytest.fixture(scope="module")
def pages() -> dict[str, list[Article]]:
    return {path.name: _parse(path.name) for path in sorted(SAMPLE.glob("*.txt"))}


def _by_title(articles: list[Article], title: str) -> Article:
    matches = [a for a in articles if a.title == title]
    assert len(matches) == 1, (title, [a.title for a in articles])
    return matches[0]


def test_issue_articles_carry_the_page_metadata(pages: dict[str, list[Article]]) -> None:
    articles = pages[ISSUE]
    assert len(articles) >= 15
    for article in articles:
        assert article.date == "2023-02-07"
        assert article.publisher == "上海市崇明区港西镇人民政府"
        assert article.town == "港西镇"
        assert article.newsletter == "港西动态2022年第11期"
        assert article.section in {"重要活动", "近期发文", "工作动态", "工作交流", "简讯"}
        if article.section != "近期发文":  # a list of issued documents has no reporting department
            assert article.department, article.title
    assert _by_title(articles, "港西镇召开疫情防控工作会议").department == "防控办"
    assessment = _by_title(articles, "区应急局开展年度绩效考核")
    assert (assessment.department, assessment.section) == ("经济办", "工作动态")
    assert _by_title(articles, "港西镇2022年党员代表会议胜利召开").section == "重要活动"


def test_titles_broken_over_lines_are_joined(pages: dict[str, list[Article]]) -> None:
    titles = {a.title for a in pages[ISSUE]}
    assert "港西镇召开“乡村共享家”创新乡村治理项目年度座谈会" in titles  # a line cut by the layout
    assert "港西镇召开2022年度基层党组织书记抓党建工作述职评议暨“一把手”述责述廉会" in titles
    assert "全面学、深入学、多样学——港西镇“两新”党组织激活党的二十大理论实践学习“双引擎”" in titles  # + subtitle
    assert "港西镇坚持“三个到位” 推动食品安全“两个责任” 工作机制落实落细" in titles  # two phrases keep a space
    assert "年度座谈会" not in titles


def test_a_word_broken_over_lines_is_rejoined(pages: dict[str, list[Article]]) -> None:
    bodies = "\n".join(a.body for a in pages[MAOGANG])
    assert "党委副书记、镇长黄建春" in bodies
    assert "党委副书\n" not in bodies
    assert "因已开通天然气,出现了大量太阳能热水器被闲置或者废弃的情况,存在着" in bodies
    page = "标题在此\n\n会上，镇党委书记杜劲松，党委副书\n\n\n\n记、镇长黄建春分别就法治建设开展专题述法。\n"
    assert parse_newsletter(page, "inline").pop().body == "会上，镇党委书记杜劲松，党委副书记、镇长黄建春分别就法治建设开展专题述法。"


def test_no_chrome_or_header_labels_in_any_article(pages: dict[str, list[Article]]) -> None:
    for articles in pages.values():
        for article in articles:
            for text in (article.title, article.body):
                assert not [c for c in CHROME if c.lower() in text.lower()], article.title
                assert not [label for label in HEADER_LABELS if label + ":" in text or label + "：" in text]
            assert "\xa0" not in article.body and "\u3000" not in article.body


def test_every_sample_page_yields_articles(pages: dict[str, list[Article]]) -> None:
    assert set(pages) == {ISSUE, MAOGANG, NANTONG, SIHUSHAN, HONGQIAO}
    for articles in pages.values():
        assert articles
        for article in articles:
            assert article.title.strip() and article.body.strip()
            assert article.body == article.body.strip() and "\n\n" not in article.body
            if article.date is not None:
                assert date.fromisoformat(article.date).isoformat() == article.date


def test_ids_are_stable_and_unique(pages: dict[str, list[Article]]) -> None:
    again = {path.name: _parse(path.name) for path in sorted(SAMPLE.glob("*.txt"))}
    ids = [a.article_id for articles in pages.values() for a in articles]
    assert ids == [a.article_id for articles in again.values() for a in articles]
    assert len(ids) == len(set(ids))


def test_list_columns_become_one_article_per_item(pages: dict[str, list[Article]]) -> None:
    briefs = [a for a in pages[ISSUE] if a.section == "简讯"]
    assert len(briefs) == 13
    market = next(a for a in briefs if a.department == "市场所")
    assert market.body.startswith("市场所:12月,针对辖区特殊食品销售单位") and "▲" not in market.body
    assert [a for a in briefs if a.department == "盘西村"]  # a brief whose ▲ bullet the scraper lost
    documents = [a for a in pages[ISSUE] if a.section == "近期发文"]
    assert [a.doc_number for a in documents] == ["崇港委〔2022〕167号", "崇港委〔2022〕169号", "崇港委〔2022〕171号"]
    assert documents[2].title == "关于倪志佳等同志职务任免的通知"
    assert documents[1].title == "关于朱甘等同志正式任职的通知"  # its closing 》 is missing on the page


def test_a_title_printed_after_its_article_is_moved_back(pages: dict[str, list[Article]]) -> None:
    articles = pages[MAOGANG]
    # 镇人大办 and 镇党群办 on the page: the office, named as every other page names it
    assert [a.department for a in articles] == ["党群办", "城运中心", "人大办", "党群办"]
    inspection = _by_title(articles, "泖港镇开展重点企业安全大检查")
    assert "三家重点监管企业开展安全大检查" in inspection.body
    assert _by_title(articles, "人大代表进选区 搭建群众“连心桥”").body.startswith("为切实履行好人大代表职责")
    assert not any(a.body.startswith("本刊讯") for a in articles)  # the dateline is not part of the text


def test_bylines_end_articles_and_each_names_its_own_town(pages: dict[str, list[Article]]) -> None:
    articles = pages[NANTONG]
    assert len(articles) == 9
    assert not [p for a in articles for p in a.body.split("\n") if p.startswith("·") or p.endswith("·")]
    assert not any("夏凡" in a.body for a in articles)
    towns = {a.title: a.town for a in articles}
    assert towns["海永镇纪委:推动崇海两地联动 齐抓共管加强监督"] == "海永镇"
    assert towns["为群众提供精准有效法律服务 金新街道成立法学工作站"] == "金新街道"
    first = articles[0]
    assert first.title == ("通州区石港镇聚焦群众关心的问题,从“我拿主意给群众办实事”到“群众拿主意我来落实”——"
                           "延伸网格触角 做群众知心人")
    assert first.town == "石港镇" and first.date is None and first.newsletter is None


def test_an_untitled_work_summary_is_one_article(pages: dict[str, list[Article]]) -> None:
    [summary] = pages[SIHUSHAN]
    assert summary.title == "泗湖山镇11月份重点工作"
    assert summary.town == "泗湖山镇" and summary.date is None
    paragraphs = summary.body.split("\n")
    assert "1、应急能力建设和安全生产工作" in paragraphs and "6、基层党建工作" in paragraphs
    repeated = next(p for p in paragraphs if p.startswith("11月17日,我镇召开创省卫工作再推进会"))
    assert paragraphs.count(repeated) == 1  # the scraper printed it twice in a row


def test_articles_without_attributions_split_at_title_groups(pages: dict[str, list[Article]]) -> None:
    articles = pages[HONGQIAO]
    assert [a.title for a in articles] == [
        "努力建设让人民群众满意的“模范机关” 虹桥镇召开机关、事业单位党建工作推进会",
        "十年一次,事关你我 @虹桥人,第七次全国人口普查即将启动",
        "“区镇合作,品牌联动”战略合作再发力 上海电气集团数字科技有限公司成功落户科技绿洲",
        "50支文明实践志愿服务队,2万余名在册志愿者 虹桥镇新时代文明实践分中心打通群众服务“最后一公里”",
    ]
    assert "镇党委书记卢国庆总结了近年来虹桥镇机关" in articles[0].body  # a short broken line, not a title
    assert articles[3].section == "文明实践在虹桥"


def test_a_single_article_page_takes_the_page_title_and_header() -> None:
    page = "\n".join([
        "关于开展2024年度防汛演练的通知", "",
        "发布时间：2024-06-03 09:30", "",
        "  • 公开主体：", "", "    上海市崇明区新河镇人民政府", "",
        "  • 发文字号：", "", "    崇新府〔2024〕12号", "",
        "  • 主题分类：", "", "    -", "",
        "【字体：大 中 小】【打印本页】【关闭窗口】", "",
        "各村、居委会：",
        "为做好汛期防汛工作，镇政府定于6月10日开展防汛应急演练。",
        "上一篇：新河镇召开安全生产工作会议",
    ])
    [article] = parse_newsletter(page, "inline")
    assert article.title == "关于开展2024年度防汛演练的通知"
    assert (article.date, article.publisher, article.town) == ("2024-06-03", "上海市崇明区新河镇人民政府", "新河镇")
    assert article.doc_number == "崇新府〔2024〕12号"
    assert article.newsletter is None
    assert article.body == "各村、居委会：\n为做好汛期防汛工作，镇政府定于6月10日开展防汛应急演练。"


def test_an_issue_without_a_publish_date_dates_items_in_the_issue_year() -> None:
    page = "\n".join([
        "某镇动态2021年第3期", "", "信息来源：某镇人民政府", "",
        "【工作动态】", "",
        "某镇召开春耕生产部署会", "",
        "3月5日上午，某镇召开春耕生产部署会，部署全镇春耕备耕工作。", "",
        "（农业办）",
    ])
    [article] = parse_newsletter(page, "inline")
    assert (article.date, article.department, article.section) == ("2021-03-05", "农业办", "工作动态")
    assert article.publisher == "某镇人民政府" and article.newsletter == "某镇动态2021年第3期"


def test_empty_or_chrome_only_pages_give_no_articles() -> None:
    assert parse_newsletter("", "inline") == []
    assert parse_newsletter("扫一扫在手机打开当前页\nScan me!\n公众评价\n", "inline") == []


def test_a_whole_sentence_is_content_even_with_words_of_page_chrome() -> None:
    page = "\n".join([
        "港西镇开展2024年度征兵报名工作", "",
        "一、报名对象为2024年应届高校毕业生。",
        "审核：镇武装部在5个工作日内完成资格审核。",
        "扫一扫下方二维码即可进入报名页面。",
        "如有疑问请联系我们，电话：021-69612345。",
        "扫一扫在手机打开当前页",
        "（责任编辑：张三）",
    ])
    [article] = parse_newsletter(page, "inline")
    assert article.body.splitlines() == ["一、报名对象为2024年应届高校毕业生。", "审核：镇武装部在5个工作日内完成资格审核。",
                                         "扫一扫下方二维码即可进入报名页面。", "如有疑问请联系我们，电话：021-69612345。"]


def test_dates_are_never_invented() -> None:
    page = "某镇召开会议\n\n11月2日，某镇召开会议。\n"
    assert parse_newsletter(page, "inline")[0].date is None  # a month and day without a year is not a date
    assert re.fullmatch(r"[0-9a-f]{16}", parse_newsletter(page, "inline")[0].article_id)


def test_going_to_the_town_is_not_a_town_name() -> None:
    """请到镇… / 就近到镇… say where to go, not which town: none of them may become a town facet."""
    from indexer.documents import derive_town

    body = "办理流程：携带身份证、房产证到镇社区事务受理中心，或就近到镇卫生院咨询。请到镇社区事务受理中心办理。"
    assert derive_town(None, "关于办理居住证的通知", body) is None
    assert derive_town(None, "前进镇开展居住证集中办理", body) == "前进镇"  # a real name ending the same way stays
    assert derive_town(None, "在港西镇召开会议", "") == "港西镇"


NOTICE = "\n".join([
    "港西镇关于开展2024年适龄儿童入学登记的通知", "", "发布日期：2024-05-20", "", "各位家长：", "",
    "2024年适龄儿童入学登记工作将于6月1日开始，请家长携带户口簿到镇社区事务受理中心办理。", "",
    "附件：1.入学登记表", "", "2.承诺书", "", "联系人：王老师", "", "联系电话：021-69612345", "",
    "上海市崇明区港西镇人民政府", "", "二〇二四年五月二十日",
])


def test_a_notice_is_one_article_with_its_close() -> None:
    """The salutation, the attachments, the contact lines, the issuing body and the date are the notice's
    own: not articles titled 各位家长： or 联系人：王老师 …, and not dropped."""
    [article] = parse_newsletter(NOTICE, "inline")
    assert article.title == "港西镇关于开展2024年适龄儿童入学登记的通知" and article.newsletter is None
    assert article.body.splitlines() == [
        "各位家长：", "2024年适龄儿童入学登记工作将于6月1日开始，请家长携带户口簿到镇社区事务受理中心办理。",
        "附件：1.入学登记表", "2.承诺书", "联系人：王老师", "联系电话：021-69612345", "上海市崇明区港西镇人民政府",
        "二〇二四年五月二十日"]


def test_header_fields_written_on_one_line_are_each_read() -> None:
    page = ("港西镇开展防汛演练\n来源：港西镇人民政府\u3000\u3000发布日期：2024年6月5日\n"
            "6月5日上午，港西镇在团结村开展防汛防台应急演练，共80余人参加。\n")
    [article] = parse_newsletter(page, "inline")
    assert (article.title, article.publisher, article.date) == ("港西镇开展防汛演练", "港西镇人民政府", "2024-06-05")
    page = ("港西镇开展防汛演练\n\n发布时间：2024-06-05 10:00  来源：上海市崇明区港西镇人民政府  浏览次数：123\n\n"
            "6月5日上午，港西镇在团结村开展防汛防台应急演练，共80余人参加。\n")
    [article] = parse_newsletter(page, "inline")
    assert (article.publisher, article.date) == ("上海市崇明区港西镇人民政府", "2024-06-05")


@pytest.mark.parametrize(("written", "department"), [
    ("（镇党群办）", "党群办"), ("（镇综合执法队）", "综合执法队"), ("（党群办）", "党群办"),
    ("（镇江市文明办）", "镇江市文明办"), ("（镇海区文明办）", "镇海区文明办"),  # places whose names start with 镇
])
def test_a_town_office_is_one_department_with_or_without_its_town(written: str, department: str) -> None:
    (article,) = parse_newsletter(f"港西动态\n港西镇开展安全生产检查\n本周，港西镇对辖区企业开展安全生产检查。\n{written}",
                                  "t.txt")
    assert article.department == department
