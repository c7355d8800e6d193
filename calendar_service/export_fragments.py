"""The occurrences' JSON in a named feed's JSON, taken apart for the next export to reuse.

Rendering the 30,000 occurrences of a 10,000-event calendar takes a second, and one edited
event changes a few of them: the export takes the others' bytes from the previous version's
file (export.py decides which events' may be taken: those whose inputs are the same).
"""

from __future__ import annotations

import re

OPENING = b'"occurrences":['  # the last field of the body (web/feeds.py feed_occurrences_body)
CLOSING = b"]}"
FIRST = b'{"id":"'  # each occurrence's first field (web/shapes.py occurrence_json)
BETWEEN = b'},{"id":"'
TOTAL = re.compile(rb'"total":(\d+),')


def occurrences_in(body: bytes) -> dict[str, bytes]:
    """Each occurrence's JSON in a named feed's JSON as orjson wrote it, by its `id`; nothing
    when the body is not laid out that way.

    Split at `},{"id":"` without parsing: a JSON string holds a `"` only escaped, so those
    bytes only ever stand between two objects whose first field is "id", the occurrences,
    unless a nested object some day starts with one; then the pieces outnumber the body's
    "total", and nothing is taken. An id found twice with different bytes is not taken.
    """
    at = body.find(OPENING)
    header = TOTAL.search(body, 0, at) if at >= 0 else None
    if header is None or not body.endswith(CLOSING):
        return {}
    listed = body[at + len(OPENING) : -len(CLOSING)]
    if not listed.startswith(FIRST) or not listed.endswith(b"}"):
        return {}
    pieces = listed[len(FIRST) : -1].split(BETWEEN)
    if len(pieces) != int(header.group(1)):
        return {}
    made: dict[str, bytes] = {}
    doubtful: set[str] = set()
    for piece in pieces:
        end = piece.find(b'"')
        if end < 0 or b"\\" in piece[:end]:
            continue  # an escaped id: never written by this service
        try:
            occurrence_id = piece[:end].decode()
        except UnicodeDecodeError:
            continue
        fragment = FIRST + piece + b"}"
        if made.setdefault(occurrence_id, fragment) != fragment:
            doubtful.add(occurrence_id)
    for occurrence_id in doubtful:
        del made[occurrence_id]
    return made
