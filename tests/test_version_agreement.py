"""`calendar-service validate` prints the version that `/version.json` reports."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import BUNDLED_DATA, IN_PROCESS_URL, InProcess

PRINTED = re.compile(r"version (?P<version>[0-9a-f]{16}) \(on (?P<day>\S+) at (?P<base>\S+);")


def validate(base_url: str) -> re.Match[str]:
    """Run `validate` as a person would, with only CALENDAR_BASE_URL configured."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALENDAR_")}
    env["CALENDAR_BASE_URL"] = base_url
    result = subprocess.run(
        [sys.executable, "-m", "calendar_service.cli", "validate", str(BUNDLED_DATA)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    printed = PRINTED.search(result.stdout)
    assert printed is not None, result.stdout
    return printed


def test_validate_prints_the_version_the_service_reports(client: InProcess) -> None:
    served = client.get("/version.json").json()
    printed = validate(IN_PROCESS_URL)
    assert printed["day"] == served["compiled_on"]  # the version is a day's (README)
    assert printed["base"] == IN_PROCESS_URL
    assert printed["version"] == served["version"]
    # The program's version too: /version.json names it as the generator.
    assert f"; {served['generator']})" in printed.string


def test_the_version_changes_with_the_base_url() -> None:
    # Every feed carries the base URL in its links, so two deployments are two versions.
    first, second = validate("https://a.example.org"), validate("https://b.example.org")
    assert first["version"] != second["version"]
