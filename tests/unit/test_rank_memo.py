"""`service.rankmemo`: the learned ranker's scores remembered per exact input. A repeat gets the very
answer the model gives (same articles, scores, order, shown passages) without asking it; any change of
the input (a score, a passage version, the query, a rank) asks the model again; inputs without versions
are never remembered; the searcher wraps only the learned ranker."""

from __future__ import annotations

from dataclasses import replace

from govsearch.settings import Settings
from service.fusion import Candidate, Fused, fuse, in_order
from service.ranking import LearnedRanker
from service.rankmemo import RankMemo
from service.search import Searcher


class CountingRanker:
    """Orders by BM25 rank reversed (not fusion's order), as the learned ranker sorts; counts the calls."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def rerank(self, q: str, entries: list[Fused], lists: dict[str, list[Candidate]],
               depth: int) -> list[Fused] | None:
        self.calls += 1
        scored = [Fused(e.article_id, 0.1 * e.ranks.get("bm25", depth) + len(q) * 0.001, e.candidate,
                        e.ranks, e.exact) for e in entries]
        return in_order(scored)


def _lists(version: int = 3, score: float = 12.0) -> dict[str, list[Candidate]]:
    bm25 = [Candidate(f"a{i}", score - i, {"title": f"t{i}"}, None, doc_id=f"p:a{i}-0", index="ix",
                      version=(version + i, 1), clauses={"words": score - i}) for i in range(4)]
    vector = [Candidate(f"a{i}", 0.8 - 0.1 * i, {"title": f"t{i}"}, None, doc_id=f"p:a{i}-1", index="ix",
                        version=(version, 1)) for i in (3, 1)]
    return {"bm25": bm25, "vector": vector}


def _rank(memo: RankMemo, q: str = "安全", **kwargs: object) -> list[tuple[str, float, str]]:
    lists = _lists(**kwargs)  # type: ignore[arg-type]
    entries = fuse(lists, method="normalized", weights={"bm25": 2.0, "vector": 1.0})
    ranked = memo.rerank(q, entries, lists, 50)
    assert ranked is not None
    return [(e.article_id, e.score, e.candidate.doc_id) for e in ranked]


def test_a_repeat_is_the_models_answer_without_the_model() -> None:
    inner = CountingRanker()
    memo = RankMemo(inner, 10)
    first = _rank(memo)
    assert _rank(memo) == first and inner.calls == 1
    assert [a for a, _, _ in first] == ["a3", "a2", "a1", "a0"]  # the model's order, not fusion's


def test_any_change_of_input_asks_the_model() -> None:
    inner = CountingRanker()
    memo = RankMemo(inner, 10)
    _rank(memo)
    _rank(memo, version=4)  # a passage re-indexed
    _rank(memo, score=13.0)  # other scores
    _rank(memo, q="安全生产")  # another query
    assert inner.calls == 4
    _rank(memo, version=4)
    assert inner.calls == 4


def test_versionless_inputs_and_size_zero_are_never_remembered() -> None:
    inner = CountingRanker()
    memo = RankMemo(inner, 10)
    lists = {name: [replace(c, version=None) for c in side] for name, side in _lists().items()}
    entries = fuse(lists, method="normalized", weights={"bm25": 2.0, "vector": 1.0})
    memo.rerank("安全", entries, lists, 50)
    memo.rerank("安全", entries, lists, 50)
    assert inner.calls == 2
    off = RankMemo(inner, 0)
    _rank(off)
    _rank(off)
    assert inner.calls == 4


def test_least_recently_used_queries_go_first() -> None:
    inner = CountingRanker()
    memo = RankMemo(inner, 2)
    for q in ("一", "二", "一", "三", "一", "二"):
        _rank(memo, q=q)
    assert inner.calls == 4  # 一 二 三 computed, 二 again after 三 pushed it out


class _Scorer:
    def predict(self, rows: object) -> object:
        raise AssertionError("not called here")


def test_the_searcher_wraps_only_the_learned_ranker() -> None:
    learned = LearnedRanker("learned-test", _Scorer())
    settings = Settings(index_alias="test-gov-articles")
    wrapped = Searcher(None, None, settings, ranker=learned).ranker  # type: ignore[arg-type]
    assert isinstance(wrapped, RankMemo) and wrapped.ranker is learned and wrapped.name == "learned-test"
    off = Settings(**{**settings.model_dump(), "ranker_cache_size": 0})
    assert Searcher(None, None, off, ranker=learned).ranker is learned  # type: ignore[arg-type]
    recorder = CountingRanker()  # a training recorder must see every query
    assert Searcher(None, None, settings, ranker=recorder).ranker is recorder  # type: ignore[arg-type]
