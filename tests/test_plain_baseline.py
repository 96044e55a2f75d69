"""bench.relevance.plain, on the real node: plain Elasticsearch over the same articles as a known-item task."""

from __future__ import annotations

import json
from pathlib import Path

from elasticsearch import Elasticsearch

from bench.relevance import known_item, plain

INDEX = "test-plain-baseline"
RECORDS = [
    {"id": "a", "title": "全国春耕备耕工作会议召开", "date": "2023-03-01", "body": "会议部署春耕备耕和粮食生产工作。",
     "tags": "春耕,备耕,粮食生产"},
    {"id": "b", "title": "长江禁捕退捕工作推进会", "date": "2023-04-01", "body": "推进长江十年禁渔，做好退捕渔民安置。",
     "tags": "长江,禁捕,退捕渔民"},
    {"id": "c", "title": "国内联播快讯", "date": "2023-05-01", "body": "各地开展安全生产大检查，排查隐患。",
     "tags": "安全生产,隐患排查"},
]


def test_plain_known_items_find_their_article_by_the_same_ids_and_reuse_a_complete_index(
        es: Elasticsearch, tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    try:
        assert plain.ensure_index(es, INDEX, [source], reuse=False) == 3
        uuid = es.indices.get_settings(index=INDEX)[INDEX]["settings"]["index"]["uuid"]
        items = [known_item.KnownItem(r["id"], known_item.tags_query(r) or "", known_item.article_id(r), r["title"],
                                      2023, "dev") for r in RECORDS]
        ranks, totals = plain.known_items(es, INDEX, items)
        assert ranks == [1.0, 1.0, 1.0]  # the indexer's reader gives the ids the known items expect
        assert all(1 <= total <= 3 for total in totals)
        # A complete index is reused as it is; without reuse it is built afresh.
        assert plain.ensure_index(es, INDEX, [source], reuse=True) == 3
        assert es.indices.get_settings(index=INDEX)[INDEX]["settings"]["index"]["uuid"] == uuid
        plain.ensure_index(es, INDEX, [source], reuse=False)
        assert es.indices.get_settings(index=INDEX)[INDEX]["settings"]["index"]["uuid"] != uuid
    finally:
        es.indices.delete(index=INDEX, ignore_unavailable=True)
