"""calendar-service: reviewed event data published as ICS feeds, a JSON API and an embed."""

__version__ = "0.1.0"
__released__ = "2026-11-01"  # the release's day: the Last-Modified of the static assets
