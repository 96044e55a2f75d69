"""service.routes.admin.resolve_sources: what an admin reindex may read (no node: paths only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from govsearch.paths import PROJECT_ROOT, SAMPLE_CORPUS
from govsearch.settings import Settings
from service.errors import ApiError
from service.routes.admin import resolve_sources


def _settings(*roots: Path) -> Settings:
    return Settings(_env_file=None, data_roots=list(roots))  # type: ignore[call-arg]


@pytest.mark.parametrize("root", [PROJECT_ROOT / "data", Path("data")])
def test_relative_sources_and_roots_are_relative_to_the_project_not_the_cwd(
        root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the API may run from anywhere (a service manager, a container)
    assert resolve_sources(["data/sample"], _settings(root)) == [SAMPLE_CORPUS.resolve()]


def test_sources_outside_the_roots_or_missing_are_refused(tmp_path: Path) -> None:
    settings = _settings(PROJECT_ROOT / "data")
    for raw in ["data/../mappings", str(tmp_path), "data/sample/../../README.md"]:
        with pytest.raises(ApiError, match="outside the allowed data roots"):
            resolve_sources([raw], settings)
    with pytest.raises(ApiError, match="does not exist"):
        resolve_sources(["data/no-such-file.jsonl"], settings)


@pytest.mark.parametrize("raw", ["data/sample\x00", "data/" + "x" * 300])
def test_a_source_that_is_no_usable_path_is_a_422_not_a_500(raw: str) -> None:
    # Found by tests/test_contract_fuzz.py: a NUL byte made Path.resolve raise ValueError (500).
    with pytest.raises(ApiError, match="not a usable path") as refused:
        resolve_sources([raw], _settings(PROJECT_ROOT / "data"))
    assert refused.value.status == 422
