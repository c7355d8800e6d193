"""Shared by the JSON API tests: an independent reading of the data files and request helpers."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from conftest import BUNDLED_DATA, InProcess
from dateutil import rrule
from error_page_support import for_people, html_error

LONDON = ZoneInfo("Europe/London")
FEB_2026 = {"from": "2026-02-01", "to": "2026-02-28"}
YEAR_2026 = {"from": "2026-01-01", "to": "2026-12-31"}


# --- An independent reading of the data files ------------------------------------------------


def data_events() -> list[dict[str, Any]]:
    """Every event of the bundled data, as plain strings (no YAML type guessing)."""
    events = []
    for path in sorted((BUNDLED_DATA / "events").glob("*.yaml")):
        events += yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)["events"]
    return events


def past_days() -> int:
    settings = yaml.load((BUNDLED_DATA / "calendar.yaml").read_text(), Loader=yaml.BaseLoader)
    return int(settings["past_days"])


def when(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def naive(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def rule_starts(event: dict[str, Any], limit: date) -> list[date | datetime]:
    """Starts of an event's series up to `limit`, with dateutil directly."""
    start = when(event["start"])
    recurrence = event.get("recurrence")
    if not recurrence:
        return [start]
    starts: list[date | datetime] = []
    rule = recurrence.get("rule")
    if rule:
        weekdays = []
        for code in rule.get("by_weekday", []):
            day = getattr(rrule, code[-2:])
            weekdays.append(day(int(code[:-2])) if code[:-2] else day)
        until = rule.get("until")
        series = rrule.rrule(
            {"daily": rrule.DAILY, "weekly": rrule.WEEKLY, "yearly": rrule.YEARLY}.get(
                rule["frequency"], rrule.MONTHLY
            ),
            dtstart=naive(start),
            interval=int(rule.get("interval", 1)),
            count=int(rule["count"]) if "count" in rule else None,
            until=datetime.combine(date.fromisoformat(until), time.max) if until else None,
            bymonth=[int(m) for m in rule.get("by_month", [])] or None,
            bymonthday=[int(d) for d in rule.get("by_month_day", [])] or None,
            byweekday=weekdays or None,
        )
        found = series.between(naive(start), datetime.combine(limit, time.max), inc=True)
        starts += [value if isinstance(start, datetime) else value.date() for value in found]
    starts += [when(value) for value in recurrence.get("extra_dates", [])]
    excluded = {when(value) for value in recurrence.get("excluded_dates", [])}
    return [value for value in starts if value not in excluded]


def expected_occurrences(
    wanted: dict[str, str], first: date, last: date, today: date
) -> list[dict[str, Any]]:
    """What /api/occurrences should list for an audience filter, read from the YAML."""
    window_start = datetime.combine(first, time(), LONDON)
    window_end = datetime.combine(last + timedelta(days=1), time(), LONDON)
    found = []
    for event in data_events():
        if "audience" in wanted and wanted["audience"] not in event["audiences"]:
            continue
        start = when(event["start"])
        all_day = not isinstance(start, datetime)
        end = when(event["end"]) if "end" in event else None
        if all_day:
            length = ((end or start) - start) + timedelta(days=1)
        else:
            length = (end - start) if end else timedelta(hours=1)
        rule = (event.get("recurrence") or {}).get("rule") or {}
        endless = bool(rule) and "count" not in rule and "until" not in rule
        overrides = {when(o["occurrence"]): o for o in event.get("overrides", [])}
        items = []
        for original in rule_starts(event, last + timedelta(days=400)):
            override = overrides.get(original, {})
            begin = when(override["start"]) if "start" in override else original
            if "end" in override:
                finish = when(override["end"]) + (timedelta(days=1) if all_day else timedelta())
            else:
                finish = begin + length
            status = override.get("status", event.get("status", "confirmed"))
            items.append((original, begin, finish, status, override.get("note")))
        last_end = max(naive(finish) for _, _, finish, _, _ in items)
        if not endless and last_end.date() <= today - timedelta(days=past_days()):
            continue  # long past: feeds and the API leave it out
        for original, begin, finish, status, note in items:
            begin_at = naive(begin).replace(tzinfo=LONDON)
            finish_at = naive(finish).replace(tzinfo=LONDON)
            if finish_at > window_start and begin_at < window_end:
                found.append(
                    {
                        "event_id": event["id"],
                        "title": event["title"],
                        "key": naive(original).strftime("%Y%m%d" if all_day else "%Y%m%dT%H%M%S"),
                        "start": begin.isoformat(),
                        "last_day": (finish - timedelta(days=1)).isoformat() if all_day else None,
                        "status": status,
                        "note": note,
                    }
                )
    return found


# --- Helpers -----------------------------------------------------------------------------------


def get_json(client: InProcess, path: str, params: Any = None, status: int = 200) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def occurrences(client: InProcess, params: Any) -> list[dict[str, Any]]:
    body = get_json(client, "/api/occurrences", [*_pairs(params), ("limit", "500")])
    assert body["next_cursor"] is None and body["count"] == body["total"]
    items: list[dict[str, Any]] = body["occurrences"]
    return items


def _pairs(params: Any) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, dict) else list(params)


def start_instant(item: dict[str, Any]) -> datetime:
    value = when(item["start"])
    if isinstance(value, datetime):
        assert value.tzinfo is not None
        return value
    return datetime.combine(value, time(), LONDON)


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def today_of(client: InProcess) -> date:
    return date.fromisoformat(get_json(client, "/healthz")["compiled_on"])


def assert_error(
    client: InProcess, path: str, params: Any, parameter: str | None, status: int = 422
) -> dict[str, Any]:
    """The one error shape: {"error": {"status", "message", "parameter", ...}}."""
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    if for_people(path):  # a page people read: the HTML error page says the same
        error = html_error(response)
        assert error.get("parameter") == parameter
        return error
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"status", "message", "parameter", "allowed"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert len(error["message"]) < 500  # never echoes a huge value back
    assert error.get("parameter") == parameter
    return dict(error)
