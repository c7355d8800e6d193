"""The digest's routes and its two rendered forms: email HTML (inlined CSS) and an A4 PDF.

`/digest?…filters&month=YYYY-MM` (or `from`/`to`, at most a term) is the email HTML;
`/digest.txt`, `/digest.md` and `/digest.pdf` the same dates as plain text, Markdown and
a one-page A4 PDF. A named feed's digest of a month is a plain path,
`/feeds/{name}/digest/YYYY-MM` (and `.txt`, `.md`, `.pdf`), so the static export holds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import css_inline
from fastapi import APIRouter, Request
from fastapi.responses import Response

from calendar_service import digest as digests
from calendar_service.compiling import Catalog
from calendar_service.digest import Digest, DigestFormat, Period, Subscription
from calendar_service.query import Filter, QueryError, single_value
from calendar_service.search import check_range, parse_window
from calendar_service.web import display_options, views
from calendar_service.web.feeds import feed_named
from calendar_service.web.pages import read_by_people, security_headers
from calendar_service.web.responses import (
    ApiError,
    Rendered,
    query_params,
    read_filter,
    refuse_unknown,
    rendered_response,
    require_canonical,
)
from calendar_service.web.service import Published, service_of, snapshot_of

PERIOD_PARAMETERS = ("month", "from", "to")
# Mail clients read no stylesheet but the inline one; @media rules (dark mode, narrow
# screens) cannot be inlined and stay in the <style> element.
INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
# Body text in points, columns, summaries shown, and the most dates worth trying the layout
# with (each try is a whole WeasyPrint layout); tried in turn until the PDF is one page.
# The summaries go first, then the type shrinks; past the last, dates are left out and
# counted. The counts are rough capacities, so that a full term skips the layouts that
# cannot hold it (data/'s busiest term, 35 dates, is laid out three times: 1-2 s).
PRINT_LAYOUTS: tuple[tuple[float, int, bool, int], ...] = (
    (10, 2, True, 16),
    (9, 2, True, 22),
    (9, 2, False, 34),
    (8, 2, False, 50),
    (7, 3, False, 80),
    (6.5, 3, False, 0),  # always tried: the last before dates are left out
)
FEED_DIGEST = re.compile(r"(\d{4}-\d{2})(\.txt|\.md|\.pdf)?")
router = APIRouter(include_in_schema=False)


def email_html(digest: Digest, language: str) -> str:
    """The digest as one HTML file a mailing tool accepts: CSS inline, no script."""
    page = views.TEMPLATES.get_template("digest.html").render(digest=digest, language=language)
    inlined: str = INLINER.inline(page)
    return inlined


def pdf(digest: Digest, language: str) -> bytes:
    """The digest as one A4 page (WeasyPrint): smaller type until it fits, then fewer dates.

    Raises ApiError 501 where WeasyPrint (the `pdf` extra) is not installed.
    """
    try:
        import weasyprint
    except ImportError:  # pragma: no cover - the pdf extra is part of the dev install
        raise ApiError(501, "PDF needs WeasyPrint: pip install 'calendar-service[pdf]'") from None
    from weasyprint.text.fonts import FontConfiguration

    template = views.TEMPLATES.get_template("digest-print.html")
    fonts = FontConfiguration()  # found once for every try

    def layout(shown: Digest, left_out: int, size: float, columns: int, summaries: bool) -> Any:
        html = template.render(
            digest=shown,
            language=language,
            size=size,
            columns=columns,
            summaries=summaries,
            left_out=left_out,
        )
        return weasyprint.HTML(string=html).render(font_config=fonts)

    document: Any = None
    total = len(digest.items)
    for position, (size, columns, summaries, most) in enumerate(PRINT_LAYOUTS):
        if total > most and position < len(PRINT_LAYOUTS) - 1:
            continue
        document = layout(digest, 0, size, columns, summaries)
        if len(document.pages) == 1:
            return _pdf_bytes(document)
    # Too many dates for the smallest type: the most that fit with a line saying how many
    # are left out. No more than the first page held, and most often one or two fewer: a
    # search down from there took 2 or 3 layouts where a bisection of them all took 7 (~0.3 s
    # of CPU each for a busy term).
    size, columns, summaries, _most = PRINT_LAYOUTS[-1]

    def shown(keep: int) -> Any:
        return layout(_first_items(digest, keep), total - keep, size, columns, summaries)

    return _pdf_bytes(most_that_fit(shown, _dates_on_first_page(document, total), total))


def most_that_fit(shown: Callable[[int], Any], most: int, total: int) -> Any:
    """The layout of the most dates that fit on one page, `shown(keep)` being the layout of
    the first `keep` (and the count of the rest): searched down from `most`, by N, N-1, N-2,
    N-4, ..., then by bisection once some count fits.

    No layout of more than `most` dates fits (`_dates_on_first_page`), and fitting is
    monotonic in the count, so this finds what a bisection of 0 to `total` finds.
    """
    fits, too_many, fitting = 0, min(most + 1, total), None
    drop = 0
    while too_many - fits > 1:
        keep = (fits + too_many) // 2
        if fitting is None:
            keep = min(max(most - drop, keep), too_many - 1)
            drop = max(1, drop * 2)
        tried = shown(keep)
        if len(tried.pages) == 1:
            fits, fitting = keep, tried
        else:
            too_many = keep
    return fitting if fitting is not None else shown(fits)


def _dates_on_first_page(document: Any, total: int) -> int:
    """How many dates have their title on the first page of a layout of all `total` that did
    not fit on one; `total` where WeasyPrint's boxes do not say which element they are (the
    search is then a bisection).

    No layout of more dates fits on one page: the first date whose title is not on that page
    did not fit after the same dates before it, and a layout of fewer dates lays those out
    the same way, with the line saying how many are left out after them.
    """
    try:
        titles = {
            id(box.element)
            for _kind, _target, _rectangle, box in document.pages[0].links
            if box.element.get("class") == "title"
        }
    except AttributeError:  # pragma: no cover - another WeasyPrint's boxes
        return total
    return len(titles)


def _pdf_bytes(document: Any) -> bytes:
    # A fixed identifier: the same digest gives the same bytes (and ETag) on any machine.
    written: bytes = document.write_pdf(pdf_identifier=b"calendar-service-digest")
    return written


def _first_items(digest: Digest, keep: int) -> Digest:
    """The digest with only its first `keep` dates."""
    weeks = []
    for week in digest.weeks:
        if keep <= 0:
            break
        weeks.append(digests.DigestWeek(week.monday, week.items[:keep]))
        keep -= len(week.items)
    return Digest(
        digest.title, digest.audience, digest.period, tuple(weeks), digest.subscription, digest.more
    )


def render(digest: Digest, form: DigestFormat, language: str) -> bytes:
    """The digest in one of its forms, as the bytes served."""
    if form is DigestFormat.PDF:
        return pdf(digest, language)
    if form is DigestFormat.TEXT:
        return digests.render_text(digest).encode()
    if form is DigestFormat.MARKDOWN:
        return digests.render_markdown(digest).encode()
    return email_html(digest, language).encode()


def read_period(request: Request, today: date) -> tuple[Period, list[tuple[str, str]]]:
    """The digest's days from `month` or `from` and `to` (this month when none is given),
    with the parameters that name it canonically."""
    params = query_params(request)
    month = display_options.parse_month(params)
    first, last = single_value(params, "from"), single_value(params, "to")
    if month is not None and (first is not None or last is not None):
        raise QueryError("month", "give month, or from and to, not both", ["YYYY-MM"])
    if month is None and first is None and last is None:
        month = today.replace(day=1)
        check_range(display_options.month_window(month), today, "month")
        return Period.month(month), []
    if month is not None:
        check_range(display_options.month_window(month), today, "month")
        return Period.month(month), [("month", f"{month:%Y-%m}")]
    if first is None or last is None:
        missing = "from" if first is None else "to"
        raise QueryError(missing, "give both from and to (YYYY-MM-DD), or month", ["YYYY-MM-DD"])
    window = parse_window(first, last, today)
    if (window.last - window.first).days + 1 > digests.MAX_DIGEST_DAYS:
        raise QueryError(
            "to", f"a digest covers at most {digests.MAX_DIGEST_DAYS} days (a term); ask for fewer"
        )
    period = Period(window.first, window.last)
    return period, [("from", period.first.isoformat()), ("to", period.last.isoformat())]


def filter_digest(catalog: Catalog, query: Filter, period: Period) -> Digest:
    """The digest of a filter: named by the calendar and the filter, subscribing to it."""
    urls, name = catalog.identity.urls, catalog.settings.name
    if not query.event_level().is_empty:
        name = f"{name} ({query.event_level().describe(catalog.settings.vocabularies)})"
    subscription = Subscription(
        page=urls.absolute(urls.subscribe(query)), feed=urls.absolute(urls.calendar(query))
    )
    month = period.first if period.is_month else None
    more = urls.absolute(urls.home(query, month))
    return digests.build_digest(
        catalog, query, period, audience=name, subscription=subscription, more=more
    )


def feed_digest(catalog: Catalog, name: str, month: date) -> Digest:
    """A named feed's digest of one month, subscribing to that feed."""
    feed = feed_named(catalog, name)
    urls = catalog.identity.urls
    subscription = Subscription(
        page=urls.absolute(urls.named_feed(name, "/subscribe")),
        feed=urls.absolute(urls.named_feed(name, ".ics")),
    )
    more = urls.absolute(urls.home(feed.filter, month))
    return digests.build_digest(
        catalog,
        feed.filter,
        Period.month(month),
        audience=feed.definition.title,
        subscription=subscription,
        more=more,
    )


def _answer(
    request: Request, snapshot: Published, form: DigestFormat, build: Callable[[], Digest]
) -> Response:
    """Render once per snapshot and URL; answer with ETag, 304 and gzip like every page."""
    language = snapshot.catalog.settings.language
    rendered = snapshot.rendered(
        ("digest", request.url.path, str(request.url.query)),
        lambda: Rendered.of(
            render(build(), form, language),
            form.content_type,
            snapshot.catalog.everything.last_modified,
        ),
    )
    settings = service_of(request).settings
    headers = {}
    if form is DigestFormat.HTML:
        headers = security_headers(settings.frame_ancestors, style_src="'unsafe-inline'")
    return rendered_response(
        request, rendered, max_age=settings.page_max_age, extra_headers=headers
    )


def _filter_route(form: DigestFormat) -> Callable[[Request], Response]:
    def serve(request: Request) -> Response:
        snapshot = snapshot_of(request)
        catalog = snapshot.catalog
        query = read_filter(request, catalog, *PERIOD_PARAMETERS)
        period, named = read_period(request, catalog.compiled_on)
        require_canonical(request, [*query.items(), *named])
        return _answer(request, snapshot, form, lambda: filter_digest(catalog, query, period))

    return serve


# The email digest is a page people open (a refusal there is an HTML page); the other forms
# end in a file suffix, which the refusals answer as JSON.
read_by_people("/feeds/{name}/digest/{month}")
read_by_people("/digest")


@router.get("/feeds/{name}/digest/{month}")
def named_feed_digest(request: Request, name: str, month: str) -> Response:
    """`month` is YYYY-MM, with .txt, .md or .pdf for the forms other than email HTML."""
    snapshot = snapshot_of(request)
    refuse_unknown(request, ())
    catalog = snapshot.catalog
    feed_named(catalog, name)
    found = FEED_DIGEST.fullmatch(month)
    suffixes = {form.suffix: form for form in DigestFormat}
    problem = ApiError(
        404,
        "a digest is /feeds/{name}/digest/YYYY-MM, with .txt, .md or .pdf for the other forms",
        parameter="month",
        allowed=[f"YYYY-MM{suffix}" for suffix in suffixes],
    )
    if found is None:
        raise problem
    try:
        first = display_options.parse_month({"month": [found[1]]})
    except QueryError:
        raise problem from None
    assert first is not None
    check_range(display_options.month_window(first), catalog.compiled_on, "month")
    form = suffixes[found[2] or ""]
    return _answer(request, snapshot, form, lambda: feed_digest(catalog, name, first))


for _form in DigestFormat:
    router.add_api_route(f"/digest{_form.suffix}", _filter_route(_form), methods=["GET"])
