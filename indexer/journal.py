"""The admin journal: single-article writes recorded in Elasticsearch, so rebuilds and rollbacks keep them.

Invariants:
- Every admin upsert or delete is recorded here (`record_upsert`, `record_delete`)
  before it is applied to any index, and the record is searchable on return.
- Entries belong to one alias and are ordered by `sequence` (nanoseconds of the
  recording clock); the last entry of an article is what it should look like.
- `replay` makes an index agree with the journal: the last upsert of an article
  is written unless the index already holds that exact version (same content
  hash), the last delete is applied. A full build replays the whole journal
  before its alias switch; a rollback replays the entries newer than the
  rolled-back-to index's creation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from govsearch.schema import Article, content_hash
from indexer.elastic import ensure_system_index
from indexer.embeddings import Embedder
from indexer.updates import delete_article, stored_content_hash, write_article

Op = Literal["upsert", "delete"]


class Journal:
    def __init__(self, es: Elasticsearch, index: str, alias: str) -> None:
        self.es = es
        self.index = index
        self.alias = alias

    def ensure_index(self) -> None:
        ensure_system_index(self.es, self.index, "journal")

    def record_upsert(self, article: Article) -> None:
        self._record("upsert", article.article_id, article.model_dump(mode="json"))

    def record_delete(self, article_id: str) -> None:
        self._record("delete", article_id, None)

    def _record(self, op: Op, article_id: str, article: dict[str, Any] | None) -> None:
        self.ensure_index()
        self.es.index(index=self.index, refresh="wait_for", document={
            "alias": self.alias, "article_id": article_id, "op": op, "article": article,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "sequence": time.time_ns()})

    def latest(self, since: str | None = None) -> dict[str, dict[str, Any]]:
        """The last entry per article id (recorded after `since`, an ISO time, when given)."""
        if not self.es.indices.exists(index=self.index):
            return {}
        self.es.indices.refresh(index=self.index)
        filters: list[dict[str, Any]] = [{"term": {"alias": self.alias}}]
        if since:
            filters.append({"range": {"time": {"gt": since}}})
        entries = sorted((hit["_source"] for hit in scan(self.es, index=self.index,
                                                          query={"query": {"bool": {"filter": filters}}})),
                         key=lambda entry: entry["sequence"])
        return {entry["article_id"]: entry for entry in entries}

    def replay(self, index: str, embedder: Callable[[], Embedder], *, since: str | None = None,
               batch_size: int = 64) -> int:
        """Apply the journal (entries after `since`) to `index`; return how many articles changed.

        embedder: gives the model `index` was embedded with; called only if an article must be written.
        An admin write of the same article racing the replay cannot be overwritten by an older version:
        after applying an entry the article's newest entry is read again (a write is journaled before it
        is applied), and applied too if it is newer.
        """
        changed = 0
        for article_id, entry in self.latest(since).items():
            while True:
                changed += self._apply(index, entry, embedder, batch_size)
                newest = self._newest(article_id)
                if newest is None or newest["sequence"] <= entry["sequence"]:
                    break
                entry = newest
        return changed

    def _apply(self, index: str, entry: dict[str, Any], embedder: Callable[[], Embedder], batch_size: int) -> bool:
        if entry["op"] == "delete":
            return delete_article(self.es, [index], entry["article_id"])
        article = Article(**entry["article"])
        if stored_content_hash(self.es, index, article.article_id) == content_hash(article):
            return False
        write_article(self.es, [index], article, embedder(), batch_size=batch_size)
        return True

    def _newest(self, article_id: str) -> dict[str, Any] | None:
        found = self.es.search(index=self.index, size=1, sort=[{"sequence": "desc"}], query={"bool": {"filter": [
            {"term": {"alias": self.alias}}, {"term": {"article_id": article_id}}]}})
        hits = found["hits"]["hits"]
        return hits[0]["_source"] if hits else None
