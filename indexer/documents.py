"""The field rules every reader shares: ids, dates, publishers and towns.

Both readers (the newsletter parser for scraped pages and the JSONL record
reader) derive an article's metadata with the functions here, so it means the
same thing whichever door it came in through. The record itself
(`govsearch.schema.Article`) and the document-number rule (`govsearch.rules`)
live in the core.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from datetime import date

from govsearch.rules import CJK


def make_article_id(*parts: str) -> str:
    """A short, stable id from what identifies an article rather than what it says.

    Callers pass where the article lives (its source) and what names it there
    (a record id, or a title plus its occurrence number on the page), never
    the body: an edited article must keep its id so a rebuild overwrites it
    instead of indexing a second copy. 16 hex digits (64 bits) leave no
    practical chance of a collision at corpus scale.
    """
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8"))
    return digest.hexdigest()[:16]


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def normalize_date(value: object) -> str | None:
    """`YYYY-MM-DD` from the spellings pages and records use: 2023-02-07 00:00, 2023/2/7, 2023.2.7, 2023年2月7日,
    full-width ２０２３－０２－０７, 20230207 (text or number) and 二〇二三年二月七日.

    Anything that is not a real calendar day — a bare year such as "2025", a month, 2023-02-30, or an order
    that cannot be told (03/05/2024: March or May?) — gives None: a date we would have to invent is worse
    than no date, because it silently wins date filters and sorting.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    if (compact := _COMPACT_DATE.fullmatch(text)) is not None:
        return _iso(int(compact[1]), int(compact[2]), int(compact[3]))
    if (written := _CHINESE_DATE.search(text)) is not None:
        year = "".join(str(_CHINESE_DIGITS.index(char)) for char in written[1].replace("零", "〇"))
        return _iso(int(year), _chinese_number(written[2]), _chinese_number(written[3]))
    match = _DATE.search(text)
    if not match:
        return None
    return _iso(int(match[1]), int(match[2]), int(match[3]))


_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_CHINESE_DIGITS = "〇一二三四五六七八九"
_CHINESE_DATE = re.compile(r"([〇零一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月"
                           r"\s*([一二三四五六七八九十]{1,3})\s*日")


def _chinese_number(text: str) -> int:
    """1-31 written in Chinese numerals: 五, 十, 十二, 二十, 三十一."""
    tens, _, ones = text.rpartition("十")
    if "十" not in text:
        return _CHINESE_DIGITS.index(text)
    return (_CHINESE_DIGITS.index(tens) if tens else 1) * 10 + (_CHINESE_DIGITS.index(ones) if ones else 0)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


_MONTH_DAY = re.compile(r"(?<!\d)(\d{1,2})月(\d{1,2})日")


def date_in_text(text: str, year: int | None) -> str | None:
    """The first full date in `text`, else its first 月/日 date placed in `year` (the issue's year).

    News items usually open with the event's day ("12月2日上午，…") and leave
    the year to the issue they appear in; without that year there is no date.
    """
    full = re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text)
    if full:
        return _iso(int(full[1]), int(full[2]), int(full[3]))
    month_day = _MONTH_DAY.search(text)
    if month_day and year:
        return _iso(year, int(month_day[1]), int(month_day[2]))
    return None


_GOVERNMENT_BODY = re.compile(r"(人民政府|政府|委员会|办公室|办公厅|办事处|国务院|人民代表大会|常务委员会|局|厅)$")


def looks_like_government_body(name: str | None) -> bool:
    """Whether a source/author string names a government body, i.e. can stand as the publisher."""
    return name is not None and bool(_GOVERNMENT_BODY.search(name.strip()))


# A town is 2–4 characters ending in 镇/乡/街道, starting where a name can start: at the start of the text,
# after punctuation or a space, after a preposition (考虑到虹桥镇), or right after the county/district/city
# that contains it (崇明区港西镇). Without such a left edge "召开港西镇" cannot be cut correctly, so it is not a
# candidate at all.
_PREPOSITIONS = "在到赴对与和向从于至经由将为"
_TOWN = re.compile(rf"(?:^|(?<=[^{CJK}])|(?<=[市县区旗{_PREPOSITIONS}]))(?![市县区])"
                   rf"([{CJK}]{{2,4}}?(?:镇街道|镇|街道|乡(?![村镇亲贤土愁音情风里邻])))")
_NOT_A_NAME_START = set("省级我本该全各两此每其等个的")
# Common nouns that end like a town name: "波兰小镇", "梦想在异乡", "城乡".
_NOT_TOWN_ENDINGS = {"乡镇", "城镇", "村镇", "集镇", "小镇", "古镇", "重镇", "名镇", "强镇", "城乡", "故乡", "家乡",
                     "异乡", "他乡", "老乡", "同乡", "下乡", "返乡", "回乡", "还乡", "思乡", "水乡", "梦乡", "之乡"}


def _towns(text: str) -> list[str]:
    found = []
    for match in _TOWN.finditer(text):
        name = match[1]
        if name[0] in _PREPOSITIONS and len(name) >= 3:  # "，在港西镇召开" names 港西镇
            name = name[1:]
        stem = name.removesuffix("镇街道").removesuffix("街道").removesuffix("镇").removesuffix("乡")
        if name[0] not in _NOT_A_NAME_START and name[-2:] not in _NOT_TOWN_ENDINGS and stem[-1] not in _GOING_TO:
            found.append(name)
    return found


# A verb of going just before 镇/街道/乡 says "to the town", not a name: 请到镇社区事务受理中心, 或就近到镇卫生院, 回乡.
_GOING_TO = set("到去回赴往至")


def derive_town(publisher: str | None, title: str, body: str) -> str | None:
    """The township an article is about: from its publisher, else its title, else its opening.

    The publisher (上海市崇明区港西镇人民政府) is authoritative; a title or
    first paragraph naming a town is next best. Past the opening, a town must
    be named at least twice to count — a report that lists places in passing
    is not about any one of them.
    """
    for text in (publisher or "", title, body.split("\n", 1)[0]):
        found = _towns(text)
        if found:
            return found[0]
    counts = Counter(_towns(body))
    if counts:
        town, count = counts.most_common(1)[0]
        if count >= 2:
            return town
    return None
