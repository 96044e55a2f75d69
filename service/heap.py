"""The API process's garbage collector, set for serving once startup has loaded everything (GC_SETTLE).

Python's cyclic collector runs its youngest pass every 700 net new container objects and, every so
often, a full pass over every object the process holds. After startup that is ~400k objects (modules,
the tokenizer's and pypinyin's dictionaries, the ranker), none of which will ever be garbage, so a full
pass stopped every search in flight for 100–120 ms, and the youngest passes, run dozens of times per
search (a search's parsed responses, hits and feature rows are tens of thousands of short-lived
objects), cost ~0.5 ms of CPU per search more. Nearly all of those objects are freed by their reference
counts the moment a search ends; the collector is only needed for the rare cycle.

`settle` therefore (1) collects once and freezes what startup left (`gc.freeze`: moved to a generation
no pass visits), and (2) runs the youngest pass every GEN0_THRESHOLD net new objects. Measured on the
20k-article query benchmark, cold hybrid at 16 clients (bench/results/perf-notes.md, "the collector"):
collector time per 400 searches 0.40 s → 0.03 s, longest pause 113–123 ms → 11–13 ms.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

# Net new container objects between two youngest-generation passes (Python's default: 700). Garbage cycles
# wait at most this many allocations: a few MB at worst.
GEN0_THRESHOLD = 20_000


def settle() -> int:
    """Collect, freeze every object alive now, and space the youngest passes GEN0_THRESHOLD apart (the
    older generations keep their thresholds). Returns how many objects were frozen. Call once, when
    startup has loaded what the process will keep."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, older, oldest)
    frozen = gc.get_freeze_count()
    log.info("heap settled: %d objects frozen, youngest collector pass every %d new objects",
             frozen, GEN0_THRESHOLD)
    return frozen
