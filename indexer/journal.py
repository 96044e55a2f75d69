"""The admin journal: single-article writes recorded in Elasticsearch, so rebuilds and rollbacks keep them.

Invariants:
- Every admin upsert or delete is recorded here (`record_upsert`, `record_delete`)
  before it is applied to any index, and the record is searchable on return.
- Entries belong to one alias and are ordered by the `_seq_no` Elasticsearch assigns them.
  The journal index has one shard (mappings/journal.json), so that order is the order the
  writes were acknowledged in, whichever replica recorded them; no replica's clock orders
  anything (`time`, from the recording replica's clock, is for people reading the journal).
  The last entry of an article is what it should look like.
- `replay` makes an index agree with the journal: the last upsert of an article is written
  unless the index already holds that exact version (same content hash), the last delete is
  applied. A full build replays the journal before its alias switch; a rollback replays it
  into the index it goes back to.
- Compaction (`compact`) deletes every entry that a newer entry of the same article supersedes
  and keeps the newest entry of each article, deletes included as tombstones, for as long as
  the journal exists: any index a rollback can still reach, and every future build from
  sources, may hold an older version of the article, and only its newest entry corrects that.
  Since `replay` reads nothing but the newest entry per article, a rebuild or a rollback after
  compaction gives the same articles as before it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, scan

from govsearch.actions import BULK_OPTIONS
from govsearch.schema import Article, content_hash
from indexer.elastic import SYSTEM_WRITE_REFRESH, ensure_system_index
from indexer.embeddings import Embedder
from indexer.updates import delete_article, stored_content_hash, write_article

log = logging.getLogger(__name__)

Op = Literal["upsert", "delete"]
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Journal:
    """The journal of one alias. `clock` gives the `time` written into entries (informative only)."""

    def __init__(self, es: Elasticsearch, index: str, alias: str, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.es = es
        self.index = index
        self.alias = alias
        self.clock = clock

    def ensure_index(self) -> None:
        ensure_system_index(self.es, self.index, "journal")

    def record_upsert(self, article: Article) -> None:
        self._record("upsert", article.article_id, article.model_dump(mode="json"))

    def record_delete(self, article_id: str) -> None:
        self._record("delete", article_id, None)

    def _record(self, op: Op, article_id: str, article: dict[str, Any] | None) -> None:
        self.ensure_index()
        self.es.index(index=self.index, refresh=SYSTEM_WRITE_REFRESH, document={
            "alias": self.alias, "article_id": article_id, "op": op, "article": article,
            "time": self.clock().isoformat(timespec="milliseconds")})

    def _entries(self) -> list[dict[str, Any]]:
        """Every entry of the alias, oldest first, each with its `_id` and `_seq_no`."""
        if not self.es.indices.exists(index=self.index):
            return []
        self.es.indices.refresh(index=self.index)
        hits = scan(self.es, index=self.index, seq_no_primary_term=True,
                    query={"query": {"bool": {"filter": [{"term": {"alias": self.alias}}]}}})
        entries = [{**hit["_source"], "_id": hit["_id"], "_seq_no": hit["_seq_no"]} for hit in hits]
        return sorted(entries, key=lambda entry: entry["_seq_no"])

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last entry per article id."""
        return {entry["article_id"]: entry for entry in self._entries()}

    def replay(self, index: str, embedder: Callable[[], Embedder], *, batch_size: int = 64) -> int:
        """Apply the journal to `index`; return how many articles changed.

        embedder: gives the model `index` was embedded with; called only if an article must be written.
        An admin write of the same article racing the replay cannot be overwritten by an older version:
        after applying an entry the article's newest entry is read again (a write is journaled before it
        is applied), and applied too if it is newer.
        """
        changed = 0
        for article_id, entry in self.latest().items():
            while True:
                changed += self._apply(index, entry, embedder, batch_size)
                newest = self._newest(article_id)
                if newest is None or newest["_seq_no"] <= entry["_seq_no"]:
                    break
                entry = newest
        return changed

    def switch_to(self, index: str, switch: Callable[[], T], embedder: Callable[[], Embedder], *,
                  batch_size: int = 64) -> T:
        """`switch()` the alias to `index` with every admin write in it: the journal is replayed before the
        switch and again after it. An admin write made meanwhile went to the old live index only (a rollback, a
        restore or a CLI build holds the lease but is no job whose index the writes also go to), and is
        journaled first: the second replay brings it into the index now live. Returns what `switch` returned."""
        self.replay(index, embedder, batch_size=batch_size)
        switched = switch()
        self.replay(index, embedder, batch_size=batch_size)
        return switched

    def compact(self) -> tuple[int, int]:
        """Delete the entries superseded by a newer entry of the same article; (kept, removed).
        An entry recorded during compaction is never deleted (only entries read here are)."""
        entries = self._entries()
        newest = {entry["article_id"]: entry["_id"] for entry in entries}
        doomed = [entry["_id"] for entry in entries if newest[entry["article_id"]] != entry["_id"]]
        if doomed:
            bulk(self.es, ({"_op_type": "delete", "_index": self.index, "_id": doc_id} for doc_id in doomed),
                 **BULK_OPTIONS, refresh=SYSTEM_WRITE_REFRESH, raise_on_error=True)
        return len(newest), len(doomed)

    def _apply(self, index: str, entry: dict[str, Any], embedder: Callable[[], Embedder], batch_size: int) -> bool:
        if entry["op"] == "delete":
            return delete_article(self.es, [index], entry["article_id"])
        try:
            article = Article(**entry["article"])
        except ValueError as exc:  # journaled by an older version that did not check, then refused by the node
            log.warning("journal: the upsert of %s cannot be stored and is skipped (it was never indexed): %s",
                        entry["article_id"], exc)
            return False
        if stored_content_hash(self.es, index, article.article_id) == content_hash(article):
            return False
        write_article(self.es, [index], article, embedder(), batch_size=batch_size)
        return True

    def _newest(self, article_id: str) -> dict[str, Any] | None:
        found = self.es.search(index=self.index, size=1, sort=[{"_seq_no": "desc"}], seq_no_primary_term=True,
                               query={"bool": {"filter": [{"term": {"alias": self.alias}},
                                                          {"term": {"article_id": article_id}}]}})
        hits = found["hits"]["hits"]
        return {**hits[0]["_source"], "_id": hits[0]["_id"], "_seq_no": hits[0]["_seq_no"]} if hits else None
