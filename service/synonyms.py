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

Storage: the live set is one document in `SYNONYMS_INDEX`, written whole by `Synonyms.replace`; while the
index holds none, searches use the repo file's rules, and the first admin read (`GET /admin/synonyms`) stores
them there (the seed). Searches never write. Each process re-reads the document's version at most
`RULES_TTL` seconds after a change elsewhere and at once after a change it made itself; a set that cannot
be read leaves the previous one (or the repo file's) in place: synonyms never fail a search.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from govsearch.rules import normalize_text
from indexer.elastic import SYSTEM_WRITE_REFRESH
from service.sysindex import ensure_system_index

log = logging.getLogger(__name__)

RULES_TTL = 10.0
WRITE_TIMEOUT = 30.0
DOC_ID = "current"
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


@dataclass(frozen=True)
class StoredSynonyms:
    synonyms: SynonymSet
    version: int | None  # the document's version in SYNONYMS_INDEX; None: the repo file (not stored)
    updated: str | None


class Synonyms:
    """The live rules of every API process: read from Elasticsearch, seeded from the repo file."""

    def __init__(self, es: AsyncElasticsearch, index: str, seed: Path) -> None:
        self.es = es
        self.index = index
        self.seed = seed
        self._cache: tuple[float, StoredSynonyms] | None = None
        self._refreshing = asyncio.Lock()

    async def current(self) -> SynonymSet:
        """The rules to expand with (cached; see the module docstring). Never writes: while the index holds
        no set, searches use the repo file's. One version check at a time: searches arriving while it runs
        use the set they would have used a moment earlier (the first search of a process waits for it)."""
        if self._cache is not None and (not self._stale() or self._refreshing.locked()):
            return self._cache[1].synonyms
        async with self._refreshing:
            if self._cache is None or self._stale():
                try:
                    stored = await self._read(self._cache[1] if self._cache else None, seed=False)
                except Exception:
                    log.warning("synonyms: not readable from %s; keeping the previous set", self.index, exc_info=True)
                    stored = self._cache[1] if self._cache else self._file()
                self._cache = (time.monotonic(), stored)
            return self._cache[1].synonyms

    def _stale(self) -> bool:
        return self._cache is None or time.monotonic() - self._cache[0] > RULES_TTL

    async def stored(self) -> StoredSynonyms:
        """The rules as Elasticsearch holds them now, seeding the index from the repo file if it holds none."""
        stored = await self._read(None, seed=True)
        self._cache = (time.monotonic(), stored)
        return stored

    async def replace(self, synonyms: SynonymSet) -> StoredSynonyms:
        """Store `synonyms` as the whole set; this process uses it on return, the others within RULES_TTL."""
        stored = await self._write(synonyms, create=False)
        self._cache = (time.monotonic(), stored)
        return stored

    def _file(self) -> StoredSynonyms:
        return StoredSynonyms(SynonymSet.from_file(self.seed), None, None)

    async def _read(self, known: StoredSynonyms | None, *, seed: bool) -> StoredSynonyms:
        try:
            head = await self.es.get(index=self.index, id=DOC_ID, source=False)
        except NotFoundError:  # no index or no document yet
            if not seed:
                return known if known is not None and known.version is None else self._file()
            try:
                stored = await self._write(self._file().synonyms, create=True)
            except ConflictError:  # another replica seeded it (or an admin stored a set) meanwhile
                return await self._read(None, seed=False)
            log.info("synonyms: %s seeded from %s (%d rules)", self.index, self.seed, len(stored.synonyms.rules))
            return stored
        if known is not None and known.version == head["_version"]:
            return known
        document = await self.es.get(index=self.index, id=DOC_ID)
        source = document["_source"]
        return StoredSynonyms(SynonymSet(source["rules"]), document["_version"], source["updated"])

    async def _write(self, synonyms: SynonymSet, *, create: bool) -> StoredSynonyms:
        """Index the set as the one document (`create`: only if there is none), with an admin's patience:
        creating the index may take longer than a search may wait."""
        es = self.es.options(request_timeout=WRITE_TIMEOUT)
        await ensure_system_index(es, self.index, "synonyms")
        updated = _now()
        result = await es.index(index=self.index, id=DOC_ID, document={"rules": synonyms.lines, "updated": updated},
                                op_type="create" if create else "index", refresh=SYSTEM_WRITE_REFRESH)
        return StoredSynonyms(synonyms, result["_version"], updated)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
