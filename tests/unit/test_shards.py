"""Sharded embedding without a model: the shard rule, the `--shard` form, and `indexer cache-merge`
(`indexer/shards.py`, `EmbeddingCache.merge_from`). The embedding itself: tests/test_embed_shards.py."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from govsearch.settings import get_settings
from indexer.cli import main
from indexer.embeddings import CACHE_DB_NAME, EmbeddingCache
from indexer.shards import parse_shard, shard_of


@pytest.fixture
def target_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """EMBEDDING_CACHE_DIR pointed at an empty directory, for the CLI."""
    directory = tmp_path / "target"
    monkeypatch.setenv("EMBEDDING_CACHE_DIR", str(directory))
    get_settings.cache_clear()
    yield directory
    get_settings.cache_clear()


def _key(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def _cache(path: Path, vectors: dict[bytes, float]) -> Path:
    cache = EmbeddingCache(path / CACHE_DB_NAME)
    cache.put_many("m", [(key, np.full(4, value, dtype=np.float32)) for key, value in vectors.items()])
    cache.close()
    return path


def test_every_key_has_one_shard_and_the_shards_are_about_even() -> None:
    counts = Counter(shard_of(_key(n), 4) for n in range(8000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(1800 < count < 2200 for count in counts.values())
    assert [shard_of(_key(7), 4)] * 2 == [shard_of(_key(7), 4), shard_of(_key(7), 4)]
    assert {shard_of(_key(n), 1) for n in range(100)} == {0}
    with pytest.raises(ValueError):
        shard_of(_key(1), 0)


@pytest.mark.parametrize(("text", "parsed"), [("1/1", (0, 1)), ("2/4", (1, 4)), ("4/4", (3, 4))])
def test_a_shard_is_written_k_of_n(text: str, parsed: tuple[int, int]) -> None:
    assert parse_shard(text) == parsed


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "2", "1/2/3", ""])
def test_a_malformed_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="shard"):
        parse_shard(text)


def test_embed_refuses_a_bad_shard_or_source_before_loading_a_model(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    assert main(["embed", "--source", str(tmp_path), "--shard", "3/2"]) == 2
    assert "K must be between 1 and N" in capsys.readouterr().err
    assert main(["embed", "--source", str(tmp_path / "absent"), "--shard", "1/2"]) == 2
    assert "no such source" in capsys.readouterr().err


def test_cache_merge_adds_what_the_target_lacks_and_keeps_what_it_has(
        tmp_path: Path, target_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cache(target_cache, {_key(1): 1.0})
    first = _cache(tmp_path / "shard1", {_key(1): 9.0, _key(2): 2.0})
    second = _cache(tmp_path / "shard2", {_key(3): 3.0})
    assert main(["cache-merge", str(first), str(second / CACHE_DB_NAME)]) == 0
    out = capsys.readouterr().out
    assert "1 vectors added" in out and "3 vectors" in out
    merged = EmbeddingCache(target_cache / CACHE_DB_NAME)
    found = merged.get_many("m", [_key(1), _key(2), _key(3)], 4)
    merged.close()
    assert {key: float(vector[0]) for key, vector in found.items()} == {_key(1): 1.0, _key(2): 2.0, _key(3): 3.0}
    # merging again adds nothing; a missing cache is an error, and nothing is merged then
    assert main(["cache-merge", str(first)]) == 0
    assert "0 vectors added" in capsys.readouterr().out
    assert main(["cache-merge", str(second), str(tmp_path / "nowhere")]) == 2
    assert "no embedding cache" in capsys.readouterr().err


def test_cache_merge_reports_a_file_that_is_not_a_cache(tmp_path: Path, target_cache: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _cache(target_cache, {_key(1): 1.0})
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_text("not a database")
    assert main(["cache-merge", str(bogus)]) == 1
    assert "is not a readable embedding cache" in capsys.readouterr().err
    cache = EmbeddingCache(target_cache / CACHE_DB_NAME)
    assert cache.count() == 1
    cache.close()
