"""The README's table of national series is generated from the data (`national_series_table`).

Dataset `tests/datasets/national-and-local-layers/` pins the table's form: national series
only (not the partnership's own dates), rule in words, each year's dates with provisional and
cancelled ones marked, links escaped for Markdown. The README's copy is compared with the
table generated from the bundled data/, between its marker comments.
"""

from __future__ import annotations

from conftest import DATASETS, ROOT

from calendar_service.series_table import national_series_table

START, END = "<!-- national-series:start -->\n", "<!-- national-series:end -->"
REGENERATE = (
    ".venv/bin/python -c 'from pathlib import Path; from calendar_service.series_table import "
    'national_series_table; print(national_series_table(Path("data")), end="")\''
)


def test_the_table_lists_national_series_only_with_their_rules_dates_status_and_source() -> None:
    table = national_series_table(DATASETS / "national-and-local-layers")
    assert table.splitlines() == [
        "| series | organiser | usual date | 2026 | 2027 | status | source |",
        "|---|---|---|---|---|---|---|",
        "| A Fixed Day \\| International | Example Nations | every year on day 10 in October"
        " | 10 Oct | 10 Oct | confirmed | `example.org` |",
        "| Second Tuesday Day | Example Trust"
        " | every year on the second Tuesday in February | 10 Feb | 9 Feb (cancelled)"
        " | provisional | `example.org` |",
    ]


def test_readme_holds_exactly_the_table_generated_from_the_bundled_data() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1, "the README lost its markers"
    pasted = readme[readme.index(START) + len(START) : readme.index(END)]
    generated = national_series_table(ROOT / "data")
    assert pasted == generated, f"paste the output of {REGENERATE} between the markers"
