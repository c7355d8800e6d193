"""The bad-inputs corpus: each hostile query (tests/bad_inputs/queries.yaml) behaves as expected."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import yaml
from bad_inputs_support import ABSOLUTE_URL, CORPUS, DATA_CASES, OUTSIDE_HOSTS, covered, expand
from conftest import (
    BUNDLED_DATA,
    InProcess,
    record_summary,
)
from error_page_support import for_people, html_error

# One xdist worker runs the module (make unit: --dist loadgroup):
# its summary counts the whole corpus.
pytestmark = pytest.mark.xdist_group("bad_inputs")


# --- Query cases -------------------------------------------------------------------------------


@dataclass
class QueryCase:
    name: str
    path: str
    query: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    parameter: str | None = None
    location: str | None = None
    follow: bool = False
    body_includes: list[str] = field(default_factory=list)
    body_excludes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    long_values: list[str] = field(default_factory=list)


def _value(spec: Any) -> str:
    if isinstance(spec, dict):
        return str(spec["repeat"]) * int(spec["times"])
    return str(spec)


def _case(item: dict[str, Any], word: str | None) -> QueryCase:
    def sub(text: str) -> str:
        return text.replace("$p", word) if word is not None else text

    pairs = [(sub(str(name)), _value(value)) for name, value in item.get("params", [])]
    if "many" in item:
        many = item["many"]
        pairs += [
            (many["name"].format(i=i), many["value"].format(i=i)) for i in range(many["times"])
        ]
    query = sub(item["raw"]) if "raw" in item else urllib.parse.urlencode(pairs)
    path = expand(sub(item["path"]).encode()).decode()
    return QueryCase(
        name=item["name"] + (f"[{word}]" if word is not None else ""),
        path=path,
        query=query,
        status=item["status"],
        headers=item.get("headers", {}),
        parameter=sub(item["parameter"]) if "parameter" in item else None,
        location=item.get("location"),
        follow=item.get("follow", False),
        body_includes=item.get("body_includes", []),
        body_excludes=item.get("body_excludes", []),
        checks=item.get("checks", []),
        long_values=[value for _, value in pairs if len(value) > 100],
    )


def query_cases() -> list[QueryCase]:
    items: list[dict[str, Any]] = yaml.safe_load((CORPUS / "queries.yaml").read_text())
    cases = []
    for item in items:
        for word in item.get("for_each", [None]):
            cases.append(_case(item, word))
    return cases


QUERY_CASES = query_cases()


def data_hosts() -> set[str]:
    """Hosts of the URLs written in the data: outside links the service may show."""
    text = " ".join(path.read_text() for path in BUNDLED_DATA.rglob("*.yaml"))
    return {urllib.parse.urlsplit(url).hostname or "" for url in ABSOLUTE_URL.findall(text)}


def assert_only_our_base_url(body: str, base: str) -> None:
    assert "evil.example" not in body
    unfolded = body.replace("\r\n ", "")
    allowed = OUTSIDE_HOSTS | data_hosts()
    webcal = "webcal://" + base.split("://", 1)[1]
    for url in ABSOLUTE_URL.findall(unfolded):
        if url.startswith((base + "/", webcal + "/")) or url in (base, webcal):
            continue
        assert urllib.parse.urlsplit(url).hostname in allowed, url


def assert_error_shape(response: httpx.Response) -> dict[str, Any]:
    """The JSON error shape, or on a page people read the HTML error page (same facts)."""
    if for_people(response.request.url.path):
        return html_error(response)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) <= {"status", "message", "parameter", "allowed"}
    assert error["status"] == response.status_code
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_query_corpus_is_large() -> None:
    assert len(QUERY_CASES) >= 150
    assert len({case.name for case in QUERY_CASES}) == len(QUERY_CASES)


@pytest.mark.parametrize("case", QUERY_CASES, ids=[case.name for case in QUERY_CASES])
def test_query_case_behaves_exactly_as_expected(client: InProcess, case: QueryCase) -> None:
    url = case.path + (f"?{case.query}" if case.query else "")
    response = client.get(url, headers=case.headers, follow_redirects=case.follow)
    assert response.status_code == case.status, response.text[:300]
    for name, value in response.headers.multi_items():
        assert name.lower() not in ("x-injected", "set-cookie"), name
        assert "\r" not in value and "\n" not in value, name
    if 400 <= response.status_code < 500:
        error = assert_error_shape(response)
        if case.parameter is not None:
            assert error.get("parameter") == case.parameter, error
    if case.location is not None:
        assert response.headers["location"] == case.location
    for value in case.long_values:
        assert value[:100] not in response.text
        assert value[:100] not in str(response.headers)
    for text in case.body_includes:
        assert text in response.text, text
    for text in case.body_excludes:
        assert text not in response.text, text
    if "host" in case.checks:
        assert_only_our_base_url(response.text, client.url)
        assert "evil.example" not in str(response.headers)


@pytest.fixture(scope="module", autouse=True)
def _summary() -> Iterator[None]:
    yield
    record_summary(
        {
            "corpus data cases (tests/bad_inputs/data)": len(DATA_CASES),
            "corpus query cases (tests/bad_inputs/queries.yaml, expanded)": len(QUERY_CASES),
            "corpus references to existing bad cases (covered.yaml)": len(covered()),
        }
    )
