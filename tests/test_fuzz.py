"""Property-based fuzzing: the loader never fails except with located DataInvalid errors, and
no query parameter or path segment makes the application answer 5xx (in process: the server's
own limits, 414 among them, are tested in test_protocol and test_server_limits)."""

from __future__ import annotations

import re
import shutil
import tempfile
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import FIXTURES, InProcess, record_summary
from error_page_support import for_people, html_error
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from calendar_service.loading import DataInvalid, load

# One xdist worker runs the module (make unit: --dist loadgroup):
# its summary counts the whole module.
pytestmark = pytest.mark.xdist_group("fuzz")
VALID = FIXTURES / "valid"
EXAMPLES: Counter[str] = Counter()

FUZZ = settings(
    derandomize=True,
    deadline=None,
    max_examples=100,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def _summary() -> Iterator[None]:
    yield
    record_summary({f"fuzz examples: {name}": count for name, count in sorted(EXAMPLES.items())})


# --- Loader fuzz -------------------------------------------------------------------------------

EVENT_KEYS = [
    "id", "title", "summary", "description", "category", "audiences", "themes", "tags",
    "organiser", "location", "url", "cost", "status", "start", "end", "recurrence",
    "overrides", "rule", "frequency", "interval", "count", "until", "by_month",
    "by_month_day", "by_weekday", "by_set_position", "extra_dates", "excluded_dates",
    "occurrence", "venue", "online", "online_url", "name", "email", "note",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(str),
    st.sampled_from(["2026-02-05", "2026-02-05T10:00", "weekly", "yearly", "schools", "event"]),
    st.sampled_from(["MO", "1TH", "-1FR", "javascript:alert(1)", "https://example.org/"]),
)
KEYS = st.one_of(st.sampled_from(EVENT_KEYS), st.text(max_size=12))
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)
EVENT = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["fuzzed-event", "weekly-drop-in"]) | st.text(max_size=10),
        "title": st.text(max_size=30) | SCALARS,
        "category": st.sampled_from(["event", "awareness-day", "nope"]),
        "audiences": st.sampled_from([["schools"], [], ["schools", "nope"]]) | VALUES,
        "start": st.sampled_from(["2026-02-05", "2026-02-05T10:00", "2026-02-30"]) | SCALARS,
    },
    optional={
        key: VALUES for key in EVENT_KEYS[2:18] if key not in ("category", "audiences", "start")
    },
)
DOCUMENTS = st.one_of(
    VALUES.map(lambda value: yaml.safe_dump(value, allow_unicode=True).encode()),
    st.lists(EVENT, max_size=3).map(
        lambda events: yaml.safe_dump({"events": events}, allow_unicode=True).encode()
    ),
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="loader-fuzz-"))
    shutil.copytree(VALID, folder / "data")
    yield folder / "data"
    shutil.rmtree(folder)


@FUZZ
@given(document=DOCUMENTS)
@example(document=b"events:\n  - !!python/object/apply:os.system ['true']\n")
@example(document=b"\x00\x01\x02")
@example(document=b"\xef\xbb\xbf\xff\xfe")
@example(document=b"a: &a [1]\nb: *a\n")
def test_loader_either_loads_or_reports_located_errors(scratch: Path, document: bytes) -> None:
    EXAMPLES["loader (random YAML documents and bytes over fixtures/valid)"] += 1
    (scratch / "events" / "fuzzed.yaml").write_bytes(document)
    try:
        loaded = load(scratch)
    except DataInvalid as exc:
        assert exc.errors
        for error in exc.errors:
            assert error.file, error
            assert error.message, error
            assert error.line is None or error.line >= 1, error
    else:
        assert len(loaded.events) >= 3


# --- Query fuzz against the application -------------------------------------------------------

FILTERS = ["category", "audience", "theme", "tag", "q", "online", "status"]
ENDPOINTS: dict[str, list[str]] = {
    "/api/occurrences": [*FILTERS, "from", "to", "limit", "cursor"],
    "/api/facets": [*FILTERS, "from", "to"],
    "/calendar.ics": FILTERS[:6],
    "/embed": [*FILTERS, "view", "limit", "title", "compact", "accent", "scheme", "month"],
}
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(max_codepoint=0x9F), max_size=30),  # controls, CR, LF, NUL
    st.text(min_size=190, max_size=230),
    st.builds(
        lambda part, times: part * times, st.text(min_size=1, max_size=3), st.integers(1, 6000)
    ),
    st.sampled_from(["2026-02-05", "2026-W05-1", "10", "²", "٣", "true", "list", "1d70b8"]),
    st.sampled_from(["schools", "event", "a,b,,c", "<script>", "javascript:alert(1)", "%00"]),
)


def check_response(response: httpx.Response) -> None:
    status = response.status_code
    assert status in (200, 301) or 400 <= status < 500, (status, response.text[:300])
    if status >= 400 and for_people(response.request.url.path):
        assert html_error(response)["status"] == status  # a page: the HTML error page
    elif status >= 400:
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["status"] == status
        assert isinstance(error["message"], str)
        assert set(error) <= {"status", "message", "parameter", "allowed"}


def fetch(client: InProcess, path: str, query: str = "") -> None:
    url = path + (f"?{query}" if query else "")
    response = client.get(url, follow_redirects=False)
    check_response(response)
    if response.status_code == 301:
        # The canonical form is a fixed point: following it once answers, never redirects.
        location = response.headers["location"]
        assert location.startswith(path)
        again = client.get(location, follow_redirects=False)
        check_response(again)
        assert again.status_code != 301, (url, location)


def query_property(path: str) -> Any:
    names = ENDPOINTS[path]

    @FUZZ
    @given(pairs=st.lists(st.tuples(st.sampled_from(names), TEXT), min_size=1, max_size=3))
    def check(client: InProcess, pairs: list[tuple[str, str]]) -> None:
        EXAMPLES[f"query parameters of {path}"] += 1
        # httpx refuses URLs over 64 KiB; a real server refuses far shorter ones (414).
        query = re.sub(r"%[0-9A-F]?$", "", urllib.parse.urlencode(pairs)[:60_000])
        fetch(client, path, query)

    for name in names:  # every parameter at least once, long and with control characters
        check = example(pairs=[(name, "\r\n\x00<x>" + "7" * 9000)])(check)
    return check


test_occurrence_parameters_never_fail = query_property("/api/occurrences")
test_facet_parameters_never_fail = query_property("/api/facets")
test_calendar_parameters_never_fail = query_property("/calendar.ics")
test_embed_parameters_never_fail = query_property("/embed")


@settings(FUZZ, max_examples=60)
@given(
    template=st.sampled_from(
        ["/events/{}.ics", "/events/{}", "/api/events/{}", "/feeds/{}.ics", "/feeds/{}.json"]
    ),
    segment=st.text(min_size=1, max_size=60) | st.text(st.characters(max_codepoint=0x9F)),
)
def test_path_segments_never_fail(client: InProcess, template: str, segment: str) -> None:
    EXAMPLES["path segments of event and feed routes"] += 1
    path = template.format(urllib.parse.quote(segment, safe=""))
    check_response(client.get(path, follow_redirects=False))
