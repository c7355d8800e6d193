"""Where the calendar lives: its base URL and UID domain, the source of every URL and UID."""

from __future__ import annotations

from dataclasses import dataclass

from calendar_service.urls import Urls


@dataclass(frozen=True, slots=True)
class Identity:
    """Where the calendar lives: absolute URLs and UIDs come only from here, never a request."""

    base_url: str
    uid_domain: str

    def uid(self, event_id: str) -> str:
        return f"{event_id}@{self.uid_domain}"

    @property
    def urls(self) -> Urls:
        """The URL builder for this base; every published URL comes from it."""
        return Urls(self.base_url)

    def event_page(self, event_id: str) -> str:
        """The absolute URL of an event's page."""
        urls = self.urls
        return urls.absolute(urls.event(event_id))
