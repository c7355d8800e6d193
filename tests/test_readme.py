"""The README is self-contained: links stay in the repository and facts match their source."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT

README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9_.\-]+(?:\[[^\]]*\])?")


def prose() -> str:
    """The README without code blocks and inline code, where example URLs are text."""
    return INLINE_CODE.sub("", FENCE.sub("", README))


def test_every_link_is_a_file_in_the_repository() -> None:
    targets = LINK.findall(prose())
    assert "docs/ics-profile.md" in targets
    for target in targets:
        path = target.split("#")[0]
        assert "://" not in target and not target.startswith(("/", "..")), target
        assert (ROOT / path).is_file(), target


def test_no_address_outside_the_repository_in_prose() -> None:
    assert re.findall(r"(?:https?|webcal)://\S+|www\.\S+", prose()) == []


def test_runtime_dependencies_are_listed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    match = re.search(r"`make run` installs the package.*?\n\n", README, re.S)
    assert match is not None
    listed = " ".join(match.group(0).split())
    for requirement in project["dependencies"]:
        name = REQUIREMENT_NAME.match(requirement)
        assert name is not None and name.group(0) in listed, requirement
