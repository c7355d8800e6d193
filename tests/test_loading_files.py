"""Loading the data directory: YAML parsing, unprintable file names and forged error lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bad_inputs_support import expand
from conftest import ROOT
from loading_support import BAD_FILES, EVENT, VALID, errors_of, events_file, valid_copy

from calendar_service import documents
from calendar_service.loading import DataInvalid, load

CORPUS_FILES = (ROOT / "tests" / "bad_inputs" / "data").rglob("*.yaml")
YAML_FILES = sorted(
    [
        *(path for path in CORPUS_FILES if path.name != "expect.yaml"),
        *BAD_FILES,
        *VALID.rglob("*.yaml"),
    ]
)


def parsed(text: str, parser: type) -> object:
    try:
        document = documents.build_document(text, parser)
    except documents.YamlProblem as problem:
        return ("refused", problem.line, problem.message)
    return (document.value, document.lines)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: path.parent.name + "/" + path.name)
def test_pure_python_parser_reads_every_file_as_libyaml_does(path: Path) -> None:
    """Machines without libyaml fall back to PyYAML's parser: same values, lines, refusals."""
    raw = expand(path.read_bytes())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before parsing")
    assert documents.PARSER is not documents.PurePythonParser, "libyaml is not installed"
    assert parsed(text, documents.PurePythonParser) == parsed(text, documents.PARSER)


# --- File names, kinds, sizes and places ---------------------------------------------------

UNPRINTABLE_NAMES = {
    "not UTF-8": ("bad\udcff.yaml", "bad\\xff.yaml"),
    "newline": ("a\nforged.yaml:1: fine.yaml", "a\\nforged.yaml:1: fine.yaml"),
    "carriage return": ("a\rforged.yaml", "a\\rforged.yaml"),
    "tab": ("a\tb.yaml", "a\\tb.yaml"),
    "escape sequence": ("\x1b[31mred.yaml", "\\x1b[31mred.yaml"),
    "delete": ("a\x7f.yaml", "a\\x7f.yaml"),
    "next line (C1)": ("a\x85b.yaml", "a\\x85b.yaml"),
    "line separator": ("a\u2028b.yaml", "a\\u2028b.yaml"),
    "right-to-left override": ("a\u202eb.yaml", "a\\u202eb.yaml"),
    "zero-width space": ("a\u200bb.yaml", "a\\u200bb.yaml"),
}


@pytest.mark.parametrize("name", UNPRINTABLE_NAMES.values(), ids=UNPRINTABLE_NAMES.keys())
def test_file_name_that_is_not_printable_utf8_is_refused_by_its_escaped_name(
    name: tuple[str, str], tmp_path: Path
) -> None:
    real, shown = name
    root = valid_copy(tmp_path)
    (root / "events" / real).write_text(
        events_file(EVENT.format(id="oddly-named", title="Oddly named", start="2026-02-05"))
    )
    errors = errors_of(root)
    assert [(error.file, error.line) for error in errors] == [(f"events/{shown}", None)]
    assert "file names must be printable UTF-8" in errors[0].message
    assert str(errors[0]).isprintable()


def test_validate_names_unprintable_files_on_one_line_each_without_a_traceback(
    tmp_path: Path,
) -> None:
    root = valid_copy(tmp_path)
    text = events_file(EVENT.format(id="oddly-named", title="Oddly named", start="2026-02-05"))
    (root / "events" / "bad\udcff.yaml").write_text(text)
    (root / "events" / "a\nevents/forged.yaml:1: all fine.yaml".replace("/", "\u2215")).write_text(
        text
    )
    result = subprocess.run(
        [sys.executable, "-m", "calendar_service.cli", "validate", str(root)],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    stderr = result.stderr.decode("utf-8")  # strictly: nothing unprintable reached it
    assert result.returncode == 1, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert lines[0] == "2 error(s) in the data:"
    assert lines[1:] == [
        "  events/a\\nevents\u2215forged.yaml:1: all fine.yaml: file names must be printable"
        " UTF-8, without control or invisible characters",
        "  events/bad\\xff.yaml: file names must be printable UTF-8, without control or"
        " invisible characters",
    ]


def test_a_newline_in_a_key_does_not_forge_an_error_line(tmp_path: Path) -> None:
    root = valid_copy(tmp_path)
    (root / "events" / "keys.yaml").write_text(
        events_file(EVENT.format(id="odd-key", title="Odd key", start="2026-02-05"))
        + '    "x\\nevents/other.yaml:9: forged": 1\n'
    )
    with pytest.raises(DataInvalid) as caught:
        load(root)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2, lines
    assert lines[1].startswith("  events/keys.yaml:7: events[0].x\\nevents/other.yaml:9: forged:")


LIMITED = {
    "a mapping's scalar": ("a: 1\nb: 2\nc: 3\nd: 4\n", "e: 5\n"),
    "a sequence's scalar": ("- 1\n- 2\n- 3\n- 4\n", "- 5\n"),
    "a nested collection": ("a: 1\nb: 2\nc: 3\nd: [4]\n", "e: {f: 6}\n"),
}


@pytest.mark.parametrize(("within", "over"), LIMITED.values(), ids=LIMITED.keys())
def test_the_node_limit_names_the_first_node_over_it(
    monkeypatch: pytest.MonkeyPatch, within: str, over: str
) -> None:
    monkeypatch.setattr(documents, "MAX_NODES", 5 + within.count("["))
    for parser in (documents.PARSER, documents.PurePythonParser):
        assert parsed(within, parser)[0] != "refused"
        limit = documents.MAX_NODES
        assert parsed(within + over, parser) == ("refused", 5, f"more than {limit:,} YAML nodes")


@pytest.mark.parametrize("leaf", ["x", "[]", "{}"])
def test_a_value_deeper_than_the_limit_is_refused_at_its_line(leaf: str) -> None:
    depth = documents.MAX_DEPTH
    text = "".join(f"{'  ' * level}k{level}:\n" for level in range(depth))
    deepest = f"{'  ' * depth}- {leaf}\n"  # the list is at the limit, its item under it
    for parser in (documents.PARSER, documents.PurePythonParser):
        message = f"nested deeper than {depth} levels"
        assert parsed(text + deepest, parser) == ("refused", depth + 1, message)
        assert parsed(text + f"{'  ' * depth}{leaf}\n", parser)[0] != "refused"
