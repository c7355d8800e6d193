"""The digest's URLs: every filter, month or term, canonical redirects, errors naming the
parameter, named feeds' digests by month, subscribe links, and the CLI writing the same bytes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import BUNDLED_DATA, IN_PROCESS_URL, InProcess
from digest_support import MONTH, links_of
from error_page_support import for_people, html_error

from calendar_service.cli import main
from calendar_service.fields import FIELDS, FilterField


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        ("/digest?month=2025-02&from=2025-02-01", 422, "month"),
        ("/digest?from=2025-02-01", 422, "to"),
        ("/digest?to=2025-02-01", 422, "from"),
        ("/digest?from=2025-01-01&to=2025-12-31", 422, "to"),  # longer than a term
        ("/digest?month=2025-13", 422, "month"),
        ("/digest.txt?audience=teachers&month=2025-02", 422, "audience"),
        ("/digest.md?format=pdf", 422, "format"),  # the form is the suffix, not a parameter
        ("/digest.pdf?month=1900-01", 422, "month"),
        ("/feeds/nobody/digest/2025-02", 404, "name"),
        ("/feeds/schools/digest/2025-2.txt", 404, "month"),
        ("/feeds/schools/digest/2025-02.docx", 404, "month"),
        ("/feeds/schools/digest/2025-02?audience=schools", 422, "audience"),
    ],
)
def test_a_refused_digest_says_which_parameter_and_why(
    client: InProcess, path: str, status: int, parameter: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    # The email digest is a page: people get the HTML error page; the files get JSON.
    error = html_error(response) if for_people(path.split("?")[0]) else response.json()["error"]
    assert error["parameter"] == parameter and error["message"]


@pytest.mark.parametrize("field", FIELDS, ids=lambda field: field.name)
def test_every_filter_field_reaches_the_digest(client: InProcess, field: FilterField) -> None:
    value = field.example or "true"  # the one field without an example is the flag
    query = urlencode([(field.name, value), ("month", "2025-02")])
    response = client.get(f"/digest.md?{query}", follow_redirects=False)
    assert response.status_code == 200, response.text


def test_a_filter_narrows_the_digest_and_names_it(client: InProcess) -> None:
    everything = client.get("/digest.txt?month=2025-02").text
    practitioners = client.get("/digest.txt?audience=practitioners&month=2025-02").text
    assert "Young Parents Programme" in everything
    assert "Young Parents Programme" not in practitioners  # for parents, not practitioners
    assert "(Practitioners)" in practitioners.splitlines()[1]
    confirmed = client.get("/digest.txt?status=confirmed&month=2025-02").text
    assert "PROVISIONAL" in everything and "PROVISIONAL" not in confirmed


def test_another_spelling_of_the_same_digest_redirects_to_the_canonical_url(
    client: InProcess,
) -> None:
    response = client.get(
        "/digest.txt?month=2025-02&audience=schools&audience=schools", follow_redirects=False
    )
    assert response.status_code == 301
    assert response.headers["location"] == "/digest.txt?audience=schools&month=2025-02"


def test_without_a_period_the_digest_is_of_this_month(client: InProcess) -> None:
    today = client.get("/version.json").json()["compiled_on"]
    text = client.get("/digest.txt").text
    this_month = client.get(f"/digest.txt?month={today[:7]}").text
    assert text == this_month


def test_the_digest_ends_with_the_subscribe_links_of_the_same_filter(client: InProcess) -> None:
    found = links_of(client.get("/digest?audience=schools&month=2025-02").text).urls
    assert found[-3:] == [
        f"{IN_PROCESS_URL}/subscribe?audience=schools",
        f"{IN_PROCESS_URL}/?audience=schools&month=2025-02",
        f"{IN_PROCESS_URL}/calendar.ics?audience=schools",
    ]
    named = links_of(client.get("/feeds/schools/digest/2025-02").text).urls
    assert f"{IN_PROCESS_URL}/feeds/schools/subscribe" in named[-3:]
    assert f"{IN_PROCESS_URL}/feeds/schools.ics" in named[-3:]
    for url in (*found, *named):  # every link the digest gives is served
        assert client.get(url).status_code == 200, url


def test_a_named_feeds_digest_is_its_filters_digest_under_its_own_title(
    client: InProcess,
) -> None:
    named = client.get("/feeds/schools/digest/2027-02.txt").text.splitlines()
    filtered = client.get("/digest.txt?audience=schools&month=2027-02").text.splitlines()
    assert named[1] == "DSCP dates for schools"
    stop = named.index("Subscribe")  # the subscribe links differ: the feed's own
    assert named[2:stop] == filtered[2:stop]


def test_the_digest_is_cached_and_revalidated_like_every_page(client: InProcess) -> None:
    first = client.get(MONTH)
    again = client.get(MONTH, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert first.headers["cache-control"] == "public, max-age=300"


# The digest command runs through the CLI's main in this process (a fresh interpreter cost
# ~0.5 s of CPU); test_loading_cli runs the console entry point as a process.
def test_the_cli_writes_the_bytes_the_service_serves(
    client: InProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "digest.txt"
    command = [
        "digest", "--data-dir", str(BUNDLED_DATA), "--base-url", IN_PROCESS_URL,
        "--month", "2025-02", "--audience", "schools", "--format", "text", "--out", str(out),
    ]  # fmt: skip
    assert main(command) == 0, capsys.readouterr().err
    assert out.read_bytes() == client.get("/digest.txt?audience=schools&month=2025-02").content


def test_the_cli_names_a_refused_filter(capsys: pytest.CaptureFixture[str]) -> None:
    command = [
        "digest", "--data-dir", str(BUNDLED_DATA), "--month", "2025-02", "--audience", "teachers",
    ]  # fmt: skip
    assert main(command) == 2
    assert "unknown audience 'teachers'" in capsys.readouterr().err
