"""calendar-service: reviewed event data published as ICS feeds, a JSON API and an embed.

The public names below are imported on first use, so that `import calendar_service` stays
cheap (the web layer loads only when asked for).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__released__ = "2026-11-25"  # the release's day: the Last-Modified of the static assets

_PUBLIC = {
    "load": "calendar_service.loading",
    "compile_catalog": "calendar_service.compiling",
    "Catalog": "calendar_service.compiling",
    "LiveCatalog": "calendar_service.reloading",
    "Filter": "calendar_service.query",
    "parse_filter": "calendar_service.query",
    "Urls": "calendar_service.urls",
    "ServiceSettings": "calendar_service.settings",
    "CalendarService": "calendar_service.web.service",
    "build_site": "calendar_service.export",
    "CalendarServiceError": "calendar_service.errors",
    "DataInvalid": "calendar_service.documents",
    "QueryError": "calendar_service.query",
    "ApiError": "calendar_service.web.responses",
    "ExpansionBusy": "calendar_service.capacity",
    "ExportError": "calendar_service.export",
}
__all__ = [
    "ApiError",
    "CalendarService",
    "CalendarServiceError",
    "Catalog",
    "DataInvalid",
    "ExpansionBusy",
    "ExportError",
    "Filter",
    "LiveCatalog",
    "QueryError",
    "ServiceSettings",
    "Urls",
    "__released__",
    "__version__",
    "build_site",
    "compile_catalog",
    "load",
    "parse_filter",
]

if TYPE_CHECKING:
    from calendar_service.capacity import ExpansionBusy
    from calendar_service.compiling import Catalog, compile_catalog
    from calendar_service.documents import DataInvalid
    from calendar_service.errors import CalendarServiceError
    from calendar_service.export import ExportError, build_site
    from calendar_service.loading import load
    from calendar_service.query import Filter, QueryError, parse_filter
    from calendar_service.reloading import LiveCatalog
    from calendar_service.settings import ServiceSettings
    from calendar_service.urls import Urls
    from calendar_service.web.responses import ApiError
    from calendar_service.web.service import CalendarService


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'calendar_service' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
