"""How the xwlb corpus's years are split, for everything that learns from it or is judged on it.

Invariant: nothing is trained, tuned or mined on HELD_OUT_YEARS (2012, 2013); they are how results
are judged, and only aggregate figures computed by a committed command are ever reported for them.
TRAIN_YEARS feed training and mining (the ranker, the user dictionary); DEV_YEARS are for choosing.
"""

from __future__ import annotations

HELD_OUT_YEARS = frozenset({2012, 2013})
TRAIN_YEARS = frozenset(range(2014, 2023))
DEV_YEARS = frozenset(range(2023, 2027))
