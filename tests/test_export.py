"""The static export behind deploy/nginx.conf answers exactly like the live service.

`calendar-service build` writes every precomputable URL as a file; nginx serves those files
with the live headers and sends everything else to the live service. These tests build real
exports, run a real uvicorn and a real nginx, and compare what clients receive.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BUNDLED_DATA, ROOT, Server, free_port, start_server, stop_server

# One xdist worker runs the module (make unit: --dist loadgroup):
# live server, nginx and exports made once.
pytestmark = pytest.mark.xdist_group("export")
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
# The same public URL for every build and server, so absolute links are the same bytes.
BASE_URL = "https://calendar.example.test"
FIXED_DAY = "2026-11-25"
IDENTITY = {"Accept-Encoding": "identity"}
# Headers the static files must carry exactly as the live service sends them.
COMPARED_HEADERS = (
    "content-type",
    "etag",
    "last-modified",
    "cache-control",
    "vary",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "x-content-type-options",
    "content-disposition",
    "content-security-policy",
    "referrer-policy",
    "content-encoding",
)
EDITED_EVENT = "time-to-talk-day"
OLD_TITLE = "Time to Talk Day"
NEW_TITLE = "Talk About Mental Health Day"


def nginx_binary() -> str:
    """Debian's nginx; a failure on CI, a skip on a workstation without it."""
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").is_file():
        found = "/usr/sbin/nginx"
    if found is None:
        message = "nginx is not installed (`make browser-deps` installs it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def build(data_dir: Path, out: Path, day: str) -> dict[str, Any]:
    """Run `calendar-service build` as a user would; return its manifest."""
    env = {**os.environ, "CALENDAR_BASE_URL": BASE_URL}
    command = [
        sys.executable, "-m", "calendar_service.cli", "build",
        "--data-dir", str(data_dir), str(out), "--date", day,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@dataclass
class Nginx:
    url: str
    process: subprocess.Popen[bytes]
    state: Path

    def log(self) -> str:
        parts = []
        for name in ("nginx.out", "error.log"):
            path = self.state / name
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


def start_nginx(root: Path, upstream: str, state: Path) -> Nginx:
    """nginx in the foreground with deploy/nginx.conf, everything it writes under `state`."""
    binary = nginx_binary()
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # As root the workers would drop to an unprivileged user that cannot read pytest's
    # private temporary directories; otherwise the directive is ignored.
    user = "root" if os.geteuid() == 0 else "nobody"
    text = NGINX_CONF.read_text(encoding="utf-8")
    for placeholder, value in (
        ("__USER__", user),
        ("__STATE__", str(state)),
        ("__PORT__", f"127.0.0.1:{port}"),
        ("__ROOT__", str(root)),
        ("__UPSTREAM__", upstream),
    ):
        assert placeholder in text, placeholder
        text = text.replace(placeholder, value)
    assert re.search(r"__[A-Z]+__", text) is None
    conf = state / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    command = [binary, "-p", str(state), "-c", str(conf), "-g", "daemon off; master_process on;"]
    with (state / "nginx.out").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    running = Nginx(f"http://127.0.0.1:{port}", process, state)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{running.log()}")
        try:
            httpx.get(running.url + "/version.json", timeout=1)
            return running
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"nginx did not start:\n{running.log()}")


def stop_nginx(running: Nginx) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@dataclass
class Site:
    live: Server
    nginx: Nginx
    export: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> list[dict[str, Any]]:
        return list(self.manifest["files"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The live service, an export of the same day, and nginx serving it in front of live."""
    nginx_binary()
    base = tmp_path_factory.mktemp("site")
    live = start_server(BUNDLED_DATA, base, extra_env={"CALENDAR_BASE_URL": BASE_URL})
    try:
        # The live service compiles for today (UTC); build the export for the same day.
        compiled_on = live.get("/version.json").json()["compiled_on"]
        export = base / "export"
        manifest = build(BUNDLED_DATA, export, compiled_on)
        assert manifest["compiled_on"] == compiled_on
        nginx = start_nginx(export, live.url.removeprefix("http://"), base / "nginx")
        try:
            yield Site(live, nginx, export, manifest)
        finally:
            stop_nginx(nginx)
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def compared(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in COMPARED_HEADERS}


def test_every_exported_file_is_served_by_nginx_exactly_as_live(site: Site) -> None:
    assert len(site.files) > 20
    mismatches = []
    with httpx.Client(timeout=10) as static, httpx.Client(timeout=10) as live:
        for item in site.files:
            url = item["url"]
            served = static.get(site.nginx.url + url, headers=IDENTITY)
            answered = live.get(site.live.url + url, headers=IDENTITY)
            assert served.status_code == answered.status_code == 200, url
            assert served.content == answered.content, url
            assert hashlib.sha256(served.content).hexdigest() == item["sha256"], url
            assert served.headers["etag"] == answered.headers["etag"] == item["etag"], url
            assert served.headers["content-type"] == item["content_type"], url
            if compared(served) != compared(answered):
                mismatches.append((url, compared(served), compared(answered)))
    assert mismatches == []


def test_cross_origin_requests_get_the_live_cors_headers(site: Site, http: httpx.Client) -> None:
    headers = {**IDENTITY, "Origin": "https://school.example"}
    for url in ("/", "/calendar.ics", "/feeds/all.json", "/embed", "/embed.js"):
        served = http.get(site.nginx.url + url, headers=headers)
        answered = http.get(site.live.url + url, headers=headers)
        assert served.headers["access-control-expose-headers"] == "ETag, Last-Modified"
        assert compared(served) == compared(answered), url


def sample(site: Site) -> list[dict[str, Any]]:
    """One exported file of each kind: pages, embeds, feeds, JSON, assets."""
    chosen: dict[str, dict[str, Any]] = {}
    for item in site.files:
        shape = re.sub(r"^/(feeds|events)/[^/.]+", r"/\1/{}", item["url"])
        chosen.setdefault(shape, item)
    return list(chosen.values())


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("exact", 304),
        ("weak", 304),
        ("list", 304),
        ("star", 304),
        ("other", 200),
    ],
)
def test_if_none_match_through_nginx_and_live(
    site: Site, http: httpx.Client, header: str, status: int
) -> None:
    for item in sample(site):
        etag = item["etag"]
        value = {
            "exact": etag,
            "weak": f"W/{etag}",
            "list": f'"0123", {etag}',
            "star": "*",
            "other": '"0123456789abcdef"',
        }[header]
        for base in (site.nginx.url, site.live.url):
            response = http.get(base + item["url"], headers={**IDENTITY, "If-None-Match": value})
            assert response.status_code == status, (base, item["url"], value)
            assert response.headers["etag"] == etag
            assert response.headers["last-modified"] == item["last_modified"]
            if status == 304:
                assert response.content == b""


def test_if_modified_since_through_nginx_and_live(site: Site, http: httpx.Client) -> None:
    for item in sample(site):
        modified = item["last_modified"]
        for base in (site.nginx.url, site.live.url):
            url = base + item["url"]
            fresh = http.get(url, headers={**IDENTITY, "If-Modified-Since": modified})
            assert fresh.status_code == 304, url
            assert fresh.headers["etag"] == item["etag"]
            older = "Sat, 01 Jan 2000 00:00:00 GMT"
            stale = http.get(url, headers={**IDENTITY, "If-Modified-Since": older})
            assert stale.status_code == 200, url
            # If-None-Match wins over If-Modified-Since, as RFC 9110 asks.
            both = {**IDENTITY, "If-Modified-Since": modified, "If-None-Match": '"0123"'}
            assert http.get(url, headers=both).status_code == 200, url


def test_nginx_sends_the_precompressed_gzip(site: Site) -> None:
    compressible = [item for item in site.files if (site.export / (item["path"] + ".gz")).is_file()]
    assert len(compressible) == len(site.files)
    with httpx.Client(timeout=10) as client:
        for item in compressible:
            request = client.build_request(
                "GET", site.nginx.url + item["url"], headers={"Accept-Encoding": "gzip"}
            )
            response = client.send(request, stream=True)
            raw = b"".join(response.iter_raw())
            response.close()
            assert response.headers["content-encoding"] == "gzip", item["url"]
            assert response.headers["etag"] == item["etag"]
            assert raw == (site.export / (item["path"] + ".gz")).read_bytes()
            body = gzip.decompress(raw)
            assert hashlib.sha256(body).hexdigest() == item["sha256"], item["url"]


def test_everything_else_goes_to_the_live_service(site: Site, http: httpx.Client) -> None:
    urls = [
        "/api/events",
        "/api/occurrences?category=deadline",
        "/api/events/time-to-talk-day",
        "/calendar.ics?category=deadline",
        "/calendar.ics?audience=schools&audience=parents-carers",
        "/embed?category=awareness-day",
        "/?audience=schools",
        "/feeds/all.ics?unknown=1",
        "/feeds/no-such-feed.ics",
        "/events/no-such-event",
        # Files of the export that are not URLs of the service: never served as files.
        "/nginx-etags.conf",
        "/manifest.json",
        "/calendar.ics.gz",
        "/calendar.ics.br",
        "/index.html",
        "/CALENDAR.ICS",
    ]
    with httpx.Client(timeout=10) as static, httpx.Client(timeout=10) as live:
        for url in urls:
            served = static.get(site.nginx.url + url, headers=IDENTITY)
            answered = live.get(site.live.url + url, headers=IDENTITY)
            assert served.status_code == answered.status_code, url
            assert served.content == answered.content, url
            assert served.headers.get("etag") == answered.headers.get("etag"), url
            assert served.headers.get("content-type") == answered.headers.get("content-type")
    assert http.get(site.nginx.url + "/nginx-etags.conf").status_code == 404
    # nginx's map ignores case; a URL that differs only in case is still not exported.
    anything = {"If-None-Match": "*"}
    assert http.get(site.nginx.url + "/CALENDAR.ICS", headers=anything).status_code == 404
    # A filtered feed is revalidated through nginx's cache with the live ETag.
    url = site.nginx.url + "/calendar.ics?category=deadline"
    etag = http.get(url).headers["etag"]
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    # HEAD and a CORS preflight behave as live.
    head = http.head(site.nginx.url + "/calendar.ics")
    assert head.status_code == 200
    assert head.headers["etag"] == http.head(site.live.url + "/calendar.ics").headers["etag"]
    preflight = {"Origin": "https://school.example", "Access-Control-Request-Method": "GET"}
    served = http.options(site.nginx.url + "/calendar.ics", headers=preflight)
    answered = http.options(site.live.url + "/calendar.ics", headers=preflight)
    assert served.status_code == answered.status_code == 200
    assert served.headers["access-control-allow-methods"] == "GET, HEAD"


@dataclass
class Export:
    root: Path
    manifest: dict[str, Any]


@pytest.fixture(scope="module")
def fixed_day(tmp_path_factory: pytest.TempPathFactory) -> Export:
    """One export of the bundled data on FIXED_DAY, shared by the module: only read."""
    root = tmp_path_factory.mktemp("fixed-day") / "site"
    return Export(root, build(BUNDLED_DATA, root, FIXED_DAY))


def test_two_exports_of_the_same_data_and_day_are_byte_identical(
    fixed_day: Export, tmp_path: Path
) -> None:
    first = fixed_day.manifest
    second = build(BUNDLED_DATA, tmp_path / "second", FIXED_DAY)
    assert first == second
    one, two = tree(fixed_day.root), tree(tmp_path / "second")
    assert sorted(one) == sorted(two)
    assert [path for path in one if one[path] != two[path]] == []
    assert any(path.endswith(".gz") for path in one)
    assert any(path.endswith(".br") for path in one)
    # Modification times are the responses' Last-Modified, not the time of the build.
    for item in first["files"]:
        mtime = (tmp_path / "second" / item["path"]).stat().st_mtime
        assert mtime == (fixed_day.root / item["path"]).stat().st_mtime


def test_editing_one_event_changes_only_the_files_that_show_it(
    fixed_day: Export, data_copy: Path, tmp_path: Path
) -> None:
    before = fixed_day.manifest  # data_copy is the bundled data, until the edit below
    source = data_copy / "events" / "awareness.yaml"
    text = source.read_text(encoding="utf-8")
    assert text.count(f"    title: {OLD_TITLE}\n") == 1
    source.write_text(text.replace(f"title: {OLD_TITLE}\n", f"title: {NEW_TITLE}\n"), "utf-8")
    after = build(data_copy, tmp_path / "after", FIXED_DAY)

    old, new = tree(fixed_day.root), tree(tmp_path / "after")
    assert sorted(old) == sorted(new)
    changed = {path for path in old if old[path] != new[path]}

    # What legitimately changes: every file that shows the event (the whole calendar, the
    # feeds and embeds that include it, the home page if it lists it, its own page and .ics),
    # the snapshot's version, and the export's own listings.
    showing = {
        item["path"]
        for item in before["files"]
        if EDITED_EVENT.encode() in old[item["path"]] or OLD_TITLE.encode() in old[item["path"]]
    }
    expected = {"manifest.json", "nginx-etags.conf"}
    for path in showing | {"version.json"}:
        expected |= {path + suffix for suffix in ("", ".gz", ".br") if path + suffix in old}
    assert changed == expected
    assert {f"events/{EDITED_EVENT}", f"events/{EDITED_EVENT}.ics", "calendar.ics"} <= changed
    assert any(path.startswith("feeds/") for path in changed)
    # (The description still names the day; only the title changed.)
    assert all(NEW_TITLE.encode() in new[path] for path in showing)

    # Other events' files are untouched, and keep their ETags.
    others = [
        item
        for item in before["files"]
        if item["path"].startswith("events/") and EDITED_EVENT not in item["path"]
    ]
    assert others
    assert [item["path"] for item in others if item["path"] in changed] == []
    after_etags = {item["url"]: item["etag"] for item in after["files"]}
    assert all(after_etags[item["url"]] == item["etag"] for item in others)
    assert before["version"] != after["version"]


def build_command(data_dir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALENDAR_BASE_URL": BASE_URL}
    command = [
        sys.executable, "-m", "calendar_service.cli", "build",
        "--data-dir", str(data_dir), str(out), "--date", FIXED_DAY,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)


def victims(root: Path) -> dict[str, bytes]:
    """Files outside the output directory that no build may touch, with their bytes."""
    folder = root / "victims"
    folder.mkdir()
    made = {}
    for name in ("relative.txt", "absolute.txt", "all.ics", "calendar.ics", "linked.txt"):
        for suffix in ("", ".gz", ".br"):
            (folder / (name + suffix)).write_bytes(f"keep {name}{suffix}\n".encode())
            made[name + suffix] = f"keep {name}{suffix}\n".encode()
    return made


def listing(*paths: str) -> str:
    return json.dumps({"version": "x", "files": [{"path": path} for path in paths]})


# Each case prepares an output directory (given the victims' folder) that tries to make the
# build delete or write outside it; `refused` is what the error must say, or None when the
# build must succeed without touching anything outside.
HOSTILE_OUTPUTS: dict[str, tuple[Any, str | None]] = {
    "manifest-relative-escape": (
        lambda out, v: (out / "manifest.json").write_text(listing("../victims/relative.txt")),
        "manifest.json",
    ),
    "manifest-absolute-path": (
        lambda out, v: (out / "manifest.json").write_text(listing(str(v / "absolute.txt"))),
        "manifest.json",
    ),
    "manifest-path-through-symlinked-folder": (
        lambda out, v: (
            (out / "elsewhere").symlink_to(v, target_is_directory=True),
            (out / "manifest.json").write_text(listing("elsewhere/linked.txt")),
        ),
        "outside the output directory",
    ),
    "manifest-escape-among-good-paths": (
        lambda out, v: (
            (out / "calendar.ics").write_text("stale"),
            (out / "manifest.json").write_text(listing("calendar.ics", "a/../../victims/all.ics")),
        ),
        "manifest.json",
    ),
    "manifest-not-json": (
        lambda out, v: (out / "manifest.json").write_text('{"files": [{"path": '),
        "manifest.json",
    ),
    "manifest-paths-not-text": (
        lambda out, v: (out / "manifest.json").write_text('{"files": [{"path": 7}]}'),
        "manifest.json",
    ),
    "feeds-folder-is-a-symlink-out": (
        lambda out, v: (out / "feeds").symlink_to(v, target_is_directory=True),
        "outside the output directory",
    ),
    "temporary-file-is-a-symlink-out": (
        lambda out, v: (out / "calendar.ics.tmp").symlink_to(v / "calendar.ics"),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_OUTPUTS))
def test_build_never_deletes_or_writes_outside_its_output_directory(
    case: str, tmp_path: Path
) -> None:
    prepare, refused = HOSTILE_OUTPUTS[case]
    kept = victims(tmp_path)
    out = tmp_path / "site"
    out.mkdir()
    prepare(out, tmp_path / "victims")
    before = {p.relative_to(out).as_posix() for p in out.rglob("*")}

    result = build_command(BUNDLED_DATA, out)

    assert {path: (tmp_path / "victims" / path).read_bytes() for path in kept} == kept
    if refused is None:
        assert result.returncode == 0, result.stderr
        assert (out / "calendar.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
        return
    assert result.returncode == 1
    assert refused in result.stderr
    assert "Traceback" not in result.stderr
    # All or nothing: a refused build leaves the directory as it found it.
    assert {p.relative_to(out).as_posix() for p in out.rglob("*")} == before
