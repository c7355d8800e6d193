"""`validate` warns, and with --strict fails, on dates near today that are unsourced or unconfirmed.

Datasets `tests/datasets/provenance-*`, each named for what it shows, on a frozen today
(2026-11-25). Each warning names file, line and field; events beside them that are in order
(sourced, far enough away, already past) get none.
"""

from __future__ import annotations

from datetime import date

import pytest
from conftest import DATASETS

from calendar_service.cli import main
from calendar_service.loading import load

TODAY = date(2026, 11, 25)


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`calendar-service validate ARGS` in this process (no interpreter to start): status, stderr.

    The console command itself is run as a process in test_loading_cli.
    """
    try:
        status = main(["validate", *args])
    except SystemExit as exit:  # argparse refuses an option
        status = exit.code if isinstance(exit.code, int) else 1
    return status, capsys.readouterr().err


# Per dataset: every warning it must give, as (file:line, field, words of the message).
EXPECTED = {
    "provenance-confirmed-without-source": [
        ("events/events.yaml:4", "events[0].source", "confirmed occurrence of 2027-02-10"),
        (
            "events/events.yaml:45",
            "events[3].overrides[0].source",
            "confirmed occurrence of 2027-06-02",
        ),
        ("events/events.yaml:49", "events[4].source", "2027-11-25 (365 days away)"),
    ],
    "provenance-provisional-within-60-days": [
        ("events/events.yaml:8", "events[0].status", "2027-01-23 is still provisional and 59"),
        (
            "events/events.yaml:32",
            "events[2].overrides[0].status",
            "2027-01-04 is still provisional and 40",
        ),
    ],
    "provenance-checked-in-future": [
        ("events/events.yaml:9", "events[0].checked", "2026-11-26 is in the future"),
        ("events/events.yaml:26", "events[1].overrides[0].checked", "2026-12-01 is in the future"),
    ],
}


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_each_provenance_warning_names_file_line_and_field_and_no_other_is_given(
    dataset: str,
) -> None:
    warnings = load(DATASETS / dataset, today=TODAY).warnings
    expected = EXPECTED[dataset]
    assert len(warnings) == len(expected), "\n".join(warnings)
    for warning, (where, field, words) in zip(warnings, expected, strict=True):
        assert warning.startswith(f"{where}: {field}: "), warning
        assert words in warning, warning


@pytest.mark.parametrize(
    ("event_id", "reason"),
    [
        ("sourced-yearly-day", "source on the event"),
        ("sourced-on-its-override", "source on the confirmed occurrence's override"),
        ("a-year-and-a-day-away", "more than twelve months away"),
        ("yesterday", "already past"),
        ("provisional-in-60-days", "60 days away is not less than 60"),
        ("provisional-and-started", "started before today"),
    ],
)
def test_events_in_order_are_not_warned_about(event_id: str, reason: str) -> None:
    warnings = [w for dataset in EXPECTED for w in load(DATASETS / dataset, today=TODAY).warnings]
    assert any("event 'unsourced-yearly-day': " in w for w in warnings)  # warnings name events
    assert not [w for w in warnings if f"event {event_id!r}: " in w], reason


def test_the_warnings_move_with_today() -> None:
    """A day later the 59-day warning is 58 days; once the date is past there is none."""
    root = DATASETS / "provenance-provisional-within-60-days"
    later = load(root, today=date(2026, 11, 26)).warnings
    assert any("2027-01-23 is still provisional and 58 days away" in w for w in later)
    after = load(root, today=date(2027, 1, 24)).warnings
    assert not any("2027-01-23" in w for w in after)


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_validate_prints_the_warnings_and_strict_fails_on_them(
    dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(DATASETS / dataset)
    status, lenient = validate(capsys, "--date", TODAY.isoformat(), root)
    assert status == 0, lenient
    status, strict = validate(capsys, "--strict", "--date", TODAY.isoformat(), root)
    assert status == 1
    for where, field, _ in EXPECTED[dataset]:
        assert f"warning: {where}: {field}: " in lenient
        assert f"warning: {where}: {field}: " in strict
    assert f"strict: {len(EXPECTED[dataset])} warning(s)" in strict


def test_strict_passes_once_the_dates_are_far_enough_away(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same data in March 2027: the provisional dates are past, the rest sourced."""
    root = str(DATASETS / "provenance-provisional-within-60-days")
    status, errors = validate(capsys, "--strict", "--date", "2027-03-01", root)
    assert status == 0, errors


def test_validate_refuses_a_date_that_is_not_yyyy_mm_dd(capsys: pytest.CaptureFixture[str]) -> None:
    root = str(DATASETS / "provenance-checked-in-future")
    status, errors = validate(capsys, "--date", "25/11/2026", root)
    assert status == 2
    assert "--date '25/11/2026' is not YYYY-MM-DD" in errors
