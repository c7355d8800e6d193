"""Shared by the bad-inputs corpus tests: the corpus, its expectations and the hostile service."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    FIXTURES,
    IN_PROCESS_URL,
    InProcess,
    in_process,
)

from calendar_service.loading import DataInvalid, load

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
DATA_CASES = sorted(path for path in (CORPUS / "data").iterdir() if path.is_dir())
VALID = FIXTURES / "valid"
BAD_EVENTS = FIXTURES / "bad_events"
RELOAD_SECONDS = 15.0
REPEAT = re.compile(rb"@@REPEAT:(.):(\d+)@@")
OUTSIDE_HOSTS = {"calendar.google.com", "outlook.live.com", "outlook.office.com", "schema.org"}
ABSOLUTE_URL = re.compile(r"(?:https?|webcal)://[^\s\"'<>\\)]+")


def expand(raw: bytes) -> bytes:
    """`@@REPEAT:x:N@@` stands for N copies of x, so that huge inputs stay small in git."""
    return REPEAT.sub(lambda match: match[1] * int(match[2]), raw)


def expectation(case: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((case / "expect.yaml").read_text())
    return loaded


def materialise(case: Path, target: Path) -> Path:
    """The case's data directory: its files over fixtures/valid (or alone, if `replace`).

    Files under the case's `outside/` go beside the data directory, for links to point at;
    the `make` entries of expect.yaml create what git cannot hold (see `make_entry`).
    """
    root = target / "data"
    if expectation(case).get("replace"):
        root.mkdir(parents=True)
    else:
        shutil.copytree(VALID, root)
    for path in sorted(case.rglob("*")):
        if path.is_file() and path.name != "expect.yaml":
            relative = path.relative_to(case)
            inside = relative.parts[0] != "outside"
            destination = (root if inside else target) / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(expand(path.read_bytes()))
    for entry in expectation(case).get("make", []):
        make_entry(root, entry)
    return root


def make_entry(root: Path, entry: dict[str, Any]) -> None:
    """Create one special entry at `path`, replacing whatever the copy has there.

    The path may hold any character, and `\\udc80`-`\\udcff` stand for raw bytes that are not
    UTF-8 (Python's surrogate escapes). One of: `text` (a file with this content),
    `sparse_bytes` (a file of that apparent size that takes no space), `folder`, `fifo`,
    `socket`, `symlink` (to this target, as written).
    """
    path = root / entry["path"]
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "text" in entry:
        path.write_text(entry["text"], encoding="utf-8")
    elif "sparse_bytes" in entry:
        with path.open("wb") as file:
            file.truncate(int(entry["sparse_bytes"]))
    elif entry.get("folder"):
        path.mkdir()
    elif entry.get("fifo"):
        os.mkfifo(path)
    elif entry.get("socket"):
        # A socket's path may be at most about 100 bytes; bind it by its short name.
        with contextlib.chdir(path.parent), socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path.name)
    elif "symlink" in entry:
        path.symlink_to(entry["symlink"])
    else:
        raise AssertionError(f"make entry of unknown kind: {entry}")


def load_or_refusal(root: Path) -> Any:
    """The loaded data, or the DataInvalid that refused it (its speed: benchmarks/refusals.py)."""
    try:
        result: Any = load(root)
    except DataInvalid as exc:
        result = exc
    return result


def dotted(value: Any, name: str) -> Any:
    for part in name.split("."):
        value = getattr(value, part)
    return value


def covered() -> dict[str, str]:
    loaded: dict[str, str] = yaml.safe_load((CORPUS / "covered.yaml").read_text())
    return loaded


# --- Hostile text in served data ---------------------------------------------------------------

SERVED_CASES = [case for case in DATA_CASES if expectation(case).get("serve")]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> InProcess:
    """The application over fixtures/valid plus every corpus case marked `serve: true`."""
    folder = tmp_path_factory.mktemp("hostile")
    root = folder / "data"
    shutil.copytree(VALID, root)
    for case in SERVED_CASES:
        for path in (case / "events").iterdir():
            shutil.copy(path, root / "events" / path.name)
    return in_process(root, base_url=IN_PROCESS_URL)
