"""WORD_SEGMENTER picks the word analysis of the indices full builds create (mappings/word-segmenters.json
over mappings/articles.json) and is recorded in their _meta. On the real node: tests/test_jieba.py."""

from __future__ import annotations

from typing import Any, cast, get_args

from elasticsearch import Elasticsearch

from govsearch.settings import Settings
from indexer import elastic


class _Indices:
    def __init__(self) -> None:
        self.created: dict[str, dict[str, Any]] = {}

    def create(self, index: str, settings: dict[str, Any], mappings: dict[str, Any]) -> None:
        self.created[index] = {"settings": settings, "mappings": mappings}


class _Recorder:
    def __init__(self) -> None:
        self.indices = _Indices()


def _create(segmenter: str) -> dict[str, Any]:
    recorder = _Recorder()
    name = elastic.create_articles_index(cast(Elasticsearch, recorder), "gov-articles", dims=512, model="usem3",
                                         segmenter=segmenter)
    return recorder.indices.created[name]


def test_every_choice_of_the_setting_has_its_analysis() -> None:
    choices = set(get_args(Settings.model_fields["word_segmenter"].annotation))
    assert choices == {"smartcn"} | set(elastic.load_mapping("word-segmenters"))
    assert Settings.model_fields["word_segmenter"].default == "smartcn"


def test_smartcn_is_the_mapping_file_as_it_is() -> None:
    body = _create("smartcn")
    assert body["settings"]["analysis"] == elastic.load_mapping("articles")["settings"]["analysis"]
    assert body["mappings"]["_meta"]["word_segmenter"] == "smartcn"


def test_jieba_replaces_the_word_analyzer_only() -> None:
    smartcn = elastic.load_mapping("articles")["settings"]["analysis"]
    for choice, mode in (("jieba_search", "search"), ("jieba_index", "index")):
        body = _create(choice)
        analysis = body["settings"]["analysis"]
        assert analysis["tokenizer"]["zh_jieba"] == {"type": "jieba_tokenizer", "seg_mode": mode,
                                                     "user_dictionary": "govsearch/userdict.txt"}
        assert analysis["analyzer"]["zh_text"]["tokenizer"] == "zh_jieba"
        # the bigram sub-fields, filters and normalizers are untouched
        assert analysis["analyzer"]["zh_bigram"] == smartcn["analyzer"]["zh_bigram"]
        assert analysis["filter"] == smartcn["filter"] and analysis["normalizer"] == smartcn["normalizer"]
        assert body["mappings"]["_meta"]["word_segmenter"] == choice
