"""What the highlighter's marks keep: the query's words, not stray characters.

Elasticsearch marks every token of the query's word analysis wherever it occurs. smartcn splits a word
its dictionary lacks into single characters (低保 → 低 / 保, 王卫中 → 王 / 卫 / 中, 5G → 5 / g), and the
stop filter drops function characters from the query (八里庙村 → 八 / 庙 / 村, 卫你健康 → 卫 / 健康). So the
marks are read against the query's own text (and the official terms searched for it, `also`):

- touching marks become one when together they are text of the query (<em>低</em><em>保</em> → <em>低保</em>),
  and stay apart when not: 北 and 村 of the query 北双村 must not make 协<em>北村</em>;
- a mark grows over the characters around it while the text it covers is still text of the query, so
  八里<em>庙村</em> becomes <em>八里庙村</em> and <em>党</em>的<em>二十大</em> becomes <em>党的二十大</em>;
- a mark of one character is dropped, unless the query asks for single characters (a part of it between
  spaces is one character): a lone 保 in 保质保量 tells the reader nothing.

Search snippets (`service.search`) and the article view's marks (`service.routes.articles`) both pass
through `tidy`, so a page marks what its snippet marked.

The highlighter reads the word analysis only, so a passage that matched through character pairs alone
(防火 in 防火墙, which smartcn keeps as one word; 凸面镜 in 凸面广角镜) comes back unmarked, as its first
characters. `snippet` then marks the query's text in the passage itself (`query_text`: its longest runs of two
characters or more) and shows the passage around the first of them; the article view reads the same marks.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

PRE_TAG = "<em>"
POST_TAG = "</em>"
_MARK = re.compile(f"{re.escape(PRE_TAG)}(.*?){re.escape(POST_TAG)}", re.S)

__all__ = ["POST_TAG", "PRE_TAG", "marked", "query_text", "single_characters_asked", "snippet", "tidy"]

Span = tuple[int, int]  # [start, end) in the fragment's unescaped text


def single_characters_asked(q: str) -> bool:
    """Whether the (normalised) query asks for a single character: one of its space-separated parts is one."""
    return any(len(part) == 1 for part in q.split())


def tidy(fragment: str, q: str, also: Iterable[str] = ()) -> str:
    """`fragment` (the highlighter's HTML) with its marks read against `q` (normalised) and `also` (the official
    terms searched besides it) as the module says; text is escaped as the highlighter escapes it."""
    text, spans = _parse(fragment)
    runs = _touching(spans)
    if single_characters_asked(q):
        return _render(text, [(run[0][0], run[-1][1]) for run in runs])
    words = [word.casefold() for word in (*q.split(), *also) if word]

    def in_query(start: int, end: int) -> bool:
        piece = text[start:end].casefold()
        return any(piece in word for word in words)

    grown: list[Span] = []
    for run in runs:
        whole = (run[0][0], run[-1][1])
        for start, end in [whole] if in_query(*whole) else run:
            start, end = _grow(start, end, len(text), in_query)
            if end - start > 1:
                grown.append((start, end))
    return _render(text, [(run[0][0], max(end for _, end in run)) for run in _touching(sorted(grown))])


def query_text(text: str, q: str, also: Iterable[str] = ()) -> list[Span]:
    """Where `text` holds the query's text: left to right, each longest run of two characters or more that is
    text of `q` (normalised) or of `also`, the official terms searched besides it."""
    words = [word.casefold() for word in (*q.split(), *also) if word]
    folded = text.casefold()
    spans: list[Span] = []
    at = 0
    while at < len(folded) - 1:
        end = at + 1
        while end < len(folded) and any(folded[at:end + 1] in word for word in words):
            end += 1
        if end - at > 1:
            spans.append((at, end))
            at = end
        else:
            at += 1
    return spans


def snippet(fragment: str | None, text: str, q: str, also: Iterable[str], size: int) -> str:
    """A hit's snippet: the highlighter's `fragment` tidied; when it marks nothing (or there is none), the
    passage `text` around the first run of the query's text it holds (`query_text`), those runs marked; else
    the passage's first `size` characters."""
    tidied = tidy(fragment, q, also) if fragment else ""
    if PRE_TAG in tidied:
        return tidied
    found = query_text(text, q, also)
    if not found:
        return tidied or html.escape(text[:size])
    start = max(0, min(found[0][0] - size // 8, len(text) - size))
    end = start + size
    return _render(text[start:end], [(s - start, e - start) for s, e in found if start <= s and e <= end])


def marked(fragment: str) -> list[str]:
    """The texts `fragment` marks, unescaped, in order."""
    return [html.unescape(text) for text in _MARK.findall(fragment)]


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


def _grow(start: int, end: int, length: int, in_query: Callable[[int, int], bool]) -> Span:
    """The span widened a character at a time, left then right, while its text is still text of the query."""
    while start > 0 and in_query(start - 1, end):
        start -= 1
    while end < length and in_query(start, end + 1):
        end += 1
    return start, end


def _render(text: str, spans: list[Span]) -> str:
    out: list[str] = []
    at = 0
    for start, end in spans:
        out += [html.escape(text[at:start]), PRE_TAG, html.escape(text[start:end]), POST_TAG]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)
