"""service.heap: the collector set for serving. Run in a child process: freezing is for the life of a process."""

from __future__ import annotations

import json
import subprocess
import sys

from govsearch.paths import PROJECT_ROOT
from service import heap

CHILD = """
import gc, json
from service import heap
older = gc.get_threshold()[1:]
frozen = heap.settle()
print(json.dumps({"frozen": frozen, "freeze_count": gc.get_freeze_count(), "threshold": gc.get_threshold(),
                  "older": older, "young_objects": len(gc.get_objects(generation=0))}))
"""


def test_settle_freezes_what_is_alive_and_spaces_the_youngest_passes() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         check=True, timeout=60)
    state = json.loads(out.stdout)
    assert state["frozen"] == state["freeze_count"] > 1000  # the interpreter and the modules imported so far
    assert state["threshold"] == [heap.GEN0_THRESHOLD, *state["older"]]  # the older generations keep theirs
    assert state["young_objects"] < 100  # everything alive moved out of the collector's reach
