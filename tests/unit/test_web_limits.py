"""The search page's copies of the API's limits (web/ has no build step to import them) equal the API's."""

from __future__ import annotations

import re

from govsearch.paths import WEB_DIR as WEB
from service.params import MAX_QUERY_CHARS
from service.routes.search import MAX_SIZE, MAX_WINDOW


def test_the_page_uses_the_apis_limits() -> None:
    script = (WEB / "app.js").read_text(encoding="utf-8")
    assert re.search(rf"const MAX_WINDOW = {MAX_WINDOW};", script)
    assert re.search(rf"const MAX_SIZE = {MAX_SIZE};", script)
    assert re.search(rf"const MAX_QUERY_CHARS = {MAX_QUERY_CHARS};", (WEB / "common.js").read_text(encoding="utf-8"))
    page = (WEB / "index.html").read_text(encoding="utf-8")
    assert re.search(rf'<input id="q"[^>]*\smaxlength="{MAX_QUERY_CHARS}"', page)
