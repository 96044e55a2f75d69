"""The article and its passages: every field defined once, here.

`ArticleMetadata` lists what a reader knows about an article besides its text. Everything
else is derived from it:

- the indexer's `Article` record (metadata + id + body) and the admin input model
  (`service.schemas.ArticleIn`) inherit it;
- the API's search hit and article view (`service.schemas.Hit`, `ArticleView`) inherit it;
- `METADATA_FIELDS` is its field list: what every Elasticsearch document of an article
  carries (`index_fields`), what a search fetches (`HIT_SOURCE_FIELDS`) and what decides
  whether an article changed (`content_hash`).

Adding a field is one line in `ArticleMetadata` and its mapping in `mappings/articles.json`
(a test checks that every field here is mapped).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, timedelta
from datetime import date as _date
from datetime import datetime as _datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from govsearch.rules import normalize_doc_number, normalize_text


def in_the_future(day: str) -> bool:
    """Whether an article's `YYYY-MM-DD` is after tomorrow (UTC, so that every time zone's today passes): no
    article was published then. A typo such as 2099-12-31 would sort first under sort=date for good and fall
    inside every 一周内 filter."""
    return day > (_datetime.now(UTC).date() + timedelta(days=1)).isoformat()


def _real_day(value: str | None) -> str | None:
    if value is not None:
        _date.fromisoformat(value)  # 2023-02-30 matches the pattern but is no day
    return value


# `format: date` tells the OpenAPI contract what the validator enforces: a real day, not only the shape.
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"}),
                    AfterValidator(_real_day)]


class ArticleMetadata(BaseModel):
    """What is known about an article besides its text. Every document of the article (the
    article document and each passage document) carries these, so passages filter and group alone."""

    model_config = ConfigDict(frozen=True)

    title: str = Field(description="The article's headline.")
    publisher: str | None = Field(None, description="The government body that published it "
                                  "(上海市崇明区港西镇人民政府), or null.")
    town: str | None = Field(None, description="The township the article is about (港西镇), or null.")
    date: IsoDate | None = Field(None, description="YYYY-MM-DD, or null when the source gives no date "
                                 "(a date is never guessed).")
    department: str | None = Field(None, description="The office that wrote it (党群办), or null.")
    section: str | None = Field(None, description="The newsletter section it appeared in (工作动态), or null.")
    newsletter: str | None = Field(None, description="The newsletter issue it was cut from (港西动态 第3期), or null.")
    doc_number: str | None = Field(None, description="The official document number (崇港委〔2022〕171号), or null.")
    source: str | None = Field(None, description="Where it was read from: a corpus record's source, a file "
                               "path, or `admin`.")
    url: str | None = Field(None, description="Its address on the publisher's site, or null.")


METADATA_FIELDS: tuple[str, ...] = tuple(ArticleMetadata.model_fields)
"""The metadata field names, in declaration order."""

LABEL_FIELDS: tuple[str, ...] = ("publisher", "town", "department", "section", "newsletter", "doc_number", "source")
"""The metadata stored as one keyword each (filtered, faceted, shown): short names, not text."""

MAX_LABEL_CHARS = 200
"""A label's length at most: names run to ~30 characters, and Elasticsearch refuses a keyword over 32,766 bytes,
a refusal that would fail a build or a journal replay."""

MAX_TITLE_CHARS = 500
MAX_URL_CHARS = 2000

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def unstorable(name: str, value: str) -> str | None:
    """Why a field's text cannot be stored (too long for its kind, or an unpaired UTF-16 surrogate, which no
    UTF-8 text can hold: half of an emoji cut by the tool that wrote the record); None when it can."""
    limit = MAX_LABEL_CHARS if name in LABEL_FIELDS else MAX_TITLE_CHARS if name == "title" else (
        MAX_URL_CHARS if name == "url" else None)
    if limit is not None and len(value) > limit:
        return f"{name} is {len(value):,} characters long: at most {limit:,}"
    if (found := _SURROGATE.search(value)) is not None:
        return f"{name} holds an unpaired surrogate (\\u{ord(found.group()):04x}, half of an emoji?) at {found.start()}"
    return None


class Article(ArticleMetadata):
    """One piece of news as a reader sees it: the record the indexer passes around. Every field can be stored
    (`unstorable`): ValueError otherwise, so a source's record is reported and skipped, not sent to a bulk
    request that would fail the build."""

    article_id: str = Field(description="Stable id (16 hex digits from where the article lives, never its text).")
    body: str = Field(description="Cleaned paragraphs joined by a newline.")
    origin: str | None = Field(None, description="The file it was read from (`indexer.sources.source_name`): kept on "
                               "the article document so that an incremental build removes what a file no longer "
                               "holds. None for an admin write, which no file owns.")

    @model_validator(mode="after")
    def _storable(self) -> Article:
        for name in (*METADATA_FIELDS, "body"):
            value = getattr(self, name)
            if isinstance(value, str) and (reason := unstorable(name, value)) is not None:
                raise ValueError(reason)
        return self


class PassageSpan(BaseModel):
    """A slice of an article's body that gets its own vector: `text == body[char_start:char_end]`."""

    model_config = ConfigDict(frozen=True)

    position: int = Field(ge=0, description="0-based order in the article.")
    text: str
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=0)


PASSAGE_SPAN_FIELDS: tuple[str, ...] = tuple(PassageSpan.model_fields)


class Passage(PassageSpan):
    """A passage as the indexer builds it, knowing its article."""

    passage_id: str = Field(description='f"{article_id}-{position}"')
    article_id: str


MAX_PASSAGES = 10_000
"""Passages one article may have: Elasticsearch's default result window, so the article view lists them all."""

HIT_SOURCE_FIELDS: tuple[str, ...] = ("article_id", *METADATA_FIELDS, "position", "text")
"""What a search fetches of each passage document: enough to show a hit without another request."""


def index_fields(article: Article) -> dict[str, Any]:
    """The metadata every Elasticsearch document of the article carries, plus what is derived from it
    for searching: `year` (the date's, for the year facet), the normalised document number, and the
    title in `normalize_text` form (simplified, half-width letters; the query side applies the same)."""
    fields: dict[str, Any] = {"article_id": article.article_id, **article.model_dump(include=set(METADATA_FIELDS))}
    fields["title"] = normalize_text(article.title)
    if article.doc_number:
        fields["doc_number"] = normalize_doc_number(article.doc_number)
    fields["year"] = int(article.date[:4]) if article.date else None
    return fields


def content_hash(article: Article) -> str:
    """What decides whether an article changed: everything that ends up indexed."""
    digest = hashlib.sha256()
    for value in (article.title, article.body, *(getattr(article, name) for name in METADATA_FIELDS[1:])):
        digest.update((value or "").encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()
