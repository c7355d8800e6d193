"""Service configuration from command-line options and environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

ENV_PREFIX = "CALENDAR_"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """How one running service is configured; the data itself lives in the data directory.

    Every field can be set as an environment variable: `data_dir` is `CALENDAR_DATA_DIR`.
    """

    data_dir: Path = Path("data")
    base_url: str | None = None  # public URL of the service; overrides calendar.yaml
    uid_domain: str | None = None  # overrides calendar.yaml
    watch: bool = True  # reload when the data directory changes
    feed_max_age: int = 3600  # Cache-Control max-age of feeds, seconds
    page_max_age: int = 300  # Cache-Control max-age of JSON and HTML, seconds
    embed_frame_ancestors: str = "*"  # who may frame /embed (CSP frame-ancestors)
    frame_ancestors: str = "'none'"  # who may frame every other page

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Settings from `CALENDAR_*` variables, defaults for the rest."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for item in fields(cls):
            raw = environ.get(ENV_PREFIX + item.name.upper())
            if raw is None or raw == "":
                continue
            values[item.name] = _convert(item.name, raw, item.type)
        return cls(**values)  # type: ignore[arg-type]

    def with_options(self, **options: object) -> ServiceSettings:
        """These settings with every option that was given (not None) applied."""
        given = {key: value for key, value in options.items() if value is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(str(given["data_dir"]))
        return replace(self, **given)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, to hand to worker processes."""
        env = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "1" if value else "0"
            env[ENV_PREFIX + item.name.upper()] = str(value)
        return env


def _convert(name: str, raw: str, kind: object) -> object:
    text = str(kind)
    if "bool" in text:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{ENV_PREFIX}{name.upper()} must be true or false, not {raw!r}")
    if "int" in text:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{ENV_PREFIX}{name.upper()} must be a whole number") from None
    if "Path" in text:
        return Path(raw)
    return raw
