"""Where things are: the project checkout, its data, and the shared corpus beside it.

Every other module takes these from here instead of counting `parent`s of its own file.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: holds `pyproject.toml`, `mappings/`, `web/`, `data/`."""

DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_CORPUS = DATA_DIR / "sample"
"""The five bundled seed files (`make run` indexes them)."""

SHARED_CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"
"""The workplace's corpora beside the checkout (never committed): seeds/, xwlb/, gov-work-reports/."""

XWLB_CORPUS = SHARED_CORPUS / "xwlb"
"""107k CCTV news items, one JSONL file per year (xwlb-2012.jsonl … xwlb-2026.jsonl)."""

MAPPINGS_DIR = PROJECT_ROOT / "mappings"
WEB_DIR = PROJECT_ROOT / "web"
CACHE_DIR = PROJECT_ROOT / ".cache"
