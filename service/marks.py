"""What the highlighter's marks keep: the query's words, not stray characters.

Elasticsearch marks every token of the query's word analysis wherever it occurs. smartcn splits a word
its dictionary lacks into single characters (低保 → 低 / 保, 王卫中 → 王 / 卫 / 中, 5G → 5 / g), and the
stop filter drops function characters from the query (八里庙村 → 八 / 庙 / 村, 卫你健康 → 卫 / 健康). So the
marks are read against the query's own text (and the official terms searched for it, `also`):

- touching marks become one when together they are text of the query (<em>低</em><em>保</em> → <em>低保</em>),
  and stay apart when not: 北 and 村 of the query 北双村 must not make 协<em>北村</em>;
- a mark inside a whole part of the query (or a whole official term) that the passage holds covers it, so
  八里<em>庙村</em> becomes <em>八里庙村</em> and <em>党</em>的<em>二十大</em> becomes <em>党的二十大</em>;
  never part of one: 加固疫情防线 holds no 疫情防控, so its 疫情 stays as marked (growing over any characters
  that were query text marked 疫情防, 区委副书记 and 负责人的);
- a mark of one character is dropped, unless the query asks for that character alone (a part of it between
  spaces is that character): a lone 保 in 保质保量 tells the reader nothing, the 税 of 港西镇 税 does, and the
  query's other parts are read as any other query's;
- marks that touch but are not query text together stay two marks (12月 and 1日 for the query 12月31日).

"The query" is what it asks about (`govsearch.rules.asked`), as for the search itself: 怎么 of 垃圾分类怎么做 and 新闻
of 请问防汛相关新闻 are never marked, nor do they count in how much of the query a result shows (`covered`).

Search snippets (`service.search`) and the article view's marks (`service.routes.articles`) both pass
through `tidy`, so a page marks what its snippet marked.

The highlighter reads the word analysis only, so a passage that matched through character pairs alone
(防火 in 防火墙, which smartcn keeps as one word; 凸面镜 in 凸面广角镜) comes back unmarked, as its first
characters. `snippet` then marks the query's text in the passage itself (`query_text`: its longest runs of two
characters or more, not cutting a number) and shows the passage around the first of them, for a hit the word
search found (never one found by meaning alone: 17 of 171号 is no answer to 170号); the article view reads the
same marks.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Iterator

from govsearch.rules import asked

PRE_TAG = "<em>"
POST_TAG = "</em>"
_MARK = re.compile(f"{re.escape(PRE_TAG)}(.*?){re.escape(POST_TAG)}", re.S)

__all__ = ["POST_TAG", "PRE_TAG", "covered", "marked", "query_text", "snippet", "tidy"]

Span = tuple[int, int]  # [start, end) in the fragment's unescaped text


def tidy(fragment: str, q: str, also: Iterable[str] = ()) -> str:
    """`fragment` (the highlighter's HTML) with its marks read against `q` (normalised) and `also` (the official
    terms searched besides it) as the module says; text is escaped as the highlighter escapes it."""
    text, spans = _parse(fragment)
    runs = _touching(spans)
    words = _words(q, also)
    singles = {word for word in words if len(word) == 1}  # characters the query asks for alone (港西镇 税)
    folded = _folded(text)
    # Where the passage holds a whole part of the query (or an official term): a mark inside one covers it.
    wholes = [(m.start(), m.end()) for word in words if len(word) > 1
              for m in re.finditer(re.escape(word), folded)]
    kept: list[Span] = []
    for run in runs:
        whole = (run[0][0], run[-1][1])
        for start, end in [whole] if any(folded[whole[0]:whole[1]] in word for word in words) else run:
            for first, last in wholes:
                if first < end and start < last:
                    start, end = min(start, first), max(end, last)
            if end - start > 1 or folded[start:end] in singles:
                kept.append((start, end))
    return _render(text, _overlapping(kept))


def query_text(text: str, q: str, also: Iterable[str] = ()) -> list[Span]:
    """Where `text` holds the query's text: left to right, each longest run of two characters or more that is
    text of `q` (normalised) or of `also`, the official terms searched besides it, or a character the query asks
    for alone (a part of it, 税 of 港西镇 税), and cuts a number or a Latin word neither in the text nor in the
    query (17 of 171号, or of 11月17日, is no match of 170号)."""
    words = _words(q, also)
    pieces, runs = _pieces(tuple(words))
    folded = _folded(text)
    spans: list[Span] = []
    for run in runs.finditer(folded):  # a piece of the query lies within a run of its characters
        at, stop = run.span()
        while at < stop:
            end = at + 1
            while end < stop and folded[at:end + 1] in pieces:
                end += 1
            piece = folded[at:end]
            if (end - at > 1 or piece in pieces) and not _cuts(folded, at, end) and any(
                    not _cuts(word, start, start + len(piece)) for word in words for start in _found(piece, word)):
                spans.append((at, end))
                at = end
            else:
                at += 1
    return spans


def snippet(fragment: str | None, text: str, q: str, also: Iterable[str], size: int, *, words_found: bool) -> str:
    """A hit's snippet: the highlighter's `fragment` tidied; when it marks nothing (or there is none) and the word
    search found the hit (`words_found`: through character pairs the highlighter does not read), the passage
    `text` around the first run of the query's text it holds (`query_text`), those runs marked; else the
    passage's first `size` characters. A hit found by meaning alone is never marked by the service."""
    tidied = tidy(fragment, q, also) if fragment else ""
    if PRE_TAG in tidied:
        return tidied
    found = query_text(text, q, also) if words_found else []
    if not found:
        return tidied or html.escape(text[:size])
    start = max(0, min(found[0][0] - size // 8, len(text) - size))
    end = start + size
    return _render(text[start:end], [(s - start, e - start) for s, e in found if start <= s and e <= end])


def marked(fragment: str) -> list[str]:
    """The texts `fragment` marks, unescaped, in order."""
    return [html.unescape(text) for text in _MARK.findall(fragment)]


def covered(q: str, fragments: Iterable[str]) -> float:
    """The share of the (normalised) query's characters, spaces aside, that the marks of `fragments` hold: how
    much of the query a result shows. 宇宙飞船 镇 with only 镇 marked: 0.2."""
    wanted = set(_folded("".join(asked(q).split())))
    shown = {char for fragment in fragments for text in marked(fragment) for char in _folded(text)}
    return len(wanted & shown) / len(wanted) if wanted else 0.0


def _parse(fragment: str) -> tuple[str, list[Span]]:
    """The fragment's text, unescaped, and where its marks are in it."""
    parts: list[str] = []
    spans: list[Span] = []
    at = length = 0
    for match in _MARK.finditer(fragment):
        before = html.unescape(fragment[at:match.start()])
        inside = html.unescape(match.group(1))
        parts += [before, inside]
        length += len(before)
        spans.append((length, length + len(inside)))
        length += len(inside)
        at = match.end()
    parts.append(html.unescape(fragment[at:]))
    return "".join(parts), spans


def _touching(spans: list[Span]) -> list[list[Span]]:
    """Sorted spans in runs of ones that touch or overlap."""
    runs: list[list[Span]] = []
    for span in spans:
        if runs and span[0] <= max(end for _, end in runs[-1]):
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


@functools.lru_cache(maxsize=256)
def _pieces(words: tuple[str, ...]) -> tuple[frozenset[str], re.Pattern[str]]:
    """What `query_text` looks up, once per query rather than at every character of every passage it reads: every
    run of two characters or more of `words` and every word of one character, and a pattern of the runs of their
    characters (of two or more, unless a word is one character)."""
    pieces = frozenset(word[i:j] for word in words for i in range(len(word) - 1) for j in range(i + 2, len(word) + 1))
    singles = frozenset(word for word in words if len(word) == 1)
    chars = "".join(sorted(set("".join(words))))
    least = 1 if singles else 2
    return pieces | singles, re.compile(f"[{re.escape(chars)}]{{{least},}}" if chars else "(?!)")


def _found(piece: str, word: str) -> Iterator[int]:
    """Where `piece` starts in `word`, overlaps included."""
    start = word.find(piece)
    while start >= 0:
        yield start
        start = word.find(piece, start + 1)


def _words(q: str, also: Iterable[str]) -> list[str]:
    """The parts of what `q` asks about and the official terms `also`, case-folded."""
    return [word.casefold() for word in (*asked(q).split(), *also) if word]


def _folded(text: str) -> str:
    """`text` case-folded where that keeps every character's place (ß → ss would not)."""
    folded = text.casefold()
    return folded if len(folded) == len(text) else text


def _cuts(text: str, start: int, end: int) -> bool:
    """Whether [start, end) begins or ends inside a run of digits or Latin letters."""
    def word_char(i: int) -> bool:
        return 0 <= i < len(text) and text[i].isascii() and text[i].isalnum()
    return (word_char(start) and word_char(start - 1)) or (word_char(end - 1) and word_char(end))


def _overlapping(spans: list[Span]) -> list[Span]:
    """Sorted spans with the overlapping ones merged; touching ones stay apart (each is a mark of its own)."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _render(text: str, spans: list[Span]) -> str:
    out: list[str] = []
    at = 0
    for start, end in spans:
        out += [html.escape(text[at:start]), PRE_TAG, html.escape(text[start:end]), POST_TAG]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)
