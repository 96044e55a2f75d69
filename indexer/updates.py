"""Single-article writes into live indices: what admin upserts and deletes do.

Only that article is re-chunked and re-embedded. Passage ids are positional, so an
update that shortens an article deletes the passages past its new end. Which passages
exist is read from the index itself (not from the article document's `passage_count`,
which a write that raced another could have left behind), and writes of one article are
serialised within the process, so concurrent upserts and deletes leave no orphan passage.
Writes refresh the shards they touch before returning (`refresh=True`, not `wait_for`: an
index a build is loading has refreshes off, and a `wait_for` write into it would hang).
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk, scan

from govsearch.actions import BULK_OPTIONS, article_actions, article_doc_id, delete_actions, is_passage_doc_id
from govsearch.schema import MAX_PASSAGES, Article, Passage
from indexer.embeddings import Embedder
from indexer.passages import embedding_text, split_passages

# Writes of one article run one at a time; articles are spread over a fixed set of locks.
_LOCKS = [threading.Lock() for _ in range(64)]


class ArticleTooLong(ValueError):
    """An article that would split into more passages than can be indexed and listed."""


def _lock(article_id: str) -> threading.Lock:
    return _LOCKS[zlib.crc32(article_id.encode("utf-8")) % len(_LOCKS)]


def stored_passage_count(es: Elasticsearch, index: str, article_id: str) -> int | None:
    """How many passages the index says it holds for the article, or None when it does not hold the article."""
    try:
        doc = es.get(index=index, id=article_doc_id(article_id), source_includes=["passage_count"])
    except NotFoundError:
        return None
    return int(doc["_source"].get("passage_count") or 0)


def stored_passage_positions(es: Elasticsearch, index: str, article_id: str) -> list[int]:
    """The positions of every passage document the index holds for the article."""
    found = es.search(index=index, size=MAX_PASSAGES, source_includes=["position"], query={"bool": {"filter": [
        {"term": {"doc_type": "passage"}}, {"term": {"article_id": article_id}}]}})
    return sorted(int(hit["_source"]["position"]) for hit in found["hits"]["hits"])


def checked_passages(article: Article) -> list[Passage]:
    """The article's passages, or ArticleTooLong when there are more than can be indexed."""
    passages = split_passages(article)
    if len(passages) > MAX_PASSAGES:
        raise ArticleTooLong(f"the article splits into {len(passages)} passages; at most {MAX_PASSAGES} can be "
                             "indexed: split it into several articles")
    return passages


def stored_content_hash(es: Elasticsearch, index: str, article_id: str) -> str | None:
    """The content hash of the article version the index holds, or None when it does not hold the article."""
    try:
        doc = es.get(index=index, id=article_doc_id(article_id), source_includes=["content_hash"])
    except NotFoundError:
        return None
    return str(doc["_source"].get("content_hash") or "")


def write_article(es: Elasticsearch, indices: list[str], article: Article, embedder: Embedder,
                  *, batch_size: int = 64) -> int:
    """Upsert the article into each index and wait until searches see it; return its passage count."""
    passages = checked_passages(article)
    vectors = embedder.embed_passages([embedding_text(article, p) for p in passages], batch_size=batch_size)
    with _lock(article.article_id):
        actions: list[dict[str, Any]] = []
        for index in indices:
            stale = [p for p in stored_passage_positions(es, index, article.article_id) if p >= len(passages)]
            actions.extend(delete_actions(index, article.article_id, stale))
            actions.extend(article_actions(index, article, passages, vectors))
        bulk(es, actions, **BULK_OPTIONS, refresh=True, raise_on_error=True)
    return len(passages)


def delete_articles(es: Elasticsearch, index: str, article_ids: Sequence[str], *, chunk: int = 1000,
                    cancel: threading.Event | None = None) -> int:
    """Remove these articles, every document of them (the article and each passage it has in the index), from
    `index`; return how many had an article document there. For many articles at once (an incremental build
    removing what a file no longer holds): the documents are found by a search per `chunk` ids, not two
    requests per article, and the deletes go in bulk, not refreshed (the caller refreshes). Stops between
    chunks when `cancel` is set; what was removed stays removed."""
    removed = 0
    for start in range(0, len(article_ids), chunk):
        if cancel is not None and cancel.is_set():
            break
        ids = list(article_ids[start:start + chunk])
        doc_ids = [hit["_id"] for hit in scan(es, index=index, _source=False,
                                              query={"query": {"terms": {"article_id": ids}}})]
        removed += sum(1 for doc_id in doc_ids if not is_passage_doc_id(doc_id))
        bulk(es, ({"_op_type": "delete", "_index": index, "_id": doc_id} for doc_id in doc_ids),
             **BULK_OPTIONS, raise_on_error=True)
    return removed


def delete_article(es: Elasticsearch, indices: list[str], article_id: str) -> bool:
    """Remove the article and every passage of it from each index; False when no index held any of it."""
    with _lock(article_id):
        actions: list[dict[str, Any]] = []
        for index in indices:
            positions = stored_passage_positions(es, index, article_id)
            if stored_passage_count(es, index, article_id) is not None:
                actions.append({"_op_type": "delete", "_index": index, "_id": article_doc_id(article_id)})
            elif not positions:
                continue
            actions.extend(delete_actions(index, article_id, positions))
        if not actions:
            return False
        bulk(es, actions, **BULK_OPTIONS, refresh=True, raise_on_error=True)
    return True
