"""The OpenAPI pattern of `q` states exactly the rule `search_text` enforces (the contract fuzz relies on it)."""

from __future__ import annotations

import random
import re

from service.errors import ApiError
from service.params import MAX_QUERY_CHARS, QUERY_PATTERN, search_text

ALPHABET = [" ", "\t", "\n", "\x00", "\x1f", "\x7f", "\u3000", "\xa0", "\u2028", "\x85", "a", "中", "〔"]


def accepted(q: str) -> bool:
    try:
        search_text(q)
    except ApiError:
        return False
    return True


def test_the_pattern_accepts_exactly_what_search_text_accepts() -> None:
    pattern = re.compile(QUERY_PATTERN)
    rng = random.Random(7)
    lengths = [0, 1, 2, 3, 7, MAX_QUERY_CHARS - 1, MAX_QUERY_CHARS, MAX_QUERY_CHARS + 1, MAX_QUERY_CHARS + 40]
    cases = ["", " ", "\u3000x\u3000", "x" * MAX_QUERY_CHARS, " " + "x" * MAX_QUERY_CHARS + "\n",
             "x" * (MAX_QUERY_CHARS + 1), "\x00安全\x00"]
    cases += ["".join(rng.choice(ALPHABET) for _ in range(rng.choice(lengths))) for _ in range(3000)]
    disagree = [q for q in cases if accepted(q) != bool(pattern.search(q))]
    assert not disagree, disagree[:3]
    assert sum(map(accepted, cases)) > 100 and sum(not accepted(q) for q in cases) > 100  # both sides exercised
