"""The page's hits as the page fetch read them, kept per passage version and highlight query.

A fused page (vector and hybrid modes) shows passages the candidate search found lean; the page fetch
(`service.query.page_hits_search`) then reads each whole and highlighted. What it returns for a passage
depends on nothing but that passage's indexed content and the highlight query (the query's text and
the official terms searched for it): the unified highlighter scores a passage's fragments from the
document's own term frequencies, not from index statistics. So a hit is kept under

    (concrete index, passage id, `_seq_no`, `_primary_term`, query text, synonyms)

and the candidate searches report each hit's `_seq_no` and `_primary_term` (`seq_no_primary_term`):
a passage re-indexed since gets a new sequence number, a new index is another name, so a kept hit is
only ever used for the very version it was read from, and the answer is the one a page fetch would
give. A repeated query (a popular search, a page reloaded) then needs no page fetch for the passages
already shown: one round trip instead of two. At most PAGE_CACHE_SIZE hits are kept, least recently
used dropped first; 0 keeps none.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from service.fusion import Candidate, version_of

Key = tuple[str, str, int, int, str, tuple[str, ...]]


class PageCache:
    """Page hits (`_source` and `highlight` as the page fetch returned them) by `Key`; LRU, `size` at most."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._hits: OrderedDict[Key, dict[str, Any]] = OrderedDict()

    @staticmethod
    def key(candidate: Candidate, q: str, synonyms: tuple[str, ...]) -> Key | None:
        """The key of `candidate`'s passage for the highlight query (`q`, `synonyms`); None when the candidate
        search did not report the passage's version (then it is always fetched)."""
        if candidate.version is None or not candidate.index or not candidate.doc_id:
            return None
        return (candidate.index, candidate.doc_id, *candidate.version, q, synonyms)

    @staticmethod
    def hit_key(hit: dict[str, Any], q: str, synonyms: tuple[str, ...]) -> Key | None:
        """The key of a page fetch's `hit`: the version it was read at, which a candidate search that ran
        before a re-index may not match (then that search fetches, and the hit serves later ones)."""
        version = version_of(hit)
        if version is None:
            return None
        return (hit["_index"], hit["_id"], *version, q, synonyms)

    def get(self, key: Key | None) -> dict[str, Any] | None:
        hit = self._hits.get(key) if key is not None else None
        if hit is not None:
            self._hits.move_to_end(key)  # type: ignore[arg-type]
        return hit

    def put(self, key: Key | None, hit: dict[str, Any]) -> None:
        if key is None or self.size <= 0:
            return
        self._hits[key] = hit
        self._hits.move_to_end(key)
        while len(self._hits) > self.size:
            self._hits.popitem(last=False)
