"""Helpers for the browser tests: a real uvicorn API in a subprocess, a second static web server
(another origin, standing in for a portal's page) and Debian's chromium driven by Playwright.

Nothing here downloads a browser: `playwright install` is never used, chromium comes from apt
(`apt-get install -y chromium`, plus `fonts-noto-cjk` so screenshots show Chinese text).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from service.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"


def chromium_missing_reason() -> str | None:
    if not CHROMIUM.exists():
        return (f"{CHROMIUM} is not installed: the browser tests use Debian's chromium "
                "(apt-get install -y chromium fonts-noto-cjk)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[dev]')"
    return None


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ApiServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def run_api(env_overrides: dict[str, str], log_path: Path, timeout: float = 120.0) -> Iterator[ApiServer]:
    """`uvicorn service.main:app` on a free loopback port, ready (/readyz 200) before yielding."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env_overrides}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    server = ApiServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn not ready after {timeout:.0f} s:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
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
