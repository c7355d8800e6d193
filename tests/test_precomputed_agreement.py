"""The lean path answers exactly as the full stack does: every header byte, for every URL it
serves, for GET and HEAD, conditional requests, encodings and other sites' requests."""

from __future__ import annotations

import pytest
from precomputed_support import Sent, call, open_app, scope_of, with_terms

from calendar_service.web.app import CalendarApp
from calendar_service.web.pages import ASSETS

# Requests a client sends for bytes it may hold: {etag} and {modified} are the URL's own.
VARIANTS: dict[str, dict[str, str]] = {
    "plain": {},
    "gzip": {"Accept-Encoding": "gzip, deflate, br"},
    "gzip refused": {"Accept-Encoding": "gzip;q=0, identity"},
    "any coding": {"Accept-Encoding": "*"},
    "brotli only": {"Accept-Encoding": "br"},
    "bad quality": {"Accept-Encoding": "gzip;q=x"},
    "etag matches": {"If-None-Match": "{etag}", "Accept-Encoding": "gzip"},
    "weak etag matches": {"If-None-Match": "W/{etag}"},
    "etag among others": {"If-None-Match": '"other", {etag}'},
    "star": {"If-None-Match": "*"},
    "etag differs": {"If-None-Match": '"other"', "Accept-Encoding": "gzip"},
    "etag differs, date matches": {"If-None-Match": '"other"', "If-Modified-Since": "{modified}"},
    "date matches": {"If-Modified-Since": "{modified}"},
    "date before": {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
    "date in the future": {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    "date not a date": {"If-Modified-Since": "yesterday"},
    "other site": {"Origin": "https://school.example"},
    "other site, gzip, unchanged": {
        "Origin": "https://school.example",
        "Accept-Encoding": "gzip",
        "If-None-Match": "{etag}",
    },
    "other site, null origin": {"Origin": "null", "Accept-Encoding": "gzip"},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> CalendarApp:
    return open_app(with_terms(tmp_path_factory.mktemp("agreement")))[1]


def precomputed_urls(app: CalendarApp) -> list[str]:
    """Every URL the lean path answers for the snapshot served."""
    return sorted(app.precomputed.table(app.state.service.snapshot))


def test_the_lean_path_serves_every_url_made_with_the_snapshot(app: CalendarApp) -> None:
    catalog = app.state.service.snapshot.catalog
    expected = {"/calendar.ics", "/version.json", *(path for path, _, _ in ASSETS)}
    expected |= {f"/feeds/{name}.ics" for name in catalog.feeds}
    expected |= {f"/feeds/terms/{calendar_id}.ics" for calendar_id in catalog.term_feeds}
    assert "/feeds/all.ics" in expected and catalog.term_feeds  # the cases the issue names
    assert set(precomputed_urls(app)) == expected


def repeated(name: str, value: str, times: int = 2) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode())] * times


def both(app: CalendarApp, method: str, url: str, headers: dict[str, str]) -> tuple[Sent, Sent]:
    """The lean path's answer and the full stack's to the same request."""
    scope = scope_of(method, url, headers)
    assert app.precomputed.answer(dict(scope)) is not None, f"the lean path passed on {url}"
    return call(app, scope), call(app.full_stack, scope)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_lean_answers_are_the_full_stacks_byte_for_byte(
    app: CalendarApp, method: str, variant: str
) -> None:
    for url in precomputed_urls(app):
        plain = call(app.full_stack, scope_of("GET", url))
        fields = dict((name.decode(), value.decode()) for name, value in plain.headers)
        known = {"etag": fields["etag"], "modified": fields["last-modified"]}
        headers = {name: value.format(**known) for name, value in VARIANTS[variant].items()}
        lean, full = both(app, method, url, headers)
        assert lean == full, f"{method} {url} {variant}"


def test_the_answers_compared_differ_as_the_requests_do(app: CalendarApp) -> None:
    """The variants reach every form: 200 as is, 200 gzip, 304, with and without CORS."""
    url = "/feeds/all.ics"
    etag = dict(call(app.full_stack, scope_of("GET", url)).headers)[b"etag"].decode()
    plain, _ = both(app, "GET", url, {})
    gzipped, _ = both(app, "GET", url, {"Accept-Encoding": "gzip"})
    unchanged, _ = both(app, "GET", url, {"If-None-Match": etag, "Origin": "https://a.example"})
    head, _ = both(app, "HEAD", url, {})
    assert (plain.status, gzipped.status, unchanged.status) == (200, 200, 304)
    assert plain.body.startswith(b"BEGIN:VCALENDAR") and gzipped.body[:2] == b"\x1f\x8b"
    assert unchanged.body == b"" and head.body == b"" and head.headers == plain.headers
    assert (b"content-encoding", b"gzip") in gzipped.headers
    assert (b"access-control-expose-headers", b"ETag, Last-Modified") in unchanged.headers
    assert (b"vary", b"Accept-Encoding, Origin") in plain.headers


def test_repeated_request_headers_are_read_as_the_full_stack_reads_them(app: CalendarApp) -> None:
    """Two If-Modified-Since are ignored; of two If-None-Match the first counts."""
    url = "/feeds/schools.ics"
    fields = dict(call(app.full_stack, scope_of("GET", url)).headers)
    cases = [
        repeated("if-modified-since", fields[b"last-modified"].decode()),
        [(b"if-none-match", b'"other"'), (b"if-none-match", fields[b"etag"])],
        [(b"if-none-match", fields[b"etag"]), (b"if-none-match", b'"other"')],
        [(b"accept-encoding", b"identity"), (b"accept-encoding", b"gzip")],
    ]
    for raw in cases:
        scope = {**scope_of("GET", url), "headers": raw}
        assert app.precomputed.answer(dict(scope)) is not None
        assert call(app, scope) == call(app.full_stack, scope), raw
