"""Query understanding: date words become a date range, a named town or publisher is boosted.

- Date words (after `normalize_text`): 2022年12月5日 (that day), 2022年12月 (that month) — also in Chinese
  numerals (二〇二二年十二月) or as 2022-12-05, 2022.12, 2022/12/5 —, 今年, 去年, 前年, 本月/这个月, 上个月/上月.
  A bare year (2022年) is not one: in the judged queries and titles it names what a text is about
  (港西镇2022年党员代表会议, published 2023-02-07), not when it appeared.
  Two joined by 到, 至 or a dash make one range from the first's start to the second's end, and the second may
  leave out the year or month the first gave (2022年12月到2023年2月, 2023年1月至3月, 2022年12月5日-10日, 从去年到今年);
  one followed by 以来 or 至今 runs to today (2023年3月以来). The first one (or range) found becomes
  `date_from`/`date_to`, is removed from the searched text, and the response reports it (`understood`), so
  the page can show it as a removable filter. When nothing of
  that range holds the query's wording (`service.query.answering_search`: as the newest-first list reads it, or
  the exact title or number; not a common pair such as 人民, nor single characters, which 有事好商量 shares with
  most texts) and something at other times does, the words are searched at any time instead
  and `understood.date_applied` is false, in every mode: a sentence quoted from an article that says 去年, an event
  published the month after, an undated article must not come back empty. It is
  applied only when the request sets no dates itself, some text remains to search and the query is
  not itself an article's exact title or document number (one lookup, only for a query holding a date
  word): in 今年7350亿元中央预算内投资基本下达完毕 the date word is part of a title, not a filter. Undated
  articles fall outside every range.
- A town or publisher the index knows (a `town`/`publisher` value, read with a terms aggregation and
  cached for `NAMES_TTL` seconds; names that cannot be read boost nothing and never fail a search),
  named anywhere in the query (港西镇 安全生产), adds a should clause on that field to the BM25 side: its
  articles rank first among comparable matches; the words stay in the text, so nothing is filtered out.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from service.backend import SearchBackend
from service.query import SearchRequest, exact_search, known_names_search
from service.synonyms import Expansion

log = logging.getLogger(__name__)

NAMES_TTL = 300.0
NAMES_RETRY = 10.0  # seconds before names that could not be read are asked for again


@dataclass(frozen=True)
class Understood:
    text: str  # what is searched: the query without its date words
    date_from: date | None = None
    date_to: date | None = None
    town: str | None = None  # the town or publisher boosted
    synonyms: tuple[Expansion, ...] = ()  # plain words of `text` and the official terms also searched
    date_applied: bool = True  # False: the range held nothing answering the query, which was searched at any time

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "date_from": self.date_from and self.date_from.isoformat(),
                "date_to": self.date_to and self.date_to.isoformat(),
                "date_applied": self.date_from is not None and self.date_applied, "town": self.town,
                "synonyms": [expansion.as_json() for expansion in self.synonyms]}


def _month(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _previous_month(today: date) -> tuple[date, date]:
    return _month(today.year - 1, 12) if today.month == 1 else _month(today.year, today.month - 1)


_RELATIVE: dict[str, Callable[[date], tuple[date, date]]] = {
    "今年": lambda t: (date(t.year, 1, 1), date(t.year, 12, 31)),
    "去年": lambda t: (date(t.year - 1, 1, 1), date(t.year - 1, 12, 31)),
    "前年": lambda t: (date(t.year - 2, 1, 1), date(t.year - 2, 12, 31)),
    "本月": lambda t: _month(t.year, t.month),
    "这个月": lambda t: _month(t.year, t.month),
    "上个月": _previous_month,
    "上月": _previous_month,
}
_DIGIT = {char: value for value, char in enumerate("〇一二三四五六七八九")} | {"零": 0}
_NUMERAL = "".join(_DIGIT) + "十"  # what a year, month or day may be written with besides digits (`_number`)
# A date word, with the 的 that ties it to the rest (去年的安全检查 → 安全检查, not 的安全检查): 2022年12月(份)(5日), in
# Chinese numerals too (二〇二二年十二月五日), 2022-12(-05), 2022.12(.5), 2022/12(/5), or a relative one (去年).
_DATE_WORDS = re.compile(
    rf"(?:(?P<y>[\d{_NUMERAL}]{{4}})\s*年\s*(?P<m>[\d{_NUMERAL}]{{1,3}})\s*月份?"
    rf"(?:\s*(?P<d>[\d{_NUMERAL}]{{1,3}})\s*[日号])?"
    # Not inside another number, code or amount: 0571-2023-12, ICP备2023-2号, 2023.2亿元, 增长2022.12%.
    r"|(?<![0-9A-Za-z.\-/])(?P<ny>\d{4})(?P<sep>[-./])(?P<nm>\d{1,2})(?:(?P=sep)(?P<nd>\d{1,2}))?"
    r"(?![\d.\-/%‰A-Za-z号亿万千百元版期届])"
    "|(?P<rel>" + "|".join(sorted(_RELATIVE, key=len, reverse=True)) + r"))(?:\s*的)?")

# What may join two date words into one range (the spaces around it are the joiner's), and what may open it.
_TO = re.compile(r"\s*(?:到|至|~|～|〜|-|–|—{1,2})\s*")
_FROM = "从自"
# The second date word of a range may leave out what the first one gave: 3月 (its year), 10日 (its year and month).
_LATER_PART = re.compile(rf"(?:(?P<m>[\d{_NUMERAL}]{{1,3}})\s*月份?)?(?:\s*(?P<d>[\d{_NUMERAL}]{{1,3}})\s*[日号])?"
                         r"(?:\s*的)?")
_UNTIL_NOW = re.compile(r"\s*(?:以来|至今)(?:\s*的)?")


def _number(written: str) -> int:
    """A year, month or day as written: digits, or Chinese numerals, digit by digit (二〇二二) or with 十 (二十五)."""
    if written.isascii():
        return int(written)
    if "十" not in written:
        return int("".join(str(_DIGIT[char]) for char in written))
    tens, _, ones = written.partition("十")
    return (_number(tens) if tens else 1) * 10 + (_number(ones) if ones else 0)


def _dates(year: int, month: int, day: int | None) -> tuple[date, date]:
    """That day, or that whole month when no day is given (ValueError for no real date, such as 2022年13月)."""
    if day is None:
        return _month(year, month)
    one = date(year, month, day)
    return one, one


def _span(match: re.Match[str], today: date) -> tuple[date, date]:
    """The dates one date word covers (ValueError for no real date)."""
    if match["rel"]:
        return _RELATIVE[match["rel"]](today)
    year, month, day = (match["y"], match["m"], match["d"]) if match["y"] else (match["ny"], match["nm"], match["nd"])
    return _dates(_number(year), _number(month), _number(day) if day else None)


def _later_span(q: str, at: int, first: re.Match[str], start: date,
                today: date) -> tuple[tuple[date, date], int] | None:
    """The span of a range's second date word at `at` and where it ends: a whole date word, or the month and day
    (or the day) of the first one's year (and month) — None when nothing there reads as one."""
    whole = _DATE_WORDS.match(q, at)
    if whole is not None:
        return _span(whole, today), whole.end()
    part = _LATER_PART.match(q, at)
    if part is None or not (part["m"] or part["d"] and (first["d"] or first["nd"])):
        return None
    month = _number(part["m"]) if part["m"] else start.month
    return _dates(start.year, month, _number(part["d"]) if part["d"] else None), part.end()


def date_range(q: str, today: date) -> tuple[tuple[date, date], str] | None:
    """The first date word's (or range's) dates and the query without it, or None when there is none (or it is
    no real date, such as 2022年13月). A range's second word that is no real date leaves the first one alone."""
    match = _DATE_WORDS.search(q)
    if match is None:
        return None
    try:
        start, end = _span(match, today)
    except ValueError:  # month 13, day 31 of a 30-day month, year 0000, 十十
        return None
    begin, stop = match.start(), match.end()
    if (until := _UNTIL_NOW.match(q, stop)) is not None:
        end, stop = max(end, today), until.end()
    elif not match.group().endswith("的") and (joined := _TO.match(q, stop)) is not None:
        try:
            later = _later_span(q, joined.end(), match, start, today)
        except ValueError:  # 2023年2月5日到30日
            later = None
        if later is not None:
            (later_start, later_end), stop = later
            start, end = min(start, later_start), max(end, later_end)
    if stop != match.end() and begin and q[begin - 1] in _FROM:  # 从 opens a range, not a word: 从去年到今年
        begin -= 1
    rest = " ".join((q[:begin] + " " + q[stop:]).split())
    return (start, end), rest


class Understanding:
    """Reads date words and known names out of a request (see the module docstring)."""

    def __init__(self, backend: SearchBackend, index: str, timeout: float,
                 today: Callable[[], date] = date.today) -> None:
        self.backend = backend
        self.index = index
        self.timeout = timeout
        self.today = today
        self._names: tuple[float, list[tuple[str, str]]] | None = None

    async def apply(self, req: SearchRequest) -> tuple[SearchRequest, Understood | None]:
        """The request to run and what was understood (None: nothing)."""
        understood = Understood(text=req.q)
        found = None if req.filters.date_from or req.filters.date_to else date_range(req.q, self.today())
        if found and found[1] and not await self._names_an_article(req):
            (start, end), rest = found
            understood = replace(understood, text=rest, date_from=start, date_to=end)
            req = replace(req, q=rest, filters=replace(req.filters, date_from=start, date_to=end))
        for field, name in await self._known_names():
            if name in req.q:
                understood = replace(understood, town=name)
                req = replace(req, boost=(field, name))
                break
        return req, (understood if understood != Understood(text=understood.text) else None)

    async def _names_an_article(self, req: SearchRequest) -> bool:
        """Whether `req.q` as typed is an article's exact title or document number (within the request's
        own filters). Unreadable counts as no: the date words are read as usual."""
        try:
            (response,) = await self.backend.msearch(self.index, [exact_search(req, timeout=self.timeout)])
        except Exception:
            log.warning("query understanding: the known-item lookup failed", exc_info=True)
            return False
        return bool(response.get("hits", {}).get("hits"))

    async def _known_names(self) -> list[tuple[str, str]]:
        """(field, value) of every town and publisher in the index, longest first, cached NAMES_TTL."""
        now = time.monotonic()
        if self._names is None or now - self._names[0] > NAMES_TTL:
            try:
                (response,) = await self.backend.msearch(self.index, [known_names_search(timeout=self.timeout)])
            except Exception:  # a convenience: the search itself reports an unreachable node or index
                log.warning("query understanding: town and publisher names not readable", exc_info=True)
                # Asked again NAMES_RETRY later, not by every search: a hung node would cost each one a timeout.
                known = self._names[1] if self._names else []
                self._names = (now - NAMES_TTL + NAMES_RETRY, known)
                return known
            names = [(field, bucket["key"]) for field in ("publisher", "town")
                     for bucket in response.get("aggregations", {}).get(field, {}).get("buckets", [])]
            self._names = (now, sorted(names, key=lambda pair: -len(pair[1])))
        return self._names[1]
