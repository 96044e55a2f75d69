"""Hidden queries: words an administrator keeps out of 热门搜索 (GET /hot) and the query suggestions (/suggest).

A past query holding a hidden word (both compared after `normalize_text`, case-insensitive) is never shown
to others. The words come from two places, applied together whenever a list is read, never when the log is
written, so hiding a word takes the past searches holding it off the lists at once and unhiding brings them
back:

- `SUGGEST_HIDDEN_QUERIES`: words set with the deployment (a restart changes them);
- `PUT /admin/hidden-queries`: words hidden while the service runs, one document in HIDDEN_QUERIES_INDEX
  (`service.ruledoc`): the process that took the PUT applies it on return, every other replica within
  `ruledoc.RULES_TTL` seconds.

The search log keeps every query as searched: hiding only decides what is shown (the admin analytics
still list them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from elasticsearch import AsyncElasticsearch

from govsearch.rules import normalize_text
from service.analytics import MAX_SHOWN_CHARS
from service.ruledoc import RuleDocument

MAX_WORDS = 1000
MAX_WORD_CHARS = MAX_SHOWN_CHARS
"""A longer word could never be held by a query that may be shown (`analytics.publishable`)."""


class HiddenWordError(ValueError):
    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"word {position}: {reason}")
        self.position = position  # 0-based, as in the request's `words` list
        self.reason = reason


def key(text: str) -> str:
    """How a word and a query are compared: normalised, lower case."""
    return normalize_text(text.strip()).lower()


class HiddenWords:
    """A list of hidden words as an administrator wrote it (`lines`, each stripped); a word written twice
    (after `key`) is kept once. Raises HiddenWordError on an empty or too long word, or too many words."""

    def __init__(self, words: Iterable[str]) -> None:
        self.lines: list[str] = []
        seen: set[str] = set()
        for position, word in enumerate(words):
            word = word.strip()
            if not word:
                raise HiddenWordError(position, "empty word")
            if len(word) > MAX_WORD_CHARS:
                raise HiddenWordError(position, f"longer than {MAX_WORD_CHARS} characters: no query shown is")
            if (word_key := key(word)) not in seen:
                seen.add(word_key)
                self.lines.append(word)
            if len(self.lines) > MAX_WORDS:
                raise HiddenWordError(position, f"more than {MAX_WORDS} words")
        self.keys = tuple(seen)


def hidden_by(query: str, keys: Iterable[str]) -> bool:
    """True when `query` holds one of `keys` (each a `key`); `query` is compared as its `key`."""
    text = key(query)
    return any(word and word in text for word in keys)


Hides = Callable[[str], bool]


class HiddenQueries(RuleDocument[HiddenWords]):
    """The words hidden in every API process: `always` (SUGGEST_HIDDEN_QUERIES) and the stored list."""

    def __init__(self, es: AsyncElasticsearch, index: str, always: Iterable[str]) -> None:
        super().__init__(es, index, mapping="hidden", field="words", parse=HiddenWords,
                         seed=lambda: HiddenWords([]), name="hidden queries")
        self.always = tuple(dict.fromkeys(word.strip() for word in always if word.strip()))
        self._always_keys = tuple(key(word) for word in self.always)

    async def hides(self) -> Hides:
        """Whether a query may not be shown, under the words hidden now (never fails: see `RuleDocument`). While
        no list could be read yet (a process started during an outage), every query is hidden: /hot and the
        suggestions show nothing rather than what an administrator may have hidden."""
        words = await self.read()
        if words is None:
            return lambda query: True
        keys = self._always_keys + words.keys
        if not keys:  # the usual case: no query normalised again on every keystroke to find nothing
            return lambda query: False
        return lambda query: hidden_by(query, keys)
