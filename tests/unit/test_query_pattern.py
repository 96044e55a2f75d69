"""The OpenAPI pattern of `q` states exactly the rule `search_text` enforces (the contract fuzz relies on it)."""

from __future__ import annotations

import random
import re

from service.errors import ApiError
from service.params import MAX_QUERY_CHARS, QUERY_PATTERN, search_text

ALPHABET = [" ", "\t", "\n", "\x00", "\x1f", "\x7f", "\u3000", "\xa0", "\u2028", "\x85", "\ufeff", "\u200b", "a", "中", "〔"]


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


def test_the_pattern_means_the_same_to_every_regex_engine() -> None:
    """JSON Schema validators read patterns as ECMAScript, whose \\s differs from Python's (U+0085, U+FEFF):
    apart from "any character" ([\\s\\S]) the pattern uses no class shorthand."""
    assert not re.search(r"\\[sSwWdDbB]", QUERY_PATTERN.replace(r"[\s\S]", ""))
    assert search_text("\ufeff安全\x85") == "安全"
    assert not accepted("\ufeff\x85\u3000")
