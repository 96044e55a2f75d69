"""The search page, the article view, their static files, the portal widget, OpenSearch and /suggest.

Everything the page needs is served from here (no CDN, no web fonts), with a strict
Content-Security-Policy: scripts and styles only from this origin, and fetches only to it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from govsearch.paths import WEB_DIR
from govsearch.settings import Settings
from service.deps import EsDep, PopularDep, SettingsDep
from service.errors import ApiError, NotFound
from service.params import SearchText
from service.schemas import ERROR_RESPONSES, SuggestResponse
from service.suggest import suggest as suggest_items

router = APIRouter()

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'self'; manifest-src 'self'")
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
# The only files served: name -> media type. Nothing is looked up from the request path.
STATIC = {
    "a11y.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "article.js": "text/javascript; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


PAGE_METHODS = ["GET", "HEAD"]
"""The pages and files here answer HEAD as GET without the body (uptime monitors and link checkers ask so)."""


def _page(name: str, request: Request) -> FileResponse:
    """A page, with a fresh page token (service.apikeys.PageTokens) for its own API requests."""
    response = FileResponse(WEB_DIR / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
    page_tokens = getattr(request.app.state, "page_tokens", None)
    if page_tokens is not None:
        response.headers.append("Set-Cookie", page_tokens.set_cookie(secure=request.url.scheme == "https"))
    return response


@router.api_route("/", methods=PAGE_METHODS, include_in_schema=False)
async def index(request: Request) -> FileResponse:
    return _page("index.html", request)


@router.api_route("/article.html", methods=PAGE_METHODS, include_in_schema=False)
async def article_page(request: Request) -> FileResponse:
    return _page("article.html", request)


@router.api_route("/view/{article_id}", methods=PAGE_METHODS, include_in_schema=False)
async def article_view(article_id: str, request: Request) -> Response:
    """A short link to an article: /view/ID?q=… redirects to the article view."""
    params = {"id": article_id, **({"q": request.query_params["q"]} if "q" in request.query_params else {})}
    return Response(status_code=307, headers={"Location": "/article.html?" + urlencode(params)})


@router.api_route("/static/{name}", methods=PAGE_METHODS, include_in_schema=False)
async def static(name: str) -> FileResponse:
    media_type = STATIC.get(name)
    if media_type is None:
        raise NotFound("static file", name)
    return FileResponse(WEB_DIR / name, media_type=media_type,
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.api_route("/favicon.ico", methods=PAGE_METHODS, include_in_schema=False)
async def favicon() -> FileResponse:
    return FileResponse(WEB_DIR / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


WIDGET_PARTS = ("common.js", "widget.js")
"""What GET /widget.js is made of, in order: the helpers the pages share, then the widget."""


def widget_script() -> str:
    """The widget as portals load it: its parts in one function scope, so the shared helpers
    (`govSearchCommon`, web/common.js) stay local and the widget adds no global of its own."""
    parts = [(WEB_DIR / name).read_text(encoding="utf-8") for name in WIDGET_PARTS]
    return "(function () {\n" + "\n".join(parts) + "\n})();\n"


@router.api_route("/widget.js", methods=PAGE_METHODS, include_in_schema=False)
async def widget() -> Response:
    # Loaded by <script> on portals' pages: cross-origin embedding is the point.
    return Response(widget_script(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff",
                             "Cross-Origin-Resource-Policy": "cross-origin"})


_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def public_base(request: Request, settings: Settings) -> str:
    """The site's URL, ending in "/": PUBLIC_BASE_URL, else this request's (400 for a Host that is no
    host name, so nothing odd is ever written into a URL we hand out)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + "/"
    host = request.headers.get("host", "")
    if host and not _HOST.match(host):
        raise ApiError(400, "invalid_host", "the Host header is not a valid host name")
    return str(request.base_url)  # ends with "/"; honours --proxy-headers / root_path


@router.api_route("/opensearch.xml", methods=PAGE_METHODS, include_in_schema=False)
async def opensearch(request: Request, settings: SettingsDep) -> Response:
    base = public_base(request, settings)
    # Built from the request's Host unless PUBLIC_BASE_URL is set: then no shared cache may keep it.
    cache = "public, max-age=3600" if settings.public_base_url else "private, no-store"
    page = base + "?q={searchTerms}"
    suggest = base + "suggest?q={searchTerms}&format=opensearch"
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>政务搜索</ShortName>
  <Description>乡镇政务信息检索：各镇人民政府发布的政务动态、通知与简报</Description>
  <InputEncoding>UTF-8</InputEncoding>
  <OutputEncoding>UTF-8</OutputEncoding>
  <Language>zh-CN</Language>
  <Image height="32" width="32" type="image/svg+xml">{escape(base + "static/favicon.svg")}</Image>
  <Url type="text/html" method="get" template={quoteattr(page)}/>
  <Url type="application/x-suggestions+json" method="get" template={quoteattr(suggest)}/>
  <Url type="application/opensearchdescription+xml" rel="self" template={quoteattr(base + "opensearch.xml")}/>
</OpenSearchDescription>
"""
    return Response(xml, media_type="application/opensearchdescription+xml; charset=utf-8",
                    headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})


# ---- GET /suggest ---------------------------------------------------------------------------


@router.get("/suggest", tags=["search"], response_model=SuggestResponse, responses={
    **ERROR_RESPONSES,
    200: {"description": "JSON `{query, suggestions: [{kind, text, id, title}]}`; with `format=opensearch`, the "
                         "OpenSearch suggestions array `[query, [texts], [], [urls]]` (a query's URL searches it, "
                         "a title's opens the article).",
          "content": {"application/x-suggestions+json": {"schema": {"type": "array"}}}},
})
async def suggest(
    request: Request,
    es: EsDep,
    settings: SettingsDep,
    popular: PopularDep,
    text: SearchText,
    size: Annotated[int, Query(ge=1, le=20, description="At most this many suggestions.")] = 8,
    fmt: Annotated[Literal["json", "opensearch"], Query(alias="format", description="Response shape.")] = "json",
) -> Response:
    """What to search for what has been typed — in Chinese (a prefix or words), in pinyin: full (anquan),
    initials (aqsc) or mixed (安quan), or in traditional characters (安全生產) — in one list, best first:
    popular past queries (`kind: query`; searched at least SUGGEST_MIN_SEARCHES times in the last HOT_DAYS
    days and found an article holding their words; more and more recent searches first), then article titles
    (`kind: title`; titles containing it, the last word as a prefix; only when none does, titles sharing three
    quarters of its character pairs). Queries take at most half of the list unless titles run short; no text twice."""
    items = await suggest_items(es, settings, popular, text, size)
    if fmt == "opensearch":
        base = public_base(request, settings)
        urls = [base + ("?" + urlencode({"q": item["text"]}) if item["kind"] == "query"
                        else "article.html?" + urlencode({"id": item["id"], "q": text})) for item in items]
        return JSONResponse([text, [item["text"] for item in items], ["" for _ in items], urls],
                            media_type="application/x-suggestions+json")
    return JSONResponse({"query": text, "suggestions": items})
