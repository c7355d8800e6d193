"""Data files as YAML documents: read safely, every value's line kept, errors located."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from calendar_service.values import FieldPath

MAX_FILE_BYTES = 2_000_000
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
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DataInvalid(Exception):
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


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases, which allow "billion laughs" bombs."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            raise YamlProblem(line, "YAML aliases (*name) are not allowed; write it out")
        if getattr(event, "anchor", None):
            raise YamlProblem(line, "YAML anchors (&name) are not allowed; write it out")
        return super().compose_node(parent, index)


@dataclass
class Document:
    value: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int | None:
        """Line of the nearest node on `path` (a missing field points at its parent)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # editors on Windows add a byte-order mark; it carries no meaning
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(line, "the file is not valid UTF-8; save it as UTF-8") from exc


class _PlainResolver(yaml.resolver.BaseResolver):
    """Give untagged nodes their kind's tag only; `_scalar` reads plain values itself."""

    _TAGS: ClassVar[dict[type, str]] = {
        yaml.ScalarNode: "tag:yaml.org,2002:str",
        yaml.SequenceNode: "tag:yaml.org,2002:seq",
        yaml.MappingNode: "tag:yaml.org,2002:map",
    }

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        return self._TAGS[kind]


def _fast_loader() -> type[Any]:
    # libyaml parses ten times faster; the pure-Python loader is the fallback and the
    # one that names the line of a refused anchor.
    try:
        from yaml.cyaml import CParser  # type: ignore[attr-defined]  # libyaml only
    except ImportError:
        return _Loader
    parser: type[Any] = CParser
    return type("_FastLoader", (parser, yaml.constructor.BaseConstructor, _PlainResolver), {})


_FAST_LOADER = _fast_loader()


class _AliasFound(Exception):
    """A node reached twice: the document uses an alias."""


def _compose(text: str, loader_class: type[Any]) -> yaml.Node | None:
    try:
        loader = loader_class(text)
    except yaml.reader.ReaderError as exc:  # the pure reader checks characters up front
        raise _reader_problem(text, exc) from exc
    try:
        node: yaml.Node | None = loader.get_single_node()
    except YamlProblem:
        raise
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(text, exc) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark.line + 1 if mark is not None else None
        raise YamlProblem(where, f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(None, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return node


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> YamlProblem:
    line = text[: exc.position].count("\n") + 1
    message = f"not valid YAML: unacceptable character #x{exc.character:04x}"
    return YamlProblem(line, f"{message} (control characters are not allowed)")


def parse_yaml(raw: bytes) -> Document:
    """Parse YAML safely into plain values, recording the line of every node.

    Plain scalars follow YAML 1.2's core schema: only true/false are booleans, `no` and
    `12:30` stay text, and dates stay text for the models to read. Tags other than the
    standard ones, merge keys, duplicate keys and aliases are refused.
    """
    if len(raw) > MAX_FILE_BYTES:
        raise YamlProblem(None, f"the file is larger than {MAX_FILE_BYTES:,} bytes")
    text = _decode(raw)
    if not text.strip():
        raise YamlProblem(1, "the file is empty")
    node = _compose(text, _FAST_LOADER)
    if node is None:
        raise YamlProblem(1, "the file is empty")
    document = Document(None)
    try:
        document.value = _Builder(document).build(node, ())
    except _AliasFound:
        # Say where the anchor is, as the pure loader can; it stops at the first one.
        _compose(text, _Loader)
        raise YamlProblem(None, "YAML aliases (*name) are not allowed; write it out") from None
    return document


class _Builder:
    """Turns a composed node tree into plain values, checking as it goes."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.count = 0
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            raise YamlProblem(line, f"more than {MAX_NODES:,} YAML nodes")
        if len(path) > MAX_DEPTH:
            raise YamlProblem(line, f"nested deeper than {MAX_DEPTH} levels")
        if id(node) in self.seen:
            raise _AliasFound
        self.seen.add(id(node))
        if node.tag not in _ALLOWED_TAGS:
            raise YamlProblem(line, f"the YAML tag {node.tag!r} is not allowed")
        lines = self.document.lines
        lines[path] = line
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                merge = key_node.tag.endswith(":merge") or (
                    key_node.value == "<<" and not key_node.style  # our resolver leaves it
                )
                if not isinstance(key_node, yaml.ScalarNode) or merge:
                    raise YamlProblem(key_line, "keys must be plain names")
                key = key_node.value
                if key in result:
                    raise YamlProblem(
                        key_line, f"duplicate key {key!r} (first on line {lines[(*path, key)]})"
                    )
                result[key] = self.build(value_node, (*path, key))
                lines[(*path, key)] = key_line
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    value: str = node.value
    if node.style:  # quoted or block scalars are always text (plain is None or "")
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
