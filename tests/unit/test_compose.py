"""docker-compose.yml and the Dockerfile, checked for structure (no Docker engine runs here): the default single-node
stack, the "cluster" profile's three Elasticsearch nodes that must find each other and form one cluster, and how the
image: how it serves the API, and that it holds every package and file the API reads."""

from __future__ import annotations

import ast
import json
import tomllib
from typing import Any

import yaml

from govsearch.paths import MAPPINGS_DIR, PROJECT_ROOT, WEB_DIR
from govsearch.settings import Settings
from service.__main__ import server_options

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
NODES = ["es01", "es02", "es03"]


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",")]


def test_the_default_stack_is_one_node_and_the_api() -> None:
    defaults = sorted(name for name, service in SERVICES.items() if "profiles" not in service)
    assert defaults == ["api", "elasticsearch"]
    assert SERVICES["elasticsearch"]["environment"]["discovery.type"] == "single-node"


def test_the_cluster_profile_has_three_nodes_that_name_each_other() -> None:
    profile = sorted(name for name, service in SERVICES.items() if "cluster" in service.get("profiles", []))
    assert profile == sorted([*NODES, "api-cluster"])
    envs = [SERVICES[node]["environment"] for node in NODES]
    assert [env["node.name"] for env in envs] == NODES
    assert len({env["cluster.name"] for env in envs}) == 1
    for env in envs:
        assert "discovery.type" not in env
        assert sorted(_names(env["discovery.seed_hosts"])) == NODES
        assert sorted(_names(env["cluster.initial_master_nodes"])) == NODES


def test_each_node_keeps_its_data_in_a_volume_of_its_own() -> None:
    mounts = [volume.split(":") for node in NODES for volume in SERVICES[node]["volumes"]]
    assert {target for _, target in mounts} == {"/usr/share/elasticsearch/data"}
    named = [source for source, _ in mounts]
    assert len(set(named)) == len(NODES) and set(named) <= set(COMPOSE["volumes"])
    assert not set(named) & {v.split(":")[0] for v in SERVICES["elasticsearch"]["volumes"]}


def test_every_node_runs_the_official_image_with_our_plugin_and_user_dictionary() -> None:
    dockerfile = (PROJECT_ROOT / "deploy" / "elasticsearch.Dockerfile").read_text(encoding="utf-8")
    assert "FROM docker.elastic.co/elasticsearch/elasticsearch:" in dockerfile
    assert "mvn -B -q -f es-plugin/pom.xml package" in dockerfile
    assert 'elasticsearch-plugin install --batch "file://$(ls /tmp/es-plugin/analysis-smartcn-govsearch-*.zip)"' \
        in dockerfile
    # where the jieba analysis of mappings/word-segmenters.json looks for it, relative to config/
    segmenters = json.loads((PROJECT_ROOT / "mappings" / "word-segmenters.json").read_text(encoding="utf-8"))
    paths = {t["user_dictionary"] for k, v in segmenters.items() if not k.startswith("_")
             for t in v["analysis"]["tokenizer"].values()}
    assert paths == {"govsearch/userdict.txt"}
    assert "COPY --chown=elasticsearch:root mappings/userdict.txt config/govsearch/userdict.txt" in dockerfile
    for name in ["elasticsearch", *NODES]:
        build = SERVICES[name]["build"]
        assert (build["context"], build["dockerfile"]) == (".", "deploy/elasticsearch.Dockerfile")
        assert build["args"]["ES_VERSION"] == SERVICES["elasticsearch"]["build"]["args"]["ES_VERSION"]


def test_the_cluster_api_knows_every_node_and_keeps_replicas() -> None:
    api = SERVICES["api-cluster"]
    assert _names(api["environment"]["ES_URL"]) == [f"http://{node}:9200" for node in NODES]
    assert int(api["environment"]["INDEX_REPLICAS"]) >= 1
    assert set(api["depends_on"]) == set(NODES)
    # Same image, hence the same mappings/, as the single-node API.
    assert api["build"] == SERVICES["api"]["build"]


def test_the_image_serves_the_api_the_one_way_that_applies_trusted_proxies() -> None:
    # A bare `uvicorn service.main:app` believes X-Forwarded-For from 127.0.0.1 whatever TRUSTED_PROXIES says.
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    commands = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert commands == ['CMD ["python", "-m", "service"]']
    assert "uvicorn" not in commands[0]


def test_forwarded_headers_are_believed_from_trusted_proxies_only() -> None:
    plain = server_options(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (plain["proxy_headers"], plain["forwarded_allow_ips"], plain["workers"]) == (False, None, 1)
    behind = server_options(Settings(_env_file=None, trusted_proxies=["10.0.0.0/8", "127.0.0.1"],  # type: ignore[call-arg]
                                     api_workers=2))
    assert (behind["proxy_headers"], behind["forwarded_allow_ips"], behind["workers"]) == (
        True, "10.0.0.0/8,127.0.0.1", 2)


def _image_copies() -> list[str]:
    """The checkout paths the Dockerfile copies into the image (`COPY src dst`, sources only)."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    return [line.split()[1].rstrip("/") for line in dockerfile.splitlines() if line.startswith("COPY ")]


def _packages() -> list[str]:
    """The top-level packages pyproject.toml installs ([tool.setuptools.packages.find] include)."""
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as file:
        include = tomllib.load(file)["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in include})


def test_the_image_holds_every_package_and_what_they_import() -> None:
    copied = _image_copies()
    packages = _packages()
    assert set(packages) <= set(copied), f"packages not copied into the image: {set(packages) - set(copied)}"
    # Nothing they import comes from a part of the checkout the image lacks (bench/, tests/, scripts/ ...).
    checkout = {path.name for path in PROJECT_ROOT.iterdir() if path.is_dir() and not path.name.startswith(".")}
    for package in packages:
        for source in (PROJECT_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                for name in names:
                    top = name.split(".")[0]
                    assert top not in checkout or top in packages, f"{source}: imports {name}, not in the image"


def test_the_image_holds_the_files_the_default_settings_read() -> None:
    copied = [PROJECT_ROOT / path for path in _image_copies()]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    needed = [MAPPINGS_DIR, WEB_DIR, defaults.synonyms_file, defaults.sample_corpus, defaults.ranker_model]
    for path in needed:
        assert path is not None and path.exists(), path
        assert any(path == source or source in path.parents for source in copied), f"{path} is not in the image"
