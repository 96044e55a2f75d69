"""jieba_tokenizer on the real node: our es-plugin's dictionary segmenter with the mined user dictionary
(mappings/userdict.txt, installed by scripts/devnode.sh as config/govsearch/userdict.txt), through the
analysis that WORD_SEGMENTER picks (mappings/word-segmenters.json, merged by indexer.elastic).

Runs against the node `make test` starts on ES_PORT. The official analysis-smartcn plugin has no
jieba, so against an ES_URL cluster without our plugin the module is skipped, saying so."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from indexer.elastic import articles_index_body

ES_URL = os.environ.get("ES_URL") or f"http://127.0.0.1:{os.environ.get('ES_PORT', '9250')}"
TEXT = "港西镇召开疫情防控工作会议，协西村落实河长制。"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ES_URL, timeout=60) as http:
        try:
            plugins = http.get("/_cat/plugins", params={"h": "component"}).text.split()
        except httpx.HTTPError as exc:
            pytest.fail(f"no Elasticsearch at {ES_URL}: run the suite with `make test` ({exc})", pytrace=False)
        if "analysis-smartcn-govsearch" not in plugins:
            if os.environ.get("ES_URL"):
                pytest.skip(f"{ES_URL} runs without the project's es-plugin (no jieba_tokenizer)")
            pytest.fail("the dev node runs without the project's es-plugin", pytrace=False)
        yield http


@pytest.fixture
def index(client: httpx.Client) -> Iterator[str]:
    name = f"test-jieba-{uuid.uuid4().hex[:8]}"
    yield name
    client.delete(f"/{name}", params={"ignore_unavailable": "true"})


def create(client: httpx.Client, index: str, segmenter: str) -> None:
    body = articles_index_body(4, {}, segmenter)
    response = client.put(f"/{index}", json=body)
    assert response.status_code == 200, response.text


def tokens(client: httpx.Client, index: str, text: str, analyzer: str = "zh_text") -> list[dict[str, Any]]:
    response = client.post(f"/{index}/_analyze", json={"analyzer": analyzer, "text": text})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["tokens"]
    return found


def test_user_dictionary_keeps_local_words_with_their_offsets(client: httpx.Client, index: str) -> None:
    create(client, index, "jieba_search")
    found = tokens(client, index, TEXT)
    terms = [t["token"] for t in found]
    for word in ("港西镇", "疫情防控", "协西村", "河长制"):
        assert word in terms, terms
    # Every token spans exactly its characters of the input (the API's highlights rely on it) ...
    for token in found:
        assert TEXT[token["start_offset"]:token["end_offset"]] == token["token"], token
    # ... one position per word, punctuation and function words gone.
    assert [t["position"] for t in found] == sorted({t["position"] for t in found})
    assert "，" not in terms and "。" not in terms
    assert (found[0]["token"], found[0]["start_offset"], found[0]["end_offset"]) == ("港西镇", 0, 3)


def test_index_mode_stacks_the_words_inside_a_longer_word(client: httpx.Client, index: str) -> None:
    create(client, index, "jieba_index")
    found = tokens(client, index, "疫情防控工作会议")
    at = {t["token"]: (t["position"], t["start_offset"], t["end_offset"]) for t in found}
    assert at["疫情防控"] == (0, 0, 4)
    assert at["疫情"] == (0, 0, 2) and at["防控"] == (0, 2, 4)
    assert at["会议"][0] == at["工作会议"][0] == at["工作"][0] > 0


def test_highlights_mark_the_dictionary_word(client: httpx.Client, index: str) -> None:
    create(client, index, "jieba_search")
    doc = {"doc_type": "passage", "title": "港西镇召开疫情防控工作会议", "text": TEXT}
    response = client.put(f"/{index}/_doc/1", params={"refresh": "true"}, json=doc)
    assert response.status_code == 201, response.text
    body = {"query": {"match": {"text": "疫情防控"}}, "highlight": {"fields": {"text": {}}}}
    hits = client.post(f"/{index}/_search", json=body).json()["hits"]["hits"]
    assert hits and hits[0]["highlight"]["text"] == ["港西镇召开<em>疫情防控</em>工作会议，协西村落实河长制。"]


def test_a_bad_setting_fails_the_index_creation_naming_it(client: httpx.Client, index: str) -> None:
    for tokenizer, message in (
        ({"type": "jieba_tokenizer", "user_dictionary": "govsearch/missing.txt"}, "cannot read [user_dictionary]"),
        ({"type": "jieba_tokenizer", "user_dictionary": "../../etc/passwd"}, "under the config directory"),
        ({"type": "jieba_tokenizer", "seg_mode": "fast"}, "must be search or index"),
    ):
        settings = {"analysis": {"tokenizer": {"zh": tokenizer}, "analyzer": {"a": {"tokenizer": "zh"}}}}
        response = client.put(f"/{index}", json={"settings": settings})
        assert response.status_code == 400, response.text
        assert message in response.text

