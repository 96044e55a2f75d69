"""A query parameter a route takes once, given twice, is a 422 naming it (`service.params.once_each`); the
rule is read from the OpenAPI contract. No node: the check answers before any route work."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.params import taken_once

APP = create_app()


@pytest.mark.parametrize(("path", "query"), [
    ("/search", [("q", "安全生产"), ("q", "疫情防控")]),
    ("/search", [("q", "安全生产"), ("mode", "bm25"), ("mode", "vector")]),
    ("/suggest", [("q", "安全"), ("size", "3"), ("size", "5")]),
    ("/hot", [("size", "1"), ("size", "2")]),
])
def test_a_parameter_taken_once_given_twice_is_refused_by_name(path: str, query: list[tuple[str, str]]) -> None:
    response = TestClient(APP).get(path, params=query)
    name = query[-1][0]
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {"code": "invalid_parameter", "parameter": name,
                                        "message": f"{name}: given more than once: give it once"}


def test_which_parameters_are_taken_once_comes_from_the_contract() -> None:
    once = taken_once(APP.openapi())
    assert once[("GET", "/search")] == {"q", "mode", "size", "page", "date_from", "date_to", "sort"}
    assert not {"publisher", "town", "department"} & once[("GET", "/search")]  # repeatable filters
    assert once[("GET", "/suggest")] == {"q", "size", "format"}
