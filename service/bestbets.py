"""Best bets (办事直达): results an administrator pins above the results for a query.

A rule names a query and how it matches — `exact` (the whole query, after `normalize_text`, lower case,
spaces collapsed) or `contains` (the rule's words occur in the query) — and what to show: an article
of the index (`article_id`) or a link (`url`: a service page, a form), with a title. Rules live in
Elasticsearch (`BEST_BETS_INDEX`), so every API replica shows the same ones; each process re-reads them
at most `RULES_TTL` seconds after a change elsewhere, at once after a change it made itself.
Exact matches come first, then contained ones, longer rule queries first.

A rule naming an article is shown only while that article is in the live index (`INDEX_ALIAS`): one deleted
or left out of a rebuild since the rule was written would be a link to a 404. The rule stays stored, and
`GET /admin/bestbets` lists it with `"shown": false`; it is shown again once the article is back. The check
is one `mget` per re-read of the rules, never one per search; when it cannot be made, the rules are shown
unchecked.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError
from pydantic import ValidationError

from govsearch.actions import article_doc_id
from govsearch.rules import match_key
from indexer.elastic import SYSTEM_WRITE_REFRESH
from service.schemas import BestBet
from service.sysindex import ensure_system_index

log = logging.getLogger(__name__)

RULES_TTL = 10.0
MAX_RULES = 1000


class BestBets:
    def __init__(self, es: AsyncElasticsearch, index: str, alias: str) -> None:
        self.es = es
        self.index = index
        self.alias = alias  # the live index, whose articles rules may name
        self._cache: tuple[float, list[dict[str, Any]]] | None = None  # (when read, the rules searches show)

    async def all(self) -> list[dict[str, Any]]:
        """Every readable rule, with its id; sorted by query. A stored rule the contract (`BestBet`) does not
        accept (written around the API, or by an older version) is logged with its id and left out, so it
        can neither fail a search nor the list; `DELETE /admin/bestbets/{id}` removes it."""
        if not await self.es.indices.exists(index=self.index):
            return []
        result = await self.es.search(index=self.index, size=MAX_RULES, query={"match_all": {}})
        rules = []
        for hit in result["hits"]["hits"]:
            try:
                rules.append(BestBet.model_validate({**hit["_source"], "id": hit["_id"]}).model_dump())
            except ValidationError as exc:
                log.warning("best bets: rule %r in %s is not readable, left out: %s", hit["_id"], self.index,
                            exc.errors(include_url=False, include_input=False))
        return sorted(rules, key=lambda rule: (rule["query"], rule["id"]))

    async def shown(self, rules: list[dict[str, Any]]) -> list[bool]:
        """Per rule, whether searches show it: a link always, an article while the live index holds it (all
        True when the index cannot be asked)."""
        ids = sorted({rule["article_id"] for rule in rules if rule["article_id"] is not None})
        if not ids:
            return [True] * len(rules)
        try:
            result = await self.es.mget(index=self.alias, ids=[article_doc_id(i) for i in ids], source=False)
        except Exception:
            log.warning("best bets: could not check their articles in %s; shown unchecked", self.alias,
                        exc_info=True)
            return [True] * len(rules)
        found = {doc["_id"] for doc in result["docs"] if doc.get("found")}
        return [rule["article_id"] is None or article_doc_id(rule["article_id"]) in found for rule in rules]

    async def put(self, bet_id: str, rule: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create or replace a rule; (the rule, True when it is new). Searchable on return."""
        await self._ensure_index()
        stored = {**rule, "query": match_key(rule["query"])}
        result = await self.es.index(index=self.index, id=bet_id, document=stored, refresh=SYSTEM_WRITE_REFRESH)
        self._cache = None
        return {"id": bet_id, **stored}, result["result"] == "created"

    async def delete(self, bet_id: str) -> bool:
        """Remove a rule; False when there was none."""
        try:
            await self.es.delete(index=self.index, id=bet_id, refresh=SYSTEM_WRITE_REFRESH)
        except NotFoundError:
            return False
        self._cache = None
        return True

    def forget(self) -> None:
        """Read the rules and check their articles again at the next search (an article was written or deleted)."""
        self._cache = None

    async def matching(self, query: str) -> list[dict[str, Any]]:
        """The rules that apply to `query`, exact ones first, then contained ones (longer first). Rules
        that cannot be read leave the previous ones (or none) in place: they never fail a search."""
        now = time.monotonic()
        if self._cache is None or now - self._cache[0] > RULES_TTL:
            try:
                rules = await self.all()
                self._cache = (now, [rule for rule, shown in zip(rules, await self.shown(rules), strict=True) if shown])
            except Exception:
                log.warning("best bets: rules not readable from %s", self.index, exc_info=True)
                self._cache = (now, self._cache[1] if self._cache else [])
        key = match_key(query)
        exact = [r for r in self._cache[1] if r["match"] == "exact" and r["query"] == key]
        contained = [r for r in self._cache[1] if r["match"] == "contains" and r["query"] in key]
        return exact + sorted(contained, key=lambda r: -len(r["query"]))

    async def _ensure_index(self) -> None:
        await ensure_system_index(self.es, self.index, "bestbets")
