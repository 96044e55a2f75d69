"""indexer.journal on a real node: replay makes an index agree with the admin journal, an admin write
racing the replay is not overwritten by the older version the replay started from, entries are
ordered by Elasticsearch and not by a replica's clock, and compaction changes no replay's outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from govsearch.schema import Article
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.journal import Journal
from indexer.updates import stored_passage_count, write_article

ALIAS = "test-journal-articles"
JOURNAL = "test-journal"


def new_index(es: Elasticsearch, embedder: Embedder) -> str:
    index = elastic.create_articles_index(es, ALIAS, dims=embedder.dims, model=embedder.name)
    elastic.finish_index(es, index)
    return index


@pytest.fixture
def target(es: Elasticsearch, embedder: Embedder) -> Iterator[str]:
    es.indices.delete(index=JOURNAL, ignore_unavailable=True)
    index = new_index(es, embedder)
    yield index
    for name in elastic.versioned_indices(es, ALIAS):
        es.indices.delete(index=name, ignore_unavailable=True)
    es.indices.delete(index=JOURNAL, ignore_unavailable=True)


def article(article_id: str, title: str) -> Article:
    return Article(article_id=article_id, title=title, body=f"{title}。港西镇的一条测试新闻。", source="test")


def stored_title(es: Elasticsearch, index: str, article_id: str) -> str | None:
    if stored_passage_count(es, index, article_id) is None:
        return None
    return str(es.get(index=index, id=f"a:{article_id}")["_source"]["title"])


def test_replay_applies_the_last_entry_of_each_article_once(es: Elasticsearch, embedder: Embedder,
                                                            target: str) -> None:
    journal = Journal(es, JOURNAL, ALIAS)
    journal.record_upsert(article("kept", "第一版"))
    journal.record_upsert(article("kept", "第二版"))
    journal.record_upsert(article("gone", "将被删除"))
    journal.record_delete("gone")
    Journal(es, JOURNAL, "another-alias").record_upsert(article("elsewhere", "别的别名"))
    write_article(es, [target], article("gone", "将被删除"), embedder)

    assert journal.replay(target, lambda: embedder) == 2
    assert stored_title(es, target, "kept") == "第二版"
    assert stored_title(es, target, "gone") is None and stored_title(es, target, "elsewhere") is None
    assert journal.replay(target, lambda: embedder) == 0  # the index already agrees: nothing is re-embedded


def test_an_admin_write_racing_the_replay_wins(es: Elasticsearch, embedder: Embedder, target: str) -> None:
    journal = Journal(es, JOURNAL, ALIAS)
    journal.record_upsert(article("raced", "旧版本"))

    def embedder_while_an_admin_writes() -> Embedder:
        # The replay is about to write the old version: an admin write of the new one lands first,
        # journaled before it is applied, as the admin route does.
        newer = article("raced", "新版本")
        journal.record_upsert(newer)
        write_article(es, [target], newer, embedder)
        return embedder

    journal.replay(target, embedder_while_an_admin_writes)
    assert stored_title(es, target, "raced") == "新版本"


def test_entries_are_ordered_by_elasticsearch_not_by_the_recording_clock(es: Elasticsearch, embedder: Embedder,
                                                                        target: str) -> None:
    # Two replicas two hours apart: the one ahead writes first, the one behind writes the newer version.
    ahead = Journal(es, JOURNAL, ALIAS, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    behind = Journal(es, JOURNAL, ALIAS, clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    ahead.record_upsert(article("skewed", "先写的版本"))
    behind.record_upsert(article("skewed", "后写的版本"))
    ahead.record_upsert(article("deleted-last", "先写入"))
    behind.record_delete("deleted-last")

    assert ahead.latest()["skewed"]["article"]["title"] == "后写的版本"
    ahead.replay(target, lambda: embedder)
    assert stored_title(es, target, "skewed") == "后写的版本"
    assert stored_title(es, target, "deleted-last") is None


def articles_of(es: Elasticsearch, index: str) -> dict[str, str]:
    """article id -> content hash of every article the index holds."""
    es.indices.refresh(index=index)
    found = es.search(index=index, size=1000, query={"term": {"doc_type": "article"}},
                      source_includes=["article_id", "content_hash"])
    return {hit["_source"]["article_id"]: hit["_source"]["content_hash"] for hit in found["hits"]["hits"]}


def test_compaction_keeps_what_rebuilds_and_rollbacks_replay(es: Elasticsearch, embedder: Embedder,
                                                            target: str) -> None:
    journal = Journal(es, JOURNAL, ALIAS)
    for version in ("一", "二", "三"):
        journal.record_upsert(article("edited", f"第{version}版"))
    journal.record_upsert(article("removed", "写入后删除"))
    journal.record_delete("removed")
    journal.record_delete("from-sources")  # an article of the sources, deleted by an admin
    journal.record_upsert(article("added", "新增文章"))

    def rollback_target(index: str) -> str:  # an older index: stale versions of what the journal changed
        for stale in (article("edited", "第一版"), article("removed", "写入后删除"), article("from-sources", "来源")):
            write_article(es, [index], stale, embedder)
        return index

    def rebuilt(index: str) -> str:  # a fresh build from the sources, which hold `from-sources`
        write_article(es, [index], article("from-sources", "来源"), embedder)
        write_article(es, [index], article("kept-source", "来源二"), embedder)
        return index

    before = {}
    for name, prepare in (("rollback", rollback_target), ("rebuild", rebuilt)):
        index = prepare(target if name == "rollback" else new_index(es, embedder))
        journal.replay(index, lambda: embedder)
        before[name] = articles_of(es, index)

    assert journal.compact() == (4, 3)  # edited ×2 and the upsert of `removed` superseded
    assert journal.compact() == (4, 0)
    assert journal.latest()["removed"]["op"] == "delete"  # a tombstone stays

    for name, prepare in (("rollback", rollback_target), ("rebuild", rebuilt)):
        index = prepare(new_index(es, embedder))
        journal.replay(index, lambda: embedder)
        assert articles_of(es, index) == before[name], name
    assert set(before["rollback"]) == {"edited", "added"}
    assert set(before["rebuild"]) == {"edited", "added", "kept-source"}


def test_an_entry_the_node_would_refuse_is_skipped_not_a_failed_replay(es: Elasticsearch, embedder: Embedder,
                                                                     target: str) -> None:
    """An older version journaled admin writes before checking them; one Elasticsearch refused (a 12,000-character
    department) failed every later rebuild and rollback. It was never indexed: the replay skips it."""
    journal = Journal(es, JOURNAL, ALIAS)
    journal.ensure_index()
    journal._record("upsert", "refused", {**article("refused", "部门过长").model_dump(), "department": "党" * 12_000})
    journal.record_upsert(article("fine", "正常"))
    assert journal.replay(target, lambda: embedder) == 1
    assert stored_title(es, target, "fine") == "正常" and stored_title(es, target, "refused") is None


def test_a_write_made_between_the_replay_and_the_switch_is_replayed_after_it(es: Elasticsearch, embedder: Embedder,
                                                                            target: str) -> None:
    """A rollback, a restore or a CLI build holds the lease but is no job whose index admin writes also go to:
    a write made while it switches went to the old live index only. It is journaled, and replayed after."""
    journal = Journal(es, JOURNAL, ALIAS)
    journal.record_upsert(article("before", "切换之前"))

    def switch() -> str:
        journal.record_upsert(article("during", "切换之时"))  # an admin write landing in the window
        return "switched"

    assert journal.switch_to(target, switch, lambda: embedder) == "switched"
    assert stored_title(es, target, "before") == "切换之前" and stored_title(es, target, "during") == "切换之时"
