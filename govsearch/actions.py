"""How an article becomes Elasticsearch documents: one `article` doc and its `passage` docs.

The full build, single-article writes (admin upserts, incremental builds) and the indexing
benchmark all build their bulk actions with `article_actions` and send them with
`BULK_OPTIONS`, so an article looks the same however it got into the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govsearch.pinyin import title_fields
from govsearch.rules import normalize_text
from govsearch.schema import PASSAGE_SPAN_FIELDS, Article, Passage, content_hash, index_fields

ARTICLE_ID_PREFIX = "a:"
PASSAGE_ID_PREFIX = "p:"

BULK_OPTIONS: dict[str, Any] = {
    "chunk_size": 500,  # documents per bulk request (~500 × 3 KB with 512-d vectors: ~1.5 MB)
    "max_retries": 5,  # 429 (the node's write queue is full) is retried with exponential backoff ...
    "initial_backoff": 1,  # ... starting at 1 s ...
    "max_backoff": 30,  # ... up to 30 s between tries
}
"""Keyword arguments for `elasticsearch.helpers.streaming_bulk`, shared by every bulk writer."""


def article_doc_id(article_id: str) -> str:
    return f"{ARTICLE_ID_PREFIX}{article_id}"


def passage_doc_id(article_id: str, position: int) -> str:
    return f"{PASSAGE_ID_PREFIX}{article_id}-{position}"


def is_passage_doc_id(doc_id: str) -> bool:
    return doc_id.startswith(PASSAGE_ID_PREFIX)


def article_actions(index: str, article: Article, passages: Sequence[Passage], vectors: Sequence[Any] | NDArray[Any], *,
                    digest: str | None = None, old_passage_count: int = 0) -> list[dict[str, Any]]:
    """Bulk actions that make `index` hold exactly this version of the article.

    The article document keeps the body as written (the article view shows it) and carries the title's
    pinyin forms for suggestions (`govsearch.pinyin`); passage documents hold `normalize_text` of
    their text, which has the same length, so their offsets into the body stay valid.

    index: the concrete index to write (never an alias: a write must not follow a switch).
    article, passages: the article and its passages, in order (`indexer.passages.split_passages`).
    vectors: one embedding per passage (numpy rows or lists), in the same order. Numpy rows go into
        the action as they are: the clients' serializers write a float32 row with its shortest
        float32 digits (orjson's OPT_SERIALIZE_NUMPY), about half the bytes of `.tolist()`'s float64
        digits and the same value once Elasticsearch parses it back into a float32.
    digest: the article's `content_hash`, when the caller already computed it.
    old_passage_count: how many passages the index held for the article before; the ones past
        the new count are deleted (passage ids are positional, so no delete-by-query is needed).
    """
    if len(vectors) != len(passages):
        raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors for article {article.article_id}")
    fields = index_fields(article)
    actions = delete_actions(index, article.article_id, range(len(passages), old_passage_count))
    actions.append({
        "_index": index,
        "_id": article_doc_id(article.article_id),
        "_source": {**fields, "doc_type": "article", "body": article.body,
                    "content_hash": digest or content_hash(article), "passage_count": len(passages),
                    **title_fields(fields["title"]),
                    # only when a file owns it: an index built before `origin` was mapped still takes admin writes
                    **({"origin": article.origin} if article.origin is not None else {})},
    })
    for passage, vector in zip(passages, vectors):
        actions.append({
            "_index": index,
            "_id": passage_doc_id(article.article_id, passage.position),
            "_source": {**fields, "doc_type": "passage", "passage_id": passage.passage_id,
                        **passage.model_dump(include=set(PASSAGE_SPAN_FIELDS)),
                        "text": normalize_text(passage.text),
                        "vector": vector if isinstance(vector, np.ndarray) else list(vector)},
        })
    return actions


def delete_actions(index: str, article_id: str, positions: Iterable[int]) -> list[dict[str, Any]]:
    """Delete actions for the article's passages at these positions."""
    return [
        {"_op_type": "delete", "_index": index, "_id": passage_doc_id(article_id, position)}
        for position in positions
    ]
