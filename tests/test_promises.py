"""What the README promises and no other test checked: one named test per promise.

Each runs the real application in this process over a named dataset in tests/datasets/.
"""

from __future__ import annotations

import functools
import re
import shutil
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import BUNDLED_DATA, DATASETS, InProcess, in_process
from icalendar import Calendar

from calendar_service.cli import main
from calendar_service.loading import load
from calendar_service.stamping import stamp

DAY = date(2026, 11, 25)
PEOPLE = DATASETS / "organiser-colour-transparent"
CLOCKS = DATASETS / "clock-changes-gmt-bst"
ONLINE = DATASETS / "online-and-in-person"
FIRST_STAMP = datetime(2026, 1, 31, 9, tzinfo=UTC)
SECOND_STAMP = datetime(2026, 2, 1, 10, 30, tzinfo=UTC)


def copy_of(dataset: Path, tmp_path: Path, *, stamped: bool = True) -> Path:
    target = tmp_path / dataset.name
    shutil.copytree(dataset, target)
    if not stamped:
        (target / "revisions.yaml").unlink()
    return target


@functools.cache
def site(dataset: Path, today: date = DAY) -> InProcess:
    """The application over a named dataset, made once: the tests that take it only read."""
    return in_process(dataset, today=today)


def vevent(client_path: str, client: InProcess) -> Calendar:
    response = client.get(client_path)
    assert response.status_code == 200, response.text
    return next(iter(Calendar.from_ical(response.content).walk("VEVENT")))


# --- stamp: SEQUENCE and LAST-MODIFIED change with content, and only then ---------------------


def test_stamp_twice_changes_nothing(tmp_path: Path) -> None:
    root = copy_of(PEOPLE, tmp_path, stamped=False)
    stamp(root, now=FIRST_STAMP)
    written = (root / "revisions.yaml").read_bytes()
    assert stamp(root, now=SECOND_STAMP) == []
    assert (root / "revisions.yaml").read_bytes() == written


def test_stamp_after_an_edit_moves_only_that_event_on(tmp_path: Path) -> None:
    root = copy_of(PEOPLE, tmp_path, stamped=False)
    stamp(root, now=FIRST_STAMP)
    events = root / "events" / "events.yaml"
    events.write_text(events.read_text().replace("Course with an organiser", "Course (moved)"))
    assert stamp(root, now=SECOND_STAMP) == ["course-with-organiser"]
    revisions = {event.id: (event.sequence, event.modified) for event in load(root).events}
    assert revisions == {
        "course-with-organiser": (1, SECOND_STAMP),
        "day-without-organiser-email": (0, FIRST_STAMP),
    }
    component = vevent("/events/course-with-organiser.ics", in_process(root, today=DAY))
    assert component["SEQUENCE"] == 1
    assert component.decoded("LAST-MODIFIED") == SECOND_STAMP


def old_revisions_writer(revisions: dict[str, tuple[str, int, datetime]]) -> str:
    """revisions.yaml as the f-string writer wrote it before issue 10 (the reference)."""
    lines = [
        "# Written by `calendar-service stamp`: each event's content hash, SEQUENCE and",
        "# LAST-MODIFIED. Commit it with the data; do not edit by hand.",
    ]
    for key, (content_hash, sequence, modified) in sorted(revisions.items()):
        lines += [f"{key}:", f"  hash: '{content_hash}'", f"  sequence: {sequence}"]
        lines.append(f"  modified: '{modified:%Y-%m-%dT%H:%M:%SZ}'")
    return "\n".join(lines) + "\n"


def stamps_only(text: str) -> str:
    """revisions.yaml without its comments and the `last` content under each event."""
    kept = []
    for line in text.splitlines():
        if line.startswith("#") or line == "  last:" or line.startswith("    "):
            continue
        kept.append(line)
    return "\n".join(kept)


@pytest.mark.parametrize("dataset", [BUNDLED_DATA, PEOPLE, CLOCKS, ONLINE], ids=lambda p: p.name)
def test_stamp_writes_the_same_bytes_as_before(dataset: Path, tmp_path: Path) -> None:
    root = copy_of(dataset, tmp_path, stamped=False)
    stamp(root, now=FIRST_STAMP)
    stamp(root, now=SECOND_STAMP)  # nothing changed: the file is written again as it is
    loaded = load(root)
    expected = {e.id: (e.content_hash, e.sequence, e.modified) for e in loaded.events}
    # Issue 15 added each event's content as stamped (`last`) and a header line; the
    # stamps themselves are written byte for byte as before.
    written = stamps_only((root / "revisions.yaml").read_text())
    assert written == stamps_only(old_revisions_writer(expected))
    assert (dataset / "revisions.yaml").read_text() == old_revisions_writer(
        {e.id: (e.content_hash, e.sequence, e.modified) for e in load(dataset).events}
    )


def test_validate_strict_fails_on_unstamped_changes_until_stamped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_of(PEOPLE, tmp_path)
    assert main(["validate", "--strict", str(root)]) == 0
    events = root / "events" / "events.yaml"
    events.write_text(events.read_text().replace("A charity", "Another charity"))
    assert main(["validate", str(root)]) == 0  # a warning only
    assert main(["validate", "--strict", str(root)]) == 1
    assert "day-without-organiser-email" in capsys.readouterr().err
    assert main(["stamp", str(root)]) == 0
    assert main(["validate", "--strict", str(root)]) == 0


# --- ORGANIZER, COLOR, CLASS and TRANSP in every VEVENT ----------------------------------------


def test_vevent_has_organizer_with_name_and_mailto_color_and_public_class() -> None:
    component = vevent("/events/course-with-organiser.ics", site(PEOPLE))
    organizer = component["ORGANIZER"]
    assert str(organizer) == "mailto:team@example.org"
    assert organizer.params["CN"] == "Safeguarding Team, Durham"
    assert str(component["COLOR"]) == "blue"
    assert str(component["CLASS"]) == "PUBLIC"
    assert str(component["TRANSP"]) == "OPAQUE"


def test_vevent_without_organiser_email_has_no_organizer_and_is_transparent() -> None:
    component = vevent("/events/day-without-organiser-email.ics", site(PEOPLE))
    assert "ORGANIZER" not in component
    assert str(component["COLOR"]) == "purple"
    assert str(component["CLASS"]) == "PUBLIC"
    assert str(component["TRANSP"]) == "TRANSPARENT"


# --- The embed: compact, title, accent, snippet -------------------------------------------------


def test_embed_compact_hides_summaries_and_badges() -> None:
    client = site(ONLINE)
    full = client.get("/embed?audience=practitioners").text
    compact = client.get("/embed?audience=practitioners&compact=true").text
    assert 'class="event-where"' in full and 'class="event-where"' not in compact
    assert re.search(r'<html[^>]* class="[^"]*\bcompact\b', compact)
    assert not re.search(r'<html[^>]* class="[^"]*\bcompact\b', full)
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', compact)
    assert stylesheet, compact
    assert ".compact .badges { display: none; }" in client.get(stylesheet[1]).text


def test_embed_title_is_the_heading_and_defaults_to_the_calendar_name() -> None:
    client = site(ONLINE)
    named = client.get("/embed?title=Training++%3Cthis%3E++month").text
    assert '<h1 class="widget-title">Training &lt;this&gt; month</h1>' in named
    default = client.get("/embed").text
    assert f'<h1 class="widget-title">{load(ONLINE).settings.name}</h1>' in default


def luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of `rrggbb`."""

    def channel(value: int) -> float:
        scaled = value / 255
        return scaled / 12.92 if scaled <= 0.04045 else ((scaled + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(int(colour[i : i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_on(accent: str) -> str:
    css = site(ONLINE).get(f"/theme.css?accent={accent}").text
    found = re.search(r"--accent:#([0-9a-f]{6});--on-accent:#([0-9a-f]{6})", css)
    assert found and found[1] == accent, css
    return found[2]


@pytest.mark.parametrize("accent", ["1d70b8", "ffdd00", "000000", "ffffff", "00703c", "d4351c"])
def test_text_on_the_accent_contrasts_at_least_4_5(accent: str) -> None:
    on_accent = text_on(accent)
    assert on_accent in ("ffffff", "0b0c0c")
    assert contrast(accent, on_accent) >= 4.5


def test_text_on_the_accent_is_whichever_of_white_and_near_black_contrasts_more() -> None:
    for accent in ("006cff", "1d70b8", "cd3796", "808080", "5a5aff"):
        on_accent = text_on(accent)
        other = "0b0c0c" if on_accent == "ffffff" else "ffffff"
        assert contrast(accent, on_accent) >= contrast(accent, other), accent


class ScriptAndLink(HTMLParser):
    """The embed snippet's script tag attributes and its noscript link."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, str | None] = {}
        self.link = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.script = dict(attrs)
        elif tag == "a":
            self.link = dict(attrs)["href"] or ""


class Textarea(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = tag == "textarea" and ("id", "snippet") in attrs

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        self.inside = False


def test_embed_snippet_loads_embed_js_with_the_filter_and_links_to_the_same_view() -> None:
    """The subscribe page's snippet: absolute URLs, one data- attribute per filter field."""
    client = in_process(ONLINE, today=DAY, base_url="https://calendar.example.org")
    query = "audience=schools&category=training-course&q=briefing"
    page = Textarea()
    page.feed(client.get(f"/subscribe?{query}").text)
    snippet = ScriptAndLink()
    snippet.feed(page.text)
    assert snippet.script["src"] == "https://calendar.example.org/embed.js"
    assert "async" in snippet.script
    assert snippet.script["data-view"] == "list"
    data = {k.removeprefix("data-"): v for k, v in snippet.script.items() if k.startswith("data-")}
    link = urlsplit(snippet.link)
    assert f"{link.scheme}://{link.netloc}{link.path}" == "https://calendar.example.org/"
    assert dict(parse_qsl(link.query)) == dict(parse_qsl(query))
    assert {key: value for key, value in data.items() if key != "view"} == dict(parse_qsl(query))


# --- Settings: Cache-Control max-age and frame-ancestors ----------------------------------------


def max_age(headers: dict[str, str] | object) -> int:
    found = re.search(r"max-age=(\d+)", str(headers["cache-control"]))  # type: ignore[index]
    assert found, headers
    return int(found[1])


def test_feed_and_page_max_age_settings_reach_cache_control() -> None:
    client = in_process(ONLINE, today=DAY, feed_max_age=1234, page_max_age=56)
    feeds = ("/feeds/all.ics", "/calendar.ics?audience=schools", "/events/hybrid-conference.ics")
    for path in feeds:
        assert max_age(client.get(path).headers) == 1234, path
    for path in ("/", "/api/events", "/embed", "/events/hybrid-conference"):
        assert max_age(client.get(path).headers) == 56, path


def frame_ancestors(response_headers: object) -> str:
    policy = str(response_headers["content-security-policy"])  # type: ignore[index]
    found = re.search(r"frame-ancestors ([^;]+)", policy)
    assert found, policy
    return found[1].strip()


def test_frame_ancestors_settings_reach_the_csp_of_embed_and_of_every_other_page() -> None:
    default = site(ONLINE)
    assert frame_ancestors(default.get("/embed").headers) == "*"
    assert frame_ancestors(default.get("/").headers) == "'none'"
    client = in_process(
        ONLINE,
        today=DAY,
        embed_frame_ancestors="https://school.example",
        frame_ancestors="'self'",
    )
    assert frame_ancestors(client.get("/embed").headers) == "https://school.example"
    for path in ("/", "/subscribe", "/events/hybrid-conference"):
        assert frame_ancestors(client.get(path).headers) == "'self'", path


# --- GMT and BST in the "when" text --------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        ("winter-evening", "Wed 14 Jan 2026, 18:30\u201320:00 GMT"),
        ("summer-evening", "Wed 15 Jul 2026, 18:30\u201320:00 BST"),
        ("night-across-the-change", "Sat 24 Oct 2026 23:00 BST \u2013 Sun 25 Oct 2026 03:00 GMT"),
    ],
)
def test_when_text_names_gmt_or_bst_and_both_across_the_change(
    event_id: str, expected: str
) -> None:
    page = site(CLOCKS, date(2026, 1, 1)).get(f"/events/{event_id}").text
    assert expected in page
