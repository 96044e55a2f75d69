"""service.synonyms: the repo's rule file (parses, ≥ 100 rules, official terms from the corpus), parsing,
query expansion, and what expansion adds to the request bodies and the response."""

from __future__ import annotations

import asyncio
import itertools
import json
from functools import cache
from typing import Any

import pytest

from govsearch.paths import SAMPLE_CORPUS, XWLB_CORPUS
from govsearch.rules import normalize_text
from govsearch.settings import Settings
from service.query import SYNONYM_BOOST, SYNONYM_CLAUSE, Filters, SearchRequest, bm25_query, bm25_search, highlight
from service.schemas import SearchResponse
from service.search import Searcher
from service.synonyms import MAX_EXPANSIONS, Expansion, SynonymError, SynonymSet, parse_rule
from tests.unit.es_fakes import FakeBackend, FakeEmbedder, aggregations, hit, response

SEED = Settings(_env_file=None).synonyms_file  # type: ignore[call-arg]
XWLB_YEARS = range(2014, 2027)  # never 2012/2013: held out
XWLB_RECORDS_PER_YEAR = 1000


@cache
def corpus_text() -> str:
    """The sample's raw files and the first records of every xwlb year from 2014 on, normalised as the
    index holds them: the vocabulary official terms must come from."""
    texts = [normalize_text(path.read_text(encoding="utf-8")) for path in sorted(SAMPLE_CORPUS.glob("*.txt"))]
    for year in XWLB_YEARS:
        with (XWLB_CORPUS / f"xwlb-{year}.jsonl").open(encoding="utf-8") as lines:
            for line in itertools.islice(lines, XWLB_RECORDS_PER_YEAR):
                record = json.loads(line)
                texts.append(normalize_text(f"{record['title']}\n{record['body']}"))
    return "\n".join(texts).lower()


# ---- the repo's file ----------------------------------------------------------------------------

def test_the_repo_file_parses_and_has_at_least_100_rules() -> None:
    synonyms = SynonymSet.from_file(SEED)
    assert len(synonyms.rules) >= 100
    assert sum(rule.one_way for rule in synonyms.rules) >= 100  # mostly plain → official


@pytest.mark.skipif(not XWLB_CORPUS.is_dir(), reason="the shared xwlb corpus is not beside the checkout")
def test_every_official_term_occurs_in_the_corpus() -> None:
    text = corpus_text()
    invented = sorted(term for term in SynonymSet.from_file(SEED).official_terms() if term not in text)
    assert not invented, f"official terms found neither in data/sample nor in xwlb 2014-2026: {invented}"


# ---- parsing ------------------------------------------------------------------------------------

def test_one_way_and_equivalence_rules() -> None:
    one_way = parse_rule(" 老人, 老人家 => 老年人 ")
    assert one_way is not None and (one_way.words, one_way.terms, one_way.one_way) == (("老人", "老人家"), ("老年人",), True)
    same = parse_rule("防火, 消防")
    assert same is not None and (same.words, same.terms, same.one_way) == (("防火", "消防"), ("防火", "消防"), False)
    assert parse_rule("") is None and parse_rule("  # 注释 => 无") is None
    traditional = parse_rule("違建 => 違章建築")  # compared as the index holds text: simplified
    assert traditional is not None and traditional.terms == ("违章建筑",)


@pytest.mark.parametrize(("line", "reason"), [
    ("老人 =>", "empty term"),
    ("=> 老年人", "empty term"),
    ("老人,, 老者 => 老年人", "empty term"),
    ("老人 => 老年人 => 长者", "more than one"),
    ("老人 => 老人, 老年人", "both sides"),
    ("老年人", "at least two terms"),
    ("老人 => " + "长" * 21, "longer than 20"),
    ("a, " * 200 + "b", "longer than 500"),
])
def test_a_bad_rule_says_why(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_rule(line)


def test_a_bad_line_is_named_by_its_number() -> None:
    with pytest.raises(SynonymError) as raised:
        SynonymSet(["# 注释", "老人 => 老年人", "", "违建 =>"])
    assert (raised.value.line, raised.value.text) == (4, "违建 =>")


# ---- expansion ----------------------------------------------------------------------------------

RULES = SynonymSet(["老人, 老人家 => 老年人", "煤气 => 燃气", "煤气泄漏 => 燃气泄漏", "防火, 消防",
                    "违建 => 违章建筑, 私搭乱建"])


def test_a_plain_word_adds_its_official_terms() -> None:
    assert RULES.expand("给老人装电视") == [Expansion("老人", ("老年人",))]
    assert RULES.expand("违建怎么举报") == [Expansion("违建", ("违章建筑", "私搭乱建"))]
    assert RULES.expand("消防演练") == [Expansion("消防", ("防火",))]  # an equivalence adds the others
    assert RULES.expand("安全生产检查") == []


def test_longest_words_win_and_do_not_overlap() -> None:
    # 老人家 (not 老人), 煤气泄漏 (not 煤气 inside it); in the query's order.
    assert RULES.expand("老人家里防止煤气泄漏") == [Expansion("老人家", ("老年人",)), Expansion("煤气泄漏", ("燃气泄漏",))]


def test_terms_the_query_holds_are_not_added_twice() -> None:
    assert RULES.expand("老年人 老人") == []
    assert RULES.expand("老人 老人家") == [Expansion("老人", ("老年人",))]  # one term, once, in query order


def test_the_query_is_compared_normalised() -> None:
    assert RULES.expand("給老人裝電視") == [Expansion("老人", ("老年人",))]


def test_a_query_adds_a_bounded_number_of_terms() -> None:
    many = SynonymSet([f"词{i} => 术语{i}甲, 术语{i}乙" for i in range(10)])
    added = [term for expansion in many.expand("".join(f"词{i} " for i in range(10))) for term in expansion.terms]
    assert len(added) == MAX_EXPANSIONS


# ---- request bodies -----------------------------------------------------------------------------

def test_official_terms_are_low_weight_recall_clauses() -> None:
    plain = bm25_query("给老人装电视", Filters())
    expanded = bm25_query("给老人装电视", Filters(), synonyms=("老年人",))
    recall = expanded["bool"]["must"][0]["bool"]["should"]
    clause = {"multi_match": {"query": "老年人", "type": "phrase", "fields": ["title^3", "text"],
                              "boost": SYNONYM_BOOST, "_name": SYNONYM_CLAUSE}}
    assert recall == [*plain["bool"]["must"][0]["bool"]["should"], clause]
    # The typed words keep every clause and weight they had: exact titles and phrases still decide.
    assert expanded["bool"]["should"] == plain["bool"]["should"]
    assert SYNONYM_BOOST < 1


def test_official_terms_are_highlighted_too() -> None:
    assert highlight("老人")["highlight_query"] == {"match": {"text": {"query": "老人"}}}
    assert highlight("老人", ("老年人",))["highlight_query"] == {"bool": {"should": [
        {"match": {"text": {"query": "老人"}}}, {"match_phrase": {"text": "老年人"}}]}}
    body = bm25_search(SearchRequest(q="老人", synonyms=("老年人",)), offset=0, limit=10, with_aggs=False, timeout=1)
    assert body["highlight"] == highlight("老人", ("老年人",))


# ---- the searcher -------------------------------------------------------------------------------

class _Rules:
    async def current(self) -> SynonymSet:
        return RULES


AGGS = aggregations()


def _bm25_search(enabled: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    backend = FakeBackend(bm25=response([hit("a1", 12.0)], AGGS))
    settings = Settings(_env_file=None, index_alias="unit", synonyms_enabled=enabled)  # type: ignore[call-arg]
    result = asyncio.run(Searcher(backend, FakeEmbedder(), settings, synonyms=_Rules()).search(
        SearchRequest(q="給老人裝電視", mode="bm25")))
    SearchResponse.model_validate(result)
    ((_, (body,)),) = [call for call in backend.calls if call[0] == "unit"]
    return result, body


def test_a_searcher_with_another_ranker_searches_as_the_service_does() -> None:
    """The trainer records candidates through `Searcher.with_ranker`: its requests carry the same synonym clauses
    (a recorder once searched without them, and the ranker trained on candidates the service never sees)."""
    backend = FakeBackend(bm25=response([hit("a1", 12.0)], AGGS))
    settings = Settings(_env_file=None, index_alias="unit")  # type: ignore[call-arg]
    service = Searcher(backend, FakeEmbedder(), settings, synonyms=_Rules())
    recorder = object()
    recording = service.with_ranker(recorder)  # type: ignore[arg-type]
    assert recording.ranker is recorder and recording.admission is service.admission
    for searcher in (service, recording):
        asyncio.run(searcher.search(SearchRequest(q="给老人装电视", mode="bm25")))
    first, second = [body for index, (body,) in backend.calls if index == "unit"]
    assert first == second and SYNONYM_CLAUSE in json.dumps(first)


def test_the_searcher_expands_and_reports_it() -> None:
    result, body = _bm25_search(enabled=True)
    assert result["understood"] == {"text": "给老人装电视", "date_from": None, "date_to": None,
                                    "date_applied": False, "town": None,
                                    "synonyms": [{"word": "老人", "terms": ["老年人"]}]}
    assert {"multi_match": {"query": "老年人", "type": "phrase", "fields": ["title^3", "text"],
                            "boost": SYNONYM_BOOST, "_name": SYNONYM_CLAUSE}} in body["query"]["bool"]["must"][0]["bool"]["should"]


def test_synonyms_enabled_false_searches_the_typed_words_only() -> None:
    result, body = _bm25_search(enabled=False)
    assert result["understood"] is None
    assert "老年人" not in json.dumps(body, ensure_ascii=False)


class _SlowStore:
    """An Elasticsearch `get` for the stored set that takes a moment and counts its calls."""

    def __init__(self) -> None:
        self.gets = 0

    async def get(self, index: str, id: str, source: bool = True) -> dict[str, Any]:
        self.gets += 1
        await asyncio.sleep(0.05)
        return {"_version": 3, "_source": {"rules": ["老人 => 老年人"], "updated": "2026-11-29T00:00:00+00:00"}}


def test_searches_arriving_together_share_one_version_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from service import ruledoc
    from service import synonyms as module

    store = _SlowStore()
    rules = module.Synonyms(store, "unit-synonyms", Settings(_env_file=None).synonyms_file)  # type: ignore[arg-type,call-arg]

    async def bursts() -> tuple[int, int, list[SynonymSet]]:
        first = await asyncio.gather(*(rules.current() for _ in range(20)))
        after_first = store.gets  # an empty cache: all waited for the one read (version check + document)
        monkeypatch.setattr(ruledoc, "RULES_TTL", -1.0)  # every set is stale from now on
        await asyncio.gather(*(rules.current() for _ in range(20)))
        return after_first, store.gets, first

    after_first, after_second, first = asyncio.run(bursts())
    assert after_first == 2 and all(s.lines == ["老人 => 老年人"] for s in first)
    assert after_second == 3  # one version check (same version: no document read); the rest used the set held
