"""Generated slugs: event ids and tags as the data writes them."""

from __future__ import annotations

from hypothesis import strategies as st

ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789"


def slugs(longest: int) -> st.SearchStrategy[str]:
    """[a-z0-9]{1,longest}(-[a-z0-9]{1,longest}){0,2}, put together from text strategies:
    from_regex draws the same strings at several times the CPU."""
    part = st.text(ALPHANUMERIC, min_size=1, max_size=longest)
    return st.lists(part, min_size=1, max_size=3).map("-".join)
