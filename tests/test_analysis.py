"""Chinese analysis on the real node: our es-plugin under the official analysis-smartcn names, and
the server's own standard+shingle character-bigram chain that backs the `bigram` sub-fields.

Runs against the node `make test` starts on ES_PORT (default 9250), or against ES_URL when set
(a cluster with Elastic's official analysis-smartcn plugin must pass the same tests)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ES_URL = os.environ.get("ES_URL") or f"http://127.0.0.1:{os.environ.get('ES_PORT', '9250')}"
MAPPING = Path(__file__).resolve().parent.parent / "mappings" / "articles.json"

# standard tokenizer (one token per CJK character) + shingles of exactly two, no unigrams.
BIGRAM_FILTER = {
    "type": "shingle",
    "min_shingle_size": 2,
    "max_shingle_size": 2,
    "output_unigrams": False,
    "token_separator": "",
}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ES_URL, timeout=30) as http:
        try:
            http.get("/_cluster/health").raise_for_status()
        except httpx.HTTPError as exc:
            pytest.fail(f"no Elasticsearch at {ES_URL}: run the suite with `make test` ({exc})", pytrace=False)
        yield http


@pytest.fixture
def index(client: httpx.Client) -> Iterator[str]:
    """A unique, throw-away index name; deleted after the test."""
    name = f"test-analysis-{uuid.uuid4().hex[:8]}"
    yield name
    client.delete(f"/{name}", params={"ignore_unavailable": "true"})


def analyze(client: httpx.Client, body: dict, index: str | None = None) -> list[str]:
    path = f"/{index}/_analyze" if index else "/_analyze"
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return [token["token"] for token in response.json()["tokens"]]


def test_smartcn_segments_words_not_characters(client: httpx.Client) -> None:
    assert analyze(client, {"analyzer": "smartcn", "text": "安全生产检查"}) == ["安全", "生产", "检查"]


def test_smartcn_finds_multi_character_words(client: httpx.Client) -> None:
    tokens = analyze(client, {"analyzer": "smartcn", "text": "港西镇召开疫情防控工作会议"})
    assert {"召开", "疫情", "工作", "会议"} <= set(tokens), tokens
    assert "".join(tokens) == "港西镇召开疫情防控工作会议"  # nothing lost, nothing invented


def test_smartcn_drops_punctuation_and_stems_english(client: httpx.Client) -> None:
    # Lucene's SmartChineseAnalyzer: stop set of punctuation, Porter stemming for Latin words.
    tokens = analyze(client, {"analyzer": "smartcn", "text": "开展Running tests，安全检查！"})
    assert "run" in tokens and "test" in tokens, tokens
    assert not {",", "，", "!", "！"} & set(tokens), tokens


def test_smartcn_tokenizer_and_stop_in_a_custom_analyzer(client: httpx.Client, index: str) -> None:
    settings = {
        "analysis": {
            "filter": {
                # the smartcn stop set plus a word of our own, as the official filter allows
                "zh_stop": {"type": "smartcn_stop", "stopwords": ["_smartcn_", "召开"]},
            },
            "analyzer": {
                "zh_custom": {"type": "custom", "tokenizer": "smartcn_tokenizer", "filter": ["zh_stop", "lowercase"]},
                "zh_plain": {"type": "custom", "tokenizer": "smartcn_tokenizer"},
            },
        }
    }
    created = client.put(f"/{index}", json={"settings": settings})
    assert created.status_code == 200, created.text
    text = "港西镇召开会议，部署RUNNING工作。"
    # The tokenizer alone emits punctuation (normalised to ",") and lowercases Latin letters ...
    plain = analyze(client, {"analyzer": "zh_plain", "text": text}, index)
    assert plain == ["港", "西", "镇", "召开", "会议", ",", "部署", "running", "工作", ","], plain
    # ... and smartcn_stop removes the smartcn stop set and the extra stop word.
    custom = analyze(client, {"analyzer": "zh_custom", "text": text}, index)
    assert custom == ["港", "西", "镇", "会议", "部署", "running", "工作"], custom


def test_smartcn_tokenizer_and_stop_inline(client: httpx.Client) -> None:
    tokens = analyze(client, {"tokenizer": "smartcn_tokenizer", "filter": ["smartcn_stop"], "text": "安全生产，检查。"})
    assert tokens == ["安全", "生产", "检查"]


def test_standard_shingle_gives_character_bigrams(client: httpx.Client) -> None:
    tokens = analyze(client, {"tokenizer": "standard", "filter": [BIGRAM_FILTER], "text": "安全生产检查"})
    assert tokens == ["安全", "全生", "生产", "产检", "检查"]


@pytest.mark.skipif(not MAPPING.exists(), reason="mappings/articles.json not present")
def test_mapping_analysis_settings_load_on_this_node(client: httpx.Client, index: str) -> None:
    """Every analyzer our index settings define (plus `smartcn`, which the mappings use) works here."""
    analysis = json.loads(MAPPING.read_text(encoding="utf-8"))["settings"]["analysis"]
    created = client.put(f"/{index}", json={"settings": {"analysis": analysis}})
    assert created.status_code == 200, created.text
    for analyzer in ["smartcn", *analysis.get("analyzer", {})]:
        assert analyze(client, {"analyzer": analyzer, "text": "安全生产检查"}, index), analyzer
