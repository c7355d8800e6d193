"""`calendar-service fetch` and `sources`, run through the CLI's main in this process against
the partner server (test_loading_cli runs the console entry point as a process)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from partner_feeds_support import SOURCE_FIELDS
from partner_server_support import PartnerServer, feed, partner

from calendar_service.cli import main

__all__ = ["partner"]


def write_sources(data_dir: Path, partner: PartnerServer, *paths: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    sources = [
        {**copy.deepcopy(SOURCE_FIELDS), "id": f"partner-{n}", "name": f"Partner {n}"}
        | {"url": partner.url + path, "allow_http": True}
        for n, path in enumerate(paths, 1)
    ]  # copies: shared values would be written as YAML anchors, which data files refuse
    text = yaml.safe_dump({"sources": sources}, sort_keys=False)
    (data_dir / "sources.yaml").write_text(text, encoding="utf-8")


@dataclass
class Ran:
    """What a command gave, as `subprocess.run` reports it."""

    returncode: int
    stdout: str
    stderr: str


Run = Callable[..., Ran]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """`run(*arguments, loopback=True)`: the command over tmp_path's data and fetched copies,
    with only the CALENDAR_ variables it sets (a fresh interpreter a call cost ~0.45 s)."""
    for key in os.environ:
        if key.startswith("CALENDAR_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CALENDAR_FETCHED_DIR", str(tmp_path / "fetched"))

    def command(*arguments: str, loopback: bool = True) -> Ran:
        if loopback:
            monkeypatch.setenv("CALENDAR_FETCH_ALLOW_LOOPBACK", "1")
        else:
            monkeypatch.delenv("CALENDAR_FETCH_ALLOW_LOOPBACK", raising=False)
        capsys.readouterr()
        status = main([*arguments, "--data-dir", str(tmp_path / "data")])
        out, err = capsys.readouterr()
        return Ran(status, out, err)

    return command


def test_fetch_keeps_each_feed_and_sources_reports_it(
    partner: PartnerServer, tmp_path: Path, run: Run
) -> None:
    write_sources(tmp_path / "data", partner, "/feed/normal.ics", "/feed/normal-changed.ics")
    result = run("fetch")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines() if ": ok, " in line
    ]
    assert len(result.stdout.splitlines()) == 2
    assert (tmp_path / "fetched" / "partner-1.ics").read_bytes() == feed("normal.ics")
    assert (tmp_path / "fetched" / "partner-2.ics").read_bytes() == feed("normal-changed.ics")
    assert partner.requests[0][1]["User-Agent"].startswith("calendar-service/")

    listed = run("sources", "--json")
    assert listed.returncode == 0, listed.stderr
    statuses = {item["id"]: item for item in json.loads(listed.stdout)}
    assert (statuses["partner-1"]["events"], statuses["partner-2"]["events"]) == (2, 1)
    assert statuses["partner-1"]["name"] == "Partner 1"
    assert statuses["partner-1"]["last_error"] is None

    text = run("sources").stdout
    assert "partner-1 (Partner 1) " + partner.url in text and "ok, 2 event(s)" in text


def test_a_failing_source_fails_the_command_and_keeps_its_copy(
    partner: PartnerServer, tmp_path: Path, run: Run
) -> None:
    write_sources(tmp_path / "data", partner, "/feed/normal.ics", "/feed/normal-changed.ics")
    assert run("fetch").returncode == 0
    del partner.bodies["normal-changed.ics"]
    result = run("fetch")
    assert result.returncode == 1
    assert "partner-1: ok, 2 event(s)" in result.stdout
    assert "partner-2: FAILED" in result.stdout and "HTTP 404" in result.stdout
    assert "serving 1 event(s) from" in result.stdout
    assert (tmp_path / "fetched" / "partner-2.ics").read_bytes() == feed("normal-changed.ics")
    listed = run("sources").stdout
    assert "partner-2: FAILED" not in listed and "FAILED at" in listed


def test_fetch_in_the_default_configuration_refuses_loopback(
    partner: PartnerServer, tmp_path: Path, run: Run
) -> None:
    write_sources(tmp_path / "data", partner, "/feed/normal.ics")
    result = run("fetch", loopback=False)
    assert result.returncode == 1
    assert "127.0.0.1 is a loopback address: refused" in result.stdout
    assert partner.requests == []


def test_without_a_sources_file_there_is_nothing_to_fetch(tmp_path: Path, run: Run) -> None:
    (tmp_path / "data").mkdir()
    result = run("fetch")
    assert result.returncode == 0 and "no partner feeds" in result.stdout
    assert run("sources", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["fetch", "sources"])
def test_a_bad_sources_file_is_refused_without_a_traceback(
    command: str, tmp_path: Path, run: Run
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sources.yaml").write_text("sources:\n  - id: Not A Slug\n")
    result = run(command)
    assert result.returncode == 2
    assert "sources.yaml" in result.stderr and "Traceback" not in result.stderr
