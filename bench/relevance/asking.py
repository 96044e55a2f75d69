"""Asking and framing words must not displace the subject: a short subject asked as is, as a question, framed.

Citizens type questions (垃圾分类怎么做, 高考什么时候, 地震怎么办) and frame searches (请问…, 我想了解一下…, …相关新闻).
The words that ask or frame (`govsearch.rules.asked`) say nothing about what is asked for, so the query should list
what the subject alone lists — articles about 地震, not the 怎么看 怎么办 column that holds the asking words verbatim.

Generated, not judged: the subjects are editors' keywords (`tags`) of one split's xwlb records — one keyword
each, 2-MAX_SUBJECT_CHARS Chinese characters, distinct, spread evenly over their sorted list — kept when at
least MIN_HOLDERS articles of the index hold the keyword verbatim in their title or body (normalized), so
ten such articles exist to be listed. Each is asked three times: as is (`plain`), as a question by one of
TEMPLATES (`question`, the i-th subject by the i-th template, in turn) and framed as citizens frame a search by
one of FRAMES (`framed`: 请问…, …相关新闻). Precision@10 = the share of the first ten hits that hold the subject
verbatim. A system that reads what the query asks about scores the same on every form; the gaps are what the
asking and framing words cost. Dev subjects come from the dev years' records of
the main index, held-out ones from the held-out years' records of their own index (aggregates only, as every
held-out figure).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.relevance.known_item import evenly, record_tags, year_of
from govsearch.rules import normalize_text

N_SUBJECTS = 150
N_CANDIDATES = 600  # keywords tried (evenly over the sorted list) before the MIN_HOLDERS check
MIN_HOLDERS = 10
MAX_SUBJECT_CHARS = 6
K = 10
TEMPLATES = ("{}是什么", "{}怎么办", "怎么{}", "{}有哪些", "{}在哪里", "{}什么时候")
"""Question frames, each with asking words of `govsearch.rules.ASKING` (是什么, 怎么办, 怎么, 哪些, 哪里, 什么时候)."""
FRAMES = ("请问{}", "我想了解一下{}", "{}相关新闻", "关于{}的消息", "{}最新情况", "想知道{}的情况")
"""How a citizen frames a search around its subject: a polite or wanting lead (请问, 我想了解一下, 想知道) and words
about the search's results (相关新闻, 的消息, 最新情况, 的情况)."""

_KEYWORD = re.compile(rf"[\u4e00-\u9fff]{{2,{MAX_SUBJECT_CHARS}}}")


@dataclass(frozen=True)
class Subject:
    """A keyword, the question and the framed search it is asked as, and the articles of the index holding it."""

    subject: str
    question: str
    framed: str
    holders: frozenset[str]  # article ids


def _norm(text: Any) -> str:
    return "".join(normalize_text(str(text or "")).split())


def texts_from_index(es: Any, alias: str) -> dict[str, str]:
    """Each article's title and body as one normalized string, by article id, read from the index asked."""
    from elasticsearch.helpers import scan

    return {hit["_source"]["article_id"]: _norm(hit["_source"].get("title")) + _norm(hit["_source"].get("body"))
            for hit in scan(es, index=alias, query={"query": {"term": {"doc_type": "article"}}},
                            _source=["article_id", "title", "body"])}


def keywords(records: Iterable[Mapping[str, Any]], years: frozenset[int]) -> list[str]:
    """The distinct single keywords (`_KEYWORD`) of the records of `years`, sorted."""
    found: set[str] = set()
    for record in records:
        if year_of(dict(record)) in years:
            found.update(tag for tag in map(_norm, record_tags(record)) if _KEYWORD.fullmatch(tag))
    return sorted(found)


def subjects(records: Iterable[Mapping[str, Any]], years: frozenset[int], texts: Mapping[str, str],
             n: int = N_SUBJECTS) -> list[Subject]:
    """Up to `n` subjects of the records of `years` that at least MIN_HOLDERS of `texts` hold, in order, each
    with its question (TEMPLATES in turn) and framed search (FRAMES in turn)."""
    held = []
    for keyword in evenly(keywords(records, years), N_CANDIDATES):
        holders = frozenset(article_id for article_id, text in texts.items() if keyword in text)
        if len(holders) >= MIN_HOLDERS:
            held.append((keyword, holders))
    return [Subject(keyword, TEMPLATES[i % len(TEMPLATES)].format(keyword), FRAMES[i % len(FRAMES)].format(keyword),
                    holders) for i, (keyword, holders) in enumerate(evenly(held, n))]


def precision(ranking: Sequence[str], holders: Container[str], k: int = K) -> float:
    """The share of the first `k` hits (article ids) that are among `holders` (`Subject.holders`, the articles holding
    the subject); a missing hit counts as none."""
    return sum(article_id in holders for article_id in ranking[:k]) / k
