"""Data files read into documents and validated, each error located by file, line and field."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from calendar_service.documents import (
    DataError,
    Document,
    YamlProblem,
    field_path,
    parse_yaml,
)
from calendar_service.sources import (
    byte_limit,
)
from calendar_service.values import (
    FieldPath,
    FieldProblem,
)

M = TypeVar("M", bound=BaseModel)


def pydantic_errors(
    exc: ValidationError, file: str, doc: Document, base: FieldPath
) -> list[DataError]:
    errors = []
    for error in exc.errors(include_url=False):
        path: FieldPath = (*base, *error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            path = (*path, *cause.path)
            message = str(cause)
        elif error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = f"unknown field {path[-1]!r} (see `calendar-service schema` for the fields)"
        elif error["type"] == "missing":
            message = "this field is required"
        elif error["type"] == "dataclass_type":  # said as it is of a model
            name = (error.get("ctx") or {}).get("class_name", "")
            message = f"Input should be a valid dictionary or instance of {name}"
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
        errors.append(DataError(file, doc.line_of(path), field_path(path), message))
    return errors


def read_document(
    name: str,
    raw: bytes,
    errors: list[DataError],
    expected: str = "expected a mapping at the top of the file",
) -> Document | None:
    """Parse one data file whose top level must be a mapping; record why if it cannot be."""
    try:
        doc = parse_yaml(raw, byte_limit(name))
    except YamlProblem as problem:
        errors.append(DataError(name, problem.line, "", problem.message))
        return None
    if not isinstance(doc.value, dict):
        line = doc.line_of(()) or 1  # where the document starts, after any comments
        errors.append(DataError(name, line, "", expected))
        return None
    return doc


def load_model(
    model: type[M], name: str, raw: bytes, errors: list[DataError]
) -> tuple[M, Document] | None:
    doc = read_document(name, raw, errors)
    if doc is None:
        return None
    try:
        return model.model_validate(doc.value), doc
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, name, doc, ()))
        return None


__all__ = ["load_model", "pydantic_errors", "read_document"]
