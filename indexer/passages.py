"""Articles → passages: the slices of a body that get a vector and a search hit of their own.

Passages are built from whole sentences (split on 。！？；and line ends), a
few hundred characters each: long enough to carry a topic, short enough that
one vector still describes them. Each passage repeats the last sentence or
two of the one before it, so a fact stated across a boundary is whole in at
least one of them. A sentence is cut only when it alone is longer than a
passage may be, and then at a comma if there is one.

Paragraphs that (nearly) repeat an earlier paragraph of the same article are
left out of the passages, so a repeat cannot crowd the results or count twice
in ranking; the article body itself is never changed, and every passage's
text is exactly `body[char_start:char_end]`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from govsearch.rules import CLOSERS, SENTENCE_END
from govsearch.schema import Article, Passage

_PAUSES = "，,、：:"
_HEADING_MAX = 40
_REPEAT_MIN_CHARS = 12  # shorter paragraphs (subheadings, "会议指出：") repeat legitimately
_NEAR_REPEAT = 0.9  # bigram Jaccard similarity that counts as the same paragraph


@dataclass(frozen=True, slots=True)
class _Unit:
    """A sentence (or piece of an overlong one) as offsets into the body."""
    start: int
    end: int
    heading: bool = False  # a whole short line with no sentence end: belongs with what follows it


def split_passages(article: Article, min_chars: int = 150, max_chars: int = 400,
                   overlap_chars: int = 50) -> list[Passage]:
    """The article's passages in body order; an article no longer than `max_chars` is one passage."""
    body = article.body
    # Sentences are packed leaving room for the overlap, so adding it keeps a passage within max_chars.
    capacity = max_chars - overlap_chars if max_chars - overlap_chars >= min_chars else max_chars
    passages: list[Passage] = []
    for run in _runs(body, max_chars):
        groups = [run] if _span(run) <= max_chars else _group(run, min_chars, capacity)
        for index, group in enumerate(groups):
            units = _with_overlap(groups[index - 1], group, overlap_chars, max_chars) if index else group
            start, end = units[0].start, units[-1].end
            position = len(passages)
            passages.append(Passage(passage_id=f"{article.article_id}-{position}", article_id=article.article_id,
                                    position=position, text=body[start:end], char_start=start, char_end=end))
    return passages


def embedding_text(article: Article, passage: Passage) -> str:
    """What the embedding model reads: the title gives a mid-article passage its topic."""
    return f"{article.title}\n{passage.text}"


def _span(units: list[_Unit]) -> int:
    return units[-1].end - units[0].start


def _paragraphs(body: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every non-blank line, whitespace trimmed."""
    offset = 0
    for line in body.split("\n"):
        stripped = line.strip()
        if stripped:
            start = offset + len(line) - len(line.lstrip())
            yield start, start + len(stripped)
        offset += len(line) + 1


def _runs(body: str, max_chars: int) -> list[list[_Unit]]:
    """Sentence units, in stretches of body uninterrupted by a skipped repeat.

    A passage must be one contiguous slice of the body, so it can never
    reach across a paragraph that is left out: each stretch is chunked alone.
    """
    runs: list[list[_Unit]] = []
    current: list[_Unit] = []
    seen = _Repeats()
    for start, end in _paragraphs(body):
        if seen.is_repeat(body[start:end]):
            if current:
                runs.append(current)
            current = []
        else:
            current += _units(body, start, end, max_chars)
    if current:
        runs.append(current)
    return runs


class _Repeats:
    """Remembers an article's paragraphs to recognise one that comes again, verbatim or nearly.

    Near repeats are looked for only among paragraphs that begin or end with
    the same few characters — a re-rendered paragraph differs by a word or
    its punctuation, not at both ends — and only among the latest `_BUCKET`
    of those, so the check stays linear even when thousands of paragraphs
    open alike (a 4,000-paragraph list of "关于…的通知" items). Verbatim
    repeats are found wherever they are.
    """

    _EDGE = 6
    _BUCKET = 32

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._by_edge: dict[str, deque[set[str]]] = {}
        self.comparisons = 0

    def is_repeat(self, paragraph: str) -> bool:
        key = re.sub(r"[\W_]+", "", paragraph)  # ignore punctuation and spacing differences
        if len(key) < _REPEAT_MIN_CHARS:
            return False
        if key in self._keys:
            return True
        grams = {key[i:i + 2] for i in range(len(key) - 1)}
        edges = ("^" + key[:self._EDGE], "$" + key[-self._EDGE:])
        for edge in edges:
            for other in self._by_edge.get(edge, ()):
                self.comparisons += 1
                if len(grams & other) >= _NEAR_REPEAT * len(grams | other):
                    return True
        self._keys.add(key)
        for edge in edges:
            self._by_edge.setdefault(edge, deque(maxlen=self._BUCKET)).append(grams)
        return False


def _units(body: str, start: int, end: int, max_chars: int) -> list[_Unit]:
    """The paragraph body[start:end] as sentences, each sentence end taking its closing quotes along."""
    spans: list[tuple[int, int]] = []
    begin = i = start
    while i < end:
        if body[i] in SENTENCE_END:
            i += 1
            while i < end and (body[i] in SENTENCE_END or body[i] in CLOSERS):
                i += 1
            spans.append((begin, i))
            begin = i
        else:
            i += 1
    if begin < end:
        spans.append((begin, end))
    units: list[_Unit] = []
    for a, b in spans:
        for piece_start, piece_end in _cut(body, a, b, max_chars):
            text = body[piece_start:piece_end]
            lead, trail = len(text) - len(text.lstrip()), len(text) - len(text.rstrip())
            if piece_end - trail > piece_start + lead:
                units.append(_Unit(piece_start + lead, piece_end - trail))
    if len(units) == 1 and body[end - 1] not in SENTENCE_END + CLOSERS and end - start <= _HEADING_MAX:
        units[0] = _Unit(units[0].start, units[0].end, heading=True)
    return units


def _cut(body: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """A sentence longer than `max_chars` in pieces, each cut after the last comma that fits (or hard)."""
    pieces = []
    while end - start > max_chars:
        window = body[start:start + max_chars]
        pause = max(window.rfind(mark) for mark in _PAUSES)
        cut = start + pause + 1 if pause >= max_chars // 3 else start + max_chars
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _group(units: list[_Unit], min_chars: int, max_chars: int) -> list[list[_Unit]]:
    """Consecutive units packed into groups of at most `max_chars`, without a too-short last one.

    A unit longer than `max_chars` (a sentence between the packing capacity
    and the passage limit) is a group of its own.
    """
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in units:
        if current and unit.end - current[0].start > max_chars:
            carry: list[_Unit] = []
            if len(current) > 1 and current[-1].heading and unit.end - current[-1].start <= max_chars:
                carry = [current.pop()]  # a subheading opens the next passage instead of closing this one
            groups.append(current)
            current = carry
        current.append(unit)
    if groups and _span(current) < min_chars:
        previous = groups.pop()
        # Shift whole sentences back from the previous passage while both stay within bounds ...
        while (len(previous) > 1 and _span(current) < min_chars and _span(previous[:-1]) >= min_chars
               and current[-1].end - previous[-1].start <= max_chars):
            current.insert(0, previous.pop())
        # ... or, if that is not enough, merge the two when they fit in one.
        if _span(current) < min_chars and current[-1].end - previous[0].start <= max_chars:
            current = previous + current
        else:
            groups.append(previous)
    groups.append(current)
    return groups


def _with_overlap(previous: list[_Unit], group: list[_Unit], overlap_chars: int, max_chars: int) -> list[_Unit]:
    """`group` preceded by the whole trailing sentences of `previous` that fit in `overlap_chars`."""
    taken: list[_Unit] = []
    for unit in reversed(previous):
        if previous[-1].end - unit.start > overlap_chars or group[-1].end - unit.start > max_chars:
            break
        taken.insert(0, unit)
    return taken + group
