"""A bad link to a page gives people an HTML error page; programs keep the JSON error shape."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import InProcess
from error_page_support import for_people, html_error

LONG = "x" * 17_000  # past the 16 KB URL limit, refused before routing
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # as a browser asks

# (path, request headers, status, parameter named): every kind of route and every layer.
PAGES = [
    ("/events/nope", {}, 404, "event_id"),
    ("/?category=nope", {}, 422, "category"),
    ("/?q=a%00b", {}, 422, "q"),  # the control-character layer, before routing
    (f"/?q={LONG}", {}, 414, None),  # the URL length layer, before routing
    ("/subscribe?status=confirmed", {}, 422, "status"),
    ("/subscribe?audience=nope", {}, 422, "audience"),
    ("/embed?limit=0", {}, 422, "limit"),
    ("/embed?view=month&month=2150-06", {}, 422, "month"),  # month paging out of range
    ("/embed?colour=red", {}, 422, "colour"),  # an unknown parameter
    ("/feeds/nope/embed", {}, 404, "name"),
    ("/feeds/nope/subscribe", {}, 404, "name"),
    ("/no-such-page", HTML, 404, None),  # an unknown path a browser asks for
]
PROGRAMS = [
    ("/api/events/nope", HTML, 404, "event_id"),  # even when asked for HTML
    ("/api/occurrences?category=nope", {}, 422, "category"),
    ("/api/occurrences?q=a%00b", HTML, 422, "q"),
    (f"/api/occurrences?q={LONG}", {}, 414, None),
    ("/calendar.ics?category=nope", HTML, 422, "category"),
    ("/events/nope.ics", HTML, 404, "event_id"),
    ("/feeds/nope.ics", {}, 404, "name"),
    ("/theme.css?accent=zz", HTML, 422, "accent"),
    ("/api/nope", HTML, 404, None),
    ("/no-such-page", {}, 404, None),  # an unknown path a program asks for
]


def _case_id(case: tuple[str, dict[str, str], int, str | None]) -> str:
    path, headers = case[0][:50], case[1]
    return f"{path}{' as browser' if headers else ''}"


@pytest.mark.parametrize("case", PAGES, ids=[_case_id(case) for case in PAGES])
def test_a_bad_link_to_a_page_gives_an_html_error_page(
    client: InProcess, case: tuple[str, dict[str, str], int, str | None]
) -> None:
    path, headers, status, parameter = case
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.text[:300]
    error = html_error(response)
    assert error.get("parameter") == parameter
    assert LONG[:100] not in response.text  # never echoes the over-long value


@pytest.mark.parametrize("case", PROGRAMS, ids=[_case_id(case) for case in PROGRAMS])
def test_programs_keep_the_json_error_shape(
    client: InProcess, case: tuple[str, dict[str, str], int, str | None]
) -> None:
    path, headers, status, parameter = case
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status
    assert error.get("parameter") == parameter


def test_the_test_classifies_paths_as_the_cases_say() -> None:
    # The page/program split is written twice on purpose (service and test): check the test's.
    assert all(for_people(path.split("?")[0]) for path, headers, *_ in PAGES if not headers)
    assert not any(for_people(path.split("?")[0]) for path, *_ in PROGRAMS)


def test_the_embeds_error_page_may_be_framed_like_the_embed(client: InProcess) -> None:
    embed = client.get("/embed")
    refused = client.get("/embed?limit=0")
    policy = "content-security-policy"
    assert refused.headers[policy] == embed.headers[policy]
    assert client.get("/?category=nope").headers[policy] == client.get("/").headers[policy]


def test_head_of_a_bad_page_link_has_the_status_and_no_body(client: InProcess) -> None:
    response = client.request("HEAD", "/events/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == b""


def test_the_error_page_escapes_what_the_link_said(client: InProcess) -> None:
    response = client.get("/?category=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.status_code == 422
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text
