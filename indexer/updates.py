"""Single-article writes into live indices: what admin upserts and deletes do.

Only that article is re-chunked and re-embedded. Passage ids are positional, so
an update that shortens an article deletes exactly the passages it no longer has.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk

from govsearch.actions import BULK_OPTIONS, article_actions, article_doc_id, delete_actions
from govsearch.schema import Article
from indexer.embeddings import Embedder
from indexer.passages import embedding_text, split_passages


def stored_passage_count(es: Elasticsearch, index: str, article_id: str) -> int | None:
    """How many passages the index holds for the article, or None when it does not hold the article."""
    try:
        doc = es.get(index=index, id=article_doc_id(article_id), source_includes=["passage_count"])
    except NotFoundError:
        return None
    return int(doc["_source"].get("passage_count") or 0)


def write_article(es: Elasticsearch, indices: list[str], article: Article, embedder: Embedder,
                  *, batch_size: int = 64) -> int:
    """Upsert the article into each index and wait until searches see it; return its passage count."""
    passages = split_passages(article)
    vectors = embedder.embed_passages([embedding_text(article, p) for p in passages], batch_size=batch_size)
    actions: list[dict[str, Any]] = []
    for index in indices:
        actions.extend(article_actions(index, article, passages, vectors,
                                       old_passage_count=stored_passage_count(es, index, article.article_id) or 0))
    bulk(es, actions, **BULK_OPTIONS, refresh="wait_for", raise_on_error=True)
    return len(passages)


def delete_article(es: Elasticsearch, indices: list[str], article_id: str) -> bool:
    """Remove the article and its passages from each index; False when no index held it."""
    actions: list[dict[str, Any]] = []
    for index in indices:
        count = stored_passage_count(es, index, article_id)
        if count is None:
            continue
        actions.append({"_op_type": "delete", "_index": index, "_id": article_doc_id(article_id)})
        actions.extend(delete_actions(index, article_id, count))
    if not actions:
        return False
    bulk(es, actions, **BULK_OPTIONS, refresh="wait_for", raise_on_error=True)
    return True
