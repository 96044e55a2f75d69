"""govsearch.settings: environment parsing, and the README's Settings table kept true to the class."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from govsearch.paths import PROJECT_ROOT
from govsearch.settings import Settings

ENV_PREFIX = Settings.model_config.get("env_prefix") or ""


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field}".upper()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting from the caller's environment (`make` exports ES_PORT, for one)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(env_name(name), raising=False)
    return monkeypatch


def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


# ---- environment ------------------------------------------------------------------------------

def test_lists_are_comma_separated(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CORS_ORIGINS", "http://a.example, http://b.example:8080 ,,")
    clean_env.setenv("ADMIN_TOKEN", "new-token,old-token")
    clean_env.setenv("DATA_ROOTS", "/srv/corpus, data/extra")
    settings = _settings()
    assert settings.cors_origins == ["http://a.example", "http://b.example:8080"]
    assert settings.admin_token == ["new-token", "old-token"]
    assert settings.data_roots == [Path("/srv/corpus"), Path("data/extra")]


def test_cors_origins_are_read_as_browsers_spell_them(clean_env: pytest.MonkeyPatch) -> None:
    # Browsers send the host in lower case and leave out the scheme's default port: an entry written otherwise
    # could never match.
    clean_env.setenv("CORS_ORIGINS", "http://Example.GOV.cn, https://a.gov.cn:443/, http://b.gov.cn:8080, "
                     "HTTP://example.gov.cn:80")
    assert _settings().cors_origins == ["http://example.gov.cn", "https://a.gov.cn", "http://b.gov.cn:8080"]


@pytest.mark.parametrize("origin", ["example.gov.cn", "https://a.gov.cn/search", "*", "ftp://a.gov.cn",
                                    "https://a.gov.cn?x=1", "https://a.gov.cn:99999", "https://user@a.gov.cn"])
def test_a_malformed_cors_origin_stops_the_start_naming_it(clean_env: pytest.MonkeyPatch, origin: str) -> None:
    clean_env.setenv("CORS_ORIGINS", f"https://ok.gov.cn,{origin}")
    with pytest.raises(ValidationError, match="must look like https://host"):
        _settings()


def test_a_single_value_is_a_one_item_list_and_empty_is_no_item(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ADMIN_TOKEN", "only-token")
    clean_env.setenv("CORS_ORIGINS", "")
    settings = _settings()
    assert settings.admin_token == ["only-token"]
    assert settings.cors_origins == []


def test_list_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = _settings()
    assert settings.cors_origins == [] and settings.admin_token == []
    assert settings.data_roots == [PROJECT_ROOT / "data", PROJECT_ROOT.parent / "shared" / "corpus"]


def test_elasticsearch_url_defaults_to_the_dev_node(clean_env: pytest.MonkeyPatch) -> None:
    assert _settings().elasticsearch_url == "http://127.0.0.1:9200"


def test_elasticsearch_url_follows_es_port(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ES_PORT", "9250")
    settings = _settings()
    assert settings.es_port == 9250
    assert settings.elasticsearch_url == "http://127.0.0.1:9250"


def test_es_url_wins_over_es_port(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ES_PORT", "9250")
    clean_env.setenv("ES_URL", "https://search.example:9243")
    assert _settings().elasticsearch_url == "https://search.example:9243"


def test_es_url_may_name_several_nodes(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ES_URL", "http://10.0.0.1:9200, http://10.0.0.2:9200,")
    assert _settings().elasticsearch_hosts == ["http://10.0.0.1:9200", "http://10.0.0.2:9200"]
    clean_env.delenv("ES_URL")
    clean_env.setenv("ES_PORT", "9250")
    assert _settings().elasticsearch_hosts == ["http://127.0.0.1:9250"]


def test_index_layout_defaults_to_one_node_and_follows_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    assert _settings().index_layout.index_settings() == {"number_of_shards": 1, "number_of_replicas": 0}
    clean_env.setenv("INDEX_SHARDS", "3")
    clean_env.setenv("INDEX_REPLICAS", "2")
    assert _settings().index_layout.index_settings() == {"number_of_shards": 3, "number_of_replicas": 2}
    clean_env.setenv("INDEX_SHARDS", "0")
    with pytest.raises(ValueError):
        _settings()


def test_numbers_and_choices_are_validated_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BM25_WEIGHT", "1.5")
    clean_env.setenv("FUSION", "rrf")
    settings = _settings()
    assert (settings.bm25_weight, settings.fusion) == (1.5, "rrf")
    clean_env.setenv("FUSION", "max")
    with pytest.raises(ValueError):
        _settings()


# ---- the README's Settings table ---------------------------------------------------------------

README = PROJECT_ROOT / "README.md"


def _settings_table() -> dict[str, str]:
    """{ENV_NAME: documented default} from the README's "## Settings" table."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Settings\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "README.md has no '## Settings' section"
    rows = [line for line in match[1].splitlines() if line.startswith("|")]
    assert rows[0].split("|")[1:3] == [" variable ", " default "], rows[0]
    documented: dict[str, str] = {}
    for row in rows[2:]:  # after the header and its |---| line
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        names = re.findall(r"`([A-Z0-9_]+)`", cells[0])
        assert names and ", ".join(f"`{n}`" for n in names) == cells[0], f"unreadable variable cell: {row}"
        # Several variables in one row: one comma-separated default each. One variable: the whole cell.
        defaults = [part.strip() for part in cells[1].split(",")] if len(names) > 1 else [cells[1]]
        assert len(defaults) == len(names), f"one default per variable: {row}"
        for name, default in zip(names, defaults):
            assert name not in documented, f"{name} is documented twice"
            documented[name] = default
    return documented


def _normal(text: str) -> str:
    """One spelling of a documented or real default: no backticks, paths without a trailing slash,
    numbers as numbers (0.10 is 0.1, 2.0 is 2), list items separated by ", "."""
    items = []
    for item in text.split(","):
        item = item.strip().strip("`").strip()
        if "/" in item:
            item = item.rstrip("/")
        if re.fullmatch(r"-?\d+(\.\d*)?", item):
            item = f"{float(item):g}"
        items.append(item)
    return ", ".join(items)


def _render(value: Any) -> str:
    """A real default as the table writes it: None is `unset`, an empty list `empty`, paths relative
    to the project, booleans in lower case."""
    if value is None:
        return "unset"
    if isinstance(value, list):
        return ", ".join(_render(item) for item in value) if value else "empty"
    if isinstance(value, Path):
        return os.path.relpath(value, PROJECT_ROOT)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _real_defaults() -> dict[str, str]:
    return {env_name(name): _render(field.get_default(call_default_factory=True))
            for name, field in Settings.model_fields.items()}


def test_normalisation_of_defaults() -> None:
    assert _normal("`0.10`") == _normal("0.1") == "0.1"
    assert _normal("`1`") == _normal("1.0") != _normal("2.0")
    assert _normal("`data/`, `../shared/corpus/`") == _normal("data, ../shared/corpus")
    assert _render([PROJECT_ROOT / "data", PROJECT_ROOT.parent / "x"]) == "data, ../x"
    assert (_render(None), _render([]), _render(False)) == ("unset", "empty", "false")


def test_readme_documents_every_setting() -> None:
    missing = set(_real_defaults()) - set(_settings_table())
    assert not missing, f"settings missing from README.md's Settings table: {sorted(missing)}"


def test_readme_documents_no_setting_that_does_not_exist() -> None:
    unknown = set(_settings_table()) - set(_real_defaults())
    assert not unknown, f"README.md documents settings that do not exist: {sorted(unknown)}"


def test_readme_defaults_are_the_real_ones() -> None:
    real = _real_defaults()
    wrong = {name: (documented, real[name]) for name, documented in _settings_table().items()
             if name in real and _normal(documented) != _normal(real[name])}
    assert not wrong, f"README.md default != real default: {wrong}"


def test_the_search_deadline_follows_the_request_timeout_unless_set(clean_env: pytest.MonkeyPatch) -> None:
    assert _settings().search_deadline_seconds == 3.0  # two ES_REQUEST_TIMEOUTs of 1.5 s
    clean_env.setenv("ES_REQUEST_TIMEOUT", "30")
    assert _settings().search_deadline_seconds == 60.0  # a patient node timeout is not cut short
    clean_env.setenv("SEARCH_DEADLINE", "5")
    assert _settings().search_deadline_seconds == 5.0


def test_the_elasticsearch_url_is_shown_without_its_password() -> None:
    shown = Settings(es_url="https://elastic:S3cret@es1.internal:9200,https://elastic:S3cret@es2.internal:9200")
    assert shown.elasticsearch_url_shown == "https://elastic:***@es1.internal:9200,https://elastic:***@es2.internal:9200"
    assert Settings(es_url="http://127.0.0.1:9200").elasticsearch_url_shown == "http://127.0.0.1:9200"
