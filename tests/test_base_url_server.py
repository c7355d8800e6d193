"""Links point where the service is: a real server with and without a configured base URL.

Dataset: a copy of tests/datasets/partnership-2026 with `base_url` removed from
calendar.yaml, so that nothing but the server's own address or `--base-url` can name it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from base_url_support import (
    LOCAL_ADDRESS,
    crawl,
    data_without_base_url,
    decoded,
    plain_environment,
    seeds,
    start_plain,
)
from conftest import Server, stop_server

from calendar_service.cli import main

PUBLIC = "https://calendar.example.org"


@pytest.fixture(scope="module")
def unconfigured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return data_without_base_url(tmp_path_factory.mktemp("unconfigured"))


@pytest.fixture(scope="module")
def on_port_zero(
    unconfigured: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str]]:
    """`serve --port 0` with no base URL, shared by the tests that only read from it.

    The system chooses the port, from its ephemeral range: never the old default 8000, so
    a link naming 8000 is a link that does not name the port served.
    """
    running = start_plain(unconfigured, tmp_path_factory.mktemp("port-zero"), "--port", "0")
    yield running
    stop_server(running[0])


def test_without_a_base_url_every_link_names_the_port_served(
    on_port_zero: tuple[Server, str], unconfigured: Path
) -> None:
    server, base = on_port_zero
    assert base == server.url
    port = server.url.rsplit(":", 1)[1]
    assert port != "8000"
    bodies = crawl(server, base, seeds(unconfigured), depth=2)
    kinds = {path.split("?")[0].rsplit(".", 1)[-1] for path in bodies}
    assert {"ics", "json", "js"} <= kinds and any(p.startswith("/events/") for p in bodies)
    assert "/subscribe" in bodies and any(path.startswith("/embed") for path in bodies)
    for path, body in bodies.items():
        text = decoded(body)
        assert ":8000" not in text, path
        assert set(LOCAL_ADDRESS.findall(text)) <= {port}, path
    # The links that left the site before: subscribe, Google, Outlook, the embed code.
    subscribe = decoded(bodies["/subscribe"])
    for link in (f"webcal://127.0.0.1:{port}/calendar.ics", f"cid=webcal://127.0.0.1:{port}/"):
        assert link in subscribe
    assert f'<script src="{server.url}/embed.js"' in subscribe
    assert subscribe.count(f"addfromweb?url={server.url}/calendar.ics") == 2


def test_a_base_url_option_names_every_link(unconfigured: Path, tmp_path: Path) -> None:
    server, base = start_plain(unconfigured, tmp_path, "--port", "0", "--base-url", PUBLIC)
    try:
        assert base == PUBLIC
        bodies = crawl(server, PUBLIC, seeds(unconfigured), depth=2)
    finally:
        stop_server(server)
    events = [path for path in bodies if path.startswith("/events/")]
    assert any(path.endswith(".ics") for path in events) and len(events) >= 4
    for path, body in bodies.items():
        text = decoded(body)
        assert LOCAL_ADDRESS.findall(text) == [], path
    for path in ("/", "/subscribe", "/calendar.ics", "/api/events", "/embed"):
        assert PUBLIC + "/" in decoded(bodies[path]), path


def test_port_zero_links_name_the_port_the_system_chose(
    on_port_zero: tuple[Server, str],
) -> None:
    server, base = on_port_zero
    home = decoded(server.get("/").text)
    subscribe = decoded(server.get("/subscribe").text)
    port = server.url.rsplit(":", 1)[1]
    assert port != "0" and base == server.url
    assert f"webcal://127.0.0.1:{port}/calendar.ics" in home
    assert f'value="{server.url}/calendar.ics"' in subscribe


def test_the_static_export_refuses_to_guess_its_address(
    unconfigured: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The build command through the CLI's main in this process, with no CALENDAR_* setting.
    for name in set(os.environ) - set(plain_environment()):
        monkeypatch.delenv(name)
    out = tmp_path / "site"
    assert main(["build", "--data-dir", str(unconfigured), str(out)]) == 1
    stderr = capsys.readouterr().err
    assert "--base-url" in stderr and "CALENDAR_BASE_URL" in stderr
    assert not out.exists()
