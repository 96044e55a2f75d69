"""`python -m indexer.userdict`: mine the user dictionary of `jieba_tokenizer` (mappings/userdict.txt).

The words a general dictionary lacks but our articles use as units: towns, villages, offices and
people of the township newsletters, and the policy terms of national news. Sources:

- the sample's metadata: publishers, towns, departments (`ns`/`nt`);
- place names in the sample's text, by their suffix (协西村, 泖港镇: `ns`), and people named right
  after their post (镇党委书记王卫中: `nr`), seen at least `MIN_PATTERN_COUNT` times and only if their
  first two characters are rare in national news (fewer than `MAX_NEWS_COUNT` times in the
  training years), which tells 协西村 from 推进镇 (…推进镇村建设);
- the editors' keyword tags of xwlb records of the *training* years only (govsearch.splits:
  never the held-out 2012/2013, never the dev years whose tags are known-item queries): tags of
  3-6 Chinese characters used at least `MIN_TAG_COUNT` times (河长制, 禁捕退捕: `n`).

Output format (checked by the plugin's UserDictionary): UTF-8, one `word frequency tag` line per
word, sorted, no comments. The file is meant to be edited: add a line, restart the node (the
dictionary is read once per JVM) and rebuild the index. A frequency of `WORD_FREQUENCY` is high
against the parts of such words in jieba's dictionary, so the word wins over its split.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from govsearch.paths import MAPPINGS_DIR, SAMPLE_CORPUS, XWLB_CORPUS
from govsearch.splits import TRAIN_YEARS
from indexer.sources import ReadReport, read_sources

USERDICT = MAPPINGS_DIR / "userdict.txt"
WORD_FREQUENCY = 3000
MIN_PATTERN_COUNT = 2
MIN_TAG_COUNT = 3
MAX_NEWS_COUNT = 30

_CJK = "\u4e00-\u9fff"
_ONLY_CJK = re.compile(f"[{_CJK}]+")
# A two-character name and an administrative suffix; the name must not start with a function or
# determiner character (本村, 各镇, 全区 are not names).
_PLACE = re.compile(f"([{_CJK}]{{2}}(?:镇|村|街道))")
_PERSON = re.compile(f"(?:书记|镇长|主任|部长|局长|主席|所长|站长)([{_CJK}]{{2,3}}?)"
                     "(?=[，,、。；;（(]|主持|出席|参加|表示|指出|强调|带队|介绍|讲话)")
_NOT_A_NAME_START = set("在到至于从对向为与和及本各全每该此我其这那一两几多同原新老大小上下前后中内外")
# ... nor contain a character of the common words that end like names (美丽乡村, 城镇, 进农村).
_NOT_IN_A_NAME = set("乡农城市")
_TAG_SPLIT = re.compile(r"[,，、;；\s]+")


def _is_name(word: str) -> bool:
    return (bool(_ONLY_CJK.fullmatch(word)) and word[0] not in _NOT_A_NAME_START
            and not _NOT_IN_A_NAME.intersection(word[:2]))


def metadata_terms(sample: Path) -> dict[str, str]:
    """Publishers, towns and departments of the sample's articles, with their jieba tag."""
    terms: dict[str, str] = {}
    for article in read_sources([sample], ReadReport()):
        for value in (article.town, article.publisher, article.department):
            if value and _ONLY_CJK.fullmatch(value) and len(value) >= 3:
                terms[value] = "ns" if value.endswith(("镇", "村", "街道")) else "nt"
    return terms


def pattern_terms(texts: Iterable[str], news: Iterable[str]) -> dict[str, str]:
    """Places and people found by their context at least MIN_PATTERN_COUNT times in `texts` whose first
    two characters occur fewer than MAX_NEWS_COUNT times in `news`."""
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        for pattern, tag in ((_PLACE, "ns"), (_PERSON, "nr")):
            for match in pattern.finditer(text):
                word = match.group(1)
                if _is_name(word):
                    counts[(word, tag)] += 1
    found = {word: tag for (word, tag), n in counts.items() if n >= MIN_PATTERN_COUNT}
    in_news: Counter[str] = Counter()
    stems = {word[:2] for word in found}
    for text in news:
        for stem in stems:
            in_news[stem] += text.count(stem)
    return {word: tag for word, tag in found.items() if in_news[word[:2]] < MAX_NEWS_COUNT}


def _records(xwlb: Path, years: Iterable[int]) -> Iterator[dict[str, object]]:
    for year in sorted(years):
        path = xwlb / f"xwlb-{year}.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def tag_terms(xwlb: Path, years: Iterable[int] = TRAIN_YEARS) -> dict[str, str]:
    """Editors' keyword tags of 3-6 Chinese characters used at least MIN_TAG_COUNT times in `years`."""
    counts: Counter[str] = Counter()
    for record in _records(xwlb, years):
        tags = record.get("tags") or ""
        parts = tags if isinstance(tags, list) else _TAG_SPLIT.split(str(tags))
        counts.update({str(p).strip() for p in parts})
    return {tag: "n" for tag, n in counts.items() if n >= MIN_TAG_COUNT and 3 <= len(tag) <= 6
            and _ONLY_CJK.fullmatch(tag)}


def mine(sample: Path = SAMPLE_CORPUS, xwlb: Path = XWLB_CORPUS) -> dict[str, str]:
    """Every mined word with its tag; a word found by several sources keeps the most specific tag
    (metadata over patterns over tags)."""
    texts = [f"{a.title}\n{a.body}" for a in read_sources([sample], ReadReport())]
    news = (f"{r.get('title') or ''}\n{r.get('body') or ''}" for r in _records(xwlb, TRAIN_YEARS))
    words = tag_terms(xwlb)
    words.update(pattern_terms(texts, news))
    metadata = metadata_terms(sample)
    # A pattern's cut of a longer known name (湖山镇 of 泗湖山镇) is not a word.
    for word in [w for w in words if any(w != m and w in m for m in metadata)]:
        del words[word]
    words.update(metadata)
    return words


def render(words: dict[str, str]) -> str:
    return "".join(f"{word} {WORD_FREQUENCY} {tag}\n" for word, tag in sorted(words.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer.userdict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, default=SAMPLE_CORPUS, help="township articles (default: %(default)s)")
    parser.add_argument("--xwlb", type=Path, default=XWLB_CORPUS, help="xwlb JSONL per year (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=USERDICT, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    words = mine(args.sample, args.xwlb)
    args.out.write_text(render(words), encoding="utf-8")
    by_tag = Counter(words.values())
    print(f"wrote {len(words)} words to {args.out} ({', '.join(f'{t} {n}' for t, n in sorted(by_tag.items()))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
