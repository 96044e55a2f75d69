"""The OpenAPI document states the credentials the middlewares check (service.openapi)."""

from __future__ import annotations

from service.main import create_app


def test_every_operation_of_the_keyed_and_admin_paths_states_its_credentials() -> None:
    schema = create_app().openapi()
    assert set(schema["components"]["securitySchemes"]) == {"PortalKeyHeader", "PortalKeyQuery", "AdminToken"}
    assert schema["components"]["securitySchemes"]["PortalKeyQuery"]["name"] == "api_key"
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if path.startswith("/admin"):
                assert operation["security"] == [{"AdminToken": []}], path
            elif path.startswith(("/search", "/suggest", "/articles", "/hot", "/events")):
                assert {} in operation["security"] and {"PortalKeyHeader": []} in operation["security"], path
            else:
                assert "security" not in operation, path
            if "security" in operation:
                assert {"401", "403", "429"} <= set(operation["responses"]), path


def test_the_retry_and_rate_headers_are_stated() -> None:
    schema = create_app().openapi()
    search = schema["paths"]["/search"]["get"]["responses"]
    assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"} <= set(search["429"]["headers"])
    assert "Retry-After" in search["503"]["headers"]
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining"} <= set(search["200"]["headers"])
    admin = schema["paths"]["/admin/reindex"]["post"]["responses"]
    assert "Retry-After" in admin["429"]["headers"] and "X-RateLimit-Limit" not in admin.get("202", {}).get("headers", {})
