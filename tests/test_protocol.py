"""HTTP rules every route shares, in process and walked over `app.routes`: date headers,
control characters in parameters, HEAD, 405 with Allow, and refused CORS preflights."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import fastapi.routing
import httpx
import pytest
from conftest import BUNDLED_DATA, DATASETS
from error_page_support import for_people, html_error
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from calendar_service.query import CONTROL_CHARACTER, QueryError, refuse_control_characters
from calendar_service.settings import ServiceSettings
from calendar_service.web.responses import http_date
from calendar_service.web.service import CalendarService

# Values for the path parameters of the routes; a new parameter needs one here.
PATH_SAMPLES = {
    "name": "all",
    "event_id": "time-to-talk-day",
    "calendar_id": "testshire",
    "month": "2026-02",
}
# Routes that answer 200 only with a parameter.
QUERY_SAMPLES = {"/theme.css": "accent=1d70b8"}
OTHER_METHODS = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# What the issue found and what a careless or hostile client sends instead of an HTTP-date.
HOSTILE_DATES = (
    "Fri, 31 Dec 99999999999999999999 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Sat, 01 Jan 10000 00:00:00 GMT",
    "Mon, 01 Jan 0000 00:00:00 GMT",
    "Thu, 01 Jan 1970 99:99:99 GMT",
    "Thu, 32 Jan 2026 00:00:00 GMT",
    "Thu, 01 Foo 2026 00:00:00 GMT",
    "Thu, 01 Jan 2026 00:00:00 +99999999999999999999",
    "Thu, 01 Jan 2026 00:00:00 -0000",
    "Thu, 01 Jan -2026 00:00:00 GMT",
    "Thu, 01 Jan 2026",
    "1767225600",
    "-1",
    "",
    ",",
    "now",
    "Sun Nov  6 08:49:37 99999999999999999999",
    "Sunday, 06-Nov-99999999999999999999 08:49:37 GMT",
    "Thu, 01 Jan 2026 00:00:00 GMT, Fri, 02 Jan 2026 00:00:00 GMT",
    "\xff\xfe",
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The bundled data with a term calendar, so that its feed's route answers too."""
    data = tmp_path_factory.mktemp("protocol") / "data"
    shutil.copytree(BUNDLED_DATA, data)
    shutil.copytree(DATASETS / "term-time-programmes" / "terms", data / "terms")
    return CalendarService.open(ServiceSettings(data_dir=data, watch=False)).app()


# One event loop for the module's ~1,500 requests: asyncio.run made one per request, a
# quarter of each request's CPU.
LOOP = asyncio.Runner()


@pytest.fixture(scope="module", autouse=True)
def _loop_closed() -> Iterator[None]:
    yield
    LOOP.close()


def send(app: FastAPI, method: str, url: str, headers: dict[str, str] | None = None) -> Any:
    """One request through the application in process, as uvicorn would pass it."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            # Latin-1 bytes: what a server hands on of any header octets it received.
            sent = {key: value.encode("latin-1") for key, value in (headers or {}).items()}
            return await client.request(method, url, headers=sent)

    return LOOP.run(go())


def routes(app: FastAPI) -> Iterator[tuple[str, set[str]]]:
    """Every route's path and methods, included routers opened up."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.160
    for route in walk(app.routes) if walk else app.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path is not None and methods is not None:
            yield path, set(methods)


def get_urls(app: FastAPI) -> list[str]:
    """A URL that answers 200 for every GET route."""
    urls = []
    for path, methods in routes(app):
        if "GET" not in methods:
            continue
        names = re.findall(r"{(\w+)}", path)
        missing = [name for name in names if name not in PATH_SAMPLES]
        assert not missing, f"add a sample value for {missing} of {path} to PATH_SAMPLES"
        url = path.format(**PATH_SAMPLES)
        query = QUERY_SAMPLES.get(path)
        urls.append(url + (f"?{query}" if query else ""))
    return urls


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON error, or on a page people read (a GET) the HTML error page's."""
    if response.request.method == "GET" and for_people(response.request.url.path):
        return html_error(response)
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == response.status_code
    return error


def test_every_get_route_is_walked(app: FastAPI) -> None:
    urls = get_urls(app)
    # The 22 routes the issue counted; more is fine, fewer means the walk lost some.
    assert len(urls) >= 22
    assert {"/", "/healthz", "/docs", "/openapi.json", "/embed.js", "/api/events"} <= set(urls)
    for url in urls:
        assert send(app, "GET", url).status_code == 200, url


def test_each_path_has_one_route(app: FastAPI) -> None:
    """405's Allow comes from the route matched: one route per path keeps it complete."""
    paths = [path for path, _ in routes(app)]
    assert len(paths) == len(set(paths))


# --- 1. Date headers --------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE_DATES)
def test_unusable_if_modified_since_is_ignored_on_every_route(app: FastAPI, value: str) -> None:
    for url in get_urls(app):
        response = send(app, "GET", url, {"If-Modified-Since": value})
        assert response.status_code == 200, (url, response.text[:200])


def test_if_modified_since_in_the_future_is_ignored(app: FastAPI) -> None:
    """RFC 9110 13.1.3: a date later than the server's time is invalid; a client that was
    once sent a wrong Last-Modified must not be told 304 for ever."""
    tomorrow = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    assert send(app, "GET", "/calendar.ics", {"If-Modified-Since": tomorrow}).status_code == 200


def test_valid_if_modified_since_still_answers_304(app: FastAPI) -> None:
    for url in ("/calendar.ics", "/version.json", "/", "/embed.js", "/api/events"):
        modified = send(app, "GET", url).headers["last-modified"]
        assert send(app, "GET", url, {"If-Modified-Since": modified}).status_code == 304, url


def digits(fewest: int, most: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=fewest, max_size=most)


# (Mon, )?[0-9]{1,3} (Jan|Feb|Dec|Foo) -?[0-9]{1,25} [0-9]{1,3}:[0-9]{1,3}(:[0-9]{1,3})?
# (GMT|UT|[+-][0-9]{1,25})? put together from text strategies: from_regex drew the same
# strings at about three times the CPU (most of the test's).
DATE_LIKE = st.tuples(
    st.sampled_from(["", "Mon, "]),
    digits(1, 3),
    st.sampled_from([" Jan ", " Feb ", " Dec ", " Foo "]),
    st.sampled_from(["", "-"]),
    digits(1, 25),
    st.just(" "),
    digits(1, 3),
    st.just(":"),
    digits(1, 3),
    st.just("") | digits(1, 3).map(":{}".format),
    st.just(" "),
    st.sampled_from(["", "GMT", "UT"])
    | st.tuples(st.sampled_from("+-"), digits(1, 25)).map("".join),
).map("".join)


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(st.one_of(st.text(st.characters(max_codepoint=255)), DATE_LIKE))
def test_http_date_never_raises(value: str) -> None:
    moment = http_date(value)
    assert moment is None or moment.tzinfo is not None


# --- 2. Control characters in parameters --------------------------------------------------------


@pytest.mark.parametrize(
    "character", ["%00", "%01", "%08", "%0A", "%0d", "%1b", "%1F", "%7f", "%C2%85", "%E2%80%A8"]
)
def test_control_character_in_any_parameter_is_refused_on_every_route(
    app: FastAPI, character: str
) -> None:
    for url in get_urls(app):
        separator = "&" if "?" in url else "?"
        for name in ("q", "title", "accent"):
            response = send(app, "GET", f"{url}{separator}{name}=a{character}b")
            assert response.status_code == 422, (url, name, response.text[:200])
            error = error_of(response)
            assert error["parameter"] == name
            assert "control character" in error["message"]


def encoded(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode("ascii")


def raw(pairs: list[tuple[str, str]]) -> bytes:
    """Unencoded octets, as a hand-written client may send them."""
    return "&".join(f"{name}={value}" for name, value in pairs).encode("utf-8", "replace")


PAIRS = st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4)
# ([a-z]=(%[0-9a-fA-F]{2}|[a-z%])*&?){1,3}, put together from text strategies (as DATE_LIKE).
LETTERS = "abcdefghijklmnopqrstuvwxyz"
ESCAPED = st.text("0123456789abcdefABCDEF", min_size=2, max_size=2).map("%{}".format)
VALUE = st.lists(ESCAPED | st.sampled_from([*LETTERS, "%"])).map("".join)
QUERY_LIKE = st.lists(
    st.tuples(st.sampled_from(LETTERS), st.just("="), VALUE, st.sampled_from(["", "&"])).map(
        "".join
    ),
    min_size=1,
    max_size=3,
).map("".join)


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(
    st.one_of(
        PAIRS.map(encoded),
        PAIRS.map(raw),
        st.binary(max_size=30),
        QUERY_LIKE.map(str.encode),
    )
)
def test_control_characters_are_found_however_the_query_is_written(query: bytes) -> None:
    """The quick look at the raw query string never misses what routes would read."""
    read = QueryParams(query).multi_items()  # what every route reads
    expected = any(CONTROL_CHARACTER.search(text) for pair in read for text in pair)
    try:
        refuse_control_characters(query)
    except QueryError:
        assert expected, query
    else:
        assert not expected, query


def test_control_character_in_a_parameter_name_is_refused(app: FastAPI) -> None:
    response = send(app, "GET", "/calendar.ics?a%00b=1")
    assert response.status_code == 422
    error = error_of(response)
    assert "control character" in error["message"]
    assert "\x00" not in response.text and "\\u0000" not in response.text


def test_tab_in_free_text_is_folded_not_refused(app: FastAPI) -> None:
    response = send(app, "GET", "/calendar.ics?q=mental%09health")
    assert response.status_code == 301
    assert response.headers["location"] == "/calendar.ics?q=mental+health"


# --- 4. HEAD and 405 --------------------------------------------------------------------------


def test_every_get_route_answers_head_like_get_without_a_body(app: FastAPI) -> None:
    for url in get_urls(app):
        got = send(app, "GET", url)
        head = send(app, "HEAD", url)
        assert head.status_code == got.status_code, url
        assert head.content == b"", url
        for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
            assert head.headers.get(name) == got.headers.get(name), (url, name)


def test_head_answers_304_and_errors_like_get(app: FastAPI) -> None:
    etag = send(app, "GET", "/calendar.ics").headers["etag"]
    assert send(app, "HEAD", "/calendar.ics", {"If-None-Match": etag}).status_code == 304
    assert send(app, "HEAD", "/api/events/nope").status_code == 404
    assert send(app, "HEAD", "/api/events?colour=red").status_code == 422


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_every_405_is_json_and_says_what_is_allowed(app: FastAPI, method: str) -> None:
    for url in get_urls(app):
        response = send(app, method, url)
        assert response.status_code == 405, (url, method)
        assert response.headers["allow"] == "GET, HEAD", url
        error_of(response)


# --- 7. CORS preflights ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT", "PATCH"])
def test_refused_preflight_is_json_naming_the_method(app: FastAPI, method: str) -> None:
    for url in ("/api/events", "/calendar.ics", "/feeds/all.ics", "/embed"):
        preflight = {"Origin": "https://school.example", "Access-Control-Request-Method": method}
        response = send(app, "OPTIONS", url, preflight)
        assert response.status_code == 400, url
        error = error_of(response)
        assert error["parameter"] == "Access-Control-Request-Method"
        assert error["allowed"] == ["GET", "HEAD"]
        assert response.headers["access-control-allow-origin"] == "*"


def test_refused_preflight_is_json_naming_the_headers(app: FastAPI) -> None:
    preflight = {
        "Origin": "https://school.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Custom, Authorization",
    }
    response = send(app, "OPTIONS", "/api/events", preflight)
    assert response.status_code == 400
    error = error_of(response)
    assert error["parameter"] == "Access-Control-Request-Headers"


def test_allowed_preflight_still_succeeds(app: FastAPI) -> None:
    preflight = {"Origin": "https://school.example", "Access-Control-Request-Method": "GET"}
    response = send(app, "OPTIONS", "/api/events", preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-methods"] == "GET, HEAD"
