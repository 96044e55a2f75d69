"""How an article becomes Elasticsearch documents: one `article` doc and its `passage` docs.

Both the full build and single-article writes (admin upserts, incremental
builds) use these, so an article looks the same however it got into the index.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from indexer.documents import Article, Passage


_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "【": "〔", "】": "〕", "（": "〔", "）": "〕", "(": "〔", ")": "〕",
                           "﹝": "〔", "﹞": "〕", "［": "〔", "］": "〕", "〖": "〔", "〗": "〕"})


def normalize_doc_number(value: str) -> str:
    """One spelling for 崇港委〔2022〕171号, whichever brackets and spaces a writer or a user used."""
    return re.sub(r"\s+", "", value.translate(_BRACKETS)).lower()


def content_hash(article: Article) -> str:
    """What decides whether an article changed: everything that ends up indexed."""
    digest = hashlib.sha256()
    for value in (article.title, article.body, article.date, article.publisher, article.town,
                  article.department, article.section, article.doc_number, article.url, article.newsletter):
        digest.update((value or "").encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def article_fields(article: Article) -> dict[str, Any]:
    """The metadata every document of an article carries, so passages can be filtered and grouped alone."""
    return {
        "article_id": article.article_id,
        "title": article.title,
        "publisher": article.publisher,
        "town": article.town,
        "department": article.department,
        "section": article.section,
        "newsletter": article.newsletter,
        "doc_number": normalize_doc_number(article.doc_number) if article.doc_number else None,
        "date": article.date,
        "year": int(article.date[:4]) if article.date else None,
        "source": article.source,
        "url": article.url,
    }


def article_doc_id(article_id: str) -> str:
    return f"a:{article_id}"


def passage_doc_id(article_id: str, position: int) -> str:
    return f"p:{article_id}-{position}"


def article_action(index: str, article: Article, digest: str, passage_count: int) -> dict[str, Any]:
    return {
        "_index": index,
        "_id": article_doc_id(article.article_id),
        "_source": {
            **article_fields(article),
            "doc_type": "article",
            "body": article.body,
            "content_hash": digest,
            "passage_count": passage_count,
        },
    }


def passage_action(index: str, article: Article, passage: Passage, vector: list[float]) -> dict[str, Any]:
    return {
        "_index": index,
        "_id": passage_doc_id(article.article_id, passage.position),
        "_source": {
            **article_fields(article),
            "doc_type": "passage",
            "passage_id": passage.passage_id,
            "position": passage.position,
            "char_start": passage.char_start,
            "char_end": passage.char_end,
            "text": passage.text,
            "vector": vector,
        },
    }


def stale_passage_deletes(index: str, article_id: str, new_count: int, old_count: int) -> list[dict[str, Any]]:
    """Delete actions for passages an article had before and no longer has.

    The dev node has no `_delete_by_query`, and it is not needed: passage ids
    are positional, so the old count names exactly the documents to remove.
    """
    return [
        {"_op_type": "delete", "_index": index, "_id": passage_doc_id(article_id, position)}
        for position in range(new_count, old_count)
    ]
