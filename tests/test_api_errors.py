"""The JSON API, in process: refused queries, all in the one JSON error shape."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from api_support import assert_error, get_json
from conftest import BUNDLED_DATA, InProcess

# --- Refusals -------------------------------------------------------------------------------


OCCURRENCE_REFUSALS = [
    pytest.param([("from", "2026-13-01")], "from", id="impossible-month"),
    pytest.param([("from", "2026-W05-1")], "from", id="week-date"),
    pytest.param([("to", "1 March")], "to", id="words"),
    pytest.param([("from", "2026-02-01"), ("to", "2026-01-31")], "to", id="to-before-from"),
    pytest.param([("from", "2026-01-01"), ("to", "2031-12-31")], "to", id="window-over-cap"),
    pytest.param([("from", "1900-01-01")], "from", id="year-out-of-range"),
    pytest.param([("category", "no-such-category")], "category", id="unknown-category"),
    pytest.param([("audience", "aliens")], "audience", id="unknown-audience"),
    pytest.param([("status", "maybe")], "status", id="unknown-status"),
    pytest.param([("online", "perhaps")], "online", id="online-not-boolean"),
    pytest.param([("colour", "red")], "colour", id="unknown-parameter"),
    pytest.param([("limit", "501")], "limit", id="limit-over-cap"),
    pytest.param([("limit", "0")], "limit", id="limit-zero"),
    pytest.param([("limit", "-1")], "limit", id="limit-negative"),
    pytest.param([("limit", "²")], "limit", id="limit-superscript-digit"),
    pytest.param([("limit", "five")], "limit", id="limit-words"),
    pytest.param([("cursor", "not-a-cursor!")], "cursor", id="garbage-cursor"),
    pytest.param([("cursor", "WzEsImEiLCJiIl0")], "cursor", id="cursor-of-wrong-shape"),
    pytest.param([("from", "2026-01-01"), ("from", "2026-02-01")], "from", id="repeated-from"),
    pytest.param([("q", "a"), ("q", "b")], "q", id="repeated-q"),
]


@pytest.mark.parametrize(("params", "parameter"), OCCURRENCE_REFUSALS)
def test_refused_occurrence_queries_name_the_parameter(
    client: InProcess, params: list[tuple[str, str]], parameter: str
) -> None:
    assert_error(client, "/api/occurrences", params, parameter)


def test_unknown_category_lists_the_allowed_values(client: InProcess) -> None:
    error = assert_error(client, "/api/occurrences", {"category": "nope"}, "category")
    settings = yaml.load((BUNDLED_DATA / "calendar.yaml").read_text(), Loader=yaml.BaseLoader)
    assert error["allowed"] == list(settings["vocabularies"]["categories"])
    assert "awareness-day" in error["allowed"]


def test_window_over_the_cap_is_refused_and_the_cap_itself_is_served(client: InProcess) -> None:
    error = assert_error(
        client, "/api/occurrences", {"from": "2026-01-01", "to": "2031-12-31"}, "to"
    )
    assert "days" in error["message"]
    cap = date(2026, 1, 1) + timedelta(days=5 * 366 - 1)
    ok = get_json(client, "/api/occurrences", {"from": "2026-01-01", "to": cap.isoformat()})
    assert ok["to"] == cap.isoformat()
    assert_error(
        client,
        "/api/occurrences",
        {"from": "2026-01-01", "to": (cap + timedelta(days=1)).isoformat()},
        "to",
    )


LONG_VALUE_NAMES = ["from", "to", "limit", "cursor", "category", "audience", "theme", "tag", "q"]


@pytest.mark.parametrize("length", [5_000, 10_000])
@pytest.mark.parametrize("name", [*LONG_VALUE_NAMES, "online", "status"])
def test_long_parameter_values_are_refused_naming_the_parameter_without_echo(
    client: InProcess, name: str, length: int
) -> None:
    # Long, yet inside the URL limit: the parameter itself is refused.
    error = assert_error(client, "/api/occurrences", {name: "7" * length}, name)
    assert "7" * 100 not in error["message"]


def test_url_over_the_limit_is_refused_as_json_414(client: InProcess) -> None:
    error = assert_error(client, "/api/occurrences", {"q": "7" * 20_000}, None, status=414)
    assert "7" * 100 not in error["message"]


@pytest.mark.parametrize("length", [5_000, 10_000])
def test_long_parameter_name_is_refused_shortened(client: InProcess, length: int) -> None:
    error = assert_error(client, "/api/occurrences", {"x" * length: "1"}, "x" * 60)
    assert "unknown parameter" in error["message"]


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/events", {"status": "confirmed"}, "status"),
        ("/api/events", {"from": "2026-01-01"}, "from"),
        ("/api/events", {"limit": "0"}, "limit"),
        ("/api/events", {"cursor": "%%%"}, "cursor"),
        ("/api/facets", {"from": "2026-13-01"}, "from"),
        ("/api/facets", {"limit": "5"}, "limit"),
        ("/api/events/time-to-talk-day", {"q": "x"}, "q"),
    ],
)
def test_other_endpoints_refuse_in_the_same_shape(
    client: InProcess, path: str, params: dict[str, str], parameter: str
) -> None:
    assert_error(client, path, params, parameter)


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/occurrences", {"from": "2150-01-01", "to": "2150-12-31"}, "to"),
        ("/api/occurrences", {"from": "1990-01-01", "to": "1990-12-31"}, "from"),
        ("/api/facets", {"from": "2150-01-01", "to": "2150-12-31"}, "to"),
        ("/embed", {"view": "month", "month": "2150-06"}, "month"),
    ],
)
def test_windows_far_from_today_are_refused_so_expansion_stays_bounded(
    client: InProcess, path: str, params: dict[str, str], parameter: str
) -> None:
    error = assert_error(client, path, params, parameter)
    assert "years either side of today" in error["message"]


def test_window_beyond_the_index_but_within_reach_is_expanded_on_demand(client: InProcess) -> None:
    today = date.fromisoformat(client.get("/version.json").json()["compiled_on"])
    year = today.year + 8  # past the five-year index, inside the ten-year reach
    body = get_json(client, "/api/occurrences", {"from": f"{year}-02-01", "to": f"{year}-02-28"})
    titles = {item["title"] for item in body["occurrences"]}
    assert "Time to Talk Day" in titles
