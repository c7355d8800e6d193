"""The JSON API, in process: CORS and the OpenAPI documentation."""

from __future__ import annotations

import pytest
from api_support import assert_error, get_json
from conftest import InProcess

# --- CORS and documentation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/occurrences?from=2026-02-01&to=2026-02-28",
        "/api/events",
        "/api/events/time-to-talk-day",
        "/api/facets",
        "/api/occurrences?limit=0",
        "/api/events/nope",
    ],
)
def test_api_answers_any_origin(client: InProcess, path: str) -> None:
    for headers in ({}, {"Origin": "https://school.example"}):
        response = client.get(path, headers=headers)
        assert response.headers["access-control-allow-origin"] == "*", path


def test_openapi_documents_every_parameter_the_api_accepts(client: InProcess) -> None:
    document = get_json(client, "/openapi.json")
    paths = {path: ops for path, ops in document["paths"].items() if path.startswith("/api/")}
    assert set(paths) == {
        "/api/occurrences",
        "/api/events",
        "/api/events/{event_id}",
        "/api/facets",
        "/api/changes",
    }
    for path, operations in paths.items():
        parameters = operations["get"].get("parameters", [])
        for parameter in parameters:
            assert parameter.get("description"), (path, parameter["name"])
        documented = {p["name"] for p in parameters if p["in"] == "query"}
        concrete = path.replace("{event_id}", "time-to-talk-day")
        refused = assert_error(client, concrete, {"not-a-parameter": "1"}, "not-a-parameter")
        assert documented == set(refused.get("allowed", [])), path
    assert {p["name"] for p in paths["/api/occurrences"]["get"]["parameters"]} >= {
        "from", "to", "limit", "cursor", "category", "audience", "theme", "tag", "q", "online",
        "status",
    }  # fmt: skip


def test_interactive_docs_are_served(client: InProcess) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # Swagger UI starts from a script file (the pages' CSP allows no inline script).
    assert '<script src="/docs/swagger-init.js">' in response.text
    assert "/openapi.json" in client.get("/docs/swagger-init.js").text
