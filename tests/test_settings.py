"""Settings: one table, read from the environment once, documented from the same table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from calendar_service.cli import configuration_table
from calendar_service.settings import ServiceSettings


def test_readme_configuration_table_is_generated_from_the_settings() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert configuration_table() in readme


def test_environment_variables_are_read_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALENDAR_FEED_MAX_AGE", "60")
    monkeypatch.setenv("CALENDAR_WATCH", "0")
    monkeypatch.setenv("CALENDAR_DATA_DIR", "elsewhere")
    monkeypatch.setenv("CALENDAR_BASE_URL", "")  # empty: as if unset
    settings = ServiceSettings.from_env()
    assert (settings.feed_max_age, settings.watch) == (60, False)
    assert settings.data_dir == Path("elsewhere")
    assert settings.base_url is None


def test_settings_built_directly_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALENDAR_FEED_MAX_AGE", "60")
    assert ServiceSettings().feed_max_age == 3600
    assert ServiceSettings.from_env().with_options(feed_max_age=None).feed_max_age == 60


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CALENDAR_FEED_MAX_AGE", "abc"),
        ("CALENDAR_WATCH", "perhaps"),
        ("CALENDAR_PORT", "70000"),
        ("CALENDAR_EXPANSION_QUEUE", "-1"),
    ],
)
def test_a_bad_variable_is_refused_naming_it(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        ServiceSettings.from_env()


def test_serve_refuses_a_bad_variable_without_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "calendar_service.cli", "serve", "--data-dir", "nowhere"],
        capture_output=True,
        text=True,
        env={"CALENDAR_PORT": "abc", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CALENDAR_PORT" in result.stderr
    assert "Traceback" not in result.stderr
