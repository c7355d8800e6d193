"""One table of filter fields (`calendar_service.fields`) reaches every surface alike.

Each surface is read back the way its reader reads it: the query string by the parser, the
embed's `data-` attributes the way `embed.js` does, the home page's form the way a browser
submits it, OpenAPI by its names, `calendar.yaml` through `FeedFilter`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import date
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from conftest import BUNDLED_DATA, service_app
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from slug_support import slugs

from calendar_service import fields
from calendar_service.fields import (
    EVENT_FIELDS,
    FIELDS,
    FILTER_FIELDS,
    FORM_FIELDS,
    NAMED_FEED_FIELDS,
    FieldKind,
)
from calendar_service.loading import load
from calendar_service.model import FeedFilter, Status, Vocabularies
from calendar_service.query import Filter, FilterKeys, parse_filter, search_text
from calendar_service.settings import ServiceSettings

DAY = date(2026, 11, 25)
EMBED_JS = Path(fields.__file__).parent / "web" / "static" / "embed.js"
ROUND_TRIPS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def build_app(data: Path) -> FastAPI:
    """The app over `data` on a fixed day, as the service builds it."""
    return service_app(ServiceSettings(data_dir=data, watch=False), today=DAY)


class Client:
    """The app in-process, over httpx's ASGI transport, without redirects followed."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://f.invalid") as c:
                return await c.get(path)

        return asyncio.run(fetch())


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(build_app(BUNDLED_DATA))


VOCABULARIES: Vocabularies = load(BUNDLED_DATA, today=DAY).settings.vocabularies


def keys_of(name: str) -> list[str]:
    return sorted(VOCABULARIES.terms(name))


# --- Strategies ------------------------------------------------------------------------------

free_tags = slugs(6)
# Free text as a person types it: any letters, spaces, punctuation and quotes, no controls.
words = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40).filter(
    lambda text: len(" ".join(text.split())) <= 200
)


def values_of(field: fields.FilterField) -> st.SearchStrategy[Any]:
    """Every value a `Filter` may hold in this field, by the field's kind."""
    match field.kind:
        case FieldKind.TERM:
            return st.lists(st.sampled_from(keys_of(field.name)), max_size=4).map(tuple)
        case FieldKind.TAG:
            return st.lists(free_tags, max_size=4).map(tuple)
        case FieldKind.TEXT:
            return words
        case FieldKind.FLAG:
            return st.none() | st.booleans()
        case FieldKind.STATUS:
            return st.lists(st.sampled_from(list(Status)), max_size=3).map(tuple)


filters = st.fixed_dictionaries({field.name: values_of(field) for field in FIELDS}).map(
    lambda values: Filter(**values)
)


# --- Readers, each written the way that surface's reader reads it -------------------------


def parse(pairs: Sequence[tuple[str, str]], names: Sequence[str] = FILTER_FIELDS) -> Filter:
    """What the service reads from these query parameters, sent as a URL."""
    return parse_filter(parse_qs(urlencode(pairs)), VOCABULARIES, fields=names)


def embed_js_query(dataset: Mapping[str, str]) -> list[tuple[str, str]]:
    """The filter parameters embed.js sends, from its script tag's `dataset`."""
    params = []
    for name in embed_js_filters():
        raw = dataset.get(name)
        if raw is None:
            continue
        if name == "q":
            values = [" ".join(re.split(r"\s+", raw.strip()))]
        else:
            values = [value.strip() for value in raw.split(",")]
        unique = [v for i, v in enumerate(values) if v and values.index(v) == i]
        params += [(name, value) for value in sorted(unique)]
    return params


def embed_js_filters() -> list[str]:
    found = re.search(r"var FILTERS = \[([^\]]*)\];", EMBED_JS.read_text())
    assert found, "embed.js lists its filters in `var FILTERS = [...];`"
    return re.findall(r'"([^"]+)"', found[1])


class Tags(HTMLParser):
    """Every start tag of a document with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, dict[str, str]]]:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser.tags


def dataset_of(attributes: Mapping[str, str]) -> dict[str, str]:
    """A tag's `data-` attributes as `element.dataset` holds them (names without hyphens)."""
    return {
        name.removeprefix("data-"): value
        for name, value in attributes.items()
        if name.startswith("data-")
    }


def form_submission(page: str) -> list[tuple[str, str]]:
    """What the home page's filter form sends as it is: checked boxes and the search box."""
    form = page[page.index('<form class="filters"') : page.index("</form>")]
    pairs = []
    for tag, attributes in Tags.of(form):
        if tag != "input" or "name" not in attributes:
            continue
        if attributes.get("type") == "checkbox" and "checked" not in attributes:
            continue
        pairs.append((attributes["name"], attributes.get("value", "")))
    return pairs


def snippet_of(subscribe_page: str) -> str:
    found = re.search(r'<textarea[^>]*id="snippet"[^>]*>(.*?)</textarea>', subscribe_page, re.S)
    assert found, "the subscribe page shows the embed snippet"
    return unescape(found[1])


# --- The table and the hand-written hot path agree ----------------------------------------


def test_every_field_is_a_filter_attribute_with_an_empty_default() -> None:
    nothing = {FieldKind.TEXT: "", FieldKind.FLAG: None}
    empty = Filter()
    for field in FIELDS:
        assert getattr(empty, field.name) == nothing.get(field.kind, ()), field.name
        assert field.repeatable == (field.kind not in nothing), field.name
    assert empty.items() == []
    assert FILTER_FIELDS[: len(EVENT_FIELDS)] == EVENT_FIELDS, "event-level fields come first"


def filter_key(keys: FilterKeys, field: fields.FilterField) -> Any:
    """The FilterKeys entry a field matches: its name, or its plural for lists; TEXT: text."""
    if field.kind is FieldKind.TEXT:
        return keys.text
    for name in (field.name, field.name + "s"):
        if name in FilterKeys.__slots__:
            return getattr(keys, name)
    raise AssertionError(f"FilterKeys has no key for filter field {field.name!r}")


def reference_matches(query: Filter, keys: FilterKeys) -> bool:
    """`Filter.matches` driven by the table: OR within a field, AND across fields."""
    for field in FIELDS:
        if not field.event_level:
            continue
        wanted, have = getattr(query, field.name), filter_key(keys, field)
        if field.kind in (FieldKind.TERM, FieldKind.TAG) and wanted:
            have = {have} if isinstance(have, str) else have
            if not have & set(wanted):
                return False
        terms = search_text(wanted).split() if field.kind is FieldKind.TEXT else []
        if not all(term in have for term in terms):
            return False
        if field.kind is FieldKind.FLAG and wanted is not None and have != wanted:
            return False
    return True


def few(name: str) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(keys_of(name)), max_size=3)


filter_keys = st.builds(
    FilterKeys,
    category=st.sampled_from(keys_of("category")),
    audiences=few("audience"),
    themes=few("theme"),
    tags=st.frozensets(st.sampled_from(["kindness", "online", "sen"]), max_size=2),
    online=st.booleans(),
    text=st.sampled_from(["", "mental health training", "kindness week", "e-safety"]),
)


@ROUND_TRIPS
@given(query=filters, keys=filter_keys, q=st.sampled_from(["", "health", "MENTAL", "week e"]))
def test_matches_is_the_table_driven_reference(query: Filter, keys: FilterKeys, q: str) -> None:
    query = Filter(**{f.name: getattr(query, f.name) for f in FIELDS if f.name != "q"}, q=q)
    assert query.matches(keys) == reference_matches(query, keys)


# --- Round trips through every surface ------------------------------------------------------


@ROUND_TRIPS
@given(query=filters)
def test_query_string_round_trip(query: Filter) -> None:
    assert parse(query.items()) == query
    assert parse(query.items(), EVENT_FIELDS) == query.event_level()
    assert Filter(**{f.name: getattr(query, f.name) for f in FIELDS}) == query


@ROUND_TRIPS
@given(query=filters)
def test_data_attributes_round_trip_the_way_embed_js_reads_them(query: Filter) -> None:
    tag = "<script" + "".join(f' {n}="{escape(v)}"' for n, v in query.data_attributes()) + ">"
    [(_, attributes)] = Tags.of(tag)
    sent = embed_js_query(dataset_of(attributes))
    assert sent == query.items(), "embed.js sends the canonical query: no redirect"
    assert parse(sent) == query


@ROUND_TRIPS
@given(
    definition=st.fixed_dictionaries(
        {name: values_of(fields.FIELD[name]).map(list) for name in NAMED_FEED_FIELDS}
    )
)
def test_named_feed_filter_round_trip(definition: dict[str, list[str]]) -> None:
    query = Filter.of_feed(FeedFilter.model_validate(definition))
    assert query == Filter(**{name: tuple(values) for name, values in definition.items()})
    assert parse(query.items()) == query


def test_feed_filter_model_has_the_named_feed_fields() -> None:
    assert tuple(FeedFilter.model_fields) == NAMED_FEED_FIELDS
    assert set(NAMED_FEED_FIELDS) <= set(EVENT_FIELDS), "a feed carries whole events"
    with pytest.raises(ValueError, match="status"):
        FeedFilter.model_validate({"status": ["confirmed"]})


def test_embed_js_filters_are_the_table() -> None:
    assert embed_js_filters() == list(FILTER_FIELDS)
    assert fields.embed_script(EMBED_JS.read_text()) == EMBED_JS.read_text()


# --- Surfaces the app serves ----------------------------------------------------------------


def openapi_names(client: Client, path: str) -> list[str]:
    operation = client.get("/openapi.json").json()["paths"][path]["get"]
    return [parameter["name"] for parameter in operation.get("parameters", [])]


def test_openapi_documents_the_table(client: Client) -> None:
    assert openapi_names(client, "/calendar.ics") == list(EVENT_FIELDS)
    assert openapi_names(client, "/api/events")[: len(EVENT_FIELDS)] == list(EVENT_FIELDS)
    occurrences = openapi_names(client, "/api/occurrences")
    assert sorted(occurrences[: len(FILTER_FIELDS)]) == sorted(FILTER_FIELDS)
    assert occurrences[len(FILTER_FIELDS) :] == ["from", "to", "limit", "cursor"]
    documented = client.get("/openapi.json").json()["paths"]["/api/occurrences"]["get"]
    for parameter in documented["parameters"][: len(FILTER_FIELDS)]:
        field = fields.FIELD[parameter["name"]]
        assert parameter["description"] == field.description
        assert parameter["schema"].get("examples", [""]) == [field.example]
        kind = parameter["schema"]["anyOf"][0]["type"]
        assert kind == ("array" if field.repeatable else "string"), field.name


@ROUND_TRIPS
@given(query=filters)
def test_home_page_form_submits_the_filter_it_shows(client: Client, query: Filter) -> None:
    response = client.get("/?" + urlencode(query.items()))
    assert response.status_code == 200
    shown = [name for name, _ in form_submission(response.text)]
    assert set(shown) <= {field.name for field in FORM_FIELDS}
    names = tuple(field.name for field in FORM_FIELDS)
    expected = Filter(**{name: getattr(query, name) for name in names})
    assert parse(form_submission(response.text), names) == expected


def test_form_has_a_part_for_each_form_field_in_table_order(client: Client) -> None:
    page = client.get("/").text
    legends = re.findall(r"<(?:legend|label for=\"q\")>([^<]+)<", page)
    assert legends == [field.form_legend for field in FORM_FIELDS]


@pytest.mark.parametrize(
    "query",
    [
        "online=true",
        "online=false",
        "audience=schools&online=true",
        "category=training-course&audience=parents-carers&audience=schools&q=mental+health",
        "tag=kindness&q=%22quoted%22%2C+with+commas+%26+ampersands",
        "theme=mental-health-wellbeing&tag=kindness&online=false",
    ],
)
def test_embed_snippet_keeps_every_event_filter_in_the_script_tag(
    client: Client, query: str
) -> None:
    page = client.get(f"/subscribe?{query}")
    assert page.status_code == 200, page.text
    tags = dict(Tags.of(snippet_of(page.text)))
    script_query = embed_js_query(dataset_of(tags["script"]))
    link_query = parse_qs(urlsplit(tags["a"]["href"]).query)
    assert parse(script_query) == parse_filter(link_query, VOCABULARIES)
    assert parse(script_query) == parse_filter(parse_qs(query), VOCABULARIES).event_level()


def test_describe_names_the_fields_in_table_order() -> None:
    query = Filter(
        category=("training-course",),
        audience=("schools",),
        theme=("mental-health-wellbeing",),
        tag=("kindness",),
        q="low mood",
        online=False,
        status=(Status.CANCELLED,),
    )
    label = {name: VOCABULARIES.terms(name) for name in ("category", "audience", "theme")}
    assert query.describe(VOCABULARIES) == ", ".join(
        [
            label["category"]["training-course"].label,
            label["audience"]["schools"].label,
            label["theme"]["mental-health-wellbeing"].label,
            "#kindness",
            '"low mood"',
            "in person",
        ]
    )
    assert Filter().describe(VOCABULARIES) == "all"
