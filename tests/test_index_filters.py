"""Properties of filters over generated calendars: they match a reference reading, are canonical."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from hypothesis import given, settings
from hypothesis import strategies as st
from index_support import AUDIENCES, CATEGORIES, TAGS, THEMES, VOCABULARIES, WORDS, event_dicts

from calendar_service.model import EventData, Status
from calendar_service.query import Filter, keys_for, parse_filter

# --- Filters ---------------------------------------------------------------------------------


def fold(value: str) -> str:
    """Accent- and case-free text, written independently of calendar_service.query.fold."""
    stripped = "".join(
        char for char in unicodedata.normalize("NFKD", value) if unicodedata.category(char) != "Mn"
    )
    return unicodedata.normalize("NFKD", stripped.casefold())


def reference_matches(query: Filter, event: EventData) -> bool:
    """OR within a field, AND across fields, every word of q somewhere in the text."""
    checks = [
        not query.category or event.category in query.category,
        not query.audience or any(value in query.audience for value in event.audiences),
        not query.theme or any(value in query.theme for value in event.themes),
        not query.tag or any(value in query.tag for value in event.tags),
    ]
    online = bool(event.location is not None and event.location.online)
    checks.append(query.online is None or query.online == online)
    fields = [event.title, event.summary, event.description, *event.tags]
    if event.organiser is not None:
        fields.append(event.organiser.name)
    for word in query.q.split():
        checks.append(any(fold(word) in fold(field) for field in fields))
    return all(checks)


# Built once, not for each example (building a strategy cost as much as drawing from it).
_SOME = {
    name: st.lists(st.sampled_from(values), max_size=2)
    for name, values in (
        ("category", CATEGORIES),
        ("audience", AUDIENCES),
        ("theme", THEMES),
        ("tag", TAGS),
    )
}
_WORDS = st.lists(st.sampled_from([*WORDS, "kind", "AFÉ", "zoe", "nothing"]), max_size=2)
_ONLINE = st.sampled_from([None, True, False])


@st.composite
def filters(draw: st.DrawFn) -> Filter:
    words = draw(_WORDS)
    fields = {name: tuple(draw(values)) for name, values in _SOME.items()}
    return Filter(**fields, q=" ".join(words), online=draw(_ONLINE))


@settings(deadline=None, max_examples=200, derandomize=True)
@given(
    events=st.lists(st.integers(0, 10**6).flatmap(event_dicts), min_size=1, max_size=4),
    query=filters(),
)
def test_filter_matches_like_the_reference_reading(
    events: list[dict[str, Any]], query: Filter
) -> None:
    for raw in events:
        event = EventData.model_validate(raw)
        assert query.matches(keys_for(event)) == reference_matches(query, event), (query, raw)


@settings(deadline=None, max_examples=200, derandomize=True)
@given(query=filters(), seed=st.integers(0, 2**32), statuses=st.lists(st.sampled_from(Status)))
def test_filters_are_canonical_whatever_the_order_or_repeats(
    query: Filter, seed: int, statuses: list[Status]
) -> None:
    shuffle: Callable[[tuple[Any, ...]], tuple[Any, ...]] = _shuffler(random.Random(seed))
    original = Filter(
        query.category,
        query.audience,
        query.theme,
        query.tag,
        query.q,
        query.online,
        tuple(statuses),
    )
    again = Filter(
        category=shuffle(original.category * 2),
        audience=shuffle(original.audience + original.audience[:1]),
        theme=shuffle(original.theme),
        tag=shuffle(original.tag * 3),
        q=f"  {original.q.replace(' ', '   ')} ",
        online=original.online,
        status=shuffle(tuple(statuses) * 2),
    )
    assert again == original
    assert hash(again) == hash(original)
    assert again.query_string() == original.query_string()
    assert again.items() == original.items()
    for name in ("category", "audience", "theme", "tag"):
        values = getattr(again, name)
        assert list(values) == sorted(set(values))
    # The canonical query string reads back as the same filter.
    parsed = parse_filter(parse_qs(original.query_string()), VOCABULARIES)
    assert parsed == original
    assert parsed.query_string() == original.query_string()
    assert again.event_level().status == ()


def _shuffler(generator: random.Random) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    def shuffle(values: tuple[Any, ...]) -> tuple[Any, ...]:
        items = list(values)
        generator.shuffle(items)
        return tuple(items)

    return shuffle
