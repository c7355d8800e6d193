"""What the lean path takes and leaves to the app, how it follows reloads, and its bytes
through a real uvicorn server."""

from __future__ import annotations

import http.client
from datetime import date
from pathlib import Path

import pytest
from conftest import BUNDLED_DATA, Server, in_process
from precomputed_support import call, open_app, scope_of, with_terms

from calendar_service.web import precomputed
from calendar_service.web.app import CalendarApp
from calendar_service.web.service import CalendarService

TITLE_LINE = "    title: Time to Talk Day\n"
EDITED_FILE = "events/awareness.yaml"


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> tuple[CalendarService, CalendarApp]:
    return open_app(with_terms(tmp_path_factory.mktemp("path")))


# Requests for a precomputed URL's neighbours, or in another form: the app answers them.
LEFT_TO_THE_APP = [
    ("GET", "/feeds/all.ics", b"x=1"),  # unknown parameter: 422
    ("GET", "/calendar.ics", b"category=awareness-day"),  # a filtered feed, built on demand
    ("GET", "/calendar.ics", b"audience="),  # not canonical: a redirect
    ("GET", "/feeds/no-such-feed.ics", b""),  # 404 naming the feeds there are
    ("GET", "/feeds/terms/no-such-calendar.ics", b""),
    ("GET", "/feeds/all.json", b""),  # made on first use, not with the snapshot
    ("GET", "/feeds/all.ics/", b""),
    ("GET", "/FEEDS/ALL.ICS", b""),
    ("POST", "/feeds/all.ics", b""),  # 405 with Allow
    ("OPTIONS", "/feeds/all.ics", b""),
    ("GET", "/healthz", b""),  # changes with every reload and fetch: never prepared
    ("GET", "/", b""),
]


@pytest.mark.parametrize(("method", "path", "query"), LEFT_TO_THE_APP)
def test_other_requests_go_to_the_app_unchanged(
    opened: tuple[CalendarService, CalendarApp], method: str, path: str, query: bytes
) -> None:
    _, app = opened
    headers = {"Origin": "https://school.example", "Access-Control-Request-Method": "GET"}
    scope = scope_of(method, path, headers, query)
    assert app.precomputed.answer(dict(scope)) is None
    assert call(app, scope) == call(app.full_stack, scope)


def test_a_reload_is_followed_at_once(tmp_path: Path) -> None:
    data = with_terms(tmp_path)
    service, app = open_app(data)
    before = call(app, scope_of("GET", "/feeds/all.ics"))
    old_version = call(app, scope_of("GET", "/version.json")).body
    edited = data / EDITED_FILE
    text = edited.read_text(encoding="utf-8")
    assert text.count(TITLE_LINE) == 1
    edited.write_text(text.replace(TITLE_LINE, "    title: Time to Talk Day (moved)\n"))
    assert service.live.reload("the test edited a title")

    after = call(app, scope_of("GET", "/feeds/all.ics"))
    assert b"Time to Talk Day (moved)" in after.body
    assert dict(after.headers)[b"etag"] != dict(before.headers)[b"etag"]
    assert after == call(app.full_stack, scope_of("GET", "/feeds/all.ics"))
    # The old ETag no longer gets a 304; the new one does.
    old_etag = dict(before.headers)[b"etag"].decode()
    assert call(app, scope_of("GET", "/feeds/all.ics", {"If-None-Match": old_etag})).status == 200
    new_etag = dict(after.headers)[b"etag"].decode()
    assert call(app, scope_of("GET", "/feeds/all.ics", {"If-None-Match": new_etag})).status == 304
    assert call(app, scope_of("GET", "/version.json")).body != old_version


def test_a_feed_removed_by_a_reload_is_no_longer_answered(tmp_path: Path) -> None:
    data = with_terms(tmp_path)
    service, app = open_app(data)
    assert call(app, scope_of("GET", "/feeds/terms/testshire.ics")).status == 200
    for term_file in (data / "terms").iterdir():
        term_file.unlink()
    assert service.live.reload("the test removed the term calendar")
    scope = scope_of("GET", "/feeds/terms/testshire.ics")
    assert app.precomputed.answer(dict(scope)) is None
    assert call(app, scope).status == 404


def raw_response(
    server: Server, method: str, path: str, headers: dict[str, str]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, header lines in order (without Date) and body, read off the socket."""
    host, _, port = server.url.removeprefix("http://").partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        lines = [(name.lower(), value) for name, value in response.getheaders()]
    finally:
        connection.close()
    return response.status, [line for line in lines if line[0] != "date"], body


@pytest.fixture(scope="module")
def mirror(server: Server) -> CalendarApp:
    """The application in this process over the real server's data, base URL and day.

    The day is the server's own: a run across midnight would otherwise compare two days'
    Last-Modified.
    """
    day = date.fromisoformat(server.get("/version.json").json()["compiled_on"])
    app = in_process(BUNDLED_DATA, base_url=server.url, today=day).app
    assert isinstance(app, CalendarApp)
    return app


@pytest.mark.parametrize(
    "headers",
    [{}, {"Accept-Encoding": "gzip"}, {"Origin": "https://school.example"}],
    ids=["plain", "gzip", "other site"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_real_server_sends_the_full_stacks_bytes(
    server: Server, mirror: CalendarApp, method: str, headers: dict[str, str]
) -> None:
    """Through uvicorn (our protocol), the lean path's bytes are those of the app in process."""
    for path in ("/feeds/all.ics", "/embed.js", "/version.json"):
        status, lines, body = raw_response(server, method, path, headers)
        expected = call(mirror.full_stack, scope_of(method, path, headers))
        assert status == expected.status
        assert lines == [(name.decode(), value.decode()) for name, value in expected.headers]
        assert body == expected.body


def test_a_fault_in_the_lean_path_leaves_the_answer_to_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, app = open_app(with_terms(tmp_path))

    def broken(snapshot: object) -> dict[str, object]:
        raise RuntimeError("a table that cannot be made")

    monkeypatch.setattr(app.precomputed, "table", broken)
    scope = scope_of("GET", "/feeds/all.ics", {"Accept-Encoding": "gzip"})
    answered = call(app, scope)
    assert answered.status == 200 and answered == call(app.full_stack, scope)
    assert "the lean path failed on /feeds/all.ics" in caplog.text


@pytest.mark.parametrize("join_below", [0, 10**9], ids=["sent as held", "joined"])
def test_a_feed_held_in_parts_is_sent_whole_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, join_below: int
) -> None:
    """The whole feed and the feed of every event share their bytes after the header: large,
    they go in one message each part; small, in one message. The bytes are the same."""
    monkeypatch.setattr(precomputed, "JOIN_BELOW", join_below)
    service, app = open_app(with_terms(tmp_path))
    for path in ("/calendar.ics", "/feeds/all.ics"):
        assert len(service.snapshot.catalog.feeds["all"].file.parts) == 2
        scope = scope_of("GET", path)
        answer = app.precomputed.answer(dict(scope))
        assert answer is not None and len(answer) == (3 if join_below == 0 else 2)
        assert call(app, scope) == call(app.full_stack, scope)
        for headers in ({"Accept-Encoding": "gzip"}, {"Origin": "https://school.example"}):
            scope = scope_of("HEAD", path, headers)
            assert call(app, scope) == call(app.full_stack, scope)
