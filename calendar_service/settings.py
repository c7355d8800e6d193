"""Service configuration: one table of settings, read from options and `CALENDAR_*` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "CALENDAR_"


class ServiceSettings(BaseSettings):
    """How one running service is configured; the data itself lives in the data directory.

    Every field is also an environment variable (`data_dir` is `CALENDAR_DATA_DIR`), read by
    `from_env` once at start-up and then passed explicitly; a settings object built directly
    holds what it was given and the defaults, whatever the environment says.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    data_dir: Path = Field(Path("data"), description="the data directory")
    base_url: str | None = Field(
        None,
        description="public URL, the base of every absolute link (never request headers); "
        "overrides `base_url` in `calendar.yaml`",
    )
    uid_domain: str | None = Field(
        None, description="domain of event UIDs; overrides `uid_domain` in `calendar.yaml`"
    )
    host: str = Field("127.0.0.1", description="address `serve` listens on")
    port: int = Field(8000, ge=0, le=65_535, description="port `serve` listens on")
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    watch: bool = Field(True, description="reload when the data directory changes")
    # The watcher's times (README, "How it works"): tests shorten them where their subject
    # is not the time itself.
    watch_debounce_ms: int = Field(
        700,
        ge=0,
        description="milliseconds the data directory must be quiet before a reload reads it "
        "(editors write files in pieces)",
    )
    watch_check_interval: float = Field(
        1.0,
        gt=0,
        description="seconds between the watcher's own checks of the directory, its files and "
        "the day; also its first retry after a failed watch",
    )
    reload_stable_after: float = Field(
        3.0,
        ge=0,
        description="seconds the data must be unchanged before a reload that drops events is "
        "served (a file may be half-written)",
    )
    feed_max_age: int = Field(3600, ge=0, description="`Cache-Control` max-age of feeds, seconds")
    page_max_age: int = Field(
        300, ge=0, description="`Cache-Control` max-age of JSON and pages, seconds"
    )
    embed_frame_ancestors: str = Field(
        "*", description="who may frame `/embed` (CSP `frame-ancestors`)"
    )
    frame_ancestors: str = Field("'none'", description="who may frame every other page")
    # Capacity: what one process takes on at once (README, "Limits").
    expansion_workers: int = Field(
        1, ge=1, description="processes expanding series outside the precomputed index"
    )
    expansion_queue: int = Field(
        2, ge=0, description="requests that may wait for an expansion; more are answered 503"
    )
    header_timeout: int = Field(
        10, ge=1, description="seconds a client has to send a whole request head"
    )
    keep_alive_timeout: int = Field(
        5, ge=1, description="seconds an idle keep-alive connection is kept open"
    )
    max_connections: int = Field(
        500, ge=1, description="open connections (and requests in progress); more get 503"
    )
    backlog: int = Field(
        2048, ge=1, description="connections the kernel queues before the server accepts them"
    )

    # The export (README, "Static export and deployment"): tests lower the quality where
    # their subject is not the compressed bytes, as they shorten the watcher's times.
    export_brotli_quality: int = Field(
        11,
        ge=0,
        le=11,
        description="brotli quality of the export's shared files up to 64 KB (pages, feeds, "
        "digests; an event's own files and larger ones get 5): 11 is the smallest; 10 "
        "compresses them 2.6 times as fast for 2.7% more bytes, 5 59 times as fast for 15% more",
    )

    # Partner feeds (README, "Partner feeds"): where their last good copies are kept, how
    # often `serve` fetches them, and the one exception to the address rules, for tests.
    fetched_dir: Path = Field(
        Path("fetched"), description="where fetched partner feeds and their status are kept"
    )
    fetch_interval_hours: float = Field(
        6.0, ge=0, description="hours between `serve`'s fetches of partner feeds; 0: never"
    )
    fetch_allow_loopback: bool = Field(
        False, description="let partner feeds be fetched from loopback (tests' own servers)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Built directly, settings hold only what they are given: the environment is read
        # once, by `from_env`, never behind a constructor's back.
        return (init_settings,)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        """Settings from `CALENDAR_*` variables, defaults for the rest; errors name the variable."""
        values: dict[str, Any] = EnvSettingsSource(cls)()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ValueError(_first_problem(exc)) from None

    def with_options(self, **options: object) -> ServiceSettings:
        """These settings with every option that was given (not None) applied, validated."""
        given = {key: value for key, value in options.items() if value is not None}
        try:
            return type(self)(**{**self.model_dump(), **given})
        except ValidationError as exc:
            raise ValueError(_first_problem(exc)) from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    name = str(error["loc"][0]) if error["loc"] else "settings"
    return f"{ENV_PREFIX}{name.upper()} ({name}): {error['msg']}"


def settings_table() -> list[tuple[str, str, str, str]]:
    """(name, environment variable, default, meaning) of every setting, for the README."""
    rows = []
    for name, field in ServiceSettings.model_fields.items():
        default = "" if field.default is None else str(field.default)
        if isinstance(field.default, bool):
            default = "1" if field.default else "0"
        rows.append((name, ENV_PREFIX + name.upper(), default, field.description or ""))
    return rows
