"""Data files as YAML documents: read safely, every value's line kept, errors located."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from calendar_service.errors import CalendarServiceError
from calendar_service.values import FieldPath

MAX_FILE_BYTES = 2_000_000
# revisions.yaml and changes.yaml are written by `stamp` and grow with the events (about
# 400 bytes an event in revisions.yaml, which keeps each event's last dates): 10,000 events
# need 4 MB. Still bounded, and within MAX_DATA_BYTES with the events themselves.
MAX_STAMP_FILE_BYTES = 10_000_000
MAX_NODES = 500_000
MAX_DEPTH = 24

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "bool", "null", "float", "timestamp", "map", "seq")
}
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class DataError:
    """One problem in the data, located for the person who will fix it."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        # One line, whatever the names hold: a newline in a file name or a key must not
        # pass for another error in the list.
        file, field, message = escaped(self.file), escaped(self.field), escaped(self.message)
        where = file if self.line is None else f"{file}:{self.line}"
        return f"{where}: {field}: {message}" if field else f"{where}: {message}"


def escaped(text: str) -> str:
    """Text safe to print on one line: what is not printable is written as an escape.

    Control and invisible characters become `\\n`, `\\x1b`, `\\u202e`; a byte of a file
    name that is not UTF-8 (Python's surrogate escape) becomes `\\xff`.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


class DataInvalid(CalendarServiceError):
    """The data directory holds errors; nothing from it may be served."""

    def __init__(self, errors: list[DataError]) -> None:
        self.errors = errors
        super().__init__(
            f"{len(errors)} error(s) in the data:\n" + "\n".join(f"  {e}" for e in errors)
        )


def field_path(path: FieldPath) -> str:
    """`('events', 0, 'recurrence')` -> `events[0].recurrence`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class YamlProblem(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Document:
    """A data file's plain values, and the line of each value, found when asked for.

    The lines are kept per collection (`children`: by `id` of each dict and list in `value`,
    one line per item, a key's own line for a mapping) rather than per path: building a
    path for every value cost more than parsing it, and most lines are never asked for.
    """

    value: Any
    line: int  # where the top-level value starts
    children: dict[int, list[int]] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int | None:
        """Line of the nearest node on `path` (a missing field points at its parent)."""
        node, line = self.value, self.line
        for part in path:
            if isinstance(node, dict):
                if not isinstance(part, str) or part not in node:
                    break
                position = list(node).index(part)
            elif isinstance(node, list):
                if not isinstance(part, int) or not 0 <= part < len(node):
                    break
                position = part
            else:
                break
            line, node = self.children[id(node)][position], node[part]
        return line

    @property
    def lines(self) -> dict[FieldPath, int]:
        """The line of every value by its path (for comparing two parses)."""
        found: dict[FieldPath, int] = {(): self.line}
        pending: list[tuple[FieldPath, Any]] = [((), self.value)]
        while pending:
            path, node = pending.pop()
            if isinstance(node, dict | list):
                parts = list(node) if isinstance(node, dict) else range(len(node))
                for part, line in zip(parts, self.children[id(node)], strict=True):
                    found[(*path, part)] = line
                    pending.append(((*path, part), node[part]))
        return found


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # editors on Windows add a byte-order mark; it carries no meaning
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(line, "the file is not valid UTF-8; save it as UTF-8") from exc


class PurePythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own parser, for machines without libyaml."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def _parser_class() -> type[Any]:
    # libyaml parses several times faster; both give the same events.
    try:
        from yaml.cyaml import CParser  # type: ignore[attr-defined]  # libyaml only
    except ImportError:
        return PurePythonParser
    parser: type[Any] = CParser
    return parser


PARSER = _parser_class()


def parse_yaml(raw: bytes, limit: int = MAX_FILE_BYTES) -> Document:
    """Parse YAML safely into plain values, recording the line of every node.

    Plain scalars follow YAML 1.2's core schema: only true/false are booleans, `no` and
    `12:30` stay text, and dates stay text for the models to read. Tags other than the
    standard ones, merge keys, duplicate keys, anchors and aliases are refused.
    """
    if len(raw) > limit:
        raise YamlProblem(None, f"the file is larger than {limit:,} bytes")
    text = _decode(raw)
    if not text.strip():
        raise YamlProblem(1, "the file is empty")
    return build_document(text, PARSER)


def build_document(text: str, parser_class: type[Any]) -> Document:
    try:
        parser = parser_class(text)
    except yaml.reader.ReaderError as exc:  # the pure reader checks characters up front
        raise _reader_problem(text, exc) from exc
    try:
        return _Builder(parser).document()
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(text, exc) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark.line + 1 if mark is not None else None
        raise YamlProblem(where, f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(None, f"not valid YAML: {exc}") from exc
    finally:
        parser.dispose()


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> YamlProblem:
    line = text[: exc.position].count("\n") + 1
    message = f"not valid YAML: unacceptable character #x{exc.character:04x}"
    return YamlProblem(line, f"{message} (control characters are not allowed)")


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 1


class _Builder:
    """Turns the parser's events into plain values, checking each one as it comes.

    Working on events rather than a composed node tree sees every anchor, even one no
    alias uses (a composed tree keeps no trace of it), and stops at the first problem
    before anything deeper or larger is built. `value` runs once per node of every data
    file, so it is written for speed: one function, types compared by identity.
    """

    def __init__(self, parser: Any) -> None:
        self.get = parser.get_event
        self.children: dict[int, list[int]] = {}
        self.count = 0

    def document(self) -> Document:
        get = self.get
        get()  # the stream starts
        start = get()
        if isinstance(start, yaml.StreamEndEvent):
            raise YamlProblem(1, "the file is empty")  # only comments
        first = get()
        value = self.value(first, 0)
        get()  # the document ends
        after = get()
        if not isinstance(after, yaml.StreamEndEvent):
            raise YamlProblem(
                _line(after), "found another document (---); a data file holds one document"
            )
        return Document(value, _line(first), self.children)

    def value(self, event: yaml.Event, depth: int) -> Any:
        """The value `event` starts (at `depth` levels down), its children's lines recorded."""
        line = _checked(event)
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlProblem(line, f"more than {MAX_NODES:,} YAML nodes")
        if depth > MAX_DEPTH:
            raise YamlProblem(line, f"nested deeper than {MAX_DEPTH} levels")
        kind = event.__class__
        if kind is _SCALAR:
            return _scalar(event)  # type: ignore[arg-type]
        get, lines, inner = self.get, list[int](), depth + 1
        # A plain scalar child without anchor or tag, within the limits, is read here
        # rather than by a call of `value` for it: most nodes are such scalars.
        simple = inner <= MAX_DEPTH
        if kind is _SEQUENCE:
            items: list[Any] = []
            while (item := get()).__class__ is not _SEQUENCE_END:
                lines.append(item.start_mark.line + 1)
                if (
                    simple
                    and item.__class__ is _SCALAR
                    and item.anchor is None
                    and item.tag is None
                    and self.count < MAX_NODES
                ):
                    self.count += 1
                    text = item.value
                    plain = not item.style and (not text or text[0] in _NOT_TEXT_STARTS)
                    items.append(_scalar(item) if plain else text)
                else:
                    items.append(self.value(item, inner))
            self.children[id(items)] = lines
            return items
        assert kind is _MAPPING
        result: dict[str, Any] = {}
        while (key_event := get()).__class__ is not _MAPPING_END:
            if (
                key_event.__class__ is _SCALAR
                and key_event.anchor is None
                and key_event.tag is None
                and (key_event.value != "<<" or key_event.style)
            ):
                key_line = _line(key_event)
            else:
                key_line = _checked(key_event)
                if (
                    key_event.__class__ is not _SCALAR
                    or (key_event.value == "<<" and not key_event.style)  # YAML 1.1's merge key
                    or key_event.tag not in (None, "!", "tag:yaml.org,2002:str")
                ):
                    raise YamlProblem(key_line, "keys must be plain names")
            key = key_event.value
            if key in result:
                first = lines[list(result).index(key)]
                raise YamlProblem(key_line, f"duplicate key {key!r} (first on line {first})")
            item = get()
            if (
                simple
                and item.__class__ is _SCALAR
                and item.anchor is None
                and item.tag is None
                and self.count < MAX_NODES
            ):
                self.count += 1
                text = item.value
                plain = not item.style and (not text or text[0] in _NOT_TEXT_STARTS)
                result[key] = _scalar(item) if plain else text
            else:
                result[key] = self.value(item, inner)
            lines.append(key_line)
        self.children[id(result)] = lines
        return result


_SCALAR, _SEQUENCE, _MAPPING = yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent
_SEQUENCE_END, _MAPPING_END = yaml.SequenceEndEvent, yaml.MappingEndEvent


def _checked(event: yaml.Event) -> int:
    """The event's line, once it is known to be no alias, anchor or unknown tag."""
    line = _line(event)
    if event.__class__ is yaml.AliasEvent:
        raise YamlProblem(line, "YAML aliases (*name) are not allowed; write it out")
    if getattr(event, "anchor", None) is not None:
        raise YamlProblem(line, "YAML anchors (&name) are not allowed; write it out")
    tag = getattr(event, "tag", None)
    if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
        raise YamlProblem(line, f"the YAML tag {tag!r} is not allowed")
    return line


# Only these first characters can start a plain scalar that is not text (YAML 1.2 core).
_NOT_TEXT_STARTS = frozenset("~nNtTfF+-.0123456789")


def _scalar(event: yaml.ScalarEvent) -> Any:
    value: str = event.value
    if event.style:  # quoted or block scalars are always text (plain is None or "")
        return value
    return plain_value(value)


def plain_value(value: str) -> Any:
    """A plain (unquoted) scalar's value, as parse_yaml reads it: YAML 1.2's core schema."""
    if value and value[0] not in _NOT_TEXT_STARTS:
        return value
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value
