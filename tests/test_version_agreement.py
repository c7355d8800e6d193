"""`calendar-service validate` prints the version that `/version.json` reports."""

from __future__ import annotations

import os
import re

import pytest
from conftest import BUNDLED_DATA, IN_PROCESS_URL, InProcess

from calendar_service.cli import main

PRINTED = re.compile(r"version (?P<version>[0-9a-f]{16}) \(on (?P<day>\S+) at (?P<base>\S+);")


def validate(
    base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> re.Match[str]:
    """Run `validate` with only CALENDAR_BASE_URL configured, in this process (its `main`)."""
    for name in os.environ:
        if name.startswith("CALENDAR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CALENDAR_BASE_URL", base_url)
    assert main(["validate", str(BUNDLED_DATA)]) == 0
    output = capsys.readouterr().out
    printed = PRINTED.search(output)
    assert printed is not None, output
    return printed


def test_validate_prints_the_version_the_service_reports(
    client: InProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = client.get("/version.json").json()
    printed = validate(IN_PROCESS_URL, monkeypatch, capsys)
    assert printed["day"] == served["compiled_on"]  # the version is a day's (README)
    assert printed["base"] == IN_PROCESS_URL
    assert printed["version"] == served["version"]
    # The program's version too: /version.json names it as the generator.
    assert f"; {served['generator']})" in printed.string


def test_the_version_changes_with_the_base_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every feed carries the base URL in its links, so two deployments are two versions.
    first = validate("https://a.example.org", monkeypatch, capsys)
    second = validate("https://b.example.org", monkeypatch, capsys)
    assert first["version"] != second["version"]
