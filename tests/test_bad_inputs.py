"""The bad-inputs corpus (tests/bad_inputs/): hostile data files and hostile queries, each with
its exact expected behaviour; and every ICS document the service serves is well formed.

Data cases are folders under bad_inputs/data/, overlaid on fixtures/valid (or standing alone
with `replace: true`) and checked against their `expect.yaml`. Query cases are the items of
bad_inputs/queries.yaml, sent to the application in process over the bundled data. Bad data that
fixtures/bad_events/ and test_loading.py already cover is listed in bad_inputs/covered.yaml.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import (
    BUNDLED_DATA,
    FIXTURES,
    IN_PROCESS_URL,
    InProcess,
    in_process,
    record_summary,
    start_server,
    stop_server,
    wait_until,
)
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar

from calendar_service.loading import DataInvalid, load

# One xdist worker runs the module (make unit: --dist loadgroup):
# its summary counts the whole corpus.
pytestmark = pytest.mark.xdist_group("bad_inputs")
CORPUS = Path(__file__).resolve().parent / "bad_inputs"
DATA_CASES = sorted(path for path in (CORPUS / "data").iterdir() if path.is_dir())
VALID = FIXTURES / "valid"
BAD_EVENTS = FIXTURES / "bad_events"
RELOAD_SECONDS = 15.0
REPEAT = re.compile(rb"@@REPEAT:(.):(\d+)@@")
OUTSIDE_HOSTS = {"calendar.google.com", "outlook.office.com", "schema.org"}
ABSOLUTE_URL = re.compile(r"(?:https?|webcal)://[^\s\"'<>\\)]+")


def expand(raw: bytes) -> bytes:
    """`@@REPEAT:x:N@@` stands for N copies of x, so that huge inputs stay small in git."""
    return REPEAT.sub(lambda match: match[1] * int(match[2]), raw)


def expectation(case: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((case / "expect.yaml").read_text())
    return loaded


def materialise(case: Path, target: Path) -> Path:
    """The case's data directory: its files over fixtures/valid (or alone, if `replace`).

    Files under the case's `outside/` go beside the data directory, for links to point at;
    the `make` entries of expect.yaml create what git cannot hold (see `make_entry`).
    """
    root = target / "data"
    if expectation(case).get("replace"):
        root.mkdir(parents=True)
    else:
        shutil.copytree(VALID, root)
    for path in sorted(case.rglob("*")):
        if path.is_file() and path.name != "expect.yaml":
            relative = path.relative_to(case)
            inside = relative.parts[0] != "outside"
            destination = (root if inside else target) / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(expand(path.read_bytes()))
    for entry in expectation(case).get("make", []):
        make_entry(root, entry)
    return root


def make_entry(root: Path, entry: dict[str, Any]) -> None:
    """Create one special entry at `path`, replacing whatever the copy has there.

    The path may hold any character, and `\\udc80`-`\\udcff` stand for raw bytes that are not
    UTF-8 (Python's surrogate escapes). One of: `text` (a file with this content),
    `sparse_bytes` (a file of that apparent size that takes no space), `folder`, `fifo`,
    `socket`, `symlink` (to this target, as written).
    """
    path = root / entry["path"]
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "text" in entry:
        path.write_text(entry["text"], encoding="utf-8")
    elif "sparse_bytes" in entry:
        with path.open("wb") as file:
            file.truncate(int(entry["sparse_bytes"]))
    elif entry.get("folder"):
        path.mkdir()
    elif entry.get("fifo"):
        os.mkfifo(path)
    elif entry.get("socket"):
        # A socket's path may be at most about 100 bytes; bind it by its short name.
        with contextlib.chdir(path.parent), socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path.name)
    elif "symlink" in entry:
        path.symlink_to(entry["symlink"])
    else:
        raise AssertionError(f"make entry of unknown kind: {entry}")


def load_or_refusal(root: Path) -> Any:
    """The loaded data, or the DataInvalid that refused it (its speed: benchmarks/refusals.py)."""
    try:
        result: Any = load(root)
    except DataInvalid as exc:
        result = exc
    return result


def dotted(value: Any, name: str) -> Any:
    for part in name.split("."):
        value = getattr(value, part)
    return value


# --- Data cases --------------------------------------------------------------------------------


def test_corpus_has_every_kind_of_bad_data() -> None:
    assert len(DATA_CASES) >= 35
    for case in DATA_CASES:
        expected = expectation(case)
        assert expected.get("about"), f"{case.name}: say what the case is about"
        assert ("error" in expected) != bool(expected.get("loads")), case.name


@pytest.mark.parametrize("case", DATA_CASES, ids=[case.name for case in DATA_CASES])
def test_data_case_behaves_exactly_as_expected(case: Path, tmp_path: Path) -> None:
    expected = expectation(case)
    root = materialise(case, tmp_path)
    result = load_or_refusal(root)
    if expected.get("loads"):
        assert not isinstance(result, DataInvalid), f"{case.name}: {result}"
        event = next(item for item in result.events if item.id == expected["event"]).data
        for name, value in expected.get("fields", {}).items():
            assert dotted(event, name) == value, name
        return
    assert isinstance(result, DataInvalid), f"{case.name} loaded but should be refused"
    want = expected["error"]
    assert all(error.file == want["file"] for error in result.errors), result.errors
    matching = [
        error
        for error in result.errors
        if error.line == want["line"]
        and error.field == want["field"]
        and want["message_contains"] in error.message
    ]
    assert matching, f"expected {want} among {result.errors}"
    assert all(error.file and error.message for error in result.errors)


def covered() -> dict[str, str]:
    loaded: dict[str, str] = yaml.safe_load((CORPUS / "covered.yaml").read_text())
    return loaded


def test_cases_covered_elsewhere_are_still_there() -> None:
    tests = Path(__file__).resolve().parent
    for item, reference in covered().items():
        file, _, test_name = reference.partition("::")
        assert (tests / file).is_file(), f"{item}: {file} is gone"
        if test_name:
            assert f"def {test_name}(" in (tests / file).read_text(), f"{item}: {reference}"


@pytest.mark.parametrize("bad", sorted(BAD_EVENTS.glob("*.yaml")), ids=lambda path: path.stem)
def test_bad_events_fixtures_are_refused(bad: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(VALID, root)
    shutil.copy(bad, root / "events" / bad.name)
    assert isinstance(load_or_refusal(root), DataInvalid)


def test_bad_file_added_to_a_running_service_keeps_the_old_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(VALID, root)
    running = start_server(root, tmp_path, watch=True)
    try:
        before = running.get("/feeds/all.ics")
        version = running.get("/healthz").json()["version"]
        case = CORPUS / "data" / "one-bad-file-among-many" / "events"
        for path in sorted(case.iterdir()):
            shutil.copy(path, root / "events" / path.name)
        health = wait_until(
            lambda: (body := running.get("/healthz").json())["last_reload_error"] and body,
            "the reload error in /healthz",
            RELOAD_SECONDS,
        )
        message = health["last_reload_error"]["message"]
        assert "events/c-bad.yaml:6" in message
        assert "good.yaml" not in message
        assert health["status"] == "degraded"
        assert health["version"] == version
        after = running.get("/feeds/all.ics")
        assert after.status_code == 200
        assert after.content == before.content
        assert after.headers["etag"] == before.headers["etag"]
        assert running.get("/api/events/good-a").status_code == 404
    finally:
        stop_server(running)


# --- Hostile text in served data ---------------------------------------------------------------

SERVED_CASES = [case for case in DATA_CASES if expectation(case).get("serve")]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> InProcess:
    """The application over fixtures/valid plus every corpus case marked `serve: true`."""
    folder = tmp_path_factory.mktemp("hostile")
    root = folder / "data"
    shutil.copytree(VALID, root)
    for case in SERVED_CASES:
        for path in (case / "events").iterdir():
            shutil.copy(path, root / "events" / path.name)
    return in_process(root, base_url=IN_PROCESS_URL)


HTML_PAGES = [
    "/",
    "/events/html-everywhere",
    "/events/valarm-text",
    "/embed",
    "/embed?view=month",
    "/subscribe",
    "/subscribe?q=script",
    "/feeds/all/subscribe",
    "/feeds/all/embed",
]
LISTING_PAGES = {"/", "/events/html-everywhere", "/embed", "/feeds/all/embed"}
ALLOWED_SCRIPT = re.compile(r'<script (src="[^"<>]+"( async| defer)?|type="application/ld\+json")>')


@pytest.mark.parametrize("path", HTML_PAGES)
def test_html_in_data_is_escaped_on_every_page(hostile: InProcess, path: str) -> None:
    response = hostile.get(path)
    assert response.status_code == 200
    body = response.text
    if path in LISTING_PAGES:
        assert "html-everywhere" in body
        assert "&lt;script&gt;alert(" in body
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert ALLOWED_SCRIPT.fullmatch(tag), tag
    assert "<img" not in body
    assert 'href="javascript:' not in body.lower()


def test_json_ld_escapes_markup(hostile: InProcess) -> None:
    body = hostile.get("/events/html-everywhere").text
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    assert found
    assert "\\u003cscript\\u003e" in found[1]
    assert "<" not in found[1]


def test_html_in_data_is_plain_text_in_json(hostile: InProcess) -> None:
    body = hostile.get("/api/events/html-everywhere").json()
    assert body["title"].startswith("<script>alert")
    assert body["location"]["venue"].startswith("<script>alert")
    assert (
        hostile.get("/api/events/html-everywhere")
        .headers["content-type"]
        .startswith("application/json")
    )


def calendar_syntax_description() -> str:
    case = CORPUS / "data" / "description-with-valarm"
    text: str = expectation(case)["fields"]["description"]
    return text


@pytest.mark.parametrize("path", ["/feeds/all.ics", "/calendar.ics", "/events/valarm-text.ics"])
def test_calendar_syntax_in_a_description_stays_inside_the_value(
    hostile: InProcess, path: str
) -> None:
    body = hostile.get(path).content
    lines = body.split(b"\r\n")
    assert not [line for line in lines if line.startswith(b"BEGIN:VALARM")]
    assert not [line for line in lines if line.startswith(b"UID:injected")]
    calendar = Calendar.from_ical(body)
    names = {component.name for component in calendar.walk()}
    assert names == {"VCALENDAR", "VTIMEZONE", "STANDARD", "DAYLIGHT", "VEVENT"}
    events = list(calendar.walk("VEVENT"))
    ours = [item for item in events if str(item["UID"]).startswith("valarm-text@")]
    assert len(ours) == 1
    assert str(ours[0]["DESCRIPTION"]).startswith(calendar_syntax_description())
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert len(strict.events) == len(events)
    assert not any("evil.example" in str(item["UID"]) for item in events)


# --- Every ICS document is well formed ---------------------------------------------------------


def ics_paths(client: InProcess) -> list[str]:
    """Every named feed, the calendar with a few filters, and every event's file."""
    feeds = client.get("/healthz").json()["feeds"]
    paths = [f"/feeds/{name}.ics" for name in feeds]
    facets = client.get("/api/facets").json()
    paths.append("/calendar.ics")
    for name in ("category", "audience", "theme"):
        for item in facets[name][:2]:
            paths.append(f"/calendar.ics?{name}={item['value']}")
    paths += ["/calendar.ics?online=true", "/calendar.ics?q=day", "/calendar.ics?q=zzzz-nothing"]
    events = client.get("/api/events", params={"limit": "500"}).json()["events"]
    paths += [f"/events/{event['id']}.ics" for event in events]
    return paths


def assert_well_formed_ics(body: bytes, where: str) -> None:
    assert body.startswith(b"BEGIN:VCALENDAR\r\n"), where
    assert body.endswith(b"END:VCALENDAR\r\n"), where
    for number, line in enumerate(body[:-2].split(b"\r\n"), start=1):
        assert b"\r" not in line and b"\n" not in line, f"{where}:{number}: bare CR or LF"
        assert b"\x00" not in line, f"{where}:{number}: NUL"
        assert len(line) <= 75, f"{where}:{number}: {len(line)} octets"
        text = line.decode("utf-8")
        assert not set(text) & {"\x85", "\u2028", "\u2029"}, f"{where}:{number}"
    parsed = Calendar.from_ical(body)
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert len(strict.events) == len(list(parsed.walk("VEVENT"))), where


@pytest.mark.parametrize("which", ["bundled", "hostile"])
def test_every_ics_document_served_is_well_formed(
    which: str, request: pytest.FixtureRequest
) -> None:
    running: InProcess = request.getfixturevalue("client" if which == "bundled" else "hostile")
    paths = ics_paths(running)
    assert len(paths) >= 8
    for path in paths:
        response = running.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/calendar"), path
        assert_well_formed_ics(response.content, path)


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
