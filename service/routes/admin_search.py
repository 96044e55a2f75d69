"""/admin endpoints about searching (not indexing): the search analytics, best bets (办事直达), the
synonym rules (plain words → official terms) and the words hidden from 热门搜索 and the suggestions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from govsearch.actions import article_doc_id
from service.auth import note, require_admin
from service.deps import BestBetsDep, EsDep, HiddenQueriesDep, QueryLogDep, SettingsDep, SynonymsDep
from service.errors import Conflict, NotFound, invalid_parameter
from service.hidden import HiddenWordError, HiddenWords
from service.ruledoc import ListT, RuleDocument, Stored, VersionConflict
from service.schemas import (
    BAD_BODY_RESPONSE,
    CONFLICT_RESPONSE,
    NOT_FOUND_RESPONSE,
    AnalyticsReport,
    BestBet,
    BestBetIn,
    BestBetList,
    HiddenQueries,
    HiddenQueriesIn,
    SynonymRules,
    SynonymRulesIn,
)
from service.synonyms import SynonymError, SynonymSet

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/analytics", response_model=AnalyticsReport)
async def analytics(query_log: QueryLogDep,
                    size: Annotated[int, Query(ge=1, le=200, description="Rows per list.")] = 20,
                    days: Annotated[int, Query(ge=1, le=3650, description="The period, in days up to now.")] = 30,
                    ) -> AnalyticsReport:
    """Top queries with their clicks and click-through, queries that found nothing, and the totals."""
    return AnalyticsReport.model_validate(await query_log.analytics(size, days))


# Not starting with a dot: "." and ".." in Elasticsearch's URL (/index/_doc/ID) are path segments an HTTP client
# collapses, so a delete of rule ".." became a request on the index itself.
BetId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$",
                            description="The rule's id, chosen by the admin: letters, digits, _ - and . (not first).")]


@router.get("/bestbets", response_model=BestBetList)
async def list_best_bets(best_bets: BestBetsDep) -> BestBetList:
    """Every best-bet rule, and whether searches show it (`shown`: false while its article is not in the live
    index)."""
    rules = await best_bets.all()
    listed = [{**rule, "shown": shown} for rule, shown in zip(rules, await best_bets.shown(rules), strict=True)]
    return BestBetList.model_validate({"best_bets": listed})


@router.put("/bestbets/{bet_id}", response_model=BestBet,
            responses={201: {"model": BestBet, "description": "Created."}, **BAD_BODY_RESPONSE})
async def put_best_bet(bet_id: BetId, rule: BestBetIn, best_bets: BestBetsDep, es: EsDep, settings: SettingsDep,
                       response: Response, request: Request) -> BestBet:
    """Create or replace a rule; searches show it as soon as this returns (other replicas within 10 s). An
    `article_id` must name an article of the live index (422 otherwise: the page would link to a 404)."""
    if rule.article_id is not None and not await es.exists(index=settings.index_alias,
                                                           id=article_doc_id(rule.article_id)):
        raise invalid_parameter("article_id", f"no article {rule.article_id!r} in the index {settings.index_alias!r}")
    stored, created = await best_bets.put(bet_id, rule.model_dump())
    response.status_code = 201 if created else 200
    note(request, query=stored["query"], match=stored["match"], target=stored["article_id"] or stored["url"])
    return BestBet.model_validate(stored)


@router.delete("/bestbets/{bet_id}", status_code=204, response_class=Response, responses=NOT_FOUND_RESPONSE)
async def delete_best_bet(bet_id: BetId, best_bets: BestBetsDep) -> Response:
    if not await best_bets.delete(bet_id):
        raise NotFound("best bet", bet_id)
    return Response(status_code=204)


def _rules(stored: Stored[SynonymSet]) -> SynonymRules:
    return SynonymRules(rules=stored.value.lines, count=len(stored.value.rules), version=stored.version,
                        updated=stored.updated)


@router.get("/synonyms", response_model=SynonymRules)
async def get_synonyms(synonyms: SynonymsDep) -> SynonymRules:
    """The live synonym rules (seeded from the repo's data/synonyms.txt when none are stored)."""
    return _rules(await synonyms.stored())


@router.put("/synonyms", response_model=SynonymRules, responses={**BAD_BODY_RESPONSE, **CONFLICT_RESPONSE})
async def put_synonyms(body: SynonymRulesIn, synonyms: SynonymsDep, request: Request) -> SynonymRules:
    """Replace the whole set. A rule that does not parse is a 422 naming its entry (`rules.3`) and nothing
    is stored; so is a set based on a `version` no longer stored (409 `version_conflict`). Searches of this
    process use the new set as soon as this returns, other replicas within 10 s."""
    try:
        parsed = SynonymSet(body.rules)
    except SynonymError as exc:
        raise invalid_parameter(f"rules.{exc.line - 1}", f"{exc.text!r}: {exc.reason}") from None
    return _rules(await _replaced(synonyms, parsed, body.version, request))


async def _replaced(document: RuleDocument[ListT], value: ListT, version: int | None,
                    request: Request) -> Stored[ListT]:
    """`document.replace`, a version conflict answered 409 `version_conflict` naming both versions; the audit
    line says which version replaced which and the lines added and removed."""
    before = await document.latest()  # for the audit line only: it stores no seed
    try:
        stored = await document.replace(value, version)
    except VersionConflict as exc:
        raise Conflict("version_conflict", str(exc), expected_version=exc.expected,
                       current_version=exc.current) from None
    old, new = set(before.value.lines), set(value.lines)
    note(request, version=f"{before.version}->{stored.version}",
         added=[line for line in value.lines if line not in old],
         removed=[line for line in before.value.lines if line not in new])
    return stored


def _hidden(stored: Stored[HiddenWords], hidden: HiddenQueriesDep) -> HiddenQueries:
    return HiddenQueries(words=stored.value.lines, settings_words=list(hidden.always), version=stored.version,
                         updated=stored.updated)


@router.get("/hidden-queries", response_model=HiddenQueries)
async def get_hidden_queries(hidden: HiddenQueriesDep) -> HiddenQueries:
    """The words hidden from GET /hot and the query suggestions: the stored list (`words`, which PUT replaces)
    and SUGGEST_HIDDEN_QUERIES (`settings_words`)."""
    return _hidden(await hidden.stored(), hidden)


@router.put("/hidden-queries", response_model=HiddenQueries, responses={**BAD_BODY_RESPONSE, **CONFLICT_RESPONSE})
async def put_hidden_queries(body: HiddenQueriesIn, hidden: HiddenQueriesDep, request: Request) -> HiddenQueries:
    """Replace the stored list. A past query holding one of the words (both normalised, any case) leaves
    /hot and the suggestions of this process as soon as this returns, of other replicas within 10 s; the
    search log keeps it (the analytics still list it), so removing the word brings it back. An empty or too
    long word is a 422 naming it (`words.2`) and nothing is stored; so is a list based on a `version` no longer
    stored (409 `version_conflict`)."""
    try:
        words = HiddenWords(body.words)
    except HiddenWordError as exc:
        raise invalid_parameter(f"words.{exc.position}", exc.reason) from None
    return _hidden(await _replaced(hidden, words, body.version, request), hidden)
