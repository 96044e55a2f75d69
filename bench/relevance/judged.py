"""The judged query set (`queries.json`) and the resolution of its article references.

Each judgment names an article by `article_id` and `title`. The id is what the
index returns; the title is for people, and for the day parsing changes and the
ids move: a judgment whose id no longer exists in the corpus is re-resolved by
its title, and one that resolves by neither stops the run with the list of
offenders (a silently dropped judgment would quietly inflate every score).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from indexer.sources import ReadReport, read_sources

log = logging.getLogger(__name__)

QUERIES_FILE = Path(__file__).with_name("queries.json")
KINDS = ("exact", "paraphrase", "name", "question", "typo", "colloquial", "traditional")


class JudgedSetError(ValueError):
    """The judged set is malformed or refers to articles that cannot be found."""


@dataclass(frozen=True)
class Judgment:
    article_id: str
    title: str
    grade: int


@dataclass
class JudgedQuery:
    id: str
    query: str
    kind: str
    citizen: bool
    judgments: list[Judgment]
    note: str | None = None
    intended: str | None = None  # typo queries: the words meant (what did_you_mean should propose)
    grades: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.grades = {j.article_id: j.grade for j in self.judgments}


@dataclass(frozen=True)
class Corpus:
    """The articles judgments may point at: article id -> title.

    Read from the index being evaluated (`from_index`), so judgments are checked
    against exactly what search can return; `from_sources` parses files the way
    the indexer does (article ids include the source path as it was spelled, so
    parse with the same spelling the index was built with: `data/sample`).
    """

    titles: dict[str, str]

    @classmethod
    def from_sources(cls, sources: Iterable[Path]) -> Corpus:
        report = ReadReport()
        titles = {a.article_id: a.title for a in read_sources(list(sources), report)}
        if not titles:
            raise JudgedSetError(f"no articles parsed from {[str(s) for s in sources]}")
        return cls(titles)

    @classmethod
    def from_index(cls, es: Any, alias: str) -> Corpus:
        from elasticsearch.helpers import scan

        titles = {hit["_source"]["article_id"]: hit["_source"].get("title", "")
                  for hit in scan(es, index=alias, query={"query": {"term": {"doc_type": "article"}}},
                                  _source=["article_id", "title"])}
        if not titles:
            raise JudgedSetError(f"index {alias} holds no articles")
        return cls(titles)

    def ids_by_title(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for article_id, title in self.titles.items():
            found[title].append(article_id)
        return found


def load(path: Path = QUERIES_FILE) -> list[JudgedQuery]:
    """Parse and validate the judged set (ids are not checked here; see `resolve`)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise JudgedSetError(f"cannot read judged set {path}: {exc}") from exc
    queries: list[JudgedQuery] = []
    seen: set[str] = set()
    for n, raw in enumerate(doc.get("queries", []), start=1):
        where = f"{path}: query #{n} ({raw.get('id', '?')})"
        try:
            judgments = [Judgment(str(j.get("article_id") or ""), str(j.get("title") or ""), int(j["grade"]))
                         for j in raw["judgments"]]
            q = JudgedQuery(id=str(raw["id"]), query=str(raw["query"]), kind=str(raw["kind"]),
                            citizen=bool(raw.get("citizen", False)), judgments=judgments, note=raw.get("note"),
                            intended=raw.get("intended"))
        except (KeyError, TypeError, ValueError) as exc:
            raise JudgedSetError(f"{where}: malformed ({exc!r})") from exc
        if q.id in seen:
            raise JudgedSetError(f"{where}: duplicate query id")
        seen.add(q.id)
        if q.kind not in KINDS:
            raise JudgedSetError(f"{where}: kind {q.kind!r} is not one of {KINDS}")
        if not q.query.strip():
            raise JudgedSetError(f"{where}: empty query text")
        if not any(j.grade > 0 for j in judgments):
            raise JudgedSetError(f"{where}: needs at least one judgment with grade 1-3")
        ids = [j.article_id or j.title for j in judgments]
        if len(set(ids)) != len(ids):
            raise JudgedSetError(f"{where}: an article is judged twice")
        bad = [j for j in judgments if j.grade not in (1, 2, 3)]
        if bad:
            raise JudgedSetError(f"{where}: grades must be 1, 2 or 3 (unlisted = 0), got {[j.grade for j in bad]}")
        queries.append(q)
    if not queries:
        raise JudgedSetError(f"{path}: no queries")
    return queries


def split(queries: list[JudgedQuery]) -> tuple[list[JudgedQuery], list[JudgedQuery]]:
    """(train, dev): within each kind, queries alternate in file order (1st, 3rd, ... train), so both
    halves hold every kind in proportion. The learned ranker trains on the first half only."""
    train: list[JudgedQuery] = []
    dev: list[JudgedQuery] = []
    seen: dict[str, int] = {}
    for q in queries:
        position = seen[q.kind] = seen.get(q.kind, -1) + 1
        (train if position % 2 == 0 else dev).append(q)
    return train, dev


def resolve(queries: list[JudgedQuery], corpus: Corpus) -> tuple[list[JudgedQuery], list[str]]:
    """The judged set with every judgment pointing at an article of `corpus`, and warnings.

    An id the corpus has is kept (a title that differs is only a warning). A
    missing or unknown id is replaced by the one article with the judgment's
    title. Anything else raises JudgedSetError listing every unresolved judgment.
    The queries passed in are not modified.
    """
    by_title = corpus.ids_by_title()
    warnings: list[str] = []
    unresolved: list[str] = []
    resolved: list[JudgedQuery] = []
    for q in queries:
        fixed: list[Judgment] = []
        for j in q.judgments:
            if j.article_id in corpus.titles:
                if j.title and corpus.titles[j.article_id] != j.title:
                    warnings.append(f"{q.id}: {j.article_id} is now titled {corpus.titles[j.article_id]!r}, "
                                    f"judged as {j.title!r}")
                fixed.append(j)
                continue
            candidates = by_title.get(j.title, [])
            if len(candidates) == 1:
                warnings.append(f"{q.id}: id {j.article_id or '(none)'} not found, resolved by title "
                                f"{j.title!r} -> {candidates[0]}")
                fixed.append(Judgment(candidates[0], j.title, j.grade))
            else:
                why = "no article has that title" if not candidates else f"{len(candidates)} articles have that title"
                unresolved.append(f"{q.id} {q.query!r}: id {j.article_id or '(none)'} unknown and title "
                                  f"{j.title!r}: {why}")
        resolved.append(replace(q, judgments=fixed))
    if unresolved:
        raise JudgedSetError("judgments that resolve to no article (fix bench/relevance/queries.json):\n  "
                             + "\n  ".join(unresolved))
    return resolved, warnings
