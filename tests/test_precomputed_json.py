"""The lean path answers JSON the API made and keeps, as the full stack answers it again;
every other API request goes to the app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from precomputed_support import call, open_app, scope_of, with_terms
from test_precomputed_agreement import VARIANTS

from calendar_service.web.app import CalendarApp

# The one-month query of the benchmark, facets, a page of events and one event.
KEPT = [
    ("/api/occurrences", b"audience=schools&from=2026-12-01&to=2026-12-31"),
    ("/api/facets", b"category=training-course&from=2026-01-01&to=2026-03-31"),
    ("/api/events", b"limit=5"),
    ("/api/events/time-to-talk-day", b""),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> CalendarApp:
    return open_app(with_terms(tmp_path_factory.mktemp("kept-json")))[1]


def lean_passes(app: CalendarApp, path: str, query: bytes) -> bool:
    return app.precomputed.answer(dict(scope_of("GET", path, query=query))) is None


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(("path", "query"), KEPT)
def test_kept_json_is_answered_as_the_full_stack_answers_it(
    app: CalendarApp, path: str, query: bytes, method: str
) -> None:
    first = call(app.full_stack, scope_of("GET", path, query=query))
    assert first.status == 200 and first.body.startswith(b"{")
    fields = dict((name.decode(), value.decode()) for name, value in first.headers)
    known = {"etag": fields["etag"], "modified": fields["last-modified"]}
    for variant, template in VARIANTS.items():
        headers = {name: value.format(**known) for name, value in template.items()}
        scope = scope_of(method, path, headers, query)
        assert app.precomputed.answer(dict(scope)) is not None, f"{path} {variant}"
        assert call(app, scope) == call(app.full_stack, scope), f"{method} {path} {variant}"


def test_json_not_yet_made_or_not_kept_is_left_to_the_app(app: CalendarApp) -> None:
    path, query = "/api/occurrences", b"audience=parents-carers&from=2026-11-01&to=2026-11-30"
    assert lean_passes(app, path, query)  # not asked for yet
    # Refused and redirected URLs are never kept: each is refused or redirected again.
    for refused in (b"audience=nobody", b"from=2026-11-01&audience=schools", b"colour=red"):
        assert call(app, scope_of("GET", path, query=refused)).status in (301, 422)
        assert lean_passes(app, path, refused)
    assert call(app, scope_of("GET", path, query=query)).status == 200
    assert not lean_passes(app, path, query)
    # The same URL with its path percent-escaped is checked by the app again.
    escaped = {**scope_of("GET", path, query=query), "raw_path": b"/api/%6Fccurrences"}
    assert app.precomputed.answer(escaped) is None
    assert call(app, escaped) == call(app.full_stack, escaped)


def test_a_window_beyond_the_index_is_always_asked_of_the_app(app: CalendarApp) -> None:
    """Its answer waits on the expansion pool's room (a 503 when busy), so never lean."""
    index = app.state.service.snapshot.catalog.index
    first = (index.end + timedelta(days=31)).date()
    query = f"q=nothing-matches-this&from={first}&to={first + timedelta(days=30)}".encode()
    assert call(app, scope_of("GET", "/api/occurrences", query=query)).status == 200
    assert lean_passes(app, "/api/occurrences", query)


def test_a_reload_leaves_the_new_snapshots_json_to_the_app(app: CalendarApp) -> None:
    path, query = KEPT[0]
    assert call(app, scope_of("GET", path, query=query)).status == 200
    assert not lean_passes(app, path, query)
    service = app.state.service
    assert service.live.reload()
    assert lean_passes(app, path, query)
