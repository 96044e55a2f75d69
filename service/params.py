"""Query parameters more than one route takes, validated once."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BeforeValidator

from service.errors import invalid_parameter

MAX_QUERY_CHARS = 200
MAX_FILTER_VALUES = 20
MAX_FILTER_CHARS = 100
# Control characters (NUL included) carry no meaning in a search box; they are dropped, not searched.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What `search_text` trims as space: control characters and every character that is space to Python's
# str.isspace or to ECMAScript's \s (U+0085 is to the one, U+FEFF to the other), written out so that the
# OpenAPI pattern means the same to every regex engine a client validates with.
_SPACE = r"\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_TRIMMED = f"[{_SPACE}]"
_KEPT = f"[^{_SPACE}]"
_EDGES = re.compile(f"^{_TRIMMED}+|{_TRIMMED}+$")
QUERY_PATTERN = rf"^{_TRIMMED}*{_KEPT}(?:[\s\S]{{0,{MAX_QUERY_CHARS - 2}}}{_KEPT})?{_TRIMMED}*$"
"""`search_text`'s rule as a regular expression, for the OpenAPI contract: something to search for, at most
MAX_QUERY_CHARS characters once trimmed. Documentation only: `search_text` enforces the rule itself, with
messages that say which half failed."""


def search_text(q: str) -> str:
    """`q` without control characters and surrounding space; 422 when nothing or too much is left."""
    text = _EDGES.sub("", _CONTROL.sub(" ", q))
    if not text:
        raise invalid_parameter("q", "must contain something to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise invalid_parameter("q", f"must be at most {MAX_QUERY_CHARS} characters (got {len(text)})")
    return text


async def _search_text(
    q: Annotated[str, Query(description=f"What to search for (or has been typed so far), 1–{MAX_QUERY_CHARS} "
                            "characters after trimming.", max_length=4 * MAX_QUERY_CHARS,
                            json_schema_extra={"pattern": QUERY_PATTERN})],
) -> str:
    """The `q` parameter through `search_text`; async so FastAPI runs it on the event loop (`service.deps`)."""
    return search_text(q)


SearchText = Annotated[str, Depends(_search_text)]


async def _marked_text(
    q: Annotated[str | None, Query(description="The search that led here: its words are returned in `marks`, "
                                   f"as the search reads them; 1–{MAX_QUERY_CHARS} characters after trimming.",
                                   max_length=4 * MAX_QUERY_CHARS,
                                   json_schema_extra={"pattern": QUERY_PATTERN})] = None,
) -> str | None:
    return search_text(q) if q is not None else None


MarkedText = Annotated[str | None, Depends(_marked_text)]


FILTER_SCHEMA = {"maxItems": MAX_FILTER_VALUES, "items": {"type": "string", "maxLength": MAX_FILTER_CHARS}}
"""`filter_values`' caps for the OpenAPI contract (documentation: `filter_values` enforces them)."""


def filter_values(name: str, values: list[str] | None) -> tuple[str, ...]:
    """A repeatable filter (publisher, town, department): at most MAX_FILTER_VALUES values of at most
    MAX_FILTER_CHARS characters each, else 422 naming the parameter. Blank values are left out: a portal's
    form sends `publisher=` for "any publisher", not for articles without one."""
    values = [value for value in values or [] if value.strip()]
    if len(values) > MAX_FILTER_VALUES:
        raise invalid_parameter(name, f"at most {MAX_FILTER_VALUES} values (got {len(values)})")
    for value in values:
        if len(value) > MAX_FILTER_CHARS:
            raise invalid_parameter(name, f"each value must be at most {MAX_FILTER_CHARS} characters "
                                    f"(got {len(value)})")
    return tuple(values)


def _iso_date(value: object) -> object:
    """A date parameter as written YYYY-MM-DD only (pydantic alone also reads 0 or 1700000000 as Unix times
    and 2023-01-01T00:00:00 as a date)."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date as YYYY-MM-DD (and a real one: 2023-02-30 is refused too)."""



def taken_once(openapi: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """Per operation of the contract, (METHOD, path template): the query parameters it takes once, i.e. those
    whose schema is not an array (the filters are repeatable, `q` or `size` are not)."""
    def repeatable(schema: dict[str, Any]) -> bool:
        return schema.get("type") == "array" or any(repeatable(s) for s in schema.get("anyOf", ()))

    return {(method.upper(), path): frozenset(p["name"] for p in operation.get("parameters", ())
                                              if p["in"] == "query" and not repeatable(p.get("schema", {})))
            for path, operations in openapi.get("paths", {}).items() for method, operation in operations.items()}


async def once_each(request: Request) -> None:
    """422 naming the parameter when one the route takes once is given twice (`?q=a&q=b`): the framework would
    silently search the last. The rule comes from the OpenAPI contract (`taken_once`), read once per app."""
    repeated = [name for name, count in Counter(k for k, _ in request.query_params.multi_items()).items() if count > 1]
    if not repeated:
        return
    state = request.app.state
    if not hasattr(state, "taken_once"):
        state.taken_once = taken_once(request.app.openapi())
    method = "GET" if request.method == "HEAD" else request.method
    once = state.taken_once.get((method, getattr(request.scope.get("route"), "path", "")), frozenset())
    for name in repeated:
        if name in once:
            raise invalid_parameter(name, "given more than once: give it once")
