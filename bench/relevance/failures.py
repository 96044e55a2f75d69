"""Why a known item missed rank 1: the dev split's misses sorted into causes (never the held-out split's).

`cause` compares the answer with the article ranked first, both read from the records the index was
built from (an article of the sample, which has no record, is "another article"), and names the
first of `CAUSES` that applies:

- `exact duplicate first`: the first article has the answer's title and body (normalized): a copy;
- `date word read as a filter`: the answer is not in the top 10 and the query holds a date word
  (`service.understanding.date_range`, e.g. 今年 in a title) whose range, read today, excludes its date;
- `not in the top 10`: the answer is not among the first 10 at all (not a candidate, or buried);
- `same title, another event`: the first article has the answer's title but another body (a recurring
  report: 习近平会见…, 李强主持召开国务院常务会议), so the query's words cannot tell them apart;
- `answer holds more of the query's parts`: of the query's space-separated parts (the editors'
  keywords), the answer's title + body hold more than the first article's — a ranking mistake;
- `both hold the same parts`: as many parts each (generic keywords, a column's name);
- `first holds more of the query's parts`: the keywords fit the other article better.

Invariant: only dev items are ever passed here; the held-out years' figures stay aggregates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from govsearch.rules import normalize_text
from service.query import coverage_segments
from service.understanding import date_range

CAUSES = (
    "exact duplicate first",
    "date word read as a filter",
    "not in the top 10",
    "same title, another event",
    "answer holds more of the query's parts",
    "both hold the same parts",
    "first holds more of the query's parts",
)


def _norm(text: Any) -> str:
    return "".join(normalize_text(str(text or "")).split())


def parts_held(query: str, record: Mapping[str, Any]) -> int:
    """How many of the query's parts (as the coverage clauses split it) the record's title + body hold."""
    text = _norm(record.get("title")) + _norm(record.get("body"))
    return sum(_norm(part) in text for part in coverage_segments(query))


def cause(query: str, answer: Mapping[str, Any], ranking: Sequence[str],
          records: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The cause (one of CAUSES) of a miss, or None when the answer (`answer`, a record) is ranked first.
    `ranking`: the article ids returned, best first; `records`: the index's records by article id."""
    from bench.relevance.known_item import article_id

    answer_id = article_id(answer)
    if ranking[:1] == [answer_id]:
        return None
    first = records.get(ranking[0], {}) if ranking else {}
    if first and _norm(first.get("title")) == _norm(answer.get("title")) and \
            _norm(first.get("body")) == _norm(answer.get("body")):
        return CAUSES[0]
    if answer_id not in ranking[:10]:
        return CAUSES[1] if _outside_understood_range(query, str(answer.get("date") or "")) else CAUSES[2]
    if first and _norm(first.get("title")) == _norm(answer.get("title")):
        return CAUSES[3]
    held, held_first = parts_held(query, answer), parts_held(query, first)
    return CAUSES[4] if held > held_first else CAUSES[5] if held == held_first else CAUSES[6]


def _outside_understood_range(query: str, day: str) -> bool:
    found = date_range(query, date.today())
    return found is not None and not (found[0][0].isoformat() <= day <= found[0][1].isoformat())


def counts(causes: Sequence[str | None]) -> dict[str, int]:
    """Misses per cause, in CAUSES order (every cause listed, 0 included)."""
    found = Counter(c for c in causes if c is not None)
    return {c: found[c] for c in CAUSES}
