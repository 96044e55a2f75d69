"""What the highlighter's marks keep: the query's words, not stray characters.

Elasticsearch marks every token of the query's word analysis wherever it occurs. smartcn splits a word
its dictionary lacks into single characters (低保 → 低 / 保, 王卫中 → 王 / 卫 / 中, 5G → 5 / g), and a
lone character marked elsewhere (保 in 包保, 中 in 报告中, 5 in 5月14日) tells the reader nothing. So marks
that touch are joined into one (<em>低</em><em>保</em> → <em>低保</em>), and a mark of one character is
dropped, unless the query asks for single characters: a part of it between spaces is one character.

Search snippets (`service.search`) and the article view's marks (`service.routes.articles`) both pass
through `tidy`, so a page marks what its snippet marked.
"""

from __future__ import annotations

import html
import re

PRE_TAG = "<em>"
POST_TAG = "</em>"
_MARK = re.compile(f"{re.escape(PRE_TAG)}(.*?){re.escape(POST_TAG)}", re.S)

__all__ = ["POST_TAG", "PRE_TAG", "marked", "single_characters_asked", "tidy"]


def single_characters_asked(q: str) -> bool:
    """Whether the (normalised) query asks for a single character: one of its space-separated parts is one."""
    return any(len(part) == 1 for part in q.split())


def tidy(fragment: str, q: str) -> str:
    """`fragment` (the highlighter's HTML) with touching marks joined and one-character marks dropped,
    unless `q` asks for single characters (`single_characters_asked`)."""
    joined = fragment.replace(POST_TAG + PRE_TAG, "")
    if single_characters_asked(q):
        return joined
    return _MARK.sub(lambda m: m.group(0) if len(html.unescape(m.group(1))) > 1 else m.group(1), joined)


def marked(fragment: str) -> list[str]:
    """The texts `fragment` marks, unescaped, in order."""
    return [html.unescape(text) for text in _MARK.findall(fragment)]
