# gov-search: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
ES_PORT ?= 9200
API_PORT ?= 8000
# `make test` runs its own node on its own port and data dir, never touching `make run`'s.
TEST_ES_PORT ?= 9250
# `make es-cluster-up`: a local cluster of CLUSTER_NODES nodes on HTTP ports CLUSTER_PORT, CLUSTER_PORT+1, ...
CLUSTER_PORT ?= 9320
CLUSTER_NODES ?= 3
export ES_PORT API_PORT

.PHONY: help install browser es-up es-down es-status es-cluster-up es-cluster-down es-cluster-status run stop index backup restore lint test test-fast bench-relevance bench-segmenters bench-perf clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed ## create the virtualenv and install Python dependencies

# The browser tests drive Debian's chromium (Playwright cannot download its own browser here).
browser: install ## install Debian's chromium (and fetch axe-core) for the browser tests, if missing
	@if [ -x /usr/bin/chromium ] && fc-list :lang=zh | grep -q .; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium and a CJK font for the browser tests ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	    || echo "warning: could not install chromium; the browser tests will be skipped"; \
	else echo "note: /usr/bin/chromium is missing (sudo apt-get install chromium); the browser tests will be skipped"; fi
	@$(PY) -c "from tests.browser_support import axe_core_script; axe_core_script()" \
	  || echo "warning: could not fetch axe-core with npm; the accessibility tests will fail"

es-up: ## start the dev Elasticsearch node on ES_PORT (idempotent; skipped when ES_URL is set)
	@scripts/devnode.sh up

es-down: ## stop the dev Elasticsearch node on ES_PORT (idempotent)
	@scripts/devnode.sh down

es-status: ## say whether the dev node on ES_PORT is running
	@scripts/devnode.sh status

es-cluster-up: ## start a local CLUSTER_NODES-node cluster (default 3) from CLUSTER_PORT (default 9320), idempotent
	@ES_PORT=$(CLUSTER_PORT) scripts/devnode.sh cluster-up $(CLUSTER_NODES)

es-cluster-down: ## stop the local cluster's nodes (idempotent)
	@ES_PORT=$(CLUSTER_PORT) scripts/devnode.sh cluster-down $(CLUSTER_NODES)

es-cluster-status: ## each node of the local cluster, its health and the ES_URL that names them all
	@ES_PORT=$(CLUSTER_PORT) scripts/devnode.sh cluster-status $(CLUSTER_NODES)

index: install es-up ## index the bundled sample corpus if the alias does not exist yet
	$(PY) -m indexer build --source data/sample --if-missing

run: index ## install what is missing, start Elasticsearch, index the sample, serve on API_PORT
	@echo "gov-search on http://127.0.0.1:$(API_PORT)  (API docs: /docs; Ctrl-C stops the API, 'make stop' stops Elasticsearch too)"
	$(PY) -m service

backup: install es-up ## snapshot the live index and the system indices into SNAPSHOT_REPOSITORY (waits for the end)
	$(PY) -m indexer.snapshots backup

# SNAPSHOT=name restores that snapshot (`$(PY) -m indexer.snapshots list` names them); default the newest.
restore: install es-up ## restore a snapshot into a new index and switch the alias to it (SNAPSHOT=name, default newest)
	$(PY) -m indexer.snapshots restore $(SNAPSHOT)

stop: es-down ## stop everything `make run` started

lint: install ## ruff (style, imports, common bugs) and mypy (types) over the code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: browser ## install what is missing, start a separate test node, run the whole suite, stop it
	@ES_PORT=$(TEST_ES_PORT) scripts/devnode.sh up
	@ES_PORT=$(TEST_ES_PORT) $(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	  ES_PORT=$(TEST_ES_PORT) scripts/devnode.sh down; exit $$status

# No node, no model: tests/unit plus the existing modules that need neither (a few seconds).
FAST_TESTS := tests/unit tests/test_passages.py tests/test_newsletter.py tests/test_sources.py \
	tests/test_relevance_metrics.py
test-fast: install ## the fast layer: unit tests and pure parser/metric tests, no Elasticsearch, no model
	$(PY) -m pytest $(FAST_TESTS) -q $(PYTEST_ARGS)

bench-relevance: install es-up ## relevance: the judged set (relevance.md), then fusion vs the learned ranker at 20k (relevance-learned.md)
	$(PY) -m bench.relevance
	$(PY) -m bench.relevance --known-item --reuse-index

bench-segmenters: install es-up ## smartcn vs jieba + user dictionary, side by side (known items, judged set)
	$(PY) -m bench.relevance.segmenters

bench-perf: install es-up ## indexing, query latency and memory benchmark
	$(PY) -m bench.perf

clean: ## remove the virtualenv, caches and the dev nodes (data included)
	-scripts/devnode.sh down
	-ES_PORT=$(TEST_ES_PORT) scripts/devnode.sh down
	-ES_PORT=$(CLUSTER_PORT) scripts/devnode.sh cluster-down $(CLUSTER_NODES)
	rm -rf $(VENV) .cache .es es-plugin/target
