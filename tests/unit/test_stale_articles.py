"""Which articles an incremental build removes (`indexer.pipeline.stale_articles`), on files in a temporary
directory: the rule reads what exists on disk and what the read report says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from govsearch.paths import PROJECT_ROOT, SAMPLE_CORPUS
from indexer.pipeline import Stored, stale_articles
from indexer.sources import Problem, ReadReport, source_name


def stored(origin: Path | str | None) -> Stored:
    return Stored("hash", 1, source_name(origin) if isinstance(origin, Path) else origin)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "town").mkdir(parents=True)
    for name in ("a.jsonl", "town/b.txt", "town/c.txt"):
        (root / name).write_text("x", encoding="utf-8")
    return root


def stale(known: dict[str, Stored], seen: set[str], sources: list, report: ReadReport | None = None, *,
          read: list[Path], keep: set[str] | None = None) -> list[str]:
    return stale_articles(known, seen, sources, report or ReadReport(), read={source_name(p) for p in read},
                          keep=keep or set())


def test_an_article_of_a_deleted_file_or_no_longer_in_its_file_is_removed(corpus: Path) -> None:
    gone = corpus / "town" / "gone.txt"  # recorded at the last build, deleted since
    known = {"kept": stored(corpus / "a.jsonl"), "renamed": stored(corpus / "a.jsonl"), "deleted": stored(gone)}
    assert stale(known, {"kept"}, [corpus], read=[corpus / "a.jsonl"]) == ["deleted", "renamed"]


def test_a_file_or_directory_read_with_a_problem_keeps_its_articles(corpus: Path) -> None:
    report = ReadReport(problems=[Problem(str(corpus / "town" / "b.txt"), None, "unreadable"),
                                  Problem(str(corpus / "a.jsonl"), 3, "not JSON")])
    known = {"page": stored(corpus / "town" / "b.txt"), "record": stored(corpus / "a.jsonl"),
             "other": stored(corpus / "town" / "c.txt")}
    assert stale(known, set(), [corpus], report, read=[corpus / "a.jsonl"]) == ["other"]
    # a note (the file was read, without some part of a record) is no such problem
    noted = ReadReport(problems=[Problem(str(corpus / "a.jsonl"), None, "fields not read", kept=True)])
    assert stale({"record": stored(corpus / "a.jsonl")}, set(), [corpus], noted, read=[corpus / "town/c.txt"]) == \
        ["record"]
    # a directory that could not be listed keeps every article under it
    listed = ReadReport(problems=[Problem(str(corpus / "town"), None, "unreadable directory")])
    assert stale(known, set(), [corpus], listed, read=[corpus / "a.jsonl"]) == ["record"]


def test_a_symbolic_link_not_followed_keeps_the_articles_of_the_file_it_replaced(corpus: Path, tmp_path: Path) -> None:
    known = {"linked": stored(corpus / "a.jsonl"), "sub": stored(corpus / "town" / "b.txt")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.replace(corpus / "a.jsonl", elsewhere / "a.jsonl")
    (corpus / "a.jsonl").symlink_to(elsewhere / "a.jsonl")
    os.replace(corpus / "town", elsewhere / "town")
    (corpus / "town").symlink_to(elsewhere / "town")
    report = ReadReport(problems=[Problem(str(corpus / "a.jsonl"), None, "symbolic link, not followed"),
                                  Problem(str(corpus / "town"), None, "symbolic link, not followed")])
    (corpus / "new.txt").write_text("x", encoding="utf-8")
    assert stale(known, set(), [corpus], report, read=[corpus / "new.txt"]) == []


def test_only_articles_of_the_sources_read_are_candidates(corpus: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    sibling = tmp_path / "corpus-old" / "x.txt"  # a name that starts like the source's, outside it
    known = {"elsewhere": stored(elsewhere), "sibling": stored(sibling), "admin": stored(None),
             "inside": stored(corpus / "town" / "gone.txt"), "journaled": stored(corpus / "town" / "old.txt")}
    assert stale(known, set(), [corpus / "town"], read=[corpus / "town" / "b.txt"], keep={"journaled"}) == ["inside"]
    # one file as the source: only its own articles
    assert stale({"a": stored(corpus / "a.jsonl"), "b": stored(corpus / "town" / "b.txt")}, set(),
                 [corpus / "a.jsonl"], read=[corpus / "a.jsonl"]) == ["a"]


def test_a_source_that_does_not_exist_or_where_nothing_was_read_removes_nothing(corpus: Path) -> None:
    known = {"a": stored(corpus / "a.jsonl"), "b": stored(corpus / "town" / "b.txt")}
    for name in ("a.jsonl", "town/b.txt", "town/c.txt"):
        (corpus / name).unlink()
    report = ReadReport()
    assert stale(known, set(), [corpus], report, read=[]) == []  # an empty mount point
    (note,) = report.problems
    assert note.kept and "no file was read here this time: the 2 articles recorded from it are kept" in note.reason
    os.rename(corpus, corpus.with_name("unmounted"))
    assert stale(known, set(), [corpus], read=[]) == []


def test_the_source_may_be_named_any_way(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus.parent)
    known = {"gone": stored(corpus / "town" / "gone.txt")}
    for spelling in ("corpus", "./corpus/", str(corpus), "corpus/town/../town", "."):
        assert stale(known, set(), [spelling], read=[corpus / "town" / "b.txt"]) == ["gone"], spelling


def test_the_project_itself_as_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # inside the project a file is named relative to it: data/…, under "."
    known = {"gone": Stored("hash", 1, "data/no-such-dir/gone.txt")}
    read = {source_name(next(SAMPLE_CORPUS.glob("*.txt")))}
    assert stale_articles(known, set(), ["."], ReadReport(), read=read) == ["gone"]
