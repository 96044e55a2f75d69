"""Plain words → official terms (同义词): what citizens type → what the articles say, applied at query time.

The rules are lines in one format, the repo's `data/synonyms.txt` (the seed) and `PUT /admin/synonyms`
alike (the same syntax as Solr / Elasticsearch synonym files):

    老人, 老人家 => 老年人        one-way: a query holding a plain word (left) also searches the official
                                   terms (right)
    防火, 消防                    equivalence: a query holding any term also searches the others
    # a comment                    comments and blank lines are ignored

Words and terms are compared after `normalize_text` (simplified, half-width) and lower-casing, as the
query is. `SynonymSet.expand` finds the rules' words in a query — longest first, never two overlapping
ones — and returns the terms the query does not already hold; `service.query` adds them to the BM25 side
as low-weight phrase clauses, so an article using only the official term is found and one matching the
typed words still ranks above it. The vector side is not expanded.

Storage: the live set is one document in `SYNONYMS_INDEX` (`service.ruledoc`), written whole by
`Synonyms.replace`; while the index holds none, searches use the repo file's rules, and the first admin read
(`GET /admin/synonyms`) stores them there (the seed). A set that cannot be read leaves the previous one (or
the repo file's) in place: synonyms never fail a search.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

from govsearch.rules import normalize_text
from service.ruledoc import RuleDocument

MAX_RULES = 5000
MAX_RULE_LINES = 10_000
"""Lines (rules, comments, blanks) a set may have; PUT bodies are capped by MAX_REQUEST_BYTES too."""
MAX_LINE_CHARS = 500
MAX_TERM_CHARS = 20
MAX_TERMS_PER_RULE = 20
MAX_EXPANSIONS = 8
"""Official terms one query adds at most (first found first): a long query stays a cheap request."""


class SynonymError(ValueError):
    """A rule that does not parse; `line` is 1-based."""

    def __init__(self, line: int, text: str, reason: str) -> None:
        super().__init__(f"line {line} ({text!r}): {reason}")
        self.line, self.text, self.reason = line, text, reason


@dataclass(frozen=True)
class Rule:
    words: tuple[str, ...]  # what a query holds for the rule to apply
    terms: tuple[str, ...]  # the official terms; an equivalence's terms are its words
    one_way: bool


@dataclass(frozen=True)
class Expansion:
    word: str  # the query's word that has a rule
    terms: tuple[str, ...]  # what is searched besides it

    def as_json(self) -> dict[str, Any]:
        return {"word": self.word, "terms": list(self.terms)}


def added_terms(expansions: Iterable[Expansion]) -> tuple[str, ...]:
    """Every term the `expansions` search besides the query's own words, in order."""
    return tuple(term for expansion in expansions for term in expansion.terms)


def _key(text: str) -> str:
    return normalize_text(text).strip().lower()


def _terms(side: str) -> tuple[str, ...]:
    terms = tuple(dict.fromkeys(_key(term) for term in side.split(",")))
    if any(not term for term in terms):
        raise ValueError("empty term (two commas, or a comma at an end)")
    if too_long := [term for term in terms if len(term) > MAX_TERM_CHARS]:
        raise ValueError(f"term {too_long[0]!r} is longer than {MAX_TERM_CHARS} characters")
    return terms


def parse_rule(text: str) -> Rule | None:
    """One line as a rule; None for a blank line or a comment. Raises ValueError saying what is wrong."""
    line = text.strip()
    if not line or line.startswith("#"):
        return None
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"longer than {MAX_LINE_CHARS} characters")
    if line.count("=>") > 1:
        raise ValueError("more than one '=>'")
    if "=>" in line:
        left, right = line.split("=>")
        words, terms = _terms(left), _terms(right)
        if both := set(words) & set(terms):
            raise ValueError(f"{sorted(both)[0]!r} is on both sides")
        rule = Rule(words, terms, one_way=True)
    else:
        terms = _terms(line)
        if len(terms) < 2:
            raise ValueError("an equivalence needs at least two terms (or use 'plain => official')")
        rule = Rule(terms, terms, one_way=False)
    if len(set(rule.words) | set(rule.terms)) > MAX_TERMS_PER_RULE:
        raise ValueError(f"more than {MAX_TERMS_PER_RULE} words and terms")
    return rule


class SynonymSet:
    """Parsed rules, ready to expand queries. `lines` keeps the text as given (comments included)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = [line.rstrip("\n") for line in lines]
        self.rules: list[Rule] = []
        for number, text in enumerate(self.lines, start=1):
            try:
                rule = parse_rule(text)
            except ValueError as exc:
                raise SynonymError(number, text.strip(), str(exc)) from None
            if rule is not None:
                self.rules.append(rule)
        if len(self.rules) > MAX_RULES:
            raise SynonymError(len(self.lines), "", f"more than {MAX_RULES} rules")
        expands: dict[str, dict[str, None]] = {}
        for rule in self.rules:
            for word in rule.words:
                expands.setdefault(word, {}).update(dict.fromkeys(t for t in rule.terms if t != word))
        # Longest words first: 老人家 wins over 老人, 煤气泄漏 over 煤气.
        self._words = sorted(expands, key=lambda w: (-len(w), w))
        self._expands = {word: tuple(terms) for word, terms in expands.items()}

    @classmethod
    def from_file(cls, path: Path) -> SynonymSet:
        return cls(path.read_text(encoding="utf-8").splitlines())

    def official_terms(self) -> set[str]:
        """Every term a rule adds: the one-way rules' right sides and every equivalence term."""
        return {term for rule in self.rules for term in rule.terms}

    def expand(self, q: str) -> list[Expansion]:
        """The rules' words found in `q` (normalised), longest first and not overlapping, each with the
        terms it adds that `q` does not hold already; at most MAX_EXPANSIONS terms in all."""
        text = _key(q)
        taken: list[tuple[int, int]] = []
        found: list[tuple[int, str]] = []
        for word in self._words:
            start = text.find(word)
            while start != -1:
                end = start + len(word)
                if all(end <= a or start >= b for a, b in taken):
                    taken.append((start, end))
                    found.append((start, word))
                    break
                start = text.find(word, start + 1)
        expansions: list[Expansion] = []
        added: set[str] = set()
        for _, word in sorted(found):
            terms = tuple(t for t in self._expands[word] if t not in text and t not in added)
            terms = terms[: MAX_EXPANSIONS - len(added)]
            if terms:
                expansions.append(Expansion(word, terms))
                added.update(terms)
        return expansions


class Synonyms(RuleDocument[SynonymSet]):
    """The live rules of every API process: read from Elasticsearch, seeded from the repo file."""

    def __init__(self, es: AsyncElasticsearch, index: str, seed: Path) -> None:
        super().__init__(es, index, mapping="synonyms", field="rules", parse=SynonymSet,
                         seed=lambda: SynonymSet.from_file(seed), name="synonyms")
