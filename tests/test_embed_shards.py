"""Embedding the sample in shards with the real model: disjoint shards covering every passage, resumable,
and merged caches that leave a build nothing to compute (`indexer/shards.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from govsearch.paths import PROJECT_ROOT, SAMPLE_CORPUS
from indexer import shards
from indexer.embeddings import CACHE_DB_NAME, Embedder, EmbeddingCache
from indexer.passages import embedding_text, split_passages
from indexer.shards import ShardError, ShardProgress, embed_in_processes, embed_shard
from indexer.sources import ReadReport, read_sources


def _on(template: Embedder, cache_dir: Path) -> Embedder:
    """The loaded model behind another cache directory."""
    return Embedder(template.name, template.model, prefixes=template.prefixes, cache_dir=cache_dir,
                    cache_model_id=template.cache_model_id)


def _cached_keys(embedder: Embedder, cache_dir: Path, keys: set[bytes]) -> set[bytes]:
    """Which of `keys` the cache holds; it holds nothing else."""
    cache = EmbeddingCache(cache_dir / CACHE_DB_NAME)
    found = set(cache.get_many(embedder.cache_model_id, keys, embedder.dims))
    assert cache.count() == len(found)
    cache.close()
    return found


def _sample_texts() -> list[str]:
    return [embedding_text(article, passage) for article in read_sources([SAMPLE_CORPUS], ReadReport())
            for passage in split_passages(article)]


def test_shards_embed_every_passage_once_and_merge_into_a_cache_a_build_needs_nothing_more_from(
        embedder: Embedder, tmp_path: Path) -> None:
    texts = _sample_texts()
    keys = {embedder.passage_key(text) for text in texts}

    results, shard_keys = [], []
    for shard in range(2):
        directory = tmp_path / f"shard{shard}"
        worker = _on(embedder, directory)
        seen: list[ShardProgress] = []
        results.append(embed_shard(worker, [SAMPLE_CORPUS], shard=shard, shards=2, on_progress=seen.append))
        worker.close()
        shard_keys.append(_cached_keys(embedder, directory, keys))
        assert seen and seen[-1].done == seen[-1].total == results[-1].in_shard
    assert not shard_keys[0] & shard_keys[1]
    assert shard_keys[0] | shard_keys[1] == keys
    assert [r.computed for r in results] == [r.in_shard for r in results] == [len(k) for k in shard_keys]
    assert all(r.passages == len(keys) and r.articles == 48 for r in results)

    # a second run of a shard finds its vectors cached and computes nothing
    again = _on(embedder, tmp_path / "shard0")
    rerun = embed_shard(again, [SAMPLE_CORPUS], shard=0, shards=2)
    again.close()
    assert (rerun.computed, rerun.cached) == (0, results[0].in_shard)

    merged_dir = tmp_path / "merged"
    merged_cache = EmbeddingCache(merged_dir / CACHE_DB_NAME)
    added = [merged_cache.merge_from(tmp_path / f"shard{shard}" / CACHE_DB_NAME) for shard in range(2)]
    merged_cache.close()
    assert added == [len(k) for k in shard_keys]

    build_side = _on(embedder, merged_dir)
    vectors = build_side.embed_passages(texts)
    build_side.close()
    assert (build_side.cache_misses, build_side.cache_hits) == (0, len(texts))
    direct = _on(embedder, None).embed_passages(texts[:8])  # no cache: computed now
    assert np.allclose(vectors[:8], direct, atol=1e-6)


def test_a_cache_that_cannot_be_written_stops_the_shard_after_one_chunk(
        embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "CHUNK", 10)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    worker = _on(embedder, blocked)
    with pytest.raises(ShardError, match="could not be opened"):
        embed_shard(worker, [SAMPLE_CORPUS])
    assert worker.cache_misses == 10  # one chunk computed, not the whole corpus
    with pytest.raises(ShardError, match="needs the vector cache"):
        embed_shard(_on(embedder, None), [SAMPLE_CORPUS])


def test_the_embed_command_fills_the_configured_cache_and_says_what_it_did(
        embedder: Embedder, tmp_path: Path) -> None:
    """`python -m indexer embed` as an operator runs it, into an empty cache."""
    target = tmp_path / "cli-cache"
    env = {**os.environ, "EMBEDDING_CACHE_DIR": str(target)}
    done = subprocess.run([sys.executable, "-m", "indexer", "embed", "--source", str(SAMPLE_CORPUS), "--shard", "2/2",
                           "--quiet"], env=env, capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    in_shard = len(_cached_keys(embedder, target, {embedder.passage_key(text) for text in _sample_texts()}))
    assert in_shard > 0
    assert f"{in_shard} in this shard, {in_shard} computed, 0 already cached" in done.stdout
    assert str(target / CACHE_DB_NAME) in done.stdout


def test_a_failed_embedding_process_fails_the_whole_and_says_why(
        embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "processes-cache"
    worker = _on(embedder, target)
    monkeypatch.setenv("EMBEDDING_THREADS", "0")  # refused by the settings of the subprocess (≥ 1), not here
    with pytest.raises(ShardError, match=r"shard 2/2 failed \(exit 2\): error: EMBEDDING_THREADS: .*greater than or "
                                         "equal to 1"):
        embed_in_processes(worker, [SAMPLE_CORPUS], 2)
    worker.close()
