"""service.errors: the parameter a validation error names."""

from __future__ import annotations

import pytest

from service.errors import parameter_name


@pytest.mark.parametrize(("location", "name"), [
    (("query", "size"), "size"),
    (("body", "rules", 1), "rules.1"),
    (("body", "body"), "body"),  # an article's field named body
    (("body", "query"), "query"),  # a best bet's field named query
    (("path", "bet_id"), "bet_id"),
    (("body",), "body"),  # the whole body missing
    ((), "request"),
])
def test_the_source_of_the_value_is_dropped_and_nothing_else(location: tuple, name: str) -> None:
    assert parameter_name(location) == name
