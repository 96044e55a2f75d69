"""Scraped township-government pages (plain text) → the articles a reader would see.

A page is often a whole newsletter issue: page chrome, a metadata header,
column headings, then many articles, each closed by a department in
parentheses or a byline. Scrapers add their own damage: lines broken in the
middle of a word, titles split over two lines, a paragraph rendered twice.

The parser works on lines and only on the page's own typography — what a
title, an attribution or a broken line looks like — never on what one
particular page says, so it carries over to other pages of the same kind:

1. the header (信息来源 / 发布时间 / 公开主体 … with values on the next line)
   is read into page metadata and removed with the footer chrome;
2. every line is classified (column heading, attribution, byline, heading,
   numbered heading, prose) and lines a layout broke are joined back;
3. the line stream is cut into articles at attributions, bylines, column
   headings and title groups, and a title the scraper put after its article
   is moved back;
4. columns that are lists (简讯 briefs, a list of issued documents) become one
   article per item, because each item is a separate piece of news.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum, auto

from govsearch.rules import CJK, CLOSERS, SENTENCE_END, find_doc_number, office_name
from govsearch.schema import Article
from indexer.documents import date_in_text, derive_town, looks_like_government_body, make_article_id, normalize_date


class _Kind(Enum):
    SECTION = auto()  # column heading: 【工作动态】, 重要活动
    ATTRIBUTION = auto()  # (党群办): ends an article, names its department
    BYLINE = auto()  # ·夏凡 张顺燕·: ends an article
    HEADING = auto()  # short unpunctuated line: a title, a title's half, or half a broken line
    ITEM = auto()  # numbered heading: 一、落实到位 / 1、应急能力建设 / 1.《关于…的通知》
    PROSE = auto()


@dataclass
class _Line:
    kind: _Kind
    text: str
    value: str | None = None  # the column name of a SECTION, the department of an ATTRIBUTION


@dataclass
class _Page:
    title: str | None = None
    publisher: str | None = None
    date: str | None = None
    doc_number: str | None = None
    issue_year: int | None = None


@dataclass
class _Block:
    section: str | None
    titles: list[str] = field(default_factory=list)
    paras: list[_Line] = field(default_factory=list)
    department: str | None = None


def parse_newsletter(text: str, source: str) -> list[Article]:
    """Every article on a scraped page, in page order. A page with no recognisable content gives []."""
    page, lines = _read_page(text)
    paras = _drop_repeated(_join_broken(_classify(lines)))
    blocks = _fold_closing(_move_displaced_titles(_segment(paras)))
    return _articles(page, blocks, source)


# --- 1. header and chrome ---------------------------------------------------------------------------------

_META_LABELS = ("信息来源", "来源", "发布时间", "发布日期", "索引号", "主题分类", "公开主体", "发布机构", "发文机关",
                "发文字号", "文号", "成文日期", "生效日期", "有效性", "浏览次数", "访问次数", "点击次数")
_FIELD_GAP = re.compile(rf"\s+(?=(?:{'|'.join(_META_LABELS)})\s*[:：])")
"""Where a second header field starts on the same line (来源：…　　发布日期：…, 发布时间：… 来源：… 浏览次数：…)."""
_META = re.compile(rf"^[•·●▪◆*\-\s]*({'|'.join(_META_LABELS)})\s*[:：]\s*(.*)$")
_DATE_LABELS = {"发布时间", "发布日期", "成文日期", "生效日期"}
_PLACEHOLDER = re.compile(r"^[-—–/无暂]*$")

# Site furniture that scrapers keep (share/print/close links, ratings, breadcrumbs, editor credits): the site's
# own phrases, never in an article (_SITE), and words that are chrome on a short line of their own but may open
# a sentence of the article (_SITE_WORDS: 扫一扫…, 联系我们, 审核：…).
_SITE = re.compile(
    r"公众评价|位公众参与评价|打印本页|打印此页|关闭窗口|关闭本页|返回顶部|分享到|收藏本页"
    r"|^[【\[]?(打印|关闭|收藏|返回|顶部)[】\]]?$|字号\s*[:：]?\s*[【\[]?[大中小]|^[【\[]?\s*[大中小]\s*[中小]"
    r"|^上一篇|^下一篇|版权所有|网站地图|ICP备|公网安备|网站标识码"
    r"|当前位置|现在的位置|^首页\s*[>＞»]|浏览次数|阅读次数|点击数",
    re.IGNORECASE)
_SITE_WORDS = re.compile(
    r"扫一扫|scan me|^相关(链接|阅读|文章|新闻)|联系我们"
    r"|^[(（]?\s*(责任编辑|编辑|审核|校对|记者|通讯员|撰稿人?|摄影|供图|文\s*/|图\s*/)\s*[:：/\s]",
    re.IGNORECASE)
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")


def _clean(line: str) -> str:
    """One line with every kind of whitespace (nbsp, ideographic space, tabs) collapsed to one space."""
    return re.sub(r"\s+", " ", _INVISIBLE.sub("", line)).strip()


def _is_chrome(line: str) -> bool:
    """A short line of the site around the article (打印本页, 责任编辑：…, 扫一扫…). A line that is a whole
    sentence (over `_SENTENCE_CHARS`, ending 。！？；) is the article's own, whatever words it holds:
    审核：镇武装部在5个工作日内完成资格审核。 and 扫一扫下方二维码即可进入报名页面。 are content."""
    if len(line) > 50:
        return False
    if _SITE.search(line):
        return True
    sentence = len(line) > _SENTENCE_CHARS and line[-1] in "。！？；!?;"
    return not sentence and bool(_SITE_WORDS.search(line))


_SENTENCE_CHARS = 12


def _read_page(text: str) -> tuple[_Page, list[str]]:
    """Split the page's metadata header from its content lines, dropping chrome.

    Metadata values often sit on the next non-blank line ("  • 公开主体:" /
    "    上海市崇明区港西镇人民政府"); such a value is taken only when it is
    indented like one, or is a date under a date label, so that an empty
    label never swallows the first heading after it.
    """
    raw = text.splitlines()
    meta: dict[str, str] = {}
    content: list[str] = []
    lines_before_meta: int | None = None
    i = 0
    while i < len(raw):
        line = _clean(raw[i])
        match = _META.match(line) if len(line) <= 80 else None
        fields = [_META.match(_clean(part)) for part in _FIELD_GAP.split(raw[i].strip())]
        if len(fields) > 1 and all(fields):  # 发布时间：2024-06-05  来源：某镇人民政府  浏览次数：123
            if lines_before_meta is None:
                lines_before_meta = len(content)
            for field_match in fields:
                if field_match and not _PLACEHOLDER.match(value := field_match[2].strip()):
                    meta.setdefault(field_match[1], value)
        elif match:
            if lines_before_meta is None:
                lines_before_meta = len(content)
            label, value = match[1], match[2].strip()
            if not value:
                j = next((k for k in range(i + 1, len(raw)) if raw[k].strip()), None)
                if j is not None and _is_meta_value(label, raw[j]):
                    value, i = _clean(raw[j]), j
            if not _PLACEHOLDER.match(value):
                meta.setdefault(label, value)
        elif line and not _is_chrome(line):
            content.append(line)
        i += 1

    page = _Page()
    if lines_before_meta == 1:  # a line directly above the metadata is the page's own title
        page.title = content.pop(0)
        year = re.search(r"(\d{4})\s*年", page.title)
        page.issue_year = int(year[1]) if year else None
    page.date = next((d for label in ("发布日期", "发布时间", "成文日期") if (d := normalize_date(meta.get(label)))),
                     None)
    page.publisher = meta.get("公开主体") or meta.get("发布机构") or meta.get("发文机关")
    source = meta.get("信息来源") or meta.get("来源")
    if not page.publisher and looks_like_government_body(source):
        page.publisher = source
    page.doc_number = meta.get("发文字号") or meta.get("文号")
    return page, content


def _is_meta_value(label: str, raw_line: str) -> bool:
    line = _clean(raw_line)
    if _META.match(line) or len(line) > 60:
        return False
    return raw_line[:1].isspace() or (label in _DATE_LABELS and normalize_date(line) is not None)


# --- 2. classifying and re-joining lines -----------------------------------------------------------------

_SECTION_NAMES = frozenset({
    "重要活动", "领导活动", "要闻", "工作动态", "基层动态", "部门动态", "村居动态", "党建动态", "工作交流",
    "经验交流", "简讯", "快讯", "近期发文", "文件发布", "通知公告", "图片新闻", "信息快递", "他山之石",
    "专题报道", "综合新闻"})
_BRACKETED = re.compile(r"[【\[]\s*(.{1,20}?)\s*[】\]]")
_DEPARTMENT = (rf"[{CJK}]{{1,10}}?(?:办|中心|局|所|站|科|室|部|委|队|院|处|会|村|社区|居委|公司|团|联|组|镇|街道"
               rf"|支部|法庭|学校|医院)")
_ATTRIBUTIONS = (
    re.compile(rf"[(（]\s*({_DEPARTMENT})(?:\s*供稿|[\s/／、]+[{CJK}]{{2,4}})*\s*[)）]"),  # (党群办) (党群办 张三)
    re.compile(rf"({_DEPARTMENT})\s*[(（]\s*[{CJK}]{{1,6}}\s*[)）]"),  # 党群办(宣传)
    re.compile(rf"[(（]?\s*(?:供稿|稿源|来源|供稿单位)\s*[:：]\s*([{CJK}]{{2,20}})\s*[)）]?"),  # 供稿：党群办
)
_TRAILING_ATTRIBUTION = re.compile(rf"(.*[。！？!?”])\s*([(（]\s*{_DEPARTMENT}\s*[)）])")
_BYLINE = re.compile(rf"[·•]\s*[{CJK}]{{2,4}}(?:\s+[{CJK}]{{2,4}})*\s*[·•]")
_NUMBERED = re.compile(r"(?:[一二三四五六七八九十]{1,3}[、.．]|[(（][一二三四五六七八九十\d]{1,3}[)）]"
                       r"|\d{1,2}\s*[、.．](?!\d)|第[一二三四五六七八九十]{1,3}[，,、]|[①-⑳])")
_OPEN_END = "，,、（(“‘《"


def _heading_like(text: str) -> bool:
    """Short, and punctuated like a title: no full stop or semicolon, not ending mid-clause.

    A title may end in ！or ？ ("港西镇欢迎您！"), but a line that also has a
    comma is an exclamation in running text ("…，人人有责！").
    """
    if len(text) > 60 or text[-1] in _OPEN_END + "：:":
        return False
    if text[-1] in "！!？?" and re.search(r"[，,]", text):
        return False
    return not re.search(r"[。；;！!？?…]", text.rstrip("！!？?"))


def _line(text: str) -> _Line:
    bracketed = _BRACKETED.fullmatch(text)
    if bracketed:
        return _Line(_Kind.SECTION, text, re.sub(r"\s+", "", bracketed[1]))
    if text.replace(" ", "") in _SECTION_NAMES:
        return _Line(_Kind.SECTION, text, text.replace(" ", ""))
    for pattern in _ATTRIBUTIONS:
        match = pattern.fullmatch(text)
        if match:
            return _Line(_Kind.ATTRIBUTION, text, office_name(match[1]))
    if _BYLINE.fullmatch(text):
        return _Line(_Kind.BYLINE, text)
    if _heading_like(text):
        return _Line(_Kind.ITEM if _NUMBERED.match(text) else _Kind.HEADING, text)
    return _Line(_Kind.PROSE, text)


def _classify(lines: list[str]) -> list[_Line]:
    out: list[_Line] = []
    for text in lines:
        trailing = _TRAILING_ATTRIBUTION.fullmatch(text)
        if trailing:  # "…顺利开展。(事业办)" on one line
            out += [_line(trailing[1].strip()), _line(trailing[2])]
        else:
            out.append(_line(text))
    return out


def _continues(prev: _Line, cur: _Line) -> bool:
    """Whether `cur` is the rest of a line the page layout broke (党委副书 / 记、镇长…).

    Evidence, any of: the previous line stops on a comma or an opening
    bracket; the next line starts with a lone character and punctuation
    ("记、", "况，" — no sentence or title starts like that); or the previous
    line is prose (too long or too punctuated to be a title) that lacks a
    sentence end.
    """
    if prev.kind not in (_Kind.HEADING, _Kind.PROSE) or cur.kind not in (_Kind.HEADING, _Kind.PROSE):
        return False
    if prev.text[-1] in SENTENCE_END + CLOSERS + "：:" or prev.text.endswith("—"):
        return False
    if prev.text[-1] in _OPEN_END:
        return True
    if re.match(rf"[{CJK}][，,、。；;：:！？]", cur.text) and cur.text[0] not in "一二三四五六七八九十":
        return True
    return prev.kind is _Kind.PROSE


def _join_broken(lines: list[_Line]) -> list[_Line]:
    out: list[_Line] = []
    for line in lines:
        if out and _continues(out[-1], line):
            out[-1] = _line(out[-1].text + line.text)
        else:
            out.append(line)
    return out


def _drop_repeated(lines: list[_Line]) -> list[_Line]:
    """Drop a prose paragraph that repeats the one right before it, character for character.

    No writer repeats a whole paragraph back to back; it is the scraper
    rendering one node twice. Keeping it would show the reader the same text
    twice and double its weight in ranking. Repeats that are not adjacent, or
    not exact, stay in the body (they may be deliberate) and are indexed once
    by the passage splitter instead.
    """
    out: list[_Line] = []
    for line in lines:
        if out and line.kind is _Kind.PROSE and len(line.text) >= 20 and line.text == out[-1].text:
            continue
        out.append(line)
    return out


# --- 3. cutting the line stream into articles ------------------------------------------------------------

_STRONG_TITLE = re.compile(rf"[{CJK}”》]\s+[{CJK}“《@]|——|[{CJK}][:：]|@")
_ARTICLE_OPENING = re.compile(r"(?:本刊讯|本报讯|本网讯|近日|日前|近期|今年以来|(?:\d{4}年)?\d{1,2}月\d{1,2}日"
                              r"|\d{1,2}日[,，上下])")
_MAX_TITLE_LINES = 3


def _segment(lines: list[_Line]) -> list[_Block]:
    """Cut at column headings, attributions and bylines, and before a title group inside running text.

    Inside an article, a lone heading-like line is a new title only if it
    looks like one (spaces between phrases, a dash, a colon) or the next
    paragraph opens like a news item (a date, 近日, 本刊讯); otherwise it is
    the first half of a broken line ("镇党委书记卢国庆总结了近年" / "来虹桥镇…")
    and is joined to what follows. Two or more heading lines in a row are
    always a title group.
    """
    blocks: list[_Block] = []
    section: str | None = None
    current = _Block(section)

    def close() -> None:
        nonlocal current
        if current.paras:
            blocks.append(current)
        elif current.titles and blocks and all(_closing_line(text) for text in current.titles):
            blocks[-1].paras += [_Line(_Kind.PROSE, text) for text in current.titles]  # a notice's signature
        elif current.titles and blocks and not blocks[-1].titles:  # a title left after its untitled article
            blocks[-1].titles = current.titles
        current = _Block(section)

    lines = list(lines)  # a copy: a broken line is glued onto the entry after it in place
    for i, line in enumerate(lines):
        if line.kind is _Kind.SECTION:
            close()
            section = line.value
            current.section = section
        elif line.kind is _Kind.ATTRIBUTION:
            if current.paras:
                current.department = line.value
            elif blocks and blocks[-1].department is None and not current.titles:
                blocks[-1].department = line.value
            close()
        elif line.kind is _Kind.BYLINE:
            close()
        elif line.kind is _Kind.HEADING and not current.paras:
            if len(current.titles) < _MAX_TITLE_LINES:
                current.titles.append(line.text)
            else:
                current.paras.append(line)
        elif line.kind is _Kind.HEADING:
            run = next((k for k in range(i, len(lines)) if lines[k].kind is not _Kind.HEADING), len(lines)) - i
            following = lines[i + run] if i + run < len(lines) else None
            opens = following is not None and following.kind is _Kind.PROSE
            if run >= 2 or _STRONG_TITLE.search(line.text) or (
                    following is not None and opens and _ARTICLE_OPENING.match(following.text)):
                close()
                current.titles.append(line.text)
            elif run == 1 and following is not None and opens:
                lines[i + 1] = _line(line.text + following.text)
            else:
                current.paras.append(line)
        else:
            current.paras.append(line)
    close()
    return blocks


_CLOSING_LABEL = re.compile(r"^(?:联\s*系\s*人|联系电话|联系方式|咨询电话|电\s*话|传\s*真|地\s*址|邮\s*编|(?:电子)?邮箱"
                            r"|附\s*件\s*\d*)\s*[:：]|^\d{1,2}\s*[.．、]\s*\S")


def _closing_line(text: str) -> bool:
    """A line of a notice's close: a contact or attachment line (联系人：…, 附件：1.…, a numbered attachment
    2.承诺书), the issuing body (上海市崇明区港西镇人民政府) or the date (2024年5月20日, 二〇二四年五月二十日)."""
    text = text.strip()
    return bool(_CLOSING_LABEL.match(text)) or (len(text) <= 30 and looks_like_government_body(text)) or (
        len(text) <= 16 and normalize_date(text) is not None)


def _fold_closing(blocks: list[_Block]) -> list[_Block]:
    """The close of a notice — contact person and phone, attachments, the issuing body and its date — reads
    like a title group (联系人：王老师 has a colon, the body's name no full stop), so it was cut off as an article of
    its own, leaving the notice without its end. A last block made of nothing else goes back into the article
    above it, its lines as paragraphs."""
    while len(blocks) >= 2 and all(_closing_line(text) for text in (*blocks[-1].titles,
                                                                      *(p.text for p in blocks[-1].paras))):
        closing = blocks.pop()
        blocks[-1].paras += [_Line(_Kind.PROSE, text) for text in closing.titles] + closing.paras
    return blocks


def _bigrams(text: str) -> set[str]:
    chars = re.sub(rf"[^{CJK}\w]", "", text)
    return {chars[k:k + 2] for k in range(len(chars) - 1)}


def _overlap(title: str, paras: list[_Line]) -> float:
    grams = _bigrams(title)
    body = _bigrams("".join(p.text for p in paras))
    return len(grams & body) / len(grams) if grams else 0.0


def _move_displaced_titles(blocks: list[_Block]) -> list[_Block]:
    """Give an untitled article back the title the scraper rendered after it.

    When an article has no title and the next one starts with a group of
    title lines, the group's first line may be the missing title
    ("…(城运中心)" / "泖港镇开展重点企业安全大检查" / "人大代表进选区 …").
    It is moved when it shares more of its wording with the untitled
    article than with the one it sits on.
    """
    for prev, nxt in zip(blocks, blocks[1:]):
        if (not prev.titles and len(nxt.titles) >= 2 and prev.section == nxt.section
                and _overlap(nxt.titles[0], prev.paras) > _overlap(nxt.titles[0], nxt.paras)):
            prev.titles = [nxt.titles.pop(0)]
    return blocks


# --- 4. from blocks to articles --------------------------------------------------------------------------

_BRIEF = re.compile(rf"[▲△■□●○◆◇★☆•]?\s*([{CJK}]{{2,10}})\s*[:：]\s*(\S.*)")
_DOCUMENT_ITEM = re.compile(r"《|〔\d{4}〕")
_DATELINE = re.compile(r"^(?:本刊讯|本报讯|本网讯|本台讯)\s*[:：]?\s*")
_LEADING_TIME = re.compile(r"^(?:\d{4}年)?(?:\d{1,2}月)?(?:\d{1,2}日)?(?:至\d{1,2}(?:月\d{1,2})?日)?"
                           r"(?:上旬|中旬|下旬|初|底|末)?(?:上午|下午|中午|晚上|晚间|凌晨)?(?:以来)?\s*[,，]\s*")
_SUMMARY = re.compile(r"现将(.{2,30}?)(?:的?(?:有关|开展|完成|落实|进展)?情况)?(?:总结|汇报|报告|通报)如下")


def _tidy(text: str) -> str:
    """Drop the stray space a scraper leaves after punctuation ("环境, 提升" → "环境,提升")."""
    return re.sub(rf"(?<=[，。、；：！？,;:—])\s+(?=[{CJK}“《])", "", text).strip()


def _join_titles(lines: list[str]) -> str:
    """One title from its lines: a line cut by the layout is glued on, a self-contained phrase gets a space.

    A line that is short, has its own internal pause (space, comma, colon)
    or ends on a closing quote reads as a complete kicker or main title
    ("港西镇坚持“三个到位”" + "推动食品安全…"); a long line ending mid-phrase
    was cut by the layout ("…创新乡村治理项目" + "年度座谈会").
    """
    title = lines[0]
    for prev, line in zip(lines, lines[1:]):
        complete = len(prev) < 15 or re.search(r"[\s,，、：:]", prev) or prev[-1] in "”’」』)）》!！?？"
        if prev.endswith("—") or line.startswith("—"):
            title += line
        else:
            title += (" " if complete else "") + line
    return _tidy(title)


def _headline(text: str, limit: int = 40) -> str:
    """A title made from an untitled item's own first sentence, minus its opening date, cut at a pause."""
    sentence = re.split(r"(?<=[。！？!?；;])", _DATELINE.sub("", text), maxsplit=1)[0].rstrip("。！？!?；;")
    sentence = _LEADING_TIME.sub("", sentence, count=1) or sentence
    if len(sentence) <= limit:
        return sentence
    pause = max(sentence.rfind(mark, 0, limit) for mark in "，,、")
    return sentence[:pause] if pause >= 12 else sentence[:limit] + "…"


def _paragraph(line: _Line) -> str:
    return _tidy(_DATELINE.sub("", line.text))


@dataclass
class _Draft:
    """An article before page-level fields and its id are filled in."""
    title: str
    paras: list[str]
    section: str | None
    department: str | None
    title_from_page: bool = False


def _list_items(block: _Block) -> list[_Draft] | None:
    """A column that is a list — briefs ("▲市场所：12月，…") or issued documents — as one draft per item."""
    if block.titles or len(block.paras) < 2:
        return None
    texts = [p.text for p in block.paras]
    if all(_NUMBERED.match(text) and _DOCUMENT_ITEM.search(text) for text in texts):
        drafts = []
        for text in texts:
            entry = _NUMBERED.sub("", text, count=1).strip()
            quoted = re.search(r"《(.*)》", entry) or re.search(r"《(.*)", entry)
            name = re.sub(r"[(（][^()（）]*〔\d{4}〕[^()（）]*[)）]?\s*$", "", quoted[1] if quoted else entry)
            drafts.append(_Draft(_tidy(name) or entry, [_tidy(entry)], block.section, None))
        return drafts
    briefs = [_BRIEF.fullmatch(t) for t in texts]
    if not briefs[0] or sum(1 for b in briefs if b) < 0.6 * len(texts):
        return None
    drafts = []
    for text, brief in zip(texts, briefs):
        if brief:
            unit, news = brief[1], brief[2]
            drafts.append(_Draft(f"{unit}：{_headline(news)}", [_tidy(f"{unit}:{news}")], block.section, unit))
        else:  # a continuation line of the brief before it
            drafts[-1].paras.append(_tidy(text))
    return drafts


def _untitled(block: _Block, page: _Page, only_block: bool) -> tuple[str, bool]:
    """A title for a block that has none, and whether it is the page's own title."""
    if only_block and page.title:
        return page.title, True
    opening = block.paras[0].text
    summary = _SUMMARY.search(opening)
    if summary:
        town = derive_town(None, "", opening)
        subject = summary[1]
        return (subject if not town or town in subject else town + subject), False
    return _headline(opening), False


def _drafts(page: _Page, blocks: list[_Block]) -> list[_Draft]:
    drafts: list[_Draft] = []
    for block in blocks:
        items = _list_items(block)
        if items is not None:
            drafts += items
            continue
        if block.titles:
            title, from_page = _join_titles(block.titles), False
        else:
            title, from_page = _untitled(block, page, only_block=len(blocks) == 1)
        paras = [p for p in (_paragraph(line) for line in block.paras) if p]
        if paras:
            drafts.append(_Draft(title, paras, block.section, block.department, from_page))
    return drafts


def _articles(page: _Page, blocks: list[_Block], source: str) -> list[Article]:
    drafts = _drafts(page, blocks)
    seen: Counter[str] = Counter()
    articles = []
    for draft in drafts:
        body = "\n".join(draft.paras)
        seen[draft.title] += 1
        articles.append(Article(
            # Source + title + which occurrence of that title: stable across re-scrapes that add or drop
            # other articles, and independent of the body so a corrected article keeps its id.
            article_id=make_article_id(source, draft.title, str(seen[draft.title])),
            title=draft.title,
            body=body,
            publisher=page.publisher,
            town=derive_town(page.publisher, draft.title, body),
            date=page.date or date_in_text(draft.paras[0], page.issue_year),
            department=draft.department,
            section=draft.section,
            source=source,
            url=None,
            newsletter=None if draft.title_from_page or page.title == draft.title else page.title,
            # The header's 发文字号 belongs to the page, so it names an article only when the page is one.
            doc_number=(page.doc_number if len(drafts) == 1 else None) or find_doc_number(draft.title, body),
        ))
    return articles
