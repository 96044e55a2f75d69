"""Which articles an incremental build removes (`indexer.pipeline.stale_articles`), on files in a temporary
directory: the rule reads what exists on disk and what the read report says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.pipeline import Stored, stale_articles
from indexer.sources import Problem, ReadReport, source_name


def stored(origin: Path | str | None, source: str | None = "t") -> Stored:
    name = source_name(origin) if isinstance(origin, Path) else origin
    return Stored("hash", 1, name, source)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "town").mkdir(parents=True)
    for name in ("a.jsonl", "town/b.txt", "town/c.txt"):
        (root / name).write_text("x", encoding="utf-8")
    return root


def test_an_article_of_a_deleted_file_or_no_longer_in_its_file_is_removed(corpus: Path) -> None:
    gone = corpus / "town" / "gone.txt"  # recorded at the last build, deleted since
    known = {"kept": stored(corpus / "a.jsonl"), "renamed": stored(corpus / "a.jsonl"), "deleted": stored(gone)}
    assert stale_articles(known, {"kept"}, [corpus], ReadReport()) == ["deleted", "renamed"]


def test_a_file_read_with_a_problem_keeps_its_articles(corpus: Path) -> None:
    report = ReadReport(problems=[Problem(str(corpus / "town" / "b.txt"), None, "unreadable"),
                                  Problem(str(corpus / "a.jsonl"), 3, "not JSON")])
    known = {"page": stored(corpus / "town" / "b.txt"), "record": stored(corpus / "a.jsonl"),
             "other": stored(corpus / "town" / "c.txt")}
    assert stale_articles(known, set(), [corpus], report) == ["other"]
    # a note (the file was read, without some part of a record) is no such problem
    noted = ReadReport(problems=[Problem(str(corpus / "a.jsonl"), None, "fields not read", kept=True)])
    assert stale_articles({"record": stored(corpus / "a.jsonl")}, set(), [corpus], noted) == ["record"]


def test_only_articles_of_the_sources_read_are_candidates(corpus: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    sibling = tmp_path / "corpus-old" / "x.txt"  # a name that starts like the source's, outside it
    known = {"elsewhere": stored(elsewhere), "sibling": stored(sibling), "admin": stored(None, "admin"),
             "old": stored(None), "inside": stored(corpus / "town" / "gone.txt")}
    assert stale_articles(known, set(), [corpus / "town"], ReadReport()) == ["inside"]
    # one file as the source: only its own articles
    assert stale_articles({"a": stored(corpus / "a.jsonl"), "b": stored(corpus / "town" / "b.txt")}, set(),
                          [corpus / "a.jsonl"], ReadReport()) == ["a"]


def test_a_source_that_does_not_exist_removes_nothing(corpus: Path) -> None:
    known = {"a": stored(corpus / "a.jsonl")}
    (corpus / "a.jsonl").unlink()
    os.rename(corpus, corpus.with_name("unmounted"))
    assert stale_articles(known, set(), [corpus], ReadReport()) == []


def test_the_source_may_be_named_any_way(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus.parent)
    known = {"gone": stored(corpus / "town" / "gone.txt")}
    for spelling in ("corpus", "./corpus/", str(corpus), "corpus/town/../town"):
        assert stale_articles(known, set(), [spelling], ReadReport()) == ["gone"], spelling
