"""Helpers for the browser tests (the API subprocess is `govsearch.apiprocess.ApiProcess`): a static web server
(another origin, standing in for a portal's page), Debian's chromium driven by Playwright, and axe-core.

Nothing here downloads a browser: `playwright install` is never used, chromium comes from apt
(`apt-get install -y chromium`, plus `fonts-noto-cjk` so screenshots show Chinese text). axe-core (the
accessibility checker) comes from the npm registry with `npm pack`, into .cache/axe/: the project
vendors no copy, and the pages never load it (tests inject it).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from govsearch.apiprocess import free_port
from govsearch.paths import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
AXE_VERSION = "4.14.1"
AXE_SCRIPT = PROJECT_ROOT / ".cache" / "axe" / f"axe-core-{AXE_VERSION}.min.js"


def axe_core_script() -> Path:
    """axe-core's `axe.min.js` (pinned AXE_VERSION), fetched once with `npm pack` and cached."""
    if AXE_SCRIPT.exists():
        return AXE_SCRIPT
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the accessibility tests fetch axe-core with `npm pack`")
    AXE_SCRIPT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=AXE_SCRIPT.parent) as tmp:
        subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", tmp, "--silent"],
                       check=True, capture_output=True, timeout=300)
        (tarball,) = Path(tmp).glob("axe-core-*.tgz")
        with tarfile.open(tarball) as tar:
            member = tar.extractfile("package/axe.min.js")
            assert member is not None, "the axe-core package has no axe.min.js"
            partial = Path(tmp) / "axe.min.js"
            partial.write_bytes(member.read())
        partial.replace(AXE_SCRIPT)  # whole or absent: a cut-off download is never cached
    return AXE_SCRIPT


def chromium_missing_reason() -> str | None:
    if not CHROMIUM.exists():
        return (f"{CHROMIUM} is not installed: the browser tests use Debian's chromium "
                "(apt-get install -y chromium fonts-noto-cjk)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[dev]')"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def run_static_site(directory: Path) -> Iterator[str]:
    """A plain static web server for `directory` on another loopback port (= another origin)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def portal_page(api_url: str, widgets: list[dict[str, str]]) -> str:
    """A host page with hostile global CSS, embedding one widget per entry (target id + data attributes)."""
    blocks = []
    for widget in widgets:
        attrs = " ".join(f'data-{name}="{value}"' for name, value in widget.items() if name != "id")
        blocks.append(f'<h2>{widget["id"]}</h2><div id="{widget["id"]}"></div>\n'
                      f'<script src="{api_url}/widget.js" data-target="#{widget["id"]}" {attrs} async></script>')
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>某镇人民政府门户</title>
<style>
  /* A portal's own styles: must not leak into the widget (and the widget's must not leak out). */
  body {{ font-family: serif; color: rgb(0, 128, 0); background: rgb(250, 250, 240); }}
  * {{ letter-spacing: 3px; }}
  em {{ color: rgb(0, 0, 255); font-style: italic; }}
  input, button {{ background: rgb(255, 255, 0); }}
  ol, li {{ list-style: square; }}
</style></head>
<body>
<h1>某镇人民政府</h1>
<p id="host-text">门户自己的内容：<em id="host-em">强调</em></p>
{chr(10).join(blocks)}
</body></html>
"""
