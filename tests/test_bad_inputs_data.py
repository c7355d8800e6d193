"""The bad-inputs corpus: each hostile data case (tests/bad_inputs/data) behaves as expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bad_inputs_support import (
    BAD_EVENTS,
    CORPUS,
    DATA_CASES,
    RELOAD_SECONDS,
    VALID,
    covered,
    dotted,
    expectation,
    load_or_refusal,
    materialise,
)
from conftest import wait_until
from reload_support import watch_in_process

from calendar_service.loading import DataInvalid

# One xdist worker runs the module (make unit: --dist loadgroup):
# its summary counts the whole corpus.
pytestmark = pytest.mark.xdist_group("bad_inputs")


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
    # The service watching in this process, as `serve` does (its threads, its reloads): the
    # subject is what a reload keeps, not the process (test_reload_edits has a real one).
    root = tmp_path / "data"
    shutil.copytree(VALID, root)
    running = watch_in_process(root)
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
        running.service.live.stop()
