"""govsearch.schema and govsearch.actions: the one article definition and what is derived from it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from elasticsearch.serializer import OrjsonSerializer

from govsearch.actions import article_actions, article_doc_id, passage_doc_id
from govsearch.paths import MAPPINGS_DIR
from govsearch.pinyin import title_fields
from govsearch.rules import normalize_doc_number
from govsearch.schema import (
    HIT_SOURCE_FIELDS,
    METADATA_FIELDS,
    PASSAGE_SPAN_FIELDS,
    Article,
    ArticleMetadata,
    Passage,
    content_hash,
    index_fields,
)
from service.schemas import ArticleIn, ArticleView, Hit

PROPERTIES: dict[str, Any] = json.loads((MAPPINGS_DIR / "articles.json").read_text(encoding="utf-8"))[
    "mappings"]["properties"]
INDEX = "gov-articles-20240101000000"


def _article(**changes: Any) -> Article:
    values: dict[str, Any] = {
        "article_id": "0123456789abcdef", "title": "港西镇开展安全生产检查", "body": "第一段。\n第二段。",
        "publisher": "上海市崇明区港西镇人民政府", "town": "港西镇", "date": "2022-11-03", "department": "党群办",
        "section": "工作动态", "newsletter": "港西动态 第3期", "doc_number": "崇港委[2022]171号",
        "source": "data/sample/000.txt", "url": "https://www.shcm.gov.cn/a.html",
    }
    return Article(**{**values, **changes})


def _passages(article: Article, count: int) -> list[Passage]:
    return [Passage(passage_id=f"{article.article_id}-{i}", article_id=article.article_id, position=i,
                    text=f"段{i}", char_start=2 * i, char_end=2 * i + 1) for i in range(count)]


def test_title_comes_first_in_the_metadata_fields() -> None:
    # content_hash hashes title, body, then METADATA_FIELDS[1:]: the title must be first.
    assert METADATA_FIELDS[0] == "title"
    assert ArticleMetadata.model_fields["title"].is_required()


def test_every_metadata_field_is_mapped() -> None:
    assert set(METADATA_FIELDS) - set(PROPERTIES) == set()
    assert set(HIT_SOURCE_FIELDS) - set(PROPERTIES) == set()
    assert set(PASSAGE_SPAN_FIELDS) - set(PROPERTIES) == set()


@pytest.mark.parametrize("model", [Hit, ArticleView, ArticleIn])
def test_api_models_carry_every_metadata_field(model: type) -> None:
    assert set(METADATA_FIELDS) <= set(model.model_fields), model.__name__


def test_hits_fetch_every_metadata_field() -> None:
    assert set(METADATA_FIELDS) <= set(HIT_SOURCE_FIELDS)
    assert {"article_id", "position", "text"} <= set(HIT_SOURCE_FIELDS)


def test_index_fields_add_the_year_and_the_normalised_document_number() -> None:
    fields = index_fields(_article())
    assert fields["year"] == 2022
    assert fields["doc_number"] == normalize_doc_number("崇港委〔2022〕171号") == "崇港委〔2022〕171号"
    assert fields["article_id"] == "0123456789abcdef"
    assert {k: v for k, v in fields.items() if k not in ("year", "doc_number", "article_id")} == {
        name: getattr(_article(), name) for name in METADATA_FIELDS if name != "doc_number"}
    undated = index_fields(_article(date=None, doc_number=None))
    assert undated["year"] is None and undated["doc_number"] is None


# A different, valid value for each metadata field.
OTHER_VALUES = {"title": "港西镇召开会议", "publisher": "庙镇人民政府", "town": "庙镇", "date": "2022-11-04",
                "department": "社区事务受理中心", "section": "简讯", "newsletter": "港西动态 第4期",
                "doc_number": "崇港委〔2022〕172号", "source": "admin", "url": "https://www.shcm.gov.cn/b.html"}


def test_other_values_cover_every_metadata_field() -> None:
    assert set(OTHER_VALUES) == set(METADATA_FIELDS)  # a new field needs a value here


@pytest.mark.parametrize("name", METADATA_FIELDS)
def test_content_hash_changes_with_each_metadata_field(name: str) -> None:
    base = _article()
    changed = _article(**{name: OTHER_VALUES[name]})
    assert content_hash(changed) != content_hash(base)
    if name != "title":  # title is required
        assert content_hash(_article(**{name: None})) != content_hash(base)


def test_content_hash_changes_with_the_body_and_with_a_value_moving_between_fields() -> None:
    base = _article()
    assert content_hash(_article(body=base.body + "补充。")) != content_hash(base)
    assert content_hash(_article(section="X", newsletter=None)) != content_hash(_article(section=None, newsletter="X"))


def test_content_hash_is_stable_for_the_same_content() -> None:
    assert content_hash(_article()) == content_hash(_article())
    # The id says where the article lives, not what it says.
    assert content_hash(_article(article_id="fedcba9876543210")) == content_hash(_article())


def test_article_actions_write_the_article_and_one_doc_per_passage() -> None:
    article = _article()
    passages = _passages(article, 3)
    vectors = [np.array([0.5, 0.25], dtype=np.float32), [0.1, 0.2], (0.3, 0.4)]
    actions = article_actions(INDEX, article, passages, vectors)
    assert [a["_id"] for a in actions] == ["a:0123456789abcdef"] + [f"p:0123456789abcdef-{i}" for i in range(3)]
    assert all(a["_index"] == INDEX and "_op_type" not in a for a in actions)
    fields = index_fields(article)
    doc = actions[0]["_source"]
    assert doc == {**fields, "doc_type": "article", "body": article.body, "content_hash": content_hash(article),
                   "passage_count": 3, **title_fields(article.title)}
    for passage, vector, action in zip(passages, vectors, actions[1:]):
        src = dict(action["_source"])
        written = src.pop("vector")
        assert src == {**fields, "doc_type": "passage", "passage_id": passage.passage_id,
                       "position": passage.position, "text": passage.text, "char_start": passage.char_start,
                       "char_end": passage.char_end}
        assert [float(x) for x in written] == [float(x) for x in vector]
        # On the wire: a numpy row stays float32 (its shortest digits), anything else becomes a list.
        assert json.loads(OrjsonSerializer().dumps({"v": written}))["v"] == [float(x) for x in vector]
    assert isinstance(actions[1]["_source"]["vector"], np.ndarray)
    assert all(type(a["_source"]["vector"]) is list for a in actions[2:])
    shortest = OrjsonSerializer().dumps({"v": np.array([0.1], dtype=np.float32)})
    assert shortest == b'{"v":[0.1]}'  # not float64's 0.10000000149011612
    # Every field written is mapped: the mapping is strict.
    assert {key for a in actions for key in a["_source"]} - set(PROPERTIES) == set()


def test_article_actions_use_a_given_digest() -> None:
    article = _article()
    actions = article_actions(INDEX, article, _passages(article, 1), [[1.0]], digest="cafe")
    assert actions[0]["_source"]["content_hash"] == "cafe"


def test_article_actions_delete_only_stale_passages_first() -> None:
    article = _article()
    actions = article_actions(INDEX, article, _passages(article, 2), [[0.0], [1.0]], old_passage_count=5)
    deletes = [a for a in actions if a.get("_op_type") == "delete"]
    assert deletes == [{"_op_type": "delete", "_index": INDEX, "_id": passage_doc_id(article.article_id, i)}
                       for i in (2, 3, 4)]
    assert actions[:3] == deletes
    assert [a["_id"] for a in actions[3:]] == [article_doc_id(article.article_id)] + [
        passage_doc_id(article.article_id, i) for i in (0, 1)]
    for old in (0, 1, 2):  # the index held no more passages than now: nothing to delete
        kept = article_actions(INDEX, article, _passages(article, 2), [[0.0], [1.0]], old_passage_count=old)
        assert not any(a.get("_op_type") == "delete" for a in kept)


@pytest.mark.parametrize("vectors", [[], [[0.0]], [[0.0]] * 3])
def test_article_actions_refuse_a_vector_count_mismatch(vectors: list[list[float]]) -> None:
    article = _article()
    with pytest.raises(ValueError, match="2 passages"):
        article_actions(INDEX, article, _passages(article, 2), vectors)
