"""Pinyin forms of Chinese text, the same for the index (title suggestions) and the query side.

A title is indexed with the pinyin of every suffix that starts at a character, in two forms: full
syllables (港西镇开展安全生产检查 → …, "anquanshengchanjiancha", …) and initials ("aqscjc"), so a prefix
query finds a word typed in pinyin wherever it starts in the title. Letters and digits stand for
themselves (lower-cased); punctuation and spaces are dropped. Polyphonic characters take pypinyin's
reading in context (the phrase dictionary), on both sides alike.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from pypinyin import Style
from pypinyin.converter import UltimateConverter
from pypinyin.core import Pinyin

from govsearch.rules import CJK

MAX_SUFFIXES = 48
"""Suffixes indexed per title (a title longer than this is found by pinyin from its first 48 characters)."""

_CJK_RUN = re.compile(f"[{CJK}]+")
_RUNS = re.compile(f"[{CJK}]+|[^{CJK}]+")
_PINYIN_QUERY = re.compile(rf"^(?=.*[a-z])[a-z0-9{CJK}' ]+$")


WORD_CACHE_SIZE = 65_536
"""Words whose pinyin is remembered (`_word_pinyin`): ~5,800 distinct ones in 7,538 news titles."""

_CONVERTER = UltimateConverter()  # what pypinyin's own `lazy_pinyin` converts with, default options


@functools.lru_cache(maxsize=WORD_CACHE_SIZE)
def _word_pinyin(word: str, style: Style, heteronym: bool, errors: Callable[[str], str] | str,
                 strict: bool) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(readings) for readings in _CONVERTER.convert(word, style, heteronym, errors, strict))


class _RememberingConverter(UltimateConverter):
    """pypinyin's converter with each segmented word's result remembered: a corpus repeats its words
    (国务院, 习近平, 安全生产), and converting a word was ~60% of a title's pinyin time. Same output as
    `pypinyin.lazy_pinyin` (a test compares them)."""

    def convert(self, words: str, style: Style, heteronym: bool, errors: Callable[[str], str] | str,
                strict: bool = True, **kwargs: Any) -> list[list[str]]:
        if kwargs:
            return super().convert(words, style, heteronym, errors, strict, **kwargs)
        return [list(readings) for readings in _word_pinyin(words, style, heteronym, errors, strict)]


_PINYIN = Pinyin(_RememberingConverter())


def syllables(text: str) -> list[str]:
    """One item per kept character: a CJK character's toneless pinyin, a letter or digit itself."""
    items: list[str] = []
    for run in _RUNS.findall(text.lower()):
        items.extend(_PINYIN.lazy_pinyin(run) if _CJK_RUN.match(run) else run)  # a run keeps its context
    return [item for item in items if item.isascii() and item.isalnum()]


def suffix_forms(text: str) -> tuple[list[str], list[str]]:
    """(full pinyin, initials) of every suffix of `text` that starts at a kept character."""
    items = syllables(text)[:MAX_SUFFIXES]
    full = ["".join(items[i:]) for i in range(len(items))]
    initials = ["".join(item[0] for item in items[i:]) for i in range(len(items))]
    return full, initials


def is_pinyin_query(text: str) -> bool:
    """True when what was typed contains Latin letters and otherwise only characters, digits, spaces or
    apostrophes: "aqsc", "anquan", "安quan", "xi'an"."""
    return bool(_PINYIN_QUERY.match(text.lower()))


def query_form(text: str) -> str:
    """What was typed as one pinyin string to prefix-match: characters as their pinyin, letters as typed."""
    return "".join(syllables(text))


PINYIN_FIELD = "title_pinyin"
INITIALS_FIELD = "title_initials"


def title_fields(title: str) -> dict[str, list[str]]:
    """The derived suggestion fields of an article document (keywords in mappings/articles.json)."""
    full, initials = suffix_forms(title)
    return {PINYIN_FIELD: full, INITIALS_FIELD: initials}
