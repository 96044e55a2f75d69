"""Synonyms (plain words → official terms) through the real app and node: plain words find the articles
written in official terms, exact matches stay first, and admins replace the rules without a restart."""

from __future__ import annotations

import asyncio
import re

import pytest
from elasticsearch import AsyncElasticsearch
from fastapi.testclient import TestClient

from govsearch.settings import Settings
from service import ruledoc
from service.synonyms import Synonyms, SynonymSet

ADMIN = {"Authorization": "Bearer test-admin-token"}
ELDERLY_VACCINATION = {"b26bb4e51d18cd11", "6c7d062166fe9ce6"}  # 排衙村/协北村: 老年人 + 疫苗接种, never 老人


@pytest.fixture
def rules(seeded_rules: TestClient) -> TestClient:
    return seeded_rules


def search(client: TestClient, q: str, mode: str = "bm25") -> dict:
    response = client.get("/search", params={"q": q, "mode": mode})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_plain_word_finds_the_articles_in_official_terms(rules: TestClient, mode: str) -> None:
    body = search(rules, "老人打针", mode)
    assert body["understood"]["synonyms"] == [{"word": "老人", "terms": ["老年人"]},
                                              {"word": "打针", "terms": ["疫苗接种", "接种疫苗"]}]
    top = [hit["id"] for hit in body["hits"][:3]]
    assert set(top) >= ELDERLY_VACCINATION, body["hits"][:3]
    # The official terms are highlighted in the snippets, as the typed words are (touching marks are one:
    # <em>老年人疫苗接种</em>).
    marked = [text for hit in body["hits"][:3] for text in re.findall("<em>(.*?)</em>", hit["snippet"])]
    assert any("老年人" in text for text in marked), marked


def test_without_the_rule_the_plain_words_miss_them(rules: TestClient) -> None:
    assert rules.put("/admin/synonyms", headers=ADMIN, json={"rules": ["# none"]}).status_code == 200
    body = search(rules, "老人打针")
    assert body["understood"] is None
    assert not ELDERLY_VACCINATION & {hit["id"] for hit in body["hits"]}


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_an_exact_match_stays_first(rules: TestClient, mode: str) -> None:
    # 独居老人 occurs verbatim in one article; 老人 → 老年人 adds others below it.
    body = search(rules, "独居老人", mode)
    assert body["understood"]["synonyms"] == [{"word": "老人", "terms": ["老年人"]}]
    assert "独居老人" in body["hits"][0]["text"]
    # An exact title containing a plain word is still the first hit.
    title = "泖港镇开展重点企业安全大检查"  # 安全大检查 → 安全检查
    exact = search(rules, title, mode)
    assert exact["understood"]["synonyms"] and exact["hits"][0]["title"] == title


def test_admins_read_and_replace_the_rules_and_searches_follow_at_once(rules: TestClient, settings: Settings) -> None:
    seeded = rules.get("/admin/synonyms", headers=ADMIN)
    assert seeded.status_code == 200, seeded.text
    repo = SynonymSet.from_file(settings.synonyms_file)
    assert seeded.json()["count"] == len(repo.rules) >= 100 and seeded.json()["version"] == 1
    assert search(rules, "长者 接种")["understood"] is None

    new = ["# 本地补充", "长者 => 老年人", "防火, 消防"]
    put = rules.put("/admin/synonyms", headers=ADMIN, json={"rules": new})
    assert put.status_code == 200, put.text
    assert put.json()["rules"] == new and put.json()["count"] == 2 and put.json()["version"] == 2
    assert rules.get("/admin/synonyms", headers=ADMIN).json()["rules"] == new
    # The next search of this process uses the new set: no restart, no wait.
    body = search(rules, "长者 接种")
    assert body["understood"]["synonyms"] == [{"word": "长者", "terms": ["老年人"]}]
    assert {hit["id"] for hit in body["hits"][:3]} >= ELDERLY_VACCINATION
    assert search(rules, "老人打针")["understood"] is None  # the old rules are gone


def test_another_process_picks_the_change_up_by_version(rules: TestClient, settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ruledoc, "RULES_TTL", 0.0)  # the replica's 10 s, elapsed at once

    async def replica_sees(q: str) -> list:
        es = AsyncElasticsearch(settings.elasticsearch_hosts)
        try:
            other = Synonyms(es, settings.synonyms_index, settings.synonyms_file)
            first = (await other.current()).expand(q)
            assert rules.put("/admin/synonyms", headers=ADMIN, json={"rules": ["长者 => 老年人"]}).status_code == 200
            return [first, (await other.current()).expand(q)]
        finally:
            await es.close()

    before, after = asyncio.run(replica_sees("长者"))
    assert before == [] and [e.as_json() for e in after] == [{"word": "长者", "terms": ["老年人"]}]


@pytest.mark.parametrize(("rules_body", "parameter", "words"), [
    (["老人 => 老年人", "违建 =>"], "rules.1", "empty term"),
    (["老人 => 老年人 => 长者"], "rules.0", "more than one"),
    (["老年人"], "rules.0", "at least two terms"),
    (["老人 => 老人"], "rules.0", "both sides"),
    (["x"] * 10_001, "rules", ""),
])
def test_a_bad_set_is_422_naming_the_entry_and_stores_nothing(rules: TestClient, rules_body: list[str],
                                                              parameter: str, words: str) -> None:
    before = rules.get("/admin/synonyms", headers=ADMIN).json()
    response = rules.put("/admin/synonyms", headers=ADMIN, json={"rules": rules_body})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["parameter"]) == ("invalid_parameter", parameter) and words in error["message"]
    assert rules.get("/admin/synonyms", headers=ADMIN).json() == before


def test_synonyms_need_an_admin_token(rules: TestClient) -> None:
    assert rules.get("/admin/synonyms").status_code == 401
    assert rules.put("/admin/synonyms", json={"rules": ["长者 => 老年人"]}).status_code == 401
    wrong = {"Authorization": "Bearer not-the-admin-token"}
    assert rules.get("/admin/synonyms", headers=wrong).status_code == 403
    assert rules.put("/admin/synonyms", headers=wrong, json={"rules": ["长者 => 老年人"]}).status_code == 403


def test_a_set_based_on_a_version_no_longer_stored_is_a_409_and_changes_nothing(rules: TestClient) -> None:
    read = rules.get("/admin/synonyms", headers=ADMIN).json()
    assert rules.put("/admin/synonyms", headers=ADMIN,
                     json={"rules": ["长者 => 老年人"], "version": read["version"]}).status_code == 200
    stale = rules.put("/admin/synonyms", headers=ADMIN, json={"rules": ["老人 => 老年人"], "version": read["version"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict", stale.text
    assert rules.get("/admin/synonyms", headers=ADMIN).json()["rules"] == ["长者 => 老年人"]
