"""scripts/devnode.sh is idempotent: `up` twice starts one node, `down` twice stops it once.

Uses its own port (DEVNODE_TEST_PORT, default 9260, or 9270 when the suite's own node is on 9260)
so the node `make test` runs the suite against (ES_PORT) is left alone. One start/stop cycle takes
about 20 s. Skipped when ES_URL is set: then the script manages no node at all (checked by the last
test)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "devnode.sh"
SUITE_PORT = int(os.environ.get("ES_PORT", "9250"))
PORT = int(os.environ.get("DEVNODE_TEST_PORT") or (9270 if SUITE_PORT == 9260 else 9260))
URL = f"http://127.0.0.1:{PORT}"

pytestmark = pytest.mark.skipif(bool(os.environ.get("ES_URL")), reason="ES_URL is set: no dev node is managed")


def devnode(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "ES_URL"}
    environ.update({"ES_PORT": str(PORT), "ES_HEAP": "512m", **env})
    return subprocess.run(
        ["bash", str(SCRIPT), command], env=environ, capture_output=True, text=True, timeout=300, check=False
    )


def answers() -> bool:
    try:
        return httpx.get(f"{URL}/_cluster/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def stopped_port() -> Iterator[None]:
    """Starts and ends with no node on PORT, whatever happens in between."""
    if PORT == SUITE_PORT:  # `down` would stop the node every later test needs
        pytest.fail(f"DEVNODE_TEST_PORT {PORT} is the suite's own node (ES_PORT): set another")
    devnode("down")
    if answers():
        pytest.fail(f"port {PORT} is used by something other than the dev node: set DEVNODE_TEST_PORT")
    yield
    devnode("down")


def test_up_down_are_idempotent(stopped_port: None) -> None:
    status = devnode("status")
    assert status.returncode == 0 and "not running" in status.stdout, status.stdout + status.stderr

    first = devnode("up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "running" in first.stdout and URL in first.stdout
    health = httpx.get(f"{URL}/_cluster/health", timeout=10).json()
    assert health["cluster_name"] == f"govsearch-dev-{PORT}"
    # ... with our analysis plugin, and jieba's user dictionary where the mappings name it.
    jieba = {"type": "jieba_tokenizer", "user_dictionary": "govsearch/userdict.txt"}
    analyzed = httpx.post(f"{URL}/_analyze", json={"tokenizer": jieba, "text": "协西村落实河长制"}, timeout=60)
    assert analyzed.status_code == 200, analyzed.text
    assert [t["token"] for t in analyzed.json()["tokens"]] == ["协西村", "落实", "河长制"]

    second = devnode("up")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already running" in second.stdout

    status = devnode("status")
    assert "running:" in status.stdout and URL in status.stdout, status.stdout
    assert ".log" in status.stdout  # tells where the log is

    stop = devnode("down")
    assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
    assert not answers()

    again = devnode("down")
    assert again.returncode == 0 and "not running" in again.stdout, again.stdout + again.stderr
    assert "not running" in devnode("status").stdout


def test_es_url_means_hands_off() -> None:
    for command in ("up", "status", "down"):
        result = devnode(command, ES_URL="http://127.0.0.1:1")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ES_URL is set" in result.stdout
