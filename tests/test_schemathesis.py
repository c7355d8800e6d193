"""Schemathesis against the application's /openapi.json, in process (schemathesis' ASGI
loader): no server errors, and every documented response conforms to its schema
(calendar_service/web/api.py models)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from conftest import BUNDLED_DATA, IN_PROCESS_URL, ROOT, InProcess, in_process, record_summary
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

# One xdist worker runs the module (make unit: --dist loadgroup):
# its summary counts the whole module.
pytestmark = pytest.mark.xdist_group("schemathesis")
EXAMPLES_PER_OPERATION = 100  # schemathesis' own default
# An operation with a path parameter has no other: one free string that names a feed, an
# event or a calendar, or nothing (404). Fewer cases cover that; the query operations keep 100.
PATH_PARAMETER_EXAMPLES = 25
NEGATIVE_EXAMPLES = 50
CASES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def api_client() -> Iterator[InProcess]:
    yield in_process(BUNDLED_DATA, base_url=IN_PROCESS_URL)
    record_summary(
        {
            "schemathesis operations tested": len(CASES),
            "schemathesis cases run": sum(CASES.values()),
            "schemathesis max examples per operation": EXAMPLES_PER_OPERATION,
        }
    )


@pytest.fixture(scope="module")
def api_schema(api_client: InProcess) -> schemathesis.BaseSchema:
    """The schema as the application publishes it at /openapi.json; cases call the app."""
    return schemathesis.openapi.from_asgi("/openapi.json", api_client.app)


OPERATIONS = [
    ("GET", "/calendar.ics"),
    ("GET", "/feeds/{name}.ics"),
    ("GET", "/feeds/terms/{calendar_id}.ics"),
    ("GET", "/events/{event_id}.ics"),
    ("GET", "/feeds/{name}.json"),
    ("GET", "/healthz"),
    ("GET", "/version.json"),
    ("GET", "/api/occurrences"),
    ("GET", "/api/events"),
    ("GET", "/api/events/{event_id}"),
    ("GET", "/api/facets"),
    ("GET", "/calendar.rss"),
    ("GET", "/calendar.atom"),
    ("GET", "/feeds/{name}.rss"),
    ("GET", "/feeds/{name}.atom"),
    ("GET", "/changes.atom"),
    ("GET", "/feeds/{name}/changes.atom"),
    ("GET", "/api/changes"),
]
# Deliberately invalid parameters (too long, wrong type) exist only where the document
# constrains a parameter; every other parameter is a free string.
NEGATIVE = ["/api/occurrences", "/api/events", "/api/facets"]
RUNS = [
    pytest.param(
        method,
        path,
        GenerationMode.POSITIVE,
        PATH_PARAMETER_EXAMPLES if "{" in path else EXAMPLES_PER_OPERATION,
        id=path,
    )
    for method, path in OPERATIONS
] + [
    pytest.param("GET", path, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, id=f"{path}-invalid")
    for path in NEGATIVE
]


def test_every_published_operation_is_tested(api_schema: schemathesis.BaseSchema) -> None:
    published = [
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    ]
    assert sorted(published) == sorted(OPERATIONS)
    for result in api_schema.get_all_operations():  # as PATH_PARAMETER_EXAMPLES assumes
        operation = result.ok()
        if "{" in operation.path:
            assert [p.location for p in operation.iter_parameters()] == ["path"], operation.path


@pytest.mark.parametrize(("method", "path", "generation", "examples"), RUNS)
def test_operation_conforms_to_its_openapi_document(
    api_schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    generation: GenerationMode,
    examples: int,
) -> None:
    operation = api_schema[path][method]

    @seed(1)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=generation))
    def check(case: schemathesis.Case) -> None:
        CASES[f"{method} {path}"] += 1
        case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

    check()


def test_openapi_document_lists_the_public_operations(api_client: InProcess) -> None:
    document = api_client.get("/openapi.json").json()
    assert {"/api/occurrences", "/api/events", "/api/facets", "/calendar.ics"} <= set(
        document["paths"]
    )
    assert Path(ROOT / "pyproject.toml").read_text().count("schemathesis") == 1
