"""The static export behind deploy/nginx.conf answers exactly like the live service."""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from export_support import IDENTITY, Site, compared
from export_support import exports as exports
from export_support import http as http
from export_support import site as site

# One xdist worker runs the module (make unit: --dist loadgroup):
# live server, nginx and exports made once.
pytestmark = pytest.mark.xdist_group("export")


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


def test_the_export_holds_each_named_feeds_digests_of_this_month_and_the_next_two(
    site: Site,
) -> None:
    compiled_on = date.fromisoformat(site.manifest["compiled_on"])
    months = [compiled_on.replace(day=1)]
    while len(months) < 3:
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    feeds = httpx.get(site.live.url + "/version.json").json()["feeds"]
    exported = {item["url"]: item["content_type"] for item in site.files}
    for name in feeds:
        for month in months:
            path = f"/feeds/{name}/digest/{month:%Y-%m}"
            assert exported.get(path) == "text/html; charset=utf-8", path
            assert exported.get(path + ".txt") == "text/plain; charset=utf-8", path
            assert exported.get(path + ".md") == "text/markdown; charset=utf-8", path
    # Served by nginx with the digest's own CSP, which lets its inline styles apply.
    first = f"/feeds/{feeds[0]}/digest/{months[0]:%Y-%m}"
    policy = httpx.get(site.nginx.url + first).headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy
