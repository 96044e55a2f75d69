"""service.runtime.load_tables: the tables searches would load on first use are loaded at startup.

Run in a child process, whose caches start empty (this process may have loaded the tables already)."""

from __future__ import annotations

import json
import subprocess
import sys

from govsearch.paths import PROJECT_ROOT

CHILD = """
import json
from govsearch import rules
from service import runtime, spelling
caches = [rules._to_simplified, spelling._chaizi, spelling._part_counts]
before = [cache.cache_info().currsize for cache in caches]
runtime.load_tables()
after = [cache.cache_info().currsize for cache in caches]
misses = [cache.cache_info().misses for cache in caches]
text = rules.normalize_text("給老人裝電視")
alike = spelling.looks_alike("检", "捡")
misses_after_use = [cache.cache_info().misses for cache in caches]
print(json.dumps({"before": before, "after": after, "misses": misses, "misses_after_use": misses_after_use,
                  "text": text, "alike": alike}, ensure_ascii=False))
"""


def test_load_tables_loads_what_the_first_search_would() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         check=True, timeout=120)
    state = json.loads(out.stdout)
    assert state["before"] == [0, 0, 0]  # importing the modules loads nothing
    assert state["after"] == [1, 1, 1]
    # A search's use afterwards finds them loaded: no further load.
    assert state["misses_after_use"] == state["misses"]
    assert state["text"] == "给老人装电视"
    assert state["alike"] is True
