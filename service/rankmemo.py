"""The learned ranker's scores, remembered per exact input, so a repeated query skips the model.

The ranking stage (`service.ranking`) scores a query's fused candidates from nothing but the query
text, the candidates and the retrievers' lists they were fused from: each candidate's scores, named
clause scores, ranks and its slim `_source`. A passage's `_source` is fixed by its version
(concrete index, passage id, `_seq_no`, `_primary_term`; `service.pagecache`), so a key of the query
text, the depth, and every list's and entry's ids, versions, scores, clause scores and ranks (kept as
its 64-bit hash, see `_key`) fixes the model's input, and so its output: a remembered score is the
one the model would give. The answer is rebuilt from the current entries exactly as the learned ranker
builds it (same scores, `service.fusion.in_order`): only a ranker that answers in that order may be
wrapped (the searcher wraps the learned ranker alone). Lists without versions (a search that did not
ask for them) are never remembered. At most RANKER_CACHE_SIZE queries are kept, least recently used
dropped first; 0 keeps none.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from service.fusion import Candidate, Fused, in_order
from service.ranking import Reranker


def _key(q: str, entries: list[Fused], lists: dict[str, list[Candidate]], depth: int) -> Hashable | None:
    sides = []
    for name in sorted(lists):
        side = []
        for c in lists[name]:
            if c.version is None:
                return None
            side.append((c.article_id, c.index, c.doc_id, c.version, c.score, c.exact, tuple(c.clauses.items())))
        sides.append((name, tuple(side)))
    shown = tuple((e.article_id, e.candidate.index, e.candidate.doc_id, e.candidate.version, e.exact, e.score,
                   tuple(e.ranks.items())) for e in entries)
    # The input's hash stands for it: the whole tuple is an estimated ~200 KB per query, its hash 8 bytes. Strings hash
    # with the process's random SipHash key, so two inputs of one query text colliding is a ~2^-64 accident.
    return (q, depth, hash((tuple(sides), shown)))


class RankMemo:
    """A `Reranker` that remembers `ranker`'s scores per exact input (see the module docstring)."""

    def __init__(self, ranker: Reranker, size: int) -> None:
        self.ranker = ranker
        self.name = ranker.name
        self.size = size
        self._scores: OrderedDict[Hashable, dict[str, float]] = OrderedDict()

    def rerank(self, q: str, entries: list[Fused], lists: dict[str, list[Candidate]],
               depth: int) -> list[Fused] | None:
        key = _key(q, entries, lists, depth) if self.size > 0 else None
        scores = self._scores.get(key) if key is not None else None
        if scores is not None:
            self._scores.move_to_end(key)
            scored = [Fused(e.article_id, scores[e.article_id], e.candidate, e.ranks, e.exact) for e in entries]
            return in_order(scored)
        ranked = self.ranker.rerank(q, entries, lists, depth)
        if ranked is not None and key is not None:
            self._scores[key] = {e.article_id: e.score for e in ranked}
            while len(self._scores) > self.size:
                self._scores.popitem(last=False)
        return ranked
