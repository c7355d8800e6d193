"""Service configuration from command-line options and environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

ENV_PREFIX = "CALENDAR_"
CAPACITY_FIELDS = (
    "expansion_workers",
    "expansion_queue",
    "header_timeout",
    "keep_alive_timeout",
    "max_connections",
    "backlog",
)


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
    # Capacity: what one process takes on at once (README, "Limits").
    expansion_workers: int = 1  # processes expanding series outside the precomputed index
    expansion_queue: int = 2  # requests that may wait for one; more are answered 503
    header_timeout: int = 10  # seconds a client has to send a whole request head
    keep_alive_timeout: int = 5  # seconds an idle keep-alive connection is kept open
    max_connections: int = 500  # open connections (and requests in progress); more: 503
    backlog: int = 2048  # connections the kernel queues before the server accepts them

    def __post_init__(self) -> None:
        for name in CAPACITY_FIELDS:
            value = getattr(self, name)
            least = 0 if name == "expansion_queue" else 1
            if not isinstance(value, int) or value < least:
                env = ENV_PREFIX + name.upper()
                raise ValueError(f"{name} ({env}) must be a whole number of at least {least}")

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
