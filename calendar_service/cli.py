"""Console commands: serve, validate, stamp, schema, build, digest, fetch and sources."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from calendar_service import __version__
from calendar_service.compiling import compile_catalog
from calendar_service.feed_size import oversized_feeds
from calendar_service.fetch_store import FetchStore, SourceStatus
from calendar_service.fetching import DEFAULT_TIMEZONE, fetch_all
from calendar_service.fields import FIELDS
from calendar_service.loading import DataInvalid, load, read_sources
from calendar_service.model import CalendarSettings, EventFile, TermCalendar
from calendar_service.partner_sources import SourceConfig, SourcesFile
from calendar_service.settings import ServiceSettings, settings_table
from calendar_service.stamping import stamp
from calendar_service.urls import BaseUrlMissing, served_url


def _add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (env CALENDAR_DATA_DIR, default ./data)")
    parser.add_argument(
        "--base-url",
        help="public URL of the service (env CALENDAR_BASE_URL; default: base_url in "
        "calendar.yaml, else the address served)",
    )
    parser.add_argument("--uid-domain", help="domain of event UIDs (env CALENDAR_UID_DOMAIN)")
    parser.add_argument(
        "--fetched-dir",
        help="where partner feeds' last good copies are kept (env CALENDAR_FETCHED_DIR, ./fetched)",
    )


# The command-line option of each setting that has one (the rest: environment only).
OPTIONS = {
    "data_dir": "--data-dir",
    "base_url": "--base-url",
    "uid_domain": "--uid-domain",
    "host": "--host",
    "port": "--port",
    "workers": "--workers",
    "watch": "--no-watch",
    "fetched_dir": "--fetched-dir",
}


def configuration_table() -> str:
    """The README's configuration table, generated from the settings and the options."""
    lines = ["| option | environment | default | meaning |", "|---|---|---|---|"]
    for name, variable, default, meaning in settings_table():
        option = f"`{OPTIONS[name]}`" if name in OPTIONS else ""
        shown = f"`{default}`" if default else "(none)"
        lines.append(f"| {option} | `{variable}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


def _settings(args: argparse.Namespace) -> ServiceSettings:
    """The environment's settings with the command's options over them (an option wins)."""
    options = ("data_dir", "base_url", "uid_domain", "fetched_dir", "host", "port", "workers")
    return ServiceSettings.from_env().with_options(
        **{name: getattr(args, name, None) for name in options}
    )


def serve(args: argparse.Namespace) -> int:
    """Serve the data directory under uvicorn (web/running.py), with the options given."""
    from calendar_service.web import running

    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"calendar-service: {exc}", file=sys.stderr)
        return 2
    if args.no_watch:
        settings = settings.with_options(watch=False)
    return running.run(settings, log_level=args.log_level)


def validate(args: argparse.Namespace) -> int:
    """Check a data directory; list every error, or summarise what it holds.

    Warnings (unstamped changes, dates near today without a source or still provisional)
    are printed; with --strict they fail the check.
    """
    try:
        today = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(f"calendar-service validate: --date {args.date!r} is not YYYY-MM-DD", file=sys.stderr)
        return 2
    try:
        data = load(Path(args.data_dir), today=today)
    except DataInvalid as exc:
        print(str(exc), file=sys.stderr)
        return 1
    # Compiled as `serve` started now with this environment would compile it: the same
    # version as its /version.json, and the feeds' bytes (their size is checked).
    service = ServiceSettings.from_env()
    served = served_url(service.host, service.port)  # what `serve` with these settings links to
    today = today or datetime.now(UTC).date()
    catalog = compile_catalog(
        data,
        base_url=service.base_url,
        served_url=served,
        uid_domain=service.uid_domain,
        today=today,
    )
    warnings = [*data.warnings, *oversized_feeds(catalog)]
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    series = sum(1 for event in data.events if event.data.recurrence is not None)
    print(
        f"{args.data_dir}: OK: {len(data.events)} events ({series} recurring) "
        f"in {len({event.source for event in data.events})} files, "
        f"{len(data.settings.feeds)} feeds, "
        f"version {catalog.version} "
        f"(on {today} at {catalog.identity.base_url}; calendar-service {__version__})"
    )
    if args.strict and warnings:
        print(f"strict: {len(warnings)} warning(s) above count as errors", file=sys.stderr)
        return 1
    return 0


def stamp_command(args: argparse.Namespace) -> int:
    """Record revisions (SEQUENCE, LAST-MODIFIED) of changed events."""
    try:
        changed = stamp(Path(args.data_dir))
    except DataInvalid as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(
        f"stamped {len(changed)} changed event(s)" + (f": {', '.join(changed)}" if changed else "")
    )
    return 0


def schema(args: argparse.Namespace) -> int:
    """Print or write the JSON Schema of the data files, for editors' completion."""
    schemas = {
        "calendar.schema.json": CalendarSettings.model_json_schema(),
        "events.schema.json": EventFile.model_json_schema(),
        "sources.schema.json": SourcesFile.model_json_schema(),
        "terms.schema.json": TermCalendar.model_json_schema(),
    }
    if args.out is None:
        print(json.dumps(schemas[f"{args.kind}.schema.json"], indent=2))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, value in schemas.items():
        (out / name).write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
        print(out / name)
    return 0


def build(args: argparse.Namespace) -> int:
    """Export the precomputable surface to a directory, byte-identical to `serve`."""
    from calendar_service.export import ExportError, build_site

    settings = _settings(args)
    try:
        today = date.fromisoformat(args.date) if args.date else None
        files = build_site(settings, Path(args.out_dir), today=today, workers=args.workers)
    except DataInvalid as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except BaseUrlMissing as exc:
        # A static site has no served address to fall back on: its links must be public.
        print(
            f"calendar-service build: the export needs the address it will be published at; {exc}",
            file=sys.stderr,
        )
        return 1
    except (ExportError, ValueError) as exc:
        print(f"calendar-service build: {exc}", file=sys.stderr)
        return 1
    total = sum(item.size for item in files)
    stored = Counter(item.stored for item in files)
    print(
        f"{args.out_dir}: {len(files)} files, {total:,} bytes (plus .gz and .br siblings); "
        f"{stored['written']} written, {stored['linked']} linked and {stored['copied']} "
        "re-dated from the previous version"
    )
    return 0


def fetch_command(args: argparse.Namespace) -> int:
    """Fetch every partner feed of the sources file once (for cron or CI); 1 if any failed."""
    loaded = _sources(args)
    if loaded is None:
        return 2
    settings, sources = loaded
    if not sources:
        print(f"{settings.data_dir}: no partner feeds to fetch (no sources file, or it lists none)")
        return 0
    base_url, timezone = _calendar_settings(settings.data_dir)
    if settings.base_url is None:  # the User-Agent names where the calendar is published
        settings = settings.with_options(base_url=base_url)
    store = FetchStore(settings.fetched_dir)
    statuses = fetch_all(sources, store, settings, timezone=timezone)
    for status in statuses:
        print(f"{status.id}: {_describe(status)}")
    return 1 if any(status.last_error for status in statuses) else 0


def sources_command(args: argparse.Namespace) -> int:
    """List the partner feeds with what their last fetches did (as /healthz shows them)."""
    loaded = _sources(args)
    if loaded is None:
        return 2
    settings, sources = loaded
    store = FetchStore(settings.fetched_dir)
    if args.json:
        listed = [{"name": source.name, **store.latest(source).as_json()} for source in sources]
        print(json.dumps(listed, indent=2))
        return 0
    if not sources:
        print(f"{settings.data_dir}: no partner feeds (no sources file, or it lists none)")
    for source in sources:
        print(f"{source.id} ({source.name}) {source.url}")
        print(f"  {_describe(store.latest(source))}")
    return 0


def _sources(args: argparse.Namespace) -> tuple[ServiceSettings, list[SourceConfig]] | None:
    try:
        settings = _settings(args)
        return settings, read_sources(settings.data_dir)
    except (ValueError, DataInvalid) as exc:
        print(f"calendar-service {args.command}: {exc}", file=sys.stderr)
        return None


def _calendar_settings(data_dir: Path) -> tuple[str | None, str]:
    """calendar.yaml's base URL and time zone if the data is valid, else none and the default."""
    try:
        calendar = load(data_dir).settings
    except DataInvalid:
        return None, DEFAULT_TIMEZONE
    return calendar.base_url, calendar.timezone


def _describe(status: SourceStatus) -> str:
    """One line: a source's last fetch, and the copy that is served."""

    def moment(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"

    copy = (
        f"{status.events} event(s) from {moment(status.last_success)}"
        if status.sha256
        else "no good copy yet"
    )
    if status.last_attempt is None:
        return "never fetched"
    if status.last_error is None:
        return f"ok, {copy}"
    return f"FAILED at {moment(status.last_attempt)}: {status.last_error}; serving {copy}"


def digest_command(args: argparse.Namespace) -> int:
    """Write a digest to a file (or standard output): the bytes `/digest` serves for it."""
    import asyncio
    from urllib.parse import urlencode

    from calendar_service.digest import DigestFormat
    from calendar_service.web.service import CalendarService

    form = DigestFormat(args.format)
    if form is DigestFormat.PDF and args.out is None:
        print("calendar-service digest: a PDF needs --out FILE", file=sys.stderr)
        return 2
    pairs = [(field.name, value) for field in FIELDS for value in getattr(args, field.name) or ()]
    if args.feed is not None:
        if pairs or args.start or args.end:
            print("calendar-service digest: --feed takes --month only", file=sys.stderr)
            return 2
        month = args.month or datetime.now(UTC).strftime("%Y-%m")
        path = f"/feeds/{args.feed}/digest/{month}{form.suffix}"
    else:
        period = [("month", args.month)] if args.month else []
        period += [
            (name, value) for name, value in (("from", args.start), ("to", args.end)) if value
        ]
        path = f"/digest{form.suffix}" + (
            f"?{urlencode(pairs + period)}" if pairs or period else ""
        )
    try:
        today = date.fromisoformat(args.date) if args.date else None
        settings = _settings(args).with_options(watch=False)
        service = CalendarService.open(
            settings, today=(lambda: today) if today is not None else None
        )
    except (DataInvalid, BaseUrlMissing, ValueError) as exc:
        print(f"calendar-service digest: {exc}", file=sys.stderr)
        return 1

    async def fetch() -> tuple[int, bytes, str]:
        async with service.client as client:
            response = await client.get(path, follow_redirects=True)
            refusal = response.content
            if response.status_code != 200 and form is DigestFormat.HTML:
                # The email digest is a page, refused with an HTML page for people; the
                # text form's URL runs the same checks and says why in the JSON shape.
                text = (
                    path.replace("/digest", "/digest.txt", 1)
                    if args.feed is None
                    else (path.split("?")[0] + DigestFormat.TEXT.suffix)
                )
                refusal = (await client.get(text, follow_redirects=True)).content
            return response.status_code, response.content, refusal.decode(errors="replace")

    status, body, refusal = asyncio.run(fetch())
    if status != 200:
        try:
            message = json.loads(refusal)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"the service answered {status}"
        print(f"calendar-service digest: {message}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(body.decode())
    else:
        Path(args.out).write_bytes(body)
    return 0


def _add_digest_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from calendar_service.digest import DigestFormat

    dated = commands.add_parser(
        "digest", help='write the "dates for your diary" digest of a month or term'
    )
    _add_service_options(dated)
    dated.add_argument("--month", help="YYYY-MM (default: this month)")
    dated.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (with --to)")
    dated.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (at most a term)")
    dated.add_argument("--feed", help="a named feed from calendar.yaml, instead of filters")
    for field in FIELDS:  # every filter the URL takes, from the one table
        dated.add_argument(f"--{field.name}", action="append", help=field.description)
    dated.add_argument(
        "--format", choices=[form.value for form in DigestFormat], default=DigestFormat.HTML.value
    )
    dated.add_argument("--out", help="file to write (default: standard output)")
    dated.add_argument("--date", help="the day taken as today, YYYY-MM-DD")
    dated.set_defaults(handler=digest_command)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="calendar-service", description="Publish reviewed event data as calendars."
    )
    main.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = main.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="serve feeds, API and pages over HTTP")
    _add_service_options(run)
    run.add_argument("--host", help="address to listen on (env CALENDAR_HOST, 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (env CALENDAR_PORT, 8000)")
    run.add_argument("--workers", type=int, help="worker processes (env CALENDAR_WORKERS, 1)")
    run.add_argument("--no-watch", action="store_true", help="do not reload on data changes")
    run.add_argument("--log-level", default="info")
    run.set_defaults(handler=serve)

    check = commands.add_parser("validate", help="check a data directory, listing every error")
    check.add_argument("data_dir", metavar="DATA_DIR")
    check.add_argument("--strict", action="store_true", help="also fail on any warning")
    check.add_argument(
        "--date", help="the day to judge dates against, YYYY-MM-DD (default today, local time)"
    )
    check.set_defaults(handler=validate)

    record = commands.add_parser("stamp", help="record revisions of changed events")
    record.add_argument("data_dir", metavar="DATA_DIR")
    record.set_defaults(handler=stamp_command)

    site = commands.add_parser("build", help="export feeds, JSON and pages as static files")
    _add_service_options(site)
    site.add_argument("out_dir", metavar="OUT_DIR")
    site.add_argument("--date", help="the day to build for, YYYY-MM-DD (default today, UTC)")
    site.add_argument(
        "--workers", type=int, help="processes to render and compress in (default: one per core)"
    )
    site.set_defaults(handler=build)

    fetch = commands.add_parser("fetch", help="fetch every partner feed once (cron, CI)")
    _add_service_options(fetch)
    fetch.set_defaults(handler=fetch_command)

    listing = commands.add_parser("sources", help="the partner feeds and their last fetches")
    _add_service_options(listing)
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(handler=sources_command)

    _add_digest_parser(commands)

    export = commands.add_parser("schema", help="JSON Schema of the data files")
    export.add_argument(
        "--kind", choices=("events", "calendar", "sources", "terms"), default="events"
    )
    export.add_argument("--out", help="write every schema into this directory")
    export.set_defaults(handler=schema)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
