"""Files and directories → a stream of articles, with an account of everything that was skipped.

Two kinds of input: scraped pages (.txt, or .html/.htm reduced to their
text) go through the newsletter parser; JSON Lines records (.jsonl, and
.json read as JSON Lines) `{id, title, date, source, url, body, ...}` become
one article each. Bad data never stops a build: an unreadable file, a line
that is not JSON, a record without a title or body is recorded as a
`Problem` (path and line) in the caller's `ReadReport` and skipped.

Everything streams: files are visited one at a time in sorted order (so two
builds see the same articles in the same order) and JSONL is read line by
line, so a 100k-record corpus never sits in memory at once.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from govsearch.paths import PROJECT_ROOT
from govsearch.rules import find_doc_number
from govsearch.schema import Article, in_the_future
from indexer.documents import derive_town, looks_like_government_body, make_article_id, normalize_date
from indexer.newsletter import parse_newsletter

PAGE_SUFFIXES = {".txt", ".html", ".htm"}
RECORD_SUFFIXES = {".jsonl", ".json"}


@dataclass
class Problem:
    path: str
    line: int | None  # 1-based line of a JSONL record (item of a .json array); None for a whole file
    reason: str
    kept: bool = False  # True: a note; what it is about was indexed, without the part the reason names


@dataclass
class ReadReport:
    files_read: int = 0
    files_skipped: int = 0  # unsupported extension, or unreadable
    records_read: int = 0
    records_skipped: int = 0
    articles: int = 0
    problems: list[Problem] = field(default_factory=list)


def source_name(path: Path) -> str:
    """One name per file however it was named on the command line or in an admin request
    (`data/sample`, `./data/sample/`, an absolute path): article ids are derived from it, so
    the same file must always give the same ids. Inside the project: relative to it."""
    resolved = path.resolve()
    return str(resolved.relative_to(PROJECT_ROOT)) if resolved.is_relative_to(PROJECT_ROOT) else str(resolved)


def read_sources(paths: Iterable[str | Path], report: ReadReport) -> Iterator[Article]:
    """Every article in the given files and directories (walked recursively, in sorted order).

    Hidden files and directories (".git", ".DS_Store") are not walked into.
    Files with other extensions are skipped and counted in `files_skipped`.
    Symbolic links met while walking are not followed (reported as skipped): a link could lead
    outside the directories an admin may index, or back into itself.
    Each article's `origin` is its file's `source_name`. A date in the future (`govsearch.schema.in_the_future`:
    a typo, or a page's 生效日期 read as its date) is dropped, with a note: the article is indexed undated. A file
    named twice (a directory and a file in it) is read once.
    An article whose id was read already (a JSONL id repeated, in one file or another) is skipped and
    reported: the first is kept whole. Indexed both, the second would replace the first's article
    document and only as many of its passages as it has itself, mixing the two.
    """
    first_seen: dict[str, str] = {}
    files_seen: set[str] = set()
    for path in paths:
        path = Path(path)
        if not path.exists():
            report.files_skipped += 1
            report.problems.append(Problem(str(path), None, "no such file or directory"))
            continue
        for file in _walk(path, report) if path.is_dir() else [path]:
            origin = source_name(file)
            if origin in files_seen:  # named twice (a directory and a file in it): read once
                continue
            files_seen.add(origin)
            for article, line in _read_file(file, report):
                article = article.model_copy(update={"origin": origin})
                if article.date is not None and in_the_future(article.date):
                    report.problems.append(Problem(str(file), line, f"article {article.article_id} "
                                                   f"({article.title[:30]!r}) is dated {article.date}, in the "
                                                   "future: indexed without a date", kept=True))
                    article = article.model_copy(update={"date": None})
                if article.article_id in first_seen:
                    report.records_read -= 1  # read, but not taken: counted as skipped only
                    report.records_skipped += 1
                    report.problems.append(Problem(str(file), line, f"article {article.article_id} "
                                                   f"({article.title[:30]!r}) has the id of one read before from "
                                                   f"{first_seen[article.article_id]}: skipped, the first is kept"))
                    continue
                first_seen[article.article_id] = str(file) if line is None else f"{file} line {line}"
                report.articles += 1
                yield article


def _walk(directory: Path, report: ReadReport) -> Iterator[Path]:
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:  # a directory that cannot be listed is reported, as an unreadable file is
        report.files_skipped += 1
        report.problems.append(Problem(str(directory), None, f"unreadable directory: {exc.strerror or exc}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            report.files_skipped += 1
            report.problems.append(Problem(str(entry), None, "symbolic link, not followed"))
        elif entry.is_dir():
            yield from _walk(entry, report)
        else:
            yield entry


def _read_file(path: Path, report: ReadReport) -> Iterator[tuple[Article, int | None]]:
    """The file's articles, each with the line of the record it was read from (None for a page's)."""
    suffix = path.suffix.lower()
    if suffix in RECORD_SUFFIXES:
        yield from _read_records(path, report)
    elif suffix in PAGE_SUFFIXES:
        yield from _read_page(path, report)
    else:
        _skip_file(path, report, f"not read: only {', '.join(sorted(PAGE_SUFFIXES))} pages and "
                   f"{', '.join(sorted(RECORD_SUFFIXES))} records are")


def _read_page(path: Path, report: ReadReport) -> Iterator[tuple[Article, None]]:
    """A scraped page in UTF-8, UTF-16 with a byte-order mark, or GB18030 (`page_text`)."""
    html = path.suffix.lower() in {".html", ".htm"}
    try:
        text = page_text(path.read_bytes(), html=html)
    except UnicodeDecodeError as exc:
        _skip_file(path, report, str(exc.reason))
        return
    except OSError as exc:
        _skip_file(path, report, f"unreadable: {exc.strerror or exc}")
        return
    report.files_read += 1
    if html:
        text = _html_to_text(text)
    try:
        articles = parse_newsletter(text, source_name(path))
    except ValueError as exc:  # an article of it cannot be stored
        report.problems.append(Problem(str(path), None, f"no article indexed: {_reason(exc)}"))
        return
    if not articles:
        report.problems.append(Problem(str(path), None, "no article found in the page"))
    for article in articles:
        yield article, None


_GB = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_DAMAGED_SHARE = 0.01


def page_text(raw: bytes, *, html: bool = False) -> str:
    """A page's text, as the county's editors save it: UTF-8 (with or without a byte-order mark), UTF-16 with
    one, or GB18030 (of which GBK and GB2312 are parts) — when an HTML page declares a GB charset, or when the
    bytes are not UTF-8 at all. A UTF-8 page with a few bad bytes stays UTF-8 and is refused (read as GB18030 it
    would become mojibake, silently). UnicodeDecodeError (its `reason` says why, in words) when none fits."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    declared = _CHARSET.search(raw[:4096]) if html else None
    if declared and declared.group(1).decode("ascii").lower() in _GB:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise _undecodable(exc, f"not {declared.group(1).decode()} text as the page declares "
                                    f"({exc.reason} at byte {exc.start})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw.decode("utf-8", errors="replace").count("\ufffd")
        if bad <= max(3, _DAMAGED_SHARE * sum(byte >= 0x80 for byte in raw)):
            raise _undecodable(exc, f"not UTF-8 text ({exc.reason} at byte {exc.start}; {bad} bad bytes: a damaged "
                                    "UTF-8 file?)") from None
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            raise _undecodable(exc, f"neither UTF-8 nor GB18030 (GBK) text ({exc.reason} at byte {exc.start})"
                               ) from None


def _undecodable(exc: UnicodeDecodeError, reason: str) -> UnicodeDecodeError:
    return UnicodeDecodeError(exc.encoding, exc.object, exc.start, exc.end, reason)


def _skip_file(path: Path, report: ReadReport, reason: str) -> None:
    report.files_skipped += 1
    report.problems.append(Problem(str(path), None, reason))


def _read_records(path: Path, report: ReadReport) -> Iterator[tuple[Article, int]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        _skip_file(path, report, f"unreadable: {exc.strerror or exc}")
        return
    report.files_read += 1
    titles: Counter[str] = Counter()
    unread = _Unread()
    with handle:
        for number, raw in _record_texts(path, handle):
            if isinstance(raw, bytes) and not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8-sig")) if isinstance(raw, bytes) else raw
                article = _record_article(record, path, titles)
            except ValueError as exc:  # also UnicodeDecodeError and json.JSONDecodeError
                report.records_skipped += 1
                report.problems.append(Problem(str(path), number, _reason(exc)))
                continue
            unread.note(record, article, number)
            report.records_read += 1
            yield article, number
    report.problems.extend(Problem(str(path), line, reason, kept=True) for line, reason in unread.notes())


RECORD_FIELDS = frozenset({"id", "title", "body", "date", "source", "url", "publisher", "town", "department",
                           "section", "newsletter", "doc_number"})
"""What a record's fields may be; `tags`, `level` or a misspelt `publish_date` are not read, and said so."""


class _Unread:
    """What a file's records held that was not read, for one note per kind at the end of the file (a corpus
    of 100,000 records with `tags` gets one note, not 100,000): fields the indexer does not know, fields that
    are not text, and dates not understood."""

    def __init__(self) -> None:
        self.unknown: Counter[str] = Counter()
        self.not_text: Counter[str] = Counter()
        self.dates: list[tuple[int, object]] = []  # (line, value) of each date not understood

    def note(self, record: dict[str, Any], article: Article, line: int) -> None:
        self.unknown.update(name for name in record if name not in RECORD_FIELDS)
        self.not_text.update(name for name in RECORD_FIELDS - {"id", "date", "body"}
                             if record.get(name) is not None and not isinstance(record[name], str))
        if record.get("date") not in (None, "") and article.date is None:
            self.dates.append((line, record["date"]))

    def notes(self) -> Iterator[tuple[int | None, str]]:
        if self.unknown:
            yield None, "fields not read (not record fields): " + _counted(self.unknown)
        if self.not_text:
            yield None, "fields not read (not text): " + _counted(self.not_text)
        if self.dates:
            line, value = self.dates[0]
            yield line, (f"date {value!r} is not a day (YYYY-MM-DD, 2024年3月5日, 20240305, …): indexed without a date"
                         + (f"; {len(self.dates) - 1} more record{'s' if len(self.dates) > 2 else ''} like it"
                            if len(self.dates) > 1 else ""))


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{name} ({count} record{'s' if count > 1 else ''})" for name, count in sorted(counter.items()))


def _record_texts(path: Path, handle: Any) -> Iterator[tuple[int, Any]]:
    """(number, record) of a records file: JSON Lines, each line's bytes numbered by line; or, for a .json file
    holding one JSON array (pretty-printed, as exports often are), its items numbered from 1. A .json file
    that is no valid array is read as JSON Lines, so its problems still say where."""
    if path.suffix.lower() == ".json":
        head = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        handle.seek(0)
        if head.startswith(b"["):
            try:
                items = json.loads(handle.read().decode("utf-8-sig"))
            except ValueError:
                handle.seek(0)
            else:
                yield from enumerate(items if isinstance(items, list) else [items], start=1)
                return
    yield from enumerate(handle, start=1)


def _reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):  # the article cannot be stored (`govsearch.schema.unstorable`)
        return "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 ({exc.reason})"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return str(exc)


def _text_field(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


_MARKUP = re.compile(r"</?(?:p|br|div|span|script|style|table|tr|td|li|ul|ol|h[1-6]|a|img|strong|b|font)\b[^>]*>"
                     r"|&(?:nbsp|amp|lt|gt|quot|#\d+|#x[0-9a-f]+);", re.IGNORECASE)
"""What tells a record's body is HTML, not the plain text records hold."""


def _record_article(record: Any, path: Path, titles: Counter[str]) -> Article:
    """One JSONL record as an article; ValueError says why it cannot be one."""
    if not isinstance(record, dict):
        raise ValueError("record is not a JSON object")
    title, body = _text_field(record, "title"), record.get("body")
    for name, value in (("title", record.get("title")), ("body", body)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"record's {name} is not text ({type(value).__name__}: {str(value)[:30]!r})")
    if title is None:
        raise ValueError("record has no title")
    if not isinstance(body, str) or not body.strip():
        raise ValueError("record has no body")
    if _MARKUP.search(body):  # a body copied from a web page: its text, not its tags and &nbsp;
        body = _html_to_text(body)
    body = "\n".join(line for line in (re.sub(r"[^\S\n]+", " ", raw).strip() for raw in body.splitlines()) if line)
    record_source = _text_field(record, "source")
    publisher = _text_field(record, "publisher") or (record_source if looks_like_government_body(record_source)
                                                     else None)
    record_id = record.get("id")
    if isinstance(record_id, (str, int)) and str(record_id).strip():
        # Corpus ids (xwlb-…, gwr-national-2025) are unique across files; hashing keeps ids one shape.
        article_id = make_article_id("record", str(record_id).strip())
    else:
        titles[title] += 1
        article_id = make_article_id(source_name(path), title, str(titles[title]))
    return Article(
        article_id=article_id,
        title=title,
        body=body,
        publisher=publisher,
        # Record corpora are national and provincial news as often as township news, and their titles
        # name places of every level ("中国景德镇", "浙江乌镇"): only an explicit field or a township
        # publisher says which town a record belongs to.
        town=_text_field(record, "town") or derive_town(publisher, "", ""),
        date=normalize_date(record.get("date")),
        department=_text_field(record, "department"),
        section=_text_field(record, "section"),
        source=record_source or source_name(path),
        url=_text_field(record, "url"),
        newsletter=_text_field(record, "newsletter"),
        doc_number=_text_field(record, "doc_number") or find_doc_number(title),
    )


# --- HTML pages ---------------------------------------------------------------------------------------------

class _TextExtractor(HTMLParser):
    """Visible text with block elements on their own lines — the shape the page parser expects.

    Left out: what is never the article (scripts, styles, the <title>, which repeats the heading plus the site's
    name) and the site's furniture around it — <nav>, <header>, <footer>, <aside>, forms and buttons, and elements
    whose class or id names the furniture exactly (nav, menu, crumb, share, footer, …: `_FURNITURE`). A table
    row is one line, its cells joined and ended by "；" (cells on lines of their own read as headings: 村名 / 得分 /
    团结村 became articles)."""

    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
               "section", "article", "table", "ul", "ol", "dd", "dt", "blockquote"}
    _HIDDEN = {"title", "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
               "button", "select", "textarea"}
    _FURNITURE = {"nav", "navbar", "menu", "header", "footer", "crumb", "crumbs", "breadcrumb", "share", "search",
                  "sidebar", "prevnext", "pagination", "pager", "copyright", "toolbar", "topbar"}
    _VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
             "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._open: list[tuple[str, bool]] = []  # the open non-void elements, each with whether it lies in one left out
        self._cells = 0  # cells started in the current table row

    @property
    def _hidden(self) -> bool:
        return bool(self._open) and self._open[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {token.lower() for name, value in attrs if name in ("class", "id") and value for token in value.split()}
        if tag not in self._VOID:
            self._open.append((tag, self._hidden or tag in self._HIDDEN or bool(names & self._FURNITURE)))
        if tag == "tr":
            self._cells = 0
        elif tag in ("td", "th"):
            if self._cells and not self._hidden:
                self.parts.append("；")
            self._cells += 1
        if tag in self._BLOCKS and not self._hidden:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._VOID:
            return
        for depth in range(len(self._open) - 1, -1, -1):  # close up to the matching tag (unclosed <p>, <li> …)
            if self._open[depth][0] == tag:
                hidden = self._hidden
                del self._open[depth:]
                if tag == "tr" and self._cells and not hidden:
                    self.parts.append("；")  # a row ends like a clause: never glued to the next as a broken line
                if tag in self._BLOCKS and not hidden:
                    self.parts.append("\n")
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data.replace("\n", " "))


def _html_to_text(html: str) -> str:
    """An HTML page reduced to lines of text (newlines inside a paragraph's source are layout, not breaks)."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.parts)
