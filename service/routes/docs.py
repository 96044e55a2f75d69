"""/docs: Swagger UI from local files (the `swagger-ui-bundle-v2` package), so it works on an
intranet with no CDN, under the same kind of strict Content-Security-Policy as the search page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from govsearch.paths import WEB_DIR
from service.errors import NotFound

try:
    from swagger_ui_bundle import swagger_ui_path
except ImportError:  # pragma: no cover - the package is a declared dependency
    swagger_ui_path = None

router = APIRouter(include_in_schema=False)

DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
ASSETS = {  # name -> media type; nothing is looked up from the request path
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>gov-search API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/docs-init.js"></script>
</body>
</html>
"""
HEADERS = {"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


@router.get("/docs")
async def docs() -> HTMLResponse:
    return HTMLResponse(PAGE, headers=HEADERS)


@router.get("/docs/static/{name}")
async def docs_static(name: str) -> FileResponse:
    if name == "docs-init.js":
        path, media_type = WEB_DIR / "docs-init.js", "text/javascript; charset=utf-8"
    elif name in ASSETS and swagger_ui_path is not None:
        path, media_type = Path(str(swagger_ui_path)) / name, ASSETS[name]
    else:
        raise NotFound("static file", name)
    return FileResponse(path, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
