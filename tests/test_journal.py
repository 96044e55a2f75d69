"""indexer.journal on a real node: replay makes an index agree with the admin journal, and an admin
write racing the replay is not overwritten by the older version the replay started from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from govsearch.schema import Article
from indexer import elastic
from indexer.embeddings import Embedder
from indexer.journal import Journal
from indexer.updates import stored_passage_count, write_article

ALIAS = "test-journal-articles"
JOURNAL = "test-journal"


@pytest.fixture
def target(es: Elasticsearch, embedder: Embedder) -> Iterator[str]:
    es.indices.delete(index=JOURNAL, ignore_unavailable=True)
    index = elastic.create_articles_index(es, ALIAS, dims=embedder.dims, model=embedder.name)
    elastic.finish_index(es, index)
    yield index
    es.indices.delete(index=index, ignore_unavailable=True)
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
